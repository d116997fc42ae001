//! Migration 0005: ticket ids stored as TEXT before it are the same UUIDs after it.

use gridloop_platform::db;
use gridloop_platform::testing::TestEnv;
use sqlx::migrate::Migrator;
use uuid::Uuid;

#[tokio::test]
async fn ticket_ids_stored_as_text_are_kept_as_uuids() {
    let env = TestEnv::new().await;
    let cfg = env.config("routing");
    // Routing's schema as it stood while ticket ids were TEXT.
    let before = Migrator::with_migrations(
        gridloop_routing::MIGRATOR
            .iter()
            .filter(|m| m.version < 5)
            .cloned()
            .collect(),
    );
    let pool = db::setup(&cfg, &before).await.unwrap();
    let ticket = Uuid::now_v7();
    let worker = Uuid::now_v7();
    let exec = |sql: &'static str, binds: Vec<String>| {
        let pool = pool.clone();
        async move {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(b);
            }
            q.execute(&pool).await.unwrap();
        }
    };
    exec(
        "INSERT INTO grids (code, name, level) VALUES ('C', '清河县', 1)",
        vec![],
    )
    .await;
    exec(
        "INSERT INTO workers (worker_id, staff_no, name, role, phone) \
         VALUES ($1::uuid, 'w-1', '网格员', 2, '13900000001')",
        vec![worker.to_string()],
    )
    .await;
    exec(
        "INSERT INTO tickets (ticket_id, loop_state) VALUES ($1, '{}'::jsonb)",
        vec![ticket.to_string()],
    )
    .await;
    exec(
        "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id) \
         VALUES ($1, 1, 1, 'C', $2::uuid)",
        vec![ticket.to_string(), worker.to_string()],
    )
    .await;

    let pool = db::setup(&cfg, &gridloop_routing::MIGRATOR).await.unwrap();
    let tickets: Vec<Uuid> = sqlx::query_scalar("SELECT ticket_id FROM tickets")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(tickets, vec![ticket]);
    let tasks: Vec<Uuid> = sqlx::query_scalar(
        "SELECT t.ticket_id FROM tasks t JOIN tickets k ON k.ticket_id = t.ticket_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tasks, vec![ticket]);
    // The foreign key is back: a task of an unknown ticket is refused.
    let orphan = sqlx::query(
        "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id) \
         VALUES ($1, 1, 1, 'C', $2)",
    )
    .bind(Uuid::now_v7())
    .bind(worker)
    .execute(&pool)
    .await;
    assert!(orphan.is_err());
}
