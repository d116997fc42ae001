//! Migration 0003: channels and grid levels stored as numbers keep their meaning as names, and
//! the aggregates keyed by channel are regrouped under the names with their counts intact.

use chrono::NaiveDate;
use gridloop_platform::db;
use gridloop_platform::testing::TestEnv;
use gridloop_proto::v1::{Channel, GridLevel, ReportDimension};
use gridloop_reports::domain::Filter;
use gridloop_reports::{MIGRATOR, report};
use sqlx::migrate::Migrator;

#[tokio::test]
async fn channel_and_level_numbers_become_names() {
    let env = TestEnv::new().await;
    let before =
        Migrator::with_migrations(MIGRATOR.iter().filter(|m| m.version < 3).cloned().collect());
    let pool = db::setup(&env.config("reports"), &before).await.unwrap();
    // Channel 9 is no channel: it lands beside 0, as 'unspecified', and their counts add up.
    for sql in [
        "INSERT INTO grids (code, level, name) VALUES ('341504100', 2, '城关镇')",
        "INSERT INTO facts (ticket_id, received_at, received_day, grid_code, category_code, \
           channel) \
         VALUES (gen_random_uuid(), '2026-11-18 02:00Z', '2026-11-18', '341504100', 'municipal', 3)",
        "INSERT INTO agg (day, grid_code, category_code, channel, worker_id, received, closed, \
           handling_minutes) \
         VALUES ('2026-11-18', '341504100', 'municipal', 1, 'w-1', 2, 1, 30), \
                ('2026-11-18', '341504100', 'municipal', 3, 'w-1', 1, 0, 0), \
                ('2026-11-18', '341504100', 'municipal', 0, '', 1, 1, 60), \
                ('2026-11-18', '341504100', 'municipal', 9, '', 1, 1, 90)",
        "INSERT INTO agg_hist (day, grid_code, category_code, channel, worker_id, bucket, n) \
         VALUES ('2026-11-18', '341504100', 'municipal', 1, 'w-1', 5, 1), \
                ('2026-11-18', '341504100', 'municipal', 0, '', 10, 1), \
                ('2026-11-18', '341504100', 'municipal', 9, '', 10, 1)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }

    let pool = db::setup(&env.config("reports"), &MIGRATOR).await.unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
    let everything = Filter {
        root: String::new(),
        categories: Vec::new(),
        channels: Vec::new(),
        worker: None,
    };
    let by_channel = report::report(
        &pool,
        &everything,
        (day, day),
        ReportDimension::Channel,
        GridLevel::Unspecified,
    )
    .await
    .unwrap();
    let rows: Vec<(&str, u64, u64)> = by_channel
        .rows
        .iter()
        .map(|r| {
            let i = r.indicators.as_ref().unwrap();
            (r.key.as_str(), i.received, i.closed)
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("APP", 1, 0),
            ("HOTLINE_12345", 2, 1),
            ("UNSPECIFIED", 2, 2)
        ]
    );
    let mut hist: Vec<String> =
        sqlx::query_scalar("SELECT concat_ws(' ', channel, bucket, n) FROM agg_hist")
            .fetch_all(&pool)
            .await
            .unwrap();
    hist.sort();
    assert_eq!(hist, ["hotline_12345 5 1", "unspecified 10 2"]);

    let hotline = Filter {
        channels: vec![Channel::Hotline12345 as i32],
        ..everything
    };
    let filtered = report::report(
        &pool,
        &hotline,
        (day, day),
        ReportDimension::None,
        GridLevel::Unspecified,
    )
    .await
    .unwrap();
    assert_eq!(filtered.totals.unwrap().received, 2);

    let facts: Vec<String> = sqlx::query_scalar("SELECT channel FROM facts")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(facts, ["app"]);
    let level: String = sqlx::query_scalar("SELECT level FROM grids")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(level, "town");
    // Still keyed by channel: a second row for the same key is refused.
    let twin = sqlx::query(
        "INSERT INTO agg (day, grid_code, category_code, channel, worker_id) \
         VALUES ('2026-11-18', '341504100', 'municipal', 'app', 'w-1')",
    )
    .execute(&pool)
    .await;
    assert!(twin.is_err());
    let odd = sqlx::query("UPDATE facts SET channel = 'fax'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}
