//! The platform's core path, measured against baselines taken in the same run:
//! events/s and enqueue→handled latency through outbox → relay → JetStream → inbox consumer,
//! next to raw JetStream publishes and raw PostgreSQL inserts of the same size.
//!
//! Run with `make bench` (the local stack must be reachable; `make bench` starts it).
//! `GRIDLOOP_BENCH_EVENTS` sets the number of events (default 4000), `GRIDLOOP_BENCH_WRITERS`
//! the concurrent writers (default 16).

// Printing the results table is this program's job.
#![allow(clippy::print_stdout)]

use std::future::Future;
use std::time::{Duration, Instant};

use gridloop_platform::db;
use gridloop_platform::inbox::{Consumer, ConsumerOptions, Envelope, Handler};
use gridloop_platform::nats::Bus;
use gridloop_platform::outbox::{self, Relay, RelayOptions};
use gridloop_platform::testing::TestEnv;
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::{TicketEvent, TicketOverdue};
use prost::Message;
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

static MIGRATOR: Migrator = sqlx::migrate!("./benches/migrations");

struct Timing;

impl Handler for Timing {
    type Error = sqlx::Error;
    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let sent = event.occurred_or(chrono::Utc::now());
        let latency = (chrono::Utc::now() - sent).num_microseconds().unwrap_or(0);
        sqlx::query("INSERT INTO handled (event_id, latency_us) VALUES ($1, $2)")
            .bind(event.event_id.to_string())
            .bind(latency)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sample_event(i: usize) -> TicketEvent {
    outbox::new_event(
        "bench",
        // A ticket id the inbox accepts: the handler only sees valid envelopes.
        &uuid::Uuid::from_u128(i as u128).to_string(),
        Body::Overdue(TicketOverdue::default()),
    )
}

/// Runs `n` jobs over `writers` concurrent tasks; returns the elapsed time.
async fn spread<F, Fut>(n: usize, writers: usize, job: F) -> Duration
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let job = job.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                job(i).await;
                i += writers;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    start.elapsed()
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn raw_jetstream(bus: &Bus, n: usize, size: usize) -> (f64, f64) {
    let payload = bytes::Bytes::from(vec![7u8; size]);
    // Awaiting every ack, as a naive producer would.
    let start = Instant::now();
    for i in 0..n / 4 {
        let ack = bus
            .js
            .publish(bus.subject("rawbench"), payload.clone())
            .await
            .expect("publish");
        ack.await.expect("ack");
        let _ = i;
    }
    let serial = rate(n / 4, start.elapsed());
    // Pipelined: send everything, then collect acks (what the relay does per batch).
    let start = Instant::now();
    let mut acks = Vec::with_capacity(n);
    for _ in 0..n {
        acks.push(
            bus.js
                .publish(bus.subject("rawbench"), payload.clone())
                .await
                .expect("publish"),
        );
    }
    for a in acks {
        a.await.expect("ack");
    }
    (serial, rate(n, start.elapsed()))
}

async fn raw_inserts(pool: &PgPool, n: usize, writers: usize, size: usize) -> f64 {
    let pool = pool.clone();
    let d = spread(n, writers, move |_| {
        let pool = pool.clone();
        async move {
            sqlx::query("INSERT INTO raw_rows (payload) VALUES ($1)")
                .bind(vec![7u8; size])
                .execute(&pool)
                .await
                .expect("insert");
        }
    })
    .await;
    rate(n, d)
}

/// Enqueues `n` events through the whole pipeline and waits until all are handled. With
/// `pace`, one writer enqueues an event every `pace` (latency at a steady load); without,
/// `writers` writers enqueue as fast as they can (throughput; latency then includes queueing).
async fn pipeline(
    pool: &PgPool,
    bus: &Bus,
    service: &str,
    n: usize,
    writers: usize,
    pace: Option<Duration>,
) -> (f64, f64, i64, i64) {
    sqlx::query("DELETE FROM handled")
        .execute(pool)
        .await
        .expect("clear");
    let stop = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(pool.clone(), bus.clone(), RelayOptions::default()).run(stop.clone()),
    );
    let opts = ConsumerOptions {
        durable: service.into(),
        kinds: vec!["overdue".into()],
        max_deliveries: 5,
        progress: Default::default(),
    };
    let consumer =
        tokio::spawn(Consumer::new(pool.clone(), bus.clone(), opts, Timing).run(stop.clone()));

    let start = Instant::now();
    let p = pool.clone();
    let (writers, pace) = match pace {
        Some(d) => (1, d),
        None => (writers, Duration::ZERO),
    };
    let enqueue = spread(n, writers, move |i| {
        let pool = p.clone();
        async move {
            let mut tx = pool.begin().await.expect("begin");
            outbox::enqueue(&mut tx, &sample_event(i))
                .await
                .expect("enqueue");
            tx.commit().await.expect("commit");
            if !pace.is_zero() {
                tokio::time::sleep(pace).await;
            }
        }
    })
    .await;
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM handled")
            .fetch_one(pool)
            .await
            .expect("count");
        if done as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = start.elapsed();
    stop.cancel();
    let _ = relay.await;
    let _ = consumer.await;
    let (p50, p99): (i64, i64) = sqlx::query_as(
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_us)::bigint, \
                percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_us)::bigint FROM handled",
    )
    .fetch_one(pool)
    .await
    .expect("percentiles");
    (rate(n, enqueue), rate(n, total), p50, p99)
}

#[tokio::main]
async fn main() {
    let n = env_num("GRIDLOOP_BENCH_EVENTS", 4000);
    let writers = env_num("GRIDLOOP_BENCH_WRITERS", 16);
    let env = TestEnv::new().await;
    let mut cfg = env.config("bench");
    cfg.db_max_connections = (writers + 4) as u32;
    let pool = db::setup(&cfg, &MIGRATOR).await.expect("schema");
    let bus = Bus::connect(&cfg).await.expect("nats");
    bus.ensure_stream().await.expect("stream");
    let size = sample_event(0).encoded_len();

    let (js_serial, js_pipelined) = raw_jetstream(&bus, n, size).await;
    let pg_raw = raw_inserts(&pool, n, writers, size).await;
    let (enq, e2e, p50, p99) = pipeline(&pool, &bus, &cfg.service, n, writers, None).await;
    let steady = n / 8;
    let (_, _, steady_p50, steady_p99) = pipeline(
        &pool,
        &bus,
        &cfg.service,
        steady,
        1,
        Some(Duration::from_millis(4)),
    )
    .await;

    println!("gridloop platform pipeline — {n} events of {size} bytes, {writers} writers");
    println!("{:<52} {:>10}", "measure", "value");
    println!(
        "{:<52} {:>10.0}",
        "raw JetStream publish, await each ack (msg/s)", js_serial
    );
    println!(
        "{:<52} {:>10.0}",
        "raw JetStream publish, pipelined (msg/s)", js_pipelined
    );
    println!(
        "{:<52} {:>10.0}",
        "raw PostgreSQL insert, 1 row/tx (rows/s)", pg_raw
    );
    println!(
        "{:<52} {:>10.0}",
        "outbox enqueue, 1 event/tx (events/s)", enq
    );
    println!(
        "{:<52} {:>10.0}",
        "end to end: enqueue → handled in inbox (events/s)", e2e
    );
    println!(
        "{:<52} {:>10.2}",
        "  ratio to raw JetStream, awaiting each ack",
        e2e / js_serial
    );
    println!(
        "{:<52} {:>10.2}",
        "  ratio to raw PostgreSQL inserts",
        e2e / pg_raw
    );
    println!(
        "{:<52} {:>10.1}",
        "latency at full load, p50 (ms)",
        p50 as f64 / 1000.0
    );
    println!(
        "{:<52} {:>10.1}",
        "latency at full load, p99 (ms)",
        p99 as f64 / 1000.0
    );
    println!(
        "{:<52} {:>10.1}",
        "latency at a steady ~200 events/s, p50 (ms)",
        steady_p50 as f64 / 1000.0
    );
    println!(
        "{:<52} {:>10.1}",
        "latency at a steady ~200 events/s, p99 (ms)",
        steady_p99 as f64 / 1000.0
    );
}
