//! Intake load generator: N concurrent clients submit hotline tickets for T seconds against the
//! real service (in-process, port 0, fresh database and stream), reporting tickets/s and
//! p50/p99 latency, and how long the outbox relay then takes to have every event on the
//! stream; then a fixed-rate run (default 1,000 tickets/s) for its p99; then, in the same run,
//! a baseline of raw single-row durable inserts of the same size into PostgreSQL with the same
//! number of clients, and for reference the same raw inserts through a trigger that calls
//! `pg_notify` like the outbox's. The baselines run last so that the autovacuum their rows
//! set off does not land in intake's phases.
//!
//! `GRIDLOOP_BENCH_CLIENTS` (default 32), `GRIDLOOP_BENCH_SECS` (default 10),
//! `GRIDLOOP_BENCH_RATE` (default 1000). The local stack must be running.

// Printing the results table is this program's job.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gridloop_intake::{App, IntakeSettings};
use gridloop_platform::auth::{Authenticator, Claims, Role};
use gridloop_platform::testing::{TEST_JWT_SECRET, TestEnv};
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::{SubmitHotlineTicketRequest, Urgency};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn request(n: u64, token: &str) -> tonic::Request<SubmitHotlineTicketRequest> {
    // A distinct caller per ticket: the common case, and no repeat merging in the numbers.
    let msg = SubmitHotlineTicketRequest {
        external_id: format!("BENCH-{n}"),
        operator_id: "op-bench".into(),
        caller_phone: format!("139{:08}", n % 100_000_000),
        caller_name: Some("张三华".into()),
        address: "城关镇幸福村3组12号".into(),
        grid_code: "341504100201".into(),
        category_code: "environment".into(),
        urgency: Urgency::Unspecified as i32,
        content: "小区门口垃圾堆放多日无人清运，气味很大，请尽快处理。".repeat(3),
        recording_url: "https://rec.example.cn/12345/call.mp3".into(),
        received_at: Some(gridloop_proto::ts(chrono::Utc::now())),
    };
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    r
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(name: &str, n: usize, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "{name:<40} {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({n} in {:.1} s)",
        n as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        elapsed.as_secs_f64()
    );
}

/// Returns how many tickets were accepted.
async fn closed_loop(
    addr: String,
    token: &str,
    clients: u64,
    secs: u64,
    seq: Arc<AtomicU64>,
) -> usize {
    let end = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    // Each client is a seat with its own connection, as operators' desk systems are; one
    // HTTP/2 connection shared by every client would measure that connection instead.
    let tasks = (0..clients).map(|_| {
        let endpoint = addr.clone();
        let token = token.to_owned();
        let seq = seq.clone();
        tokio::spawn(async move {
            let mut client = IntakeServiceClient::connect(endpoint)
                .await
                .expect("connect");
            let mut lat = Vec::new();
            while Instant::now() < end {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                client
                    .submit_hotline_ticket(request(n, &token))
                    .await
                    .expect("submit");
                lat.push(t.elapsed());
            }
            lat
        })
    });
    let lat: Vec<Duration> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.expect("client task"))
        .collect();
    let n = lat.len();
    report(
        &format!("intake, {clients} clients"),
        n,
        start.elapsed(),
        lat,
    );
    n
}

/// Waits until the relay has published every accepted ticket's event, and reports the rate of
/// the whole burst counted until then: what intake sustains end to end, stream included.
async fn drained(pool: &PgPool, accepted: usize, started: Instant) {
    let last_accepted = Instant::now();
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM intake.outbox WHERE sent_at IS NULL")
                .fetch_one(pool)
                .await
                .expect("pending events");
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "{:<40} {:>9.0}/s  (every event on the stream {:.1} s after the last submission)",
        "intake, accepted and published",
        accepted as f64 / started.elapsed().as_secs_f64(),
        last_accepted.elapsed().as_secs_f64()
    );
}

/// Raw single-row inserts into `table` (created here) from `clients` connections.
async fn baseline(pool: &PgPool, clients: u64, secs: u64, row_bytes: usize, notify: bool) {
    let (create, insert) = if notify {
        (
            "CREATE TABLE IF NOT EXISTS bench_baseline_notify (id UUID PRIMARY KEY, body BYTEA NOT NULL)",
            "INSERT INTO bench_baseline_notify (id, body) VALUES ($1, $2)",
        )
    } else {
        (
            "CREATE TABLE IF NOT EXISTS bench_baseline (id UUID PRIMARY KEY, body BYTEA NOT NULL)",
            "INSERT INTO bench_baseline (id, body) VALUES ($1, $2)",
        )
    };
    sqlx::query(create)
        .execute(pool)
        .await
        .expect("baseline table");
    if notify {
        // The same wake-up the platform's outbox has (crates/platform/migrations): a
        // statement trigger calling pg_notify, so every committing transaction notifies.
        sqlx::raw_sql(
            "CREATE FUNCTION bench_notify() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_notify('bench_baseline_outbox', ''); RETURN NULL; END $$; \
             CREATE TRIGGER bench_notify AFTER INSERT ON bench_baseline_notify \
             FOR EACH STATEMENT EXECUTE FUNCTION bench_notify();",
        )
        .execute(pool)
        .await
        .expect("baseline trigger");
    }
    let end = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let body = vec![7u8; row_bytes];
    let tasks = (0..clients).map(|_| {
        let pool = pool.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < end {
                let t = Instant::now();
                sqlx::query(insert)
                    .bind(uuid::Uuid::now_v7())
                    .bind(&body)
                    .execute(&pool)
                    .await
                    .expect("insert");
                lat.push(t.elapsed());
            }
            lat
        })
    });
    let lat: Vec<Duration> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.expect("insert task"))
        .collect();
    let name = if notify {
        format!("reference: raw INSERT + NOTIFY, {clients} clients")
    } else {
        format!("baseline: raw INSERT, {clients} clients")
    };
    report(&name, lat.len(), start.elapsed(), lat);
}

async fn fixed_rate(
    client: IntakeServiceClient<Channel>,
    token: &str,
    rate: u64,
    secs: u64,
    seq: Arc<AtomicU64>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        let mut client = client.clone();
        let token = token.to_owned();
        let n = seq.fetch_add(1, Ordering::Relaxed);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            client
                .submit_hotline_ticket(request(n, &token))
                .await
                .expect("submit");
            t.elapsed()
        }));
    }
    let lat: Vec<Duration> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("request task"))
        .collect();
    report(
        &format!("intake at {rate}/s offered"),
        lat.len(),
        start.elapsed(),
        lat,
    );
}

#[tokio::main]
async fn main() {
    let clients = env_num("GRIDLOOP_BENCH_CLIENTS", 32);
    let secs = env_num("GRIDLOOP_BENCH_SECS", 10);
    let rate = env_num("GRIDLOOP_BENCH_RATE", 1000);
    let env = TestEnv::new().await;
    let mut cfg = env.config("intake");
    cfg.db_max_connections = clients.max(4) as u32;
    let settings = IntakeSettings::from_env(&cfg).expect("settings");
    let stop = CancellationToken::new();
    let app = App::build_with(cfg, settings, stop.clone())
        .await
        .expect("intake starts");
    let port = app.port();
    let server = tokio::spawn(app.run());
    let client = IntakeServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect");
    let token = Authenticator::new(Some(TEST_JWT_SECRET))
        .mint(&Claims {
            sub: "op-bench".into(),
            role: Role::Operator,
            grids: vec![],
            exp: chrono::Utc::now().timestamp() + 86_400,
            iat: 0,
        })
        .expect("token");
    let pool = PgPool::connect(&env.database_url).await.expect("bench db");
    let seq = Arc::new(AtomicU64::new(0));

    println!("intake bench: {clients} clients, {secs} s per phase, fixed rate {rate}/s");
    let started = Instant::now();
    let accepted = closed_loop(
        format!("http://127.0.0.1:{port}"),
        &token,
        clients,
        secs,
        seq.clone(),
    )
    .await;
    drained(&pool, accepted, started).await;
    fixed_rate(client, &token, rate, secs, seq).await;
    // Same size as what one ticket writes: its row plus its outbox event.
    let row_bytes: i64 = sqlx::query_scalar(
        "SELECT ((SELECT avg(pg_column_size(t.*)) FROM (SELECT * FROM intake.tickets LIMIT 1000) t) \
               + (SELECT avg(pg_column_size(o.*)) FROM (SELECT * FROM intake.outbox LIMIT 1000) o))::bigint",
    )
    .fetch_one(&pool)
    .await
    .expect("row size");
    baseline(&pool, clients, secs, row_bytes.max(1) as usize, false).await;
    // Not the goal's baseline: what the outbox's NOTIFY trigger alone allows (see the docs).
    baseline(&pool, clients, secs, row_bytes.max(1) as usize, true).await;
    println!("(one ticket writes ~{row_bytes} bytes: ticket row + outbox row)");
    stop.cancel();
    let _ = server.await;
}
