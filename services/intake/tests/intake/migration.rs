//! Migrations 0004 and 0005: enums stored as numbers — the loop view's disposal types,
//! ratings and exemption kinds; categories' urgencies, tickets' channels, urgencies and roles,
//! and household flags — keep their meaning as names.

use gridloop_intake::{categories, devices, tickets};
use gridloop_platform::db;
use gridloop_platform::testing::TestEnv;
use gridloop_proto::v1::{Channel, HouseholdFlag, Urgency};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

/// Intake's schema on a fresh database, migrated up to (not including) `version`.
async fn migrated_before(env: &TestEnv, version: i64) -> PgPool {
    let before = Migrator::with_migrations(
        gridloop_intake::MIGRATOR
            .iter()
            .filter(|m| m.version < version)
            .cloned()
            .collect(),
    );
    db::setup(&env.config("intake"), &before).await.unwrap()
}

#[tokio::test]
async fn loop_view_numbers_become_names() {
    let env = TestEnv::new().await;
    let pool = migrated_before(&env, 4).await;
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

#[tokio::test]
async fn ticket_category_and_device_numbers_become_names() {
    let env = TestEnv::new().await;
    let pool = migrated_before(&env, 5).await;
    sqlx::query(
        "INSERT INTO devices (device_id, household_key, address, grid_code, contact_phone, \
           contact_name, flags) \
         VALUES ('dev-1', 'hh-1', '幸福路1号', '341504100201003', '13812345678', '王某', '{1,3}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tickets (ticket_id, channel, external_id, state, category_code, urgency, \
           content, household_key, device_id, household_flags, submitted_by, \
           submitted_by_role, received_at) \
         VALUES (gen_random_uuid(), 2, 'press-1', 'DISCOVERED', 'public_security', 2, '求助', \
                 'hh-1', 'dev-1', '{1,3}', '', 0, now()), \
                (gen_random_uuid(), 1, 'call-1', 'DISCOVERED', 'land_housing', 3, '咨询', \
                 NULL, NULL, '{}', 'op-1', 1, now())",
    )
    .execute(&pool)
    .await
    .unwrap();

    let pool = db::setup(&env.config("intake"), &gridloop_intake::MIGRATOR)
        .await
        .unwrap();
    // Read back through intake's own queries, as the numbers they were written as.
    let catalogue = categories::list(&pool, true).await.unwrap();
    let urgencies = |code: &str| {
        let c = catalogue.iter().find(|c| c.code == code).unwrap();
        (c.default_urgency, c.sla_class)
    };
    assert_eq!(
        urgencies("public_security"),
        (Urgency::Urgent, Urgency::Urgent)
    );
    assert_eq!(
        urgencies("land_housing"),
        (Urgency::General, Urgency::Complex)
    );
    let device = devices::get(&pool, "dev-1").await.unwrap();
    assert_eq!(
        device.flags,
        [HouseholdFlag::ElderlyLivingAlone, HouseholdFlag::LowIncome]
    );
    for (channel, external_id, urgency) in [
        (Channel::OneKeyCall, "press-1", Urgency::Urgent),
        (Channel::Hotline12345, "call-1", Urgency::Complex),
    ] {
        let found = tickets::by_external_id(&pool, channel as i16, external_id)
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{external_id} found by its channel");
        assert_eq!(
            (found[0].channel, found[0].urgency),
            (channel as i32, urgency as i32)
        );
    }
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', external_id, submitted_by_role, household_flags::text) \
         FROM tickets",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    rows.sort();
    assert_eq!(
        rows,
        [
            "call-1 operator {}",
            "press-1 unspecified {elderly_living_alone,low_income}",
        ]
    );
    let odd = sqlx::query("UPDATE tickets SET channel = 'fax'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
    let odd = sqlx::query("UPDATE devices SET flags = '{unspecified}'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}
