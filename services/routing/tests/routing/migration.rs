//! Migration 0005: ticket ids stored as TEXT before it are the same UUIDs after it.
//! Migration 0006: tasks' kinds, states and posts stored as numbers keep their meaning as names.
//! Migration 0007: so do AB posts, disposal types and waiting tickets' triggers.
//! Migration 0008: and grid levels, worker roles, urgencies and channels.

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
         VALUES ($1, 'handle', 'pending_accept', 'C', $2)",
    )
    .bind(Uuid::now_v7())
    .bind(worker)
    .execute(&pool)
    .await;
    assert!(orphan.is_err());
}

/// Routing's schema as it stood before migration `version`, with one ticket, grid and worker
/// to hang rows on.
async fn schema_before(env: &TestEnv, version: i64) -> (sqlx::PgPool, Uuid, Uuid) {
    let before = Migrator::with_migrations(
        gridloop_routing::MIGRATOR
            .iter()
            .filter(|m| m.version < version)
            .cloned()
            .collect(),
    );
    let pool = db::setup(&env.config("routing"), &before).await.unwrap();
    let (ticket, worker) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query("INSERT INTO grids (code, name, level) VALUES ('C', '清河县', 1)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO workers (worker_id, staff_no, name, role, phone) \
         VALUES ($1, 'w-1', '网格员', 2, '13900000001')",
    )
    .bind(worker)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO tickets (ticket_id, loop_state) VALUES ($1, '{}'::jsonb)")
        .bind(ticket)
        .execute(&pool)
        .await
        .unwrap();
    (pool, ticket, worker)
}

async fn insert_task(pool: &sqlx::PgPool, ticket: Uuid, worker: Uuid, row: (i16, i16, i16, bool)) {
    sqlx::query(
        "INSERT INTO tasks (ticket_id, kind, state, post, current, grid_code, worker_id) \
         VALUES ($1, $2, $3, $4, $5, 'C', $6)",
    )
    .bind(ticket)
    .bind(row.0)
    .bind(row.1)
    .bind(row.2)
    .bind(row.3)
    .bind(worker)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn task_numbers_become_names() {
    let env = TestEnv::new().await;
    let (pool, ticket, worker) = schema_before(&env, 6).await;
    // (kind, state, post, current): every number each column held.
    let old = [
        (2, 1, 0, true),
        (1, 2, 1, true),
        (1, 3, 2, false),
        (1, 4, 1, false),
        (1, 5, 2, false),
        (2, 6, 0, false),
    ];
    for row in old {
        insert_task(&pool, ticket, worker, row).await;
    }

    let pool = db::setup(&env.config("routing"), &gridloop_routing::MIGRATOR)
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, state, post FROM tasks ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let want = [
        ("supervise", "pending_accept", "none"),
        ("handle", "accepted", "a"),
        ("handle", "disposed", "b"),
        ("handle", "returned", "a"),
        ("handle", "transferred", "b"),
        ("supervise", "closed", "none"),
    ];
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(k, s, p)| (k.as_str(), s.as_str(), p.as_str()))
        .collect();
    assert_eq!(got, want);

    // The rebuilt partial index still allows one standing HANDLE task per ticket.
    let second = sqlx::query(
        "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id) \
         VALUES ($1, 'handle', 'pending_accept', 'C', $2)",
    )
    .bind(ticket)
    .bind(worker)
    .execute(&pool)
    .await;
    assert!(second.is_err());
    // The open-task counter reads the names: closing the accepted task frees the worker.
    let open = || async {
        sqlx::query_scalar::<_, i32>("SELECT open_tasks FROM workers WHERE worker_id = $1")
            .bind(worker)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(open().await, 1);
    sqlx::query("UPDATE tasks SET state = 'closed' WHERE kind = 'handle' AND current")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(open().await, 0);
    // A name outside the list is refused.
    let odd = sqlx::query("UPDATE tasks SET state = 'lost' WHERE kind = 'supervise'")
        .execute(&pool)
        .await;
    assert!(odd.is_err());
}

#[tokio::test]
async fn an_unknown_task_number_stops_the_migration() {
    let env = TestEnv::new().await;
    let (pool, ticket, worker) = schema_before(&env, 6).await;
    insert_task(&pool, ticket, worker, (1, 9, 1, true)).await;
    let migrated = db::setup(&env.config("routing"), &gridloop_routing::MIGRATOR).await;
    assert!(migrated.is_err());
    // The row is still there, as it was.
    let state: i16 = sqlx::query_scalar("SELECT state FROM tasks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, 9);
}

#[tokio::test]
async fn post_disposal_and_trigger_numbers_become_names() {
    let env = TestEnv::new().await;
    let (pool, ticket, worker) = schema_before(&env, 7).await;
    // Each statement names both the ticket ($1) and the worker ($2).
    for sql in [
        "INSERT INTO grids (code, name, level, parent_code) \
         SELECT 'T', '城关镇', 2, 'C' WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL",
        "INSERT INTO posts (worker_id, grid_code, post) \
         SELECT $2, 'C', 1 WHERE $1::uuid IS NOT NULL UNION ALL SELECT $2, 'T', 2",
        "UPDATE tickets SET waiting_grid = 'C', waiting_since = now(), waiting_trigger = 2 \
         WHERE ticket_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id) \
         VALUES ($1, 'handle', 'disposed', 'C', $2)",
        "INSERT INTO disposals (disposal_id, ticket_id, task_id, worker_id, grid_code, \
           disposal_type, result, disposed_at, rework_count) \
         SELECT gen_random_uuid(), $1, id, $2, 'C', 3, '无法解决', now(), 0 FROM tasks",
    ] {
        sqlx::query(sql)
            .bind(ticket)
            .bind(worker)
            .execute(&pool)
            .await
            .unwrap();
    }

    let pool = db::setup(&env.config("routing"), &gridloop_routing::MIGRATOR)
        .await
        .unwrap();
    let posts: Vec<(String, String)> =
        sqlx::query_as("SELECT grid_code, post FROM posts ORDER BY grid_code")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(posts, [("C".into(), "a".into()), ("T".into(), "b".into())]);
    let trigger: Option<String> = sqlx::query_scalar("SELECT waiting_trigger FROM tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(trigger.as_deref(), Some("returned"));
    let kind: String = sqlx::query_scalar("SELECT disposal_type FROM disposals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kind, "unresolvable");
    // Names outside the lists are refused.
    for sql in [
        "UPDATE posts SET post = 'c'",
        "UPDATE tickets SET waiting_trigger = 'merged'",
        "UPDATE disposals SET disposal_type = 'ignored'",
    ] {
        assert!(sqlx::query(sql).execute(&pool).await.is_err(), "{sql}");
    }
}

#[tokio::test]
async fn level_role_urgency_and_channel_numbers_become_names() {
    let env = TestEnv::new().await;
    // The grid 'C' (level 1) and worker (role 2) come with the schema.
    let (pool, ticket, worker) = schema_before(&env, 8).await;
    for sql in [
        "INSERT INTO grids (code, name, level, parent_code) \
         SELECT 'G', '一组', 4, 'C' WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL",
        "UPDATE tickets SET urgency = 2, sla_class = 3, channel = 6 \
         WHERE ticket_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO tickets (ticket_id, loop_state) \
         SELECT $2, '{}'::jsonb WHERE $1::uuid IS NOT NULL",
    ] {
        sqlx::query(sql)
            .bind(ticket)
            .bind(worker)
            .execute(&pool)
            .await
            .unwrap();
    }

    let pool = db::setup(&env.config("routing"), &gridloop_routing::MIGRATOR)
        .await
        .unwrap();
    let grids: Vec<(String, String)> =
        sqlx::query_as("SELECT code, level FROM grids ORDER BY code")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        grids,
        [("C".into(), "county".into()), ("G".into(), "group".into())]
    );
    let role: String = sqlx::query_scalar("SELECT role FROM workers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(role, "grid_worker");
    // The seeded rules: municipal was (2, 1), land_housing (2, 3).
    let rules: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT category_code, handling_level, sla_class FROM routing_rules \
         WHERE category_code IN ('municipal', 'land_housing') ORDER BY category_code",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rules,
        [
            ("land_housing".into(), "town".into(), "complex".into()),
            ("municipal".into(), "town".into(), "general".into()),
        ]
    );
    let tickets: Vec<(Uuid, String, String, String)> =
        sqlx::query_as("SELECT ticket_id, urgency, sla_class, channel FROM tickets")
            .fetch_all(&pool)
            .await
            .unwrap();
    let of = |id: Uuid| {
        let t = tickets.iter().find(|t| t.0 == id).unwrap();
        (t.1.as_str(), t.2.as_str(), t.3.as_str())
    };
    assert_eq!(of(ticket), ("urgent", "complex", "patrol"));
    // A ticket discovery said nothing about keeps saying nothing.
    assert_eq!(of(worker), ("unspecified", "general", "unspecified"));
    // Only a county has no parent, by name now.
    let orphan = sqlx::query("INSERT INTO grids (code, name, level) VALUES ('T', '镇', 'town')")
        .execute(&pool)
        .await;
    assert!(orphan.is_err());
}
