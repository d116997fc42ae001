//! The tracker's tables for tickets, the timeline and violations.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{LoopState, TicketId};
use gridloop_proto::v1 as pb;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{ACTOR_ROLE, LIFECYCLE_STATE, grid_level, urgency};
use crate::error::Error;

/// The tracker's record of one ticket.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: TicketId,
    pub loop_state: LoopState,
    pub category_code: String,
    pub category_name: String,
    pub urgency: i32,
    pub grid_code: String,
    pub grid_level: i32,
    pub worker_id: String,
    pub parent_ticket_id: Option<TicketId>,
    pub escalation_level: i32,
    pub escalation_grid: String,
    pub escalation_step: i32,
    pub last_event_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct TicketRow {
    ticket_id: TicketId,
    loop_state: serde_json::Value,
    category_code: String,
    category_name: String,
    urgency: String,
    grid_code: String,
    grid_level: String,
    worker_id: String,
    parent_ticket_id: Option<TicketId>,
    escalation_level: String,
    escalation_grid: String,
    escalation_step: i32,
    last_event_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "ticket_id, loop_state, category_code, category_name, urgency, grid_code, \
     grid_level, worker_id, parent_ticket_id, escalation_level, escalation_grid, \
     escalation_step, last_event_at";

impl TryFrom<TicketRow> for Ticket {
    type Error = Error;
    fn try_from(r: TicketRow) -> Result<Self, Error> {
        Ok(Ticket {
            id: r.ticket_id,
            loop_state: serde_json::from_value(r.loop_state)?,
            category_code: r.category_code,
            category_name: r.category_name,
            urgency: urgency::parse(&r.urgency),
            grid_code: r.grid_code,
            grid_level: grid_level::parse(&r.grid_level),
            worker_id: r.worker_id,
            parent_ticket_id: r.parent_ticket_id,
            escalation_level: grid_level::parse(&r.escalation_level),
            escalation_grid: r.escalation_grid,
            escalation_step: r.escalation_step,
            last_event_at: r.last_event_at,
        })
    }
}

impl Ticket {
    pub fn new(id: TicketId) -> Ticket {
        Ticket {
            id,
            loop_state: LoopState::new(),
            category_code: String::new(),
            category_name: String::new(),
            urgency: 0,
            grid_code: String::new(),
            grid_level: 0,
            worker_id: String::new(),
            parent_ticket_id: None,
            escalation_level: 0,
            escalation_grid: String::new(),
            escalation_step: 0,
            last_event_at: None,
        }
    }
}

/// The ticket, its row locked until the transaction ends (so that its outbox rows keep commit
/// order and a timer cannot fire for it while an event is being applied).
pub async fn lock(tx: &mut PgConnection, id: TicketId) -> Result<Option<Ticket>, Error> {
    let row: Option<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE ticket_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(Ticket::try_from).transpose()
}

pub async fn get(conn: &mut PgConnection, id: TicketId) -> Result<Option<Ticket>, Error> {
    let row: Option<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE ticket_id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Ticket::try_from).transpose()
}

/// Creates or updates the ticket's row ($1–$13).
const SAVE: &str = "INSERT INTO tickets (ticket_id, loop_state, category_code, category_name, \
       urgency, grid_code, grid_level, worker_id, parent_ticket_id, escalation_level, \
       escalation_grid, escalation_step, last_event_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now()) \
     ON CONFLICT (ticket_id) DO UPDATE SET loop_state = $2, category_code = $3, \
       category_name = $4, urgency = $5, grid_code = $6, grid_level = $7, worker_id = $8, \
       parent_ticket_id = $9, escalation_level = $10, escalation_grid = $11, \
       escalation_step = $12, last_event_at = $13, updated_at = now()";

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_ticket<'q>(q: Query<'q>, t: &'q Ticket) -> Result<Query<'q>, Error> {
    Ok(q.bind(t.id)
        .bind(serde_json::to_value(&t.loop_state)?)
        .bind(&t.category_code)
        .bind(&t.category_name)
        .bind(urgency::name(t.urgency))
        .bind(&t.grid_code)
        .bind(grid_level::name(t.grid_level))
        .bind(&t.worker_id)
        .bind(t.parent_ticket_id)
        .bind(grid_level::name(t.escalation_level))
        .bind(&t.escalation_grid)
        .bind(t.escalation_step)
        .bind(t.last_event_at))
}

/// Inserts or overwrites the ticket's row.
pub async fn save(tx: &mut PgConnection, t: &Ticket) -> Result<(), Error> {
    bind_ticket(sqlx::query(SAVE), t)?.execute(&mut *tx).await?;
    Ok(())
}

/// [`save`] and [`append`] in one statement, as every applied event does both: the timeline
/// entry's ticket is the saved ticket ($1), its other columns $14–$25.
pub async fn save_and_append(tx: &mut PgConnection, t: &Ticket, e: &Entry) -> Result<(), Error> {
    let sql = format!(
        "WITH saved AS ({SAVE} RETURNING 1) \
         INSERT INTO timeline (event_id, ticket_id, kind, occurred_at, producer, actor_id, \
           actor_role, grid_code, from_state, to_state, summary, violation, violation_reason) \
         SELECT $14, $1, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25 \
         FROM (SELECT count(*) FROM saved) AS s \
         ON CONFLICT (ticket_id, event_id) DO NOTHING"
    );
    let q = bind_ticket(sqlx::query(sqlx::AssertSqlSafe(sql)), t)?;
    bind_entry(q, e).execute(&mut *tx).await?;
    Ok(())
}

/// One timeline entry as written.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event_id: Uuid,
    pub ticket_id: TicketId,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub producer: String,
    pub actor_id: String,
    pub actor_role: i32,
    pub grid_code: String,
    pub from_state: i32,
    pub to_state: i32,
    pub summary: String,
    pub violation: bool,
    pub violation_reason: String,
}

/// Appends to the timeline; an entry already there (same ticket and event) is kept as is.
pub async fn append(tx: &mut PgConnection, e: &Entry) -> Result<(), Error> {
    let q = sqlx::query(
        "INSERT INTO timeline (event_id, ticket_id, kind, occurred_at, producer, actor_id, \
           actor_role, grid_code, from_state, to_state, summary, violation, violation_reason) \
         VALUES ($1, $13, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (ticket_id, event_id) DO NOTHING",
    );
    bind_entry(q, e).bind(e.ticket_id).execute(&mut *tx).await?;
    Ok(())
}

/// An entry's columns but its ticket, in the order both statements above take them.
fn bind_entry<'q>(q: Query<'q>, e: &'q Entry) -> Query<'q> {
    q.bind(e.event_id)
        .bind(&e.kind)
        .bind(e.occurred_at)
        .bind(&e.producer)
        .bind(&e.actor_id)
        .bind(ACTOR_ROLE.name(e.actor_role))
        .bind(&e.grid_code)
        .bind(LIFECYCLE_STATE.name(e.from_state))
        .bind(LIFECYCLE_STATE.name(e.to_state))
        .bind(&e.summary)
        .bind(e.violation)
        .bind(&e.violation_reason)
}

/// Records a rejected event.
pub async fn record_violation(
    tx: &mut PgConnection,
    e: &Entry,
    recorded_at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO violations (event_id, ticket_id, attempted, from_state, reason, producer, \
           occurred_at, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (event_id, detected_by) DO NOTHING",
    )
    .bind(e.event_id)
    .bind(e.ticket_id)
    .bind(&e.kind)
    .bind(LIFECYCLE_STATE.name(e.from_state))
    .bind(&e.violation_reason)
    .bind(&e.producer)
    .bind(e.occurred_at)
    .bind(recorded_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records an event another service refused or could not apply, from its `ticket.violation`.
pub async fn record_refusal(
    tx: &mut PgConnection,
    ticket_id: TicketId,
    v: &pb::TicketViolation,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
) -> Result<(), Error> {
    let Ok(event_id) = Uuid::parse_str(&v.rejected_event_id) else {
        tracing::warn!(%ticket_id, detected_by = %v.detected_by, "refusal names an event id that is not a UUID");
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO violations (event_id, ticket_id, attempted, from_state, reason, producer, \
           occurred_at, recorded_at, detected_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (event_id, detected_by) DO NOTHING",
    )
    .bind(event_id)
    .bind(ticket_id)
    .bind(&v.attempted)
    .bind(LIFECYCLE_STATE.name(v.from_state))
    .bind(&v.reason)
    .bind(&v.rejected_producer)
    .bind(occurred_at)
    .bind(recorded_at)
    .bind(&v.detected_by)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Remembers a grid and its level from a dispatch or fallback.
pub async fn learn_grid(
    tx: &mut PgConnection,
    code: &str,
    level: i32,
    name: &str,
) -> Result<(), Error> {
    // A level the tracker does not know is not remembered, like none.
    if code.is_empty() || grid_level::name(level) == grid_level::NONE {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO grids (code, level, name) VALUES ($1, $2, $3) \
         ON CONFLICT (code) DO UPDATE SET level = $2, \
           name = CASE WHEN $3 = '' THEN grids.name ELSE $3 END",
    )
    .bind(code)
    .bind(grid_level::name(level))
    .bind(name)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The known ancestor of `grid` at `level` (longest code that prefixes it), if any.
pub async fn ancestor_at(
    tx: &mut PgConnection,
    grid: &str,
    level: i32,
) -> Result<Option<String>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT code FROM grids WHERE level = $2 AND starts_with($1, code) AND code <> $1 \
         ORDER BY length(code) DESC LIMIT 1",
    )
    .bind(grid)
    .bind(grid_level::name(level))
    .fetch_optional(&mut *tx)
    .await?)
}
