//! Shared helpers: a service schema with a recording handler, a cuttable TCP proxy in front
//! of NATS, and bounded waits for asynchronous delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gridloop_platform::inbox::{Consumer, ConsumerOptions, Envelope, Handler};
use gridloop_platform::nats::Bus;
use gridloop_platform::outbox;
use gridloop_platform::testing::TestEnv;
use gridloop_platform::{Config, db};
use gridloop_proto::v1::TicketAccepted;
use gridloop_proto::v1::ticket_event::Body;
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, PgPool};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: Migrator = sqlx::migrate!("./tests/migrations");

/// The ticket id the tests call `name`: a UUID spelling the name, so a test reads as before
/// and the inbox sees a valid ticket id.
pub fn ticket(name: &str) -> String {
    let mut bytes = [0u8; 16];
    let n = name.len().min(16);
    bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// Records every event it is given; refuses tickets named "poison".
#[derive(Clone)]
pub struct Recorder;

impl Handler for Recorder {
    type Error = String;

    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), String> {
        if event.ticket_id.to_string() == ticket("poison") {
            return Err("this ticket cannot be applied".into());
        }
        sqlx::query("INSERT INTO applied (event_id, ticket_id) VALUES ($1, $2)")
            .bind(event.event_id.to_string())
            .bind(event.ticket_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Like [`Recorder`], but the handler fails for a ticket named "flaky" as many times as
/// `failures` says (a failed transaction, then a success).
#[derive(Clone)]
pub struct Flaky {
    pub failures: Arc<std::sync::atomic::AtomicUsize>,
}

impl Handler for Flaky {
    type Error = String;

    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), String> {
        if event.ticket_id.to_string() == ticket("flaky")
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err("the transaction failed".into());
        }
        Recorder.handle(event, tx).await
    }
}

pub struct Svc {
    pub cfg: Config,
    pub pool: PgPool,
    pub bus: Bus,
}

pub async fn service(env: &TestEnv, name: &str) -> Svc {
    let cfg = env.config(name);
    let pool = db::setup(&cfg, &MIGRATOR).await.expect("schema set-up");
    let bus = Bus::connect(&cfg).await.expect("nats");
    bus.ensure_stream().await.expect("stream");
    Svc { cfg, pool, bus }
}

pub fn consumer_opts(cfg: &Config) -> ConsumerOptions {
    ConsumerOptions {
        durable: cfg.service.clone(),
        kinds: vec![],
        max_deliveries: cfg.max_deliveries,
        progress: Default::default(),
    }
}

/// Runs the recording consumer with the service's default options until `stop`.
pub fn spawn_recorder(svc: &Svc, stop: &CancellationToken) {
    let consumer = Consumer::new(
        svc.pool.clone(),
        svc.bus.clone(),
        consumer_opts(&svc.cfg),
        Recorder,
    );
    tokio::spawn(consumer.run(stop.clone()));
}

/// Enqueues one event per ticket name ([`ticket`]), each in its own committed transaction;
/// returns the event ids in commit order.
pub async fn enqueue_committed(pool: &PgPool, tickets: &[String]) -> Vec<String> {
    let mut ids = Vec::new();
    for t in tickets {
        let ev = outbox::new_event(
            "test",
            &ticket(t),
            Body::Accepted(TicketAccepted::default()),
        );
        let mut tx = pool.begin().await.unwrap();
        outbox::enqueue(&mut tx, &ev).await.unwrap();
        tx.commit().await.unwrap();
        ids.push(ev.event_id);
    }
    ids
}

pub async fn applied(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT event_id FROM applied ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap()
}

pub async fn stream_len(bus: &Bus) -> u64 {
    let mut s = bus.js.get_stream(&bus.stream).await.unwrap();
    s.info().await.unwrap().state.messages
}

pub use gridloop_platform::testing::wait_for;

/// A TCP proxy in front of NATS that the test can cut: while down it drops every connection,
/// so a client behind it sees the server as unreachable.
pub struct Proxy {
    pub url: String,
    up: watch::Sender<bool>,
    down_flag: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy in front of the server of `target_url` (`scheme://[user@]host:port[/path]`,
    /// NATS or PostgreSQL); its `url` is the same URL pointing at the proxy.
    pub async fn start(target_url: &str) -> Proxy {
        let (scheme, rest) = target_url.split_once("://").expect("a URL with a scheme");
        let (user, rest) = match rest.split_once('@') {
            Some((u, r)) => (format!("{u}@"), r),
            None => (String::new(), rest),
        };
        let (target, path) = match rest.split_once('/') {
            Some((h, p)) => (h.to_string(), format!("/{p}")),
            None => (rest.to_string(), String::new()),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("{scheme}://{user}{}{path}", listener.local_addr().unwrap());
        let (up, up_rx) = watch::channel(true);
        let down_flag = Arc::new(AtomicBool::new(false));
        let flag = down_flag.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if flag.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut rx = up_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Proxy { url, up, down_flag }
    }

    pub fn set_up(&self, up: bool) {
        self.down_flag.store(!up, Ordering::SeqCst);
        let _ = self.up.send(up);
    }
}
