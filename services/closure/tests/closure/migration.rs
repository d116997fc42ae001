//! Migration 0002: disposals and feedback stored with numbers keep their meaning as names.
//! Migration 0003: so do tickets' and the ledger's channels, ratings and exemption kinds.

use gridloop_platform::db;
use gridloop_platform::testing::TestEnv;
use sqlx::migrate::Migrator;

#[tokio::test]
async fn disposal_and_feedback_numbers_become_names() {
    let env = TestEnv::new().await;
    let pool = schema_before(&env, 2).await;
    for sql in [
        "INSERT INTO tickets (ticket_id, loop_state, grid_code) \
         VALUES (gen_random_uuid(), '{}'::jsonb, 'G')",
        "INSERT INTO disposals (disposal_id, ticket_id, worker_id, grid_code, disposal_type, \
           result, disposed_at, rework_count) \
         SELECT gen_random_uuid(), ticket_id, 'w', 'G', 3, '无法解决', now(), 0 FROM tickets",
        // An unreached callback (no rating) by an operator, then the citizen's own rating.
        "INSERT INTO feedback (feedback_id, ticket_id, rating, source, reached, actor_id, \
           actor_role, recorded_at, rework_count) \
         SELECT gen_random_uuid(), ticket_id, 0, 2, false, 'op', 1, now(), 0 FROM tickets",
        "INSERT INTO feedback (feedback_id, ticket_id, rating, source, reached, actor_id, \
           actor_role, recorded_at, rework_count) \
         SELECT gen_random_uuid(), ticket_id, 2, 1, true, 'c', 7, now() + interval '1 minute', 0 \
         FROM tickets",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }

    let pool = db::setup(&env.config("closure"), &gridloop_closure::MIGRATOR)
        .await
        .unwrap();
    let kind: String = sqlx::query_scalar("SELECT disposal_type FROM disposals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kind, "unresolvable");
    let feedback: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', rating, source, actor_role) FROM feedback ORDER BY recorded_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        feedback,
        [
            "unspecified callback operator",
            "basically_satisfied citizen citizen"
        ]
    );
    let odd = sqlx::query("UPDATE feedback SET rating = 'delighted'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}

/// Closure's schema as it stood before migration `version`.
async fn schema_before(env: &TestEnv, version: i64) -> sqlx::PgPool {
    let before = Migrator::with_migrations(
        gridloop_closure::MIGRATOR
            .iter()
            .filter(|m| m.version < version)
            .cloned()
            .collect(),
    );
    db::setup(&env.config("closure"), &before).await.unwrap()
}

#[tokio::test]
async fn ledger_and_channel_numbers_become_names() {
    let env = TestEnv::new().await;
    let pool = schema_before(&env, 3).await;
    for sql in [
        "INSERT INTO tickets (ticket_id, loop_state, grid_code, channel) \
         VALUES (gen_random_uuid(), '{}'::jsonb, 'G', 6), (gen_random_uuid(), '{}'::jsonb, 'G', 1)",
        "INSERT INTO ledger (entry_id, ticket_id, grid_code, worker_id, closed_at, basis, rating, \
           rework_count, on_time, category_code, category_name, channel) \
         SELECT gen_random_uuid(), ticket_id, 'G', 'w', now(), 'rating', 1, 0, true, 'c', 'c', 6 \
         FROM tickets WHERE channel = 6",
        "INSERT INTO ledger (entry_id, ticket_id, grid_code, worker_id, closed_at, basis, \
           exemption_kind, exemption_reason, approved_by, rework_count, on_time, category_code, \
           category_name, channel) \
         SELECT gen_random_uuid(), ticket_id, 'G', 'w', now() + interval '1 minute', \
           'exemption', 1, '多次联系不上', 'sup', 0, true, 'c', 'c', 1 \
         FROM tickets WHERE channel = 1",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }

    let pool = db::setup(&env.config("closure"), &gridloop_closure::MIGRATOR)
        .await
        .unwrap();
    let mut channels: Vec<String> = sqlx::query_scalar("SELECT channel FROM tickets")
        .fetch_all(&pool)
        .await
        .unwrap();
    channels.sort();
    assert_eq!(channels, ["hotline_12345", "patrol"]);
    let ledger: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', channel, rating, exemption_kind) FROM ledger ORDER BY closed_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        ["patrol satisfied", "hotline_12345 citizen_unreachable"]
    );
}
