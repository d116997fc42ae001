//! Report query benchmark: a synthetic history of `GRIDLOOP_BENCH_TICKETS` tickets (default
//! 10 000 000) over three years (2024–2026) in a county of 10 towns × 20 villages × 10 groups,
//! generated with SQL `generate_series` into the per-ticket fact table, and the aggregate and
//! histogram tables built from it with SQL. Rows are laid out in received order, as the event
//! stream writes them in production (a day's tickets together, grids mixed within the day). Then a town's monthly report by village:
//! - through the real query path (in-process, and gRPC GetReport on a running service), rolled
//!   up from the aggregates, and
//! - by a naive SQL GROUP BY over the per-ticket rows (with an index on received day and grid
//!   to be fair to it),
//!
//! in the same run, and a results table. The database `gridloop_bench_reports` is kept, so a
//! second run with the same size skips the load.
//!
//! Run: `. .local/env && cargo bench -p gridloop-reports --bench report`
//! (`GRIDLOOP_BENCH_TICKETS=200000` for a quick run).

#![allow(clippy::print_stdout)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use gridloop_platform::Config;
use gridloop_platform::auth::{Authenticator, Claims, Role};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::report_service_client::ReportServiceClient;
use gridloop_reports::{App, Settings};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

const DB: &str = "gridloop_bench_reports";
const SECRET: &str = "gridloop-bench-secret";
const TOWN: &str = "341504103";
const ITERATIONS: usize = 30;

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn server_url() -> String {
    std::env::var("GRIDLOOP_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".into())
}

async fn exec(pool: &PgPool, sql: &str) {
    let t = Instant::now();
    pool.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())))
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    let first = sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
    println!("  {:>7.1} s  {first} …", t.elapsed().as_secs_f64());
}

/// Generates the per-ticket rows and the aggregates built from them.
async fn load(pool: &PgPool, n: u64) {
    println!("loading {n} tickets");
    exec(
        pool,
        "TRUNCATE facts, agg, agg_hist, grids, categories, watermark",
    )
    .await;
    exec(pool, "DROP INDEX IF EXISTS facts_day_grid").await;
    exec(pool, "ALTER TABLE facts SET (autovacuum_enabled = false)").await;
    // Hashes of the ticket number drive every attribute, so a run is reproducible.
    exec(
        pool,
        &format!(
            "INSERT INTO facts (ticket_id, received_at, received_day, grid_code, worker_id,
               category_code, channel, dispatched, accepted_on_time, merged, disposed, reworked,
               overdue, closed, closed_on_time, closed_by_exemption, closed_at, satisfied,
               basically_satisfied, dissatisfied, handling_minutes)
             SELECT md5(i::text)::uuid, r, (r AT TIME ZONE 'Asia/Shanghai')::date, g, 'w-' || g,
               (ARRAY['environment','environment','environment','neighbor_dispute',
                      'neighbor_dispute','public_security','elderly_care','consultation',
                      'municipal','land_housing','labor_wage','other'])[1 + (h2 % 12)],
               (ARRAY[1,1,1,1,2,3,3,4,5,6])[1 + (h3 % 10)]::int2,
               NOT merged, NOT merged AND h4 % 100 < 85, merged, NOT merged AND h4 % 100 < 92,
               NOT merged AND h5 % 100 < 8, NOT closed AND NOT merged AND h5 % 100 < 30,
               closed, closed AND h6 % 100 < 80, closed AND h6 % 100 >= 97,
               CASE WHEN closed THEN r + make_interval(mins => hm * 3) END,
               CASE WHEN closed AND h7 % 100 < 70 THEN 1 ELSE 0 END,
               CASE WHEN closed AND h7 % 100 >= 70 AND h7 % 100 < 92 THEN 1 ELSE 0 END,
               CASE WHEN NOT merged AND h5 % 100 < 8 THEN 1 ELSE 0 END,
               CASE WHEN closed THEN hm END
             FROM (
               SELECT i, r, g, h2, h3, h4, h5, h6, h7, hm, merged,
                      NOT merged AND h4 % 100 < 88 AS closed
               FROM (
                 SELECT i,
                   timestamptz '2023-12-31 16:00:00+00'
                     + make_interval(days => ((i - 1)::int8 * 1096 / {n})::int,
                       mins => ((h1 / 1096) % 1440)::int) AS r,
                   '341504' || (101 + (h1 >> 12) % 10)::text || (201 + (h1 >> 16) % 20)::text
                     || lpad((1 + (h1 >> 22) % 10)::text, 3, '0') AS g,
                   h2, h3, h4, h5, h6, h7,
                   ((h2 >> 8) % 4000 * ((h3 >> 8) % 4000) / 4000)::int AS hm,
                   h7 % 100 >= 95 AS merged
                 FROM (
                   SELECT i,
                     hashint8extended(i, 1) & 9223372036854775807 AS h1,
                     hashint8extended(i, 2) & 9223372036854775807 AS h2,
                     hashint8extended(i, 3) & 9223372036854775807 AS h3,
                     hashint8extended(i, 4) & 9223372036854775807 AS h4,
                     hashint8extended(i, 5) & 9223372036854775807 AS h5,
                     hashint8extended(i, 6) & 9223372036854775807 AS h6,
                     hashint8extended(i, 7) & 9223372036854775807 AS h7
                   FROM generate_series(1, {n}) AS i) hashes) attrs) t"
        ),
    )
    .await;
    exec(
        pool,
        "INSERT INTO agg SELECT received_day, grid_code, category_code, channel, worker_id,
           count(*), count(*) FILTER (WHERE dispatched), count(*) FILTER (WHERE merged),
           count(*) FILTER (WHERE closed),
           count(*) FILTER (WHERE overdue AND NOT closed AND NOT merged),
           count(*) FILTER (WHERE dispatched AND accepted_on_time),
           count(*) FILTER (WHERE closed AND closed_on_time), count(*) FILTER (WHERE disposed),
           count(*) FILTER (WHERE reworked), sum(satisfied), sum(basically_satisfied),
           sum(dissatisfied), count(*) FILTER (WHERE closed AND closed_by_exemption),
           coalesce(sum(handling_minutes) FILTER (WHERE closed), 0)
         FROM facts GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, md5(grid_code || category_code)",
    )
    .await;
    exec(
        pool,
        "INSERT INTO agg_hist SELECT received_day, grid_code, category_code, channel, worker_id,
           handling_minutes / 6, count(*)
         FROM facts WHERE closed GROUP BY 1, 2, 3, 4, 5, 6
         ORDER BY 1, md5(grid_code || category_code)",
    )
    .await;
    exec(
        pool,
        "INSERT INTO grids SELECT DISTINCT left(grid_code, 9), 2, '镇' || left(grid_code, 9)
         FROM agg UNION SELECT DISTINCT left(grid_code, 12), 3, '村' || left(grid_code, 12)
         FROM agg",
    )
    .await;
    exec(pool, "INSERT INTO watermark VALUES (true, now())").await;
    // Fair to the naive query: an index on what it filters by.
    exec(
        pool,
        "CREATE INDEX facts_day_grid ON facts (received_day, grid_code)",
    )
    .await;
    exec(pool, "VACUUM ANALYZE facts").await;
    exec(pool, "VACUUM ANALYZE agg").await;
    exec(pool, "VACUUM ANALYZE agg_hist").await;
}

/// The naive report: the same village rows straight from the per-ticket rows.
const NAIVE: &str = "SELECT left(grid_code, 12) AS village, count(*) AS received,
    count(*) FILTER (WHERE dispatched) AS dispatched, count(*) FILTER (WHERE merged) AS merged,
    count(*) FILTER (WHERE closed) AS closed,
    count(*) FILTER (WHERE overdue AND NOT closed AND NOT merged) AS open_overdue,
    count(*) FILTER (WHERE dispatched AND accepted_on_time) AS accepted_on_time,
    count(*) FILTER (WHERE closed AND closed_on_time) AS closed_on_time,
    count(*) FILTER (WHERE disposed) AS disposed, count(*) FILTER (WHERE reworked) AS reworked,
    sum(satisfied) AS satisfied, sum(basically_satisfied) AS basically,
    sum(dissatisfied) AS dissatisfied,
    avg(handling_minutes) FILTER (WHERE closed) / 60.0 AS avg_hours,
    percentile_disc(0.9) WITHIN GROUP (ORDER BY handling_minutes / 6)
      FILTER (WHERE closed) * 0.1 AS p90_hours
  FROM facts
  WHERE received_day BETWEEN $1 AND $2 AND grid_code >= $3 AND grid_code < $3 || 'z'
  GROUP BY 1 ORDER BY 1";

fn stats(mut xs: Vec<Duration>) -> (f64, f64, f64) {
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(xs[((xs.len() as f64 * q).ceil() as usize).clamp(1, xs.len()) - 1]);
    (p(0.5), p(0.95), ms(*xs.last().unwrap()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_num("GRIDLOOP_BENCH_TICKETS", 10_000_000);
    let admin_url = server_url();
    let mut admin = PgConnection::connect(&admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DB)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        admin
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {DB}"
            ))))
            .await?;
    }
    admin.close().await?;
    let db_url = PgConnectOptions::from_str(&admin_url)?
        .database(DB)
        .to_url_lossy()
        .to_string();

    let mut cfg = Config::local("reports");
    let run = uuid::Uuid::now_v7().simple().to_string();
    cfg.database_url = db_url.clone().into();
    cfg.nats_url =
        std::env::var("GRIDLOOP_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:54222".into());
    cfg.stream = format!("BENCH_{run}");
    cfg.subject_prefix = format!("bench{run}");
    cfg.jwt_secret = Some(SECRET.into());
    cfg.grpc_addr = "127.0.0.1:0".parse()?;
    let stop = CancellationToken::new();
    let settings = Settings {
        http_addr: "127.0.0.1:0".parse()?,
    };
    let app = App::build_with(cfg.clone(), settings, stop.clone()).await?;
    let pool = app.pool().clone();
    // Loading truncates, indexes and vacuums: the owner's rights, not the service role's.
    let owner = PgPool::connect_with(
        PgConnectOptions::from_str(&db_url)?.options([("search_path", "reports")]),
    )
    .await?;
    let loaded: i64 = sqlx::query_scalar("SELECT count(*) FROM facts")
        .fetch_one(&pool)
        .await?;
    if loaded as u64 != n {
        let t = Instant::now();
        load(&owner, n).await;
        println!("loaded in {:.0} s", t.elapsed().as_secs_f64());
    } else {
        println!("reusing the loaded history of {n} tickets in database {DB}");
    }
    let sizes: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT relname::text, reltuples::int8,
           pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class
         WHERE relname IN ('facts', 'agg', 'agg_hist') AND relkind = 'r' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    let port = app.port();
    tokio::spawn(app.run());
    let mut client = ReportServiceClient::connect(format!("http://127.0.0.1:{port}")).await?;
    let now = chrono::Utc::now().timestamp();
    let token = Authenticator::new(Some(SECRET)).mint(&Claims {
        sub: "bench-leader".into(),
        role: Role::Leader,
        grids: vec![],
        exp: now + 3600,
        iat: now,
    })?;
    let request = || {
        let mut r = tonic::Request::new(pb::GetReportRequest {
            filter: Some(pb::ReportFilter {
                grid_code: TOWN.into(),
                ..Default::default()
            }),
            range: Some(pb::get_report_request::Range::Period(pb::Period {
                unit: pb::PeriodUnit::Month as i32,
                anchor: Some(pb::Date {
                    year: 2026,
                    month: 11,
                    day: 1,
                }),
            })),
            dimension: pb::ReportDimension::Grid as i32,
            group_level: pb::GridLevel::Village as i32,
        });
        r.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        r
    };
    let from = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
    let to = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");

    // The query path in-process (what GetReport runs), then the same through gRPC.
    let filter = gridloop_reports::domain::Filter {
        root: TOWN.into(),
        categories: vec![],
        channels: vec![],
        worker: None,
    };
    let mut direct = Vec::new();
    for i in 0..=ITERATIONS {
        let t = Instant::now();
        gridloop_reports::report::report(
            &pool,
            &filter,
            (from, to),
            pb::ReportDimension::Grid,
            pb::GridLevel::Village,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        if i > 0 {
            direct.push(t.elapsed());
        }
    }
    let mut real = Vec::new();
    let mut report = None;
    for i in 0..=ITERATIONS {
        let t = Instant::now();
        let r = client.get_report(request()).await?.into_inner();
        if i > 0 {
            real.push(t.elapsed());
        }
        report = Some(r);
    }
    let report = report.expect("a report");
    let mut naive = Vec::new();
    let mut naive_rows = Vec::new();
    for i in 0..=ITERATIONS {
        let t = Instant::now();
        let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT village, received FROM ({NAIVE}) q"
        )))
        .bind(from)
        .bind(to)
        .bind(TOWN)
        .fetch_all(&pool)
        .await?;
        if i > 0 {
            naive.push(t.elapsed());
        }
        naive_rows = rows;
    }
    let agg_rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM agg WHERE day BETWEEN $1 AND $2 AND grid_code >= $3 \
         AND grid_code < $3 || 'z'",
    )
    .bind(from)
    .bind(to)
    .bind(TOWN)
    .fetch_one(&pool)
    .await?;
    let ticket_rows: i64 = naive_rows.iter().map(|r| r.1).sum();
    let same =
        report.rows.len() == naive_rows.len()
            && report.rows.iter().zip(&naive_rows).all(|(a, b)| {
                a.key == b.0 && a.indicators.is_some_and(|i| i.received as i64 == b.1)
            });

    println!();
    println!("tickets: {n}; town {TOWN}, November 2026, rows by village");
    for (name, rows, size) in sizes {
        println!("  table {name:<9} ~{rows:>11} rows  {size}");
    }
    println!(
        "  the month's town: {ticket_rows} tickets, {agg_rows} aggregate rows, {} villages; \
         results agree: {same}",
        report.rows.len()
    );
    println!();
    println!("| query ({ITERATIONS} runs, warm) | p50 ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|");
    let (a, b, c) = stats(direct);
    println!("| report query path in-process (aggregates) | {a:.1} | {b:.1} | {c:.1} |");
    let (a1, b1, c1) = stats(real);
    println!("| GetReport via gRPC, client to server (aggregates) | {a1:.1} | {b1:.1} | {c1:.1} |");
    let (a2, b2, c2) = stats(naive);
    println!("| naive SQL GROUP BY over per-ticket rows | {a2:.1} | {b2:.1} | {c2:.1} |");
    println!();
    println!(
        "goal: a town's monthly report under 100 ms: {}",
        if b1 < 100.0 {
            "met (gRPC p95)"
        } else {
            "NOT met (gRPC p95)"
        }
    );
    stop.cancel();
    if let Ok(client) = async_nats::connect(&cfg.nats_url).await {
        let _ = async_nats::jetstream::new(client)
            .delete_stream(&cfg.stream)
            .await;
    }
    assert!(same, "the real path and the naive query disagree");
    Ok(())
}
