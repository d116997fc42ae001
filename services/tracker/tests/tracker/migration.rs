//! Migration 0004: clocks whose kind was stored as a number keep their kind as a name.
//! Migration 0005: so do escalations' causes.
//! Migration 0006: and grid levels, in grids, escalations and tickets.
//! Migration 0007: and urgencies and SLA rules' time units.
//! Migration 0008: and the timeline's and violations' states and actor roles.

use gridloop_platform::db;
use gridloop_platform::testing::TestEnv;
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

/// The tracker's schema as it stood while kinds were numbers, with one ticket and one clock
/// of each of `kinds`.
async fn before_names(env: &TestEnv, kinds: &[i32]) -> sqlx::PgPool {
    schema_before(env, 4, kinds).await
}

/// The schema as it stood before migration `version`, with one ticket and one clock of each
/// of `kinds`.
async fn schema_before(env: &TestEnv, version: i64, kinds: &[i32]) -> sqlx::PgPool {
    let before = Migrator::with_migrations(
        gridloop_tracker::MIGRATOR
            .iter()
            .filter(|m| m.version < version)
            .cloned()
            .collect(),
    );
    let pool = db::setup(&env.config("tracker"), &before).await.unwrap();
    let ticket = Uuid::now_v7();
    sqlx::query("INSERT INTO tickets (ticket_id, loop_state) VALUES ($1, '{}'::jsonb)")
        .bind(ticket)
        .execute(&pool)
        .await
        .unwrap();
    for kind in kinds {
        sqlx::query(
            "INSERT INTO timers (ticket_id, kind, started_at, due_at) VALUES ($1, $2, now(), now())",
        )
        .bind(ticket)
        .bind(kind)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool
}

#[tokio::test]
async fn timer_kinds_stored_as_numbers_become_names() {
    let env = TestEnv::new().await;
    before_names(&env, &[1, 2, 3]).await;
    let pool = db::setup(&env.config("tracker"), &gridloop_tracker::MIGRATOR)
        .await
        .unwrap();
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM timers ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["respond", "dispose", "feedback"]);
    // The live-clock index still holds: a second live respond clock is refused.
    let second = sqlx::query(
        "INSERT INTO timers (ticket_id, kind, started_at, due_at) \
         SELECT ticket_id, 'respond', now(), now() FROM tickets",
    )
    .execute(&pool)
    .await;
    assert!(second.is_err());
    // A name outside the list is refused.
    let odd = sqlx::query("UPDATE timers SET kind = 'callback' WHERE kind = 'feedback'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}

#[tokio::test]
async fn an_unknown_timer_kind_stops_the_migration() {
    let env = TestEnv::new().await;
    let pool = before_names(&env, &[1]).await;
    // Written past the old CHECK, as a hand edit by the database's owner could have.
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut owner = PgConnection::connect(&env.database_url).await.unwrap();
    owner
        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {schema}.timers DROP CONSTRAINT timers_kind_check; \
             UPDATE {schema}.timers SET kind = 7"
        ))))
        .await
        .unwrap();
    let migrated = db::setup(&env.config("tracker"), &gridloop_tracker::MIGRATOR).await;
    assert!(migrated.is_err());
    let kind: i32 = sqlx::query_scalar("SELECT kind FROM timers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kind, 7);
}

#[tokio::test]
async fn escalation_causes_stored_as_numbers_become_names() {
    let env = TestEnv::new().await;
    let pool = schema_before(&env, 5, &[]).await;
    for (cause, threshold) in [(1, None), (2, Some(3))] {
        sqlx::query(
            "INSERT INTO escalations (ticket_id, cause, repeat_threshold, level, grid_code, step, \
               event_id, at) SELECT ticket_id, $1, $2, 2, 'T', 1, gen_random_uuid(), now() \
             FROM tickets",
        )
        .bind(cause)
        .bind(threshold)
        .execute(&pool)
        .await
        .unwrap();
    }
    let pool = db::setup(&env.config("tracker"), &gridloop_tracker::MIGRATOR)
        .await
        .unwrap();
    let causes: Vec<String> = sqlx::query_scalar("SELECT cause FROM escalations ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(causes, ["overdue", "repeat_complaint"]);
    let odd = sqlx::query("UPDATE escalations SET cause = 'whim'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}

#[tokio::test]
async fn grid_levels_stored_as_numbers_become_names() {
    let env = TestEnv::new().await;
    let pool = schema_before(&env, 6, &[]).await;
    for sql in [
        "INSERT INTO grids (code, level) VALUES ('C', 1), ('CT', 2), ('CTV', 3), ('CTVG', 4)",
        "UPDATE tickets SET grid_level = 4, escalation_level = 2",
        "INSERT INTO tickets (ticket_id, loop_state) VALUES (gen_random_uuid(), '{}'::jsonb)",
        "INSERT INTO escalations (ticket_id, cause, level, grid_code, step, event_id, at) \
         SELECT ticket_id, 'overdue', 3, 'CTV', 1, gen_random_uuid(), now() FROM tickets \
         WHERE grid_level = 4",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let pool = db::setup(&env.config("tracker"), &gridloop_tracker::MIGRATOR)
        .await
        .unwrap();
    let grids: Vec<String> = sqlx::query_scalar("SELECT level FROM grids ORDER BY code")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(grids, ["county", "town", "village", "group"]);
    let tickets: Vec<(String, String)> =
        sqlx::query_as("SELECT grid_level, escalation_level FROM tickets ORDER BY grid_level")
            .fetch_all(&pool)
            .await
            .unwrap();
    // A ticket no grid held and nobody escalated keeps saying so.
    assert_eq!(
        tickets,
        [
            ("group".into(), "town".into()),
            ("none".into(), "none".into())
        ]
    );
    let level: String = sqlx::query_scalar("SELECT level FROM escalations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(level, "village");
    let odd = sqlx::query("UPDATE grids SET level = 'none'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}

#[tokio::test]
async fn urgencies_and_units_stored_as_numbers_become_names() {
    let env = TestEnv::new().await;
    let pool = schema_before(&env, 7, &[]).await;
    for sql in [
        "UPDATE tickets SET urgency = 2",
        "INSERT INTO tickets (ticket_id, loop_state) VALUES (gen_random_uuid(), '{}'::jsonb)",
        "INSERT INTO sla_rules VALUES ('safety', 2, 30, 4, 1, 3, 1, 2, now())",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let pool = db::setup(&env.config("tracker"), &gridloop_tracker::MIGRATOR)
        .await
        .unwrap();
    let mut urgencies: Vec<String> = sqlx::query_scalar("SELECT urgency FROM tickets")
        .fetch_all(&pool)
        .await
        .unwrap();
    urgencies.sort();
    // A ticket whose channel gave no urgency keeps saying so.
    assert_eq!(urgencies, ["unspecified", "urgent"]);
    let rules: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', category_code, urgency, respond_unit, dispose_unit, feedback_unit) \
         FROM sla_rules ORDER BY category_code, dispose_amount",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    // The seeded defaults (0001) and the minutes rule written before the change.
    assert_eq!(
        rules,
        [
            " general working_hours working_days working_days",
            " complex working_hours working_days working_days",
            " urgent calendar_hours calendar_hours working_days",
            "safety urgent minutes calendar_hours working_days",
        ]
    );
    let odd = sqlx::query("UPDATE sla_rules SET respond_unit = 'fortnights'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}

#[tokio::test]
async fn timeline_states_and_roles_stored_as_numbers_become_names() {
    let env = TestEnv::new().await;
    let pool = schema_before(&env, 8, &[]).await;
    for sql in [
        "INSERT INTO timeline (event_id, ticket_id, kind, occurred_at, producer, actor_role, \
           from_state, to_state, summary) \
         SELECT gen_random_uuid(), ticket_id, 'discovered', now(), 'intake', 1, 0, 1, '' \
         FROM tickets",
        "INSERT INTO timeline (event_id, ticket_id, kind, occurred_at, producer, actor_role, \
           from_state, to_state, summary) \
         SELECT gen_random_uuid(), ticket_id, 'merged', now(), 'intake', 7, 4, 6, '' \
         FROM tickets",
        "INSERT INTO violations (event_id, ticket_id, attempted, from_state, reason, producer, \
           occurred_at, recorded_at) \
         SELECT gen_random_uuid(), ticket_id, 'closed', 5, 'already closed', 'closure', \
           now(), now() FROM tickets",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let pool = db::setup(&env.config("tracker"), &gridloop_tracker::MIGRATOR)
        .await
        .unwrap();
    let timeline: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', actor_role, from_state, to_state) FROM timeline ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        timeline,
        ["operator unspecified discovered", "citizen feedback merged"]
    );
    let state: String = sqlx::query_scalar("SELECT from_state FROM violations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "closed");
}
