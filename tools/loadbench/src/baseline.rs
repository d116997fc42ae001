//! The two raw baselines, on the very servers the services use, in the same run: JetStream
//! publishes of an event-sized payload awaiting each acknowledgement (a stream of their own,
//! file storage, so every message is fsynced as the services' are), and single-row durable
//! INSERTs, one transaction each — with pgbench when PostgreSQL's bin directory has it (a C
//! client, as little client CPU as there can be), otherwise from sqlx connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, stream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::report::{Kind, Row, percentile};

/// About what one ticket event weighs on the stream.
const PAYLOAD: usize = 300;

/// Raw publishes/s from `writers` publishers, each awaiting its ack before the next.
pub async fn publishes(nats_url: &str, writers: u32, secs: Duration) -> anyhow::Result<Row> {
    say!(
        "baseline: raw JetStream publishes, {writers} publishers, {} s",
        secs.as_secs()
    );
    let client = async_nats::connect(nats_url).await?;
    let js = jetstream::new(client);
    let _ = js.delete_stream("BENCH_RAW").await;
    js.create_stream(stream::Config {
        name: "BENCH_RAW".into(),
        subjects: vec!["bench.raw".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("creating BENCH_RAW: {e}"))?;
    let payload = bytes::Bytes::from(vec![b'x'; PAYLOAD]);
    let end = Instant::now() + secs;
    let start = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..writers {
        let (js, payload) = (js.clone(), payload.clone());
        set.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                let ok = match js.publish("bench.raw", payload.clone()).await {
                    Ok(ack) => ack.await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        });
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    while let Some(r) = set.join_next().await {
        let (l, e) = r?;
        lat.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = js.delete_stream("BENCH_RAW").await;
    let mut row = Row::new(
        format!("baseline: raw JetStream publishes awaiting each ack, {writers} publishers"),
        Kind::RawPublish,
        lat.len() as f64 / secs,
    );
    row.p50 = percentile(&mut lat, 0.5);
    row.p99 = percentile(&mut lat, 0.99);
    if errors > 0 {
        row.failures.insert("publish".into(), errors);
    }
    say!("  {:.0} msgs/s", row.rate);
    Ok(row)
}

/// Raw single-row INSERTs/s, one transaction each, from `writers` connections.
pub async fn inserts(
    pg_bin: &std::path::Path,
    port: u16,
    database_url: &str,
    writers: u32,
    secs: Duration,
) -> anyhow::Result<Row> {
    let db = sqlx::PgPool::connect(database_url).await?;
    sqlx::query("DROP TABLE IF EXISTS bench_raw")
        .execute(&db)
        .await?;
    sqlx::query("CREATE TABLE bench_raw (id bigserial PRIMARY KEY, payload text NOT NULL)")
        .execute(&db)
        .await?;
    let pgbench = pg_bin.join("pgbench");
    let (rate, how) = if pgbench.is_file() {
        (
            with_pgbench(&pgbench, port, writers, secs).await?,
            "pgbench",
        )
    } else {
        (with_sqlx(database_url, writers, secs).await?, "sqlx")
    };
    sqlx::query("DROP TABLE bench_raw").execute(&db).await?;
    say!("  {rate:.0} rows/s ({how})");
    Ok(Row::new(
        format!("baseline: raw single-row INSERTs, {writers} connections ({how})"),
        Kind::RawInsert,
        rate,
    ))
}

async fn with_pgbench(
    pgbench: &std::path::Path,
    port: u16,
    writers: u32,
    secs: Duration,
) -> anyhow::Result<f64> {
    say!(
        "baseline: raw INSERTs with pgbench, {writers} connections, {} s",
        secs.as_secs()
    );
    let script = std::env::temp_dir().join(format!("loadbench-insert-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        format!("INSERT INTO bench_raw (payload) VALUES (repeat('x', {PAYLOAD}));\n"),
    )?;
    let out = tokio::process::Command::new(pgbench)
        .args(["-n", "-h", "127.0.0.1", "-U", "postgres"])
        .args(["-p", &port.to_string()])
        .args(["-c", &writers.to_string(), "-j", "2"])
        .args(["-T", &secs.as_secs().max(1).to_string()])
        .arg("-f")
        .arg(&script)
        .arg("postgres")
        .output()
        .await
        .context("running pgbench")?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        anyhow::bail!(
            "pgbench failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    pgbench_tps(&text).with_context(|| format!("no tps in pgbench's output: {text}"))
}

/// The `tps = …` figure of pgbench's report.
pub fn pgbench_tps(report: &str) -> Option<f64> {
    report
        .lines()
        .find(|l| l.trim_start().starts_with("tps = "))?
        .trim_start()
        .strip_prefix("tps = ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

async fn with_sqlx(database_url: &str, writers: u32, secs: Duration) -> anyhow::Result<f64> {
    say!(
        "baseline: raw INSERTs from sqlx, {writers} connections, {} s",
        secs.as_secs()
    );
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(writers)
        .connect(database_url)
        .await?;
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + secs;
    let mut set = JoinSet::new();
    for _ in 0..writers {
        let (db, done) = (db.clone(), done.clone());
        set.spawn(async move {
            while Instant::now() < end {
                let r = sqlx::query("INSERT INTO bench_raw (payload) VALUES (repeat('x', $1))")
                    .bind(PAYLOAD as i32)
                    .execute(&db)
                    .await;
                if r.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    #[test]
    fn pgbench_tps_is_read_from_its_report() {
        let report = "number of failed transactions: 0 (0.000%)\n\
                      latency average = 1.436 ms\n\
                      initial connection time = 12.210 ms\n\
                      tps = 11140.958211 (without initial connection time)\n";
        assert_eq!(super::pgbench_tps(report), Some(11140.958211));
        assert_eq!(super::pgbench_tps("nothing"), None);
    }
}
