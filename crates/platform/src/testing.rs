//! Test support for services built on the platform (feature `testing`): every test gets its own
//! database on the local cluster and its own stream and subject prefix on the local NATS, so
//! tests run in parallel without seeing each other. Both are removed when the [`TestEnv`] drops.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::Config;
use crate::auth::{Authenticator, Claims, Role};
use crate::config::LogFormat;

/// The secret test configs sign and verify tokens with.
pub const TEST_JWT_SECRET: &str = "gridloop-test-secret";

/// A bearer token for `sub` in `role` over `grids`, signed with [`TEST_JWT_SECRET`] (what
/// [`TestEnv::config`] verifies with) and valid for an hour on the process clock.
pub fn token(role: Role, sub: &str, grids: &[&str]) -> String {
    token_signed(TEST_JWT_SECRET, role, sub, grids, 3600)
}

/// A bearer token signed with `secret` that expires `valid_for` seconds from now on the process
/// clock (negative: already expired), for tests of the token check itself.
pub fn token_signed(secret: &str, role: Role, sub: &str, grids: &[&str], valid_for: i64) -> String {
    let now = crate::clock::now().timestamp();
    Authenticator::new(Some(secret))
        .mint(&Claims {
            sub: sub.into(),
            role,
            grids: grids.iter().map(|g| g.to_string()).collect(),
            exp: now + valid_for,
            iat: now,
        })
        .expect("a test token signs")
}

/// One test's isolated database, stream and subject prefix.
pub struct TestEnv {
    pub admin_url: String,
    pub database_url: String,
    pub database: String,
    pub nats_url: String,
    pub stream: String,
    pub prefix: String,
}

/// Server URL from `GRIDLOOP_DATABASE_URL` (or `DATABASE_URL`), defaulting to the local stack.
fn server_url() -> String {
    std::env::var("GRIDLOOP_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".into())
}

impl TestEnv {
    /// Creates a fresh database and picks a unique stream and prefix.
    pub async fn new() -> Self {
        init_test_logs();
        let admin_url = server_url();
        let id = Uuid::now_v7().simple().to_string();
        let database = format!("gl_test_{id}");
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL (run `make stack-up`)");
        admin
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {database}"
            ))))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let opts = PgConnectOptions::from_str(&admin_url)
            .expect("database url")
            .database(&database);
        Self {
            database_url: opts.to_url_lossy().to_string(),
            admin_url,
            database,
            nats_url: std::env::var("GRIDLOOP_NATS_URL")
                .unwrap_or_else(|_| "nats://127.0.0.1:54222".into()),
            stream: format!("T_{id}"),
            prefix: format!("t{id}"),
        }
    }

    /// A service config pointing at this test's database, stream and prefix, listening on an
    /// ephemeral port.
    pub fn config(&self, service: &str) -> Config {
        let mut cfg = Config::local(service);
        cfg.database_url = self.database_url.clone().into();
        cfg.nats_url = self.nats_url.clone();
        cfg.stream = self.stream.clone();
        cfg.subject_prefix = self.prefix.clone();
        cfg.jwt_secret = Some(TEST_JWT_SECRET.into());
        cfg.otlp_endpoint = None;
        cfg.grpc_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.admin_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.db_max_connections = 5;
        cfg.log_format = LogFormat::Plain;
        cfg
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let database = self.database.clone();
        let nats_url = self.nats_url.clone();
        let stream = self.stream.clone();
        // Drop runs inside the test's runtime, which cannot block on itself: clean up from a
        // thread with its own small runtime.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin
                        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                        ))))
                        .await;
                }
                if let Ok(client) = async_nats::connect(&nats_url).await {
                    let js = async_nats::jetstream::new(client);
                    let _ = js.delete_stream(&stream).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Logs in tests only when `TEST_LOG` is set.
pub fn init_test_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .with_test_writer()
            .try_init();
    }
}

/// Publishes `event` straight onto the stream, as another service's relay would: for tests
/// that feed a service the events it consumes without running their producers.
pub async fn publish(
    bus: &crate::nats::Bus,
    event: &gridloop_proto::v1::TicketEvent,
) -> Result<(), crate::Error> {
    use prost::Message as _;
    let kind = event
        .kind()
        .ok_or_else(|| crate::Error::Event("event has no body".into()))?;
    let msg = async_nats::jetstream::message::PublishMessage::build()
        .payload(event.encode_to_vec().into())
        .message_id(&event.event_id);
    bus.js
        .send_publish(bus.subject(kind), msg)
        .await
        .map_err(crate::Error::nats)?
        .await
        .map_err(crate::Error::nats)?;
    Ok(())
}

/// One message of the stream: its subject, raw payload and the decoded event.
pub struct StreamMessage {
    pub subject: String,
    pub payload: Vec<u8>,
    pub event: gridloop_proto::v1::TicketEvent,
}

/// Every event on the stream now, in stream order; only `kind` when given. Reads through an
/// ephemeral consumer and stops at the count pending when it was created, so it neither
/// waits on a guessed timeout nor misses what was already there.
pub async fn stream_events(bus: &crate::nats::Bus, kind: Option<&str>) -> Vec<StreamMessage> {
    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
    use futures::StreamExt;
    use prost::Message as _;

    let stream = bus
        .js
        .get_stream(&bus.stream)
        .await
        .expect("the test's stream");
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            filter_subject: kind.map(|k| bus.subject(k)).unwrap_or_default(),
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("an ephemeral consumer");
    let pending = consumer.cached_info().num_pending as usize;
    let mut out = Vec::with_capacity(pending);
    if pending == 0 {
        return out;
    }
    let mut batch = consumer
        .fetch()
        .max_messages(pending)
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .expect("fetch from the stream");
    while out.len() < pending {
        let Some(msg) = batch.next().await else { break };
        let msg = msg.expect("a message");
        let event = gridloop_proto::v1::TicketEvent::decode(msg.payload.as_ref())
            .unwrap_or_else(|e| panic!("{} is not a TicketEvent: {e}", msg.subject));
        out.push(StreamMessage {
            subject: msg.subject.to_string(),
            payload: msg.payload.to_vec(),
            event,
        });
    }
    assert_eq!(out.len(), pending, "read every message of the stream");
    out
}

/// The events of `kind` about `ticket` on the stream now, in stream order.
pub async fn ticket_events(
    bus: &crate::nats::Bus,
    kind: &str,
    ticket: &str,
) -> Vec<gridloop_proto::v1::TicketEvent> {
    stream_events(bus, Some(kind))
        .await
        .into_iter()
        .map(|m| m.event)
        .filter(|e| e.ticket_id == ticket)
        .collect()
}

/// Waits until `check` holds, at most `limit`, polling every 50 ms; panics naming `what`
/// otherwise. Delivery is asynchronous, so tests wait for an outcome (bounded) instead of
/// sleeping a fixed time.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (at most `limit`) until the stream holds at least `n` events of `kind` about
/// `ticket`, and returns all of them.
pub async fn wait_for_events(
    bus: &crate::nats::Bus,
    kind: &str,
    ticket: &str,
    n: usize,
    limit: Duration,
) -> Vec<gridloop_proto::v1::TicketEvent> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let found = ticket_events(bus, kind, ticket).await;
        if found.len() >= n {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {n} {kind} event(s) of {ticket}, have {}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
