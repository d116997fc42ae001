//! Migration 0004: the loop view's disposal types, ratings and exemption kinds stored as
//! numbers keep their meaning as names.

use gridloop_platform::db;
use gridloop_platform::testing::TestEnv;
use sqlx::migrate::Migrator;

#[tokio::test]
async fn loop_view_numbers_become_names() {
    let env = TestEnv::new().await;
    let before = Migrator::with_migrations(
        gridloop_intake::MIGRATOR
            .iter()
            .filter(|m| m.version < 4)
            .cloned()
            .collect(),
    );
    let pool = db::setup(&env.config("intake"), &before).await.unwrap();
    sqlx::query(
        "INSERT INTO ticket_loop (ticket_id, loop_state, disposal_type, rating, closed_on_rating) \
         VALUES (gen_random_uuid(), '{}'::jsonb, 2, 1, 1), \
                (gen_random_uuid(), '{}'::jsonb, 0, 0, NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ticket_loop (ticket_id, loop_state, disposal_type, rating, exemption_kind, \
           exemption_reason, exemption_approved_by) \
         VALUES (gen_random_uuid(), '{}'::jsonb, 3, 3, 2, '确无法解决', 'sup')",
    )
    .execute(&pool)
    .await
    .unwrap();

    let pool = db::setup(&env.config("intake"), &gridloop_intake::MIGRATOR)
        .await
        .unwrap();
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', disposal_type, rating, closed_on_rating, exemption_kind) \
         FROM ticket_loop",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    rows.sort();
    assert_eq!(
        rows,
        [
            "explained satisfied satisfied",
            "unresolvable dissatisfied unresolvable_confirmed",
            "unspecified unspecified",
        ]
    );
    let odd = sqlx::query("UPDATE ticket_loop SET rating = 'thrilled'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}
