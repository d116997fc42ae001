//! Workers, their AB posts and the duty roster in SQL, and the tiers of candidates a dispatch
//! chooses from.

use chrono::{DateTime, Utc};
use gridloop_proto::v1::{PostAssignment, Worker};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{PostKind, mask_phone, role, task_post};
use crate::grids::GridRow;
use crate::pick::{Candidate, Tier};

/// A stored worker with the number of open tasks they hold.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct WorkerRow {
    pub worker_id: Uuid,
    pub staff_no: String,
    pub name: String,
    pub role: String,
    pub phone: String,
    pub chief_of_grid: Option<String>,
    pub capacity: i32,
    pub on_duty: bool,
    pub leave_from: Option<DateTime<Utc>>,
    pub leave_until: Option<DateTime<Utc>>,
    pub duty_reason: String,
    pub open_tasks: i64,
}

/// Open tasks are HANDLE tasks waiting for 签收 or accepted and not yet disposed; a trigger on
/// `tasks` keeps the count on the worker's row.
const OPEN_TASKS: &str = "w.open_tasks::bigint AS open_tasks";

fn columns() -> String {
    format!(
        "w.worker_id, w.staff_no, w.name, w.role, w.phone, w.chief_of_grid, w.capacity, \
         w.on_duty, w.leave_from, w.leave_until, w.duty_reason, {OPEN_TASKS}"
    )
}

impl WorkerRow {
    pub fn candidate(&self) -> Candidate {
        Candidate {
            worker_id: self.worker_id,
            staff_no: self.staff_no.clone(),
            role: role::parse(&self.role),
            on_duty: self.on_duty,
            leave_from: self.leave_from,
            leave_until: self.leave_until,
            duty_reason: self.duty_reason.clone(),
            capacity: self.capacity,
            open_tasks: self.open_tasks,
        }
    }

    /// The worker as responses show it: phone masked.
    pub fn to_proto(&self, posts: Vec<PostAssignment>, now: DateTime<Utc>) -> Worker {
        let c = self.candidate();
        Worker {
            worker_id: self.worker_id.to_string(),
            staff_no: self.staff_no.clone(),
            name: self.name.clone(),
            role: role::parse(&self.role) as i32,
            masked_phone: mask_phone(&self.phone),
            posts,
            chief_of_grid_code: self.chief_of_grid.clone().unwrap_or_default(),
            on_duty: c.present(now),
            leave_from: self.leave_from.map(gridloop_proto::ts),
            leave_until: self.leave_until.map(gridloop_proto::ts),
            capacity: self.capacity as u32,
            open_tasks: self.open_tasks as u32,
        }
    }
}

pub async fn get(tx: &mut PgConnection, id: Uuid) -> Result<Option<WorkerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM workers w WHERE w.worker_id = $1",
        columns()
    )))
    .bind(id)
    .fetch_optional(tx)
    .await
}

pub async fn posts_of(tx: &mut PgConnection, id: Uuid) -> Result<Vec<PostAssignment>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT grid_code, post FROM posts WHERE worker_id = $1 ORDER BY grid_code")
            .bind(id)
            .fetch_all(tx)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(grid_code, post)| PostAssignment {
            grid_code,
            post: PostKind::proto(PostKind::parse(&post)) as i32,
        })
        .collect())
}

/// What an upsert sets; validated by the caller.
pub struct NewWorker {
    pub staff_no: String,
    pub name: String,
    pub role: gridloop_proto::v1::WorkerRole,
    pub phone: String,
    pub posts: Vec<(String, PostKind)>,
    pub chief_of: Option<String>,
    pub capacity: i32,
}

/// Creates or changes a worker by staff number; replaces their posts. Returns the id and
/// whether it was new.
pub async fn upsert(tx: &mut PgConnection, w: &NewWorker) -> Result<(Uuid, bool), sqlx::Error> {
    let (id, created): (Uuid, bool) = sqlx::query_as(
        "INSERT INTO workers (worker_id, staff_no, name, role, phone, chief_of_grid, capacity) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (staff_no) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role, \
           phone = EXCLUDED.phone, chief_of_grid = EXCLUDED.chief_of_grid, \
           capacity = EXCLUDED.capacity, updated_at = now() \
         RETURNING worker_id, (xmax = 0)",
    )
    .bind(Uuid::now_v7())
    .bind(&w.staff_no)
    .bind(&w.name)
    .bind(role::name(w.role))
    .bind(&w.phone)
    .bind(&w.chief_of)
    .bind(w.capacity)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM posts WHERE worker_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for (grid, post) in &w.posts {
        sqlx::query("INSERT INTO posts (worker_id, grid_code, post) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(grid)
            .bind(post.name())
            .execute(&mut *tx)
            .await?;
    }
    Ok((id, created))
}

/// Sets duty, leave and (when given) capacity. Returns false for an unknown worker.
pub async fn set_duty(
    tx: &mut PgConnection,
    id: Uuid,
    on_duty: bool,
    leave: Option<(DateTime<Utc>, DateTime<Utc>)>,
    capacity: Option<i32>,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE workers SET on_duty = $2, leave_from = $3, leave_until = $4, \
           capacity = COALESCE($5, capacity), duty_reason = $6, updated_at = now() \
         WHERE worker_id = $1",
    )
    .bind(id)
    .bind(on_duty)
    .bind(leave.map(|l| l.0))
    .bind(leave.map(|l| l.1))
    .bind(capacity)
    .bind(reason)
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Workers holding a post in or leading a grid of the subtrees of `roots` (`None`: all),
/// by staff number.
pub async fn list(
    tx: &mut PgConnection,
    roots: Option<&[String]>,
    role: Option<&'static str>,
    on_duty_only: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<WorkerRow>, sqlx::Error> {
    let sql = format!(
        "WITH RECURSIVE below(code) AS ( \
           SELECT code FROM grids WHERE code = ANY($1) \
           UNION ALL SELECT g.code FROM below JOIN grids g ON g.parent_code = below.code) \
         SELECT {} FROM workers w \
         WHERE ($2::text IS NULL OR w.role = $2) \
           AND ($3 OR w.chief_of_grid IN (SELECT code FROM below) \
                OR EXISTS (SELECT 1 FROM posts p WHERE p.worker_id = w.worker_id \
                           AND p.grid_code IN (SELECT code FROM below))) \
           AND (NOT $6 OR (w.on_duty AND NOT ( \
                COALESCE(w.leave_from, '-infinity') <= now() \
                AND now() < COALESCE(w.leave_until, '-infinity')))) \
         ORDER BY w.staff_no OFFSET $4 LIMIT $5",
        columns()
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(roots.map(|r| r.to_vec()).unwrap_or_default())
        .bind(role)
        .bind(roots.is_none())
        .bind(offset)
        .bind(limit)
        .bind(on_duty_only)
        .fetch_all(tx)
        .await
}

/// Workers holding `post` at `grid`.
pub async fn post_holders(
    tx: &mut PgConnection,
    grid: &str,
    post: Option<PostKind>,
) -> Result<Vec<WorkerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM posts p JOIN workers w ON w.worker_id = p.worker_id \
         WHERE p.grid_code = $1 AND ($2::text IS NULL OR p.post = $2) ORDER BY w.staff_no",
        columns()
    )))
    .bind(grid)
    .bind(post.map(PostKind::name))
    .fetch_all(tx)
    .await
}

/// Chiefs of `grid`.
pub async fn chiefs(tx: &mut PgConnection, grid: &str) -> Result<Vec<WorkerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM workers w WHERE w.chief_of_grid = $1 ORDER BY w.staff_no",
        columns()
    )))
    .bind(grid)
    .fetch_all(tx)
    .await
}

/// A candidate row of [`tiers`]: the grid and post (`none` for a chief) it came by.
type CandidateRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<uuid::Uuid>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<i32>,
    Option<i32>,
);

/// The chain a dispatch at `grid` walks: A post, B post, the grid's chief, then the chiefs of
/// its ancestors (parent first), so a ticket always finds someone responsible if anyone is.
///
/// One query reads every candidate's current availability, and the `grid_version` the
/// caller's in-memory index must match (returned first).
pub async fn tiers(
    tx: &mut PgConnection,
    grid: &GridRow,
    ancestors: &[GridRow],
) -> Result<(i64, Vec<Tier>), sqlx::Error> {
    let chiefs_of: Vec<&str> = std::iter::once(grid.code.as_str())
        .chain(ancestors.iter().map(|a| a.code.as_str()))
        .collect();
    let rows: Vec<CandidateRow> = sqlx::query_as(
        "SELECT v.version, c.* FROM grid_version v LEFT JOIN LATERAL ( \
           SELECT p.grid_code, p.post, w.worker_id, w.staff_no, w.role, w.on_duty, \
             w.leave_from, w.leave_until, w.duty_reason, w.capacity, w.open_tasks \
           FROM posts p JOIN workers w ON w.worker_id = p.worker_id WHERE p.grid_code = $1 \
           UNION ALL \
           SELECT w.chief_of_grid, $3::text, w.worker_id, w.staff_no, w.role, w.on_duty, \
             w.leave_from, w.leave_until, w.duty_reason, w.capacity, w.open_tasks \
           FROM workers w WHERE w.chief_of_grid = ANY($2)) c ON true",
    )
    .bind(&grid.code)
    .bind(&chiefs_of)
    .bind(task_post::NONE)
    .fetch_all(tx)
    .await?;
    let version = rows.first().map(|r| r.0).unwrap_or_default();
    let mut tiers = vec![
        Tier {
            label: "A post".into(),
            post: Some(PostKind::A),
            grid_code: grid.code.clone(),
            candidates: Vec::new(),
        },
        Tier {
            label: "B post".into(),
            post: Some(PostKind::B),
            grid_code: grid.code.clone(),
            candidates: Vec::new(),
        },
        Tier {
            label: "grid chief".into(),
            post: None,
            grid_code: grid.code.clone(),
            candidates: Vec::new(),
        },
    ];
    for (i, a) in ancestors.iter().enumerate() {
        let label = if i == 0 {
            format!("parent grid chief ({})", a.name)
        } else {
            format!("chief of {}", a.name)
        };
        tiers.push(Tier {
            label,
            post: None,
            grid_code: a.code.clone(),
            candidates: Vec::new(),
        });
    }
    for r in rows {
        let (Some(at), Some(post), Some(worker_id), Some(staff_no)) = (r.1, r.2, r.3, r.4) else {
            continue;
        };
        let c = Candidate {
            worker_id,
            staff_no,
            role: role::parse(r.5.as_deref().unwrap_or_default()),
            on_duty: r.6.unwrap_or_default(),
            leave_from: r.7,
            leave_until: r.8,
            duty_reason: r.9.unwrap_or_default(),
            capacity: r.10.unwrap_or_default(),
            open_tasks: i64::from(r.11.unwrap_or_default()),
        };
        let tier = match PostKind::parse(&post) {
            Some(PostKind::A) => 0,
            Some(PostKind::B) => 1,
            // A chief (no post).
            None if at == grid.code => 2,
            None => match ancestors.iter().position(|a| a.code == at) {
                Some(k) => 3 + k,
                None => continue,
            },
        };
        tiers[tier].candidates.push(c);
    }
    // Reasons list unavailable candidates in staff-number order.
    for t in &mut tiers {
        t.candidates.sort_by(|a, b| a.staff_no.cmp(&b.staff_no));
    }
    Ok((version, tiers))
}
