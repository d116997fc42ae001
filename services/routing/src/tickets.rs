//! Routing's view of each ticket and the tasks its dispatches created, in SQL.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{LoopState, TicketId, WorkerId};
use gridloop_platform::Error;
use gridloop_proto::v1::{Category, Deadlines, GeoPoint, Location, MaskedContact, Task};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{channel, task_kind, task_post, task_state, urgency};
use crate::resolve::Place;

/// What routing knows of a ticket.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TicketRow {
    pub ticket_id: TicketId,
    pub loop_state: String,
    pub category_code: String,
    pub category_name: String,
    pub urgency: String,
    pub sla_class: String,
    pub channel: String,
    pub address: String,
    pub grid_hint: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub citizen_key: String,
    pub attempt: i32,
    pub dispose_by: Option<DateTime<Utc>>,
}

impl TicketRow {
    pub fn state(&self) -> Result<LoopState, Error> {
        serde_json::from_str(&self.loop_state)
            .map_err(|e| Error::Event(format!("stored loop state unreadable: {e}")))
    }

    pub fn place(&self) -> Place {
        Place {
            grid_code: self.grid_hint.clone(),
            point: match (self.lat, self.lng) {
                (Some(lat), Some(lng)) => Some(crate::geo::LatLng { lat, lng }),
                _ => None,
            },
            address: self.address.clone(),
        }
    }
}

/// The columns of a [`TicketRow`].
pub const COLUMNS: &str = "ticket_id, loop_state::text AS loop_state, category_code, \
     category_name, urgency, sla_class, channel, address, grid_hint, lat, lng, citizen_key, \
     attempt, dispose_by";

/// Locks and reads the ticket's row; its events are then enqueued in commit order.
pub async fn lock(tx: &mut PgConnection, id: TicketId) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE ticket_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(tx)
    .await
}

pub async fn save_state(
    tx: &mut PgConnection,
    id: TicketId,
    state: &LoopState,
) -> Result<(), Error> {
    let json = serde_json::to_string(state).map_err(|e| Error::Event(e.to_string()))?;
    sqlx::query(
        "UPDATE tickets SET loop_state = $2::jsonb, updated_at = now() WHERE ticket_id = $1",
    )
    .bind(id)
    .bind(json)
    .execute(tx)
    .await?;
    Ok(())
}

/// A task joined with its grid's name and its ticket's facts.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    pub ticket_id: TicketId,
    pub kind: String,
    pub state: String,
    pub current: bool,
    pub grid_code: String,
    pub grid_name: String,
    pub worker_id: Uuid,
    pub post: String,
    pub reason: String,
    pub attempt: i32,
    pub dispatched_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub respond_by: Option<DateTime<Utc>>,
    pub dispose_by: Option<DateTime<Utc>>,
    pub rework_count: i32,
    pub supervision_note: String,
    pub category_code: String,
    pub category_name: String,
    pub sla_class: String,
    pub channel: String,
    pub content: String,
    pub address: String,
    pub grid_hint: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub masked_phone: String,
    pub citizen_key: String,
    pub photo_urls: Vec<String>,
    pub repeat_count: i32,
}

pub const TASK_SELECT: &str = "SELECT t.id, t.ticket_id, t.kind, t.state, t.current, t.grid_code, \
       g.name AS grid_name, t.worker_id, t.post, t.reason, t.attempt, t.dispatched_at, \
       t.accepted_at, t.respond_by, t.dispose_by, t.rework_count, t.supervision_note, \
       k.category_code, k.category_name, k.sla_class, k.channel, k.content, k.address, \
       k.grid_hint, k.lat, k.lng, k.masked_phone, k.citizen_key, k.photo_urls, k.repeat_count \
     FROM tasks t JOIN grids g ON g.code = t.grid_code JOIN tickets k ON k.ticket_id = t.ticket_id";

impl TaskRow {
    pub fn to_proto(&self) -> Task {
        Task {
            ticket_id: self.ticket_id.to_string(),
            kind: task_kind::parse(&self.kind) as i32,
            state: task_state::parse(&self.state) as i32,
            grid_code: self.grid_code.clone(),
            grid_name: self.grid_name.clone(),
            worker_id: self.worker_id.to_string(),
            post: task_post::parse(&self.post) as i32,
            category: Some(Category {
                code: self.category_code.clone(),
                name: self.category_name.clone(),
            }),
            urgency: urgency::parse(&self.sla_class) as i32,
            channel: channel::parse(&self.channel) as i32,
            content: self.content.clone(),
            location: Some(Location {
                point: match (self.lat, self.lng) {
                    (Some(lat), Some(lng)) => Some(GeoPoint { lat, lng }),
                    _ => None,
                },
                address: self.address.clone(),
                grid_code: self.grid_hint.clone(),
            }),
            contact: Some(MaskedContact {
                masked_phone: self.masked_phone.clone(),
                citizen_key: self.citizen_key.clone(),
            }),
            photo_urls: self.photo_urls.clone(),
            dispatch_reason: self.reason.clone(),
            attempt: self.attempt as u32,
            dispatched_at: Some(gridloop_proto::ts(self.dispatched_at)),
            accepted_at: self.accepted_at.map(gridloop_proto::ts),
            deadlines: Some(Deadlines {
                respond_by: self.respond_by.map(gridloop_proto::ts),
                dispose_by: self.dispose_by.map(gridloop_proto::ts),
            }),
            rework_count: self.rework_count as u32,
            repeat_count: self.repeat_count as u32,
            supervision_note: self.supervision_note.clone(),
        }
    }
}

/// The ticket's current HANDLE task, if a worker holds it.
pub async fn current_handle(
    tx: &mut PgConnection,
    ticket: TicketId,
) -> Result<Option<TaskRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TASK_SELECT} WHERE t.ticket_id = $1 AND t.kind = $2 AND t.current"
    )))
    .bind(ticket)
    .bind(task_kind::HANDLE)
    .fetch_optional(tx)
    .await
}

/// The latest task of `worker` on `ticket` (HANDLE first), whatever its state.
pub async fn latest_of(
    tx: &mut PgConnection,
    ticket: TicketId,
    worker: WorkerId,
) -> Result<Option<TaskRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TASK_SELECT} WHERE t.ticket_id = $1 AND t.worker_id = $2 \
         ORDER BY t.kind = '{}' DESC, t.id DESC LIMIT 1",
        task_kind::HANDLE
    )))
    .bind(ticket)
    .bind(worker)
    .fetch_optional(tx)
    .await
}

pub async fn task_by_id(tx: &mut PgConnection, id: i64) -> Result<TaskRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TASK_SELECT} WHERE t.id = $1"
    )))
    .bind(id)
    .fetch_one(tx)
    .await
}

pub async fn set_task_state(
    tx: &mut PgConnection,
    id: i64,
    state: &str,
    accepted_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tasks SET state = $2, accepted_at = COALESCE($3, accepted_at) WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(accepted_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Which tasks a listing shows.
pub struct TaskFilter {
    pub worker: Option<Uuid>,
    /// Grid subtree roots (supervisors).
    pub roots: Option<Vec<String>>,
    /// Empty: the open tasks that stand now.
    pub states: Vec<&'static str>,
    pub kind: Option<&'static str>,
}

/// Tasks, newest deadline first.
pub async fn list(
    tx: &mut PgConnection,
    f: &TaskFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<TaskRow>, sqlx::Error> {
    let sql = format!(
        "WITH RECURSIVE below(code) AS ( \
           SELECT code FROM grids WHERE code = ANY($2) \
           UNION ALL SELECT g.code FROM below JOIN grids g ON g.parent_code = below.code) \
         {TASK_SELECT} \
         WHERE ($1::uuid IS NULL OR t.worker_id = $1) \
           AND ($3 OR t.grid_code IN (SELECT code FROM below)) \
           AND (CASE WHEN cardinality($4::text[]) = 0 THEN t.current AND t.state IN ($8, $9, $10) \
                ELSE t.state = ANY($4) END) \
           AND ($5::text IS NULL OR t.kind = $5) \
         ORDER BY t.dispose_by DESC NULLS LAST, t.respond_by DESC NULLS LAST, t.id DESC \
         OFFSET $6 LIMIT $7"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(f.worker)
        .bind(f.roots.clone().unwrap_or_default())
        .bind(f.roots.is_none())
        .bind(&f.states)
        .bind(f.kind)
        .bind(offset)
        .bind(limit)
        .bind(task_state::PENDING_ACCEPT)
        .bind(task_state::ACCEPTED)
        .bind(task_state::DISPOSED)
        .fetch_all(tx)
        .await
}
