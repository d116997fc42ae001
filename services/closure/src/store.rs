//! SQL of closure's tables. Writers lock the ticket's row first (`lock`), so a ticket's
//! changes and their outbox rows commit in order.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{LoopState, TicketId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::error::Error;
use crate::stored::{ACTOR_ROLE, CHANNEL, DISPOSAL_TYPE, EXEMPTION_KIND, FEEDBACK_SOURCE, RATING};

/// Closure's view of one ticket.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: TicketId,
    pub loop_state: LoopState,
    pub grid_code: String,
    pub citizen_key: String,
    pub dispose_by: Option<DateTime<Utc>>,
    pub category_code: String,
    pub category_name: String,
    pub channel: i32,
    pub last_disposer: String,
    pub last_unreached_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct TicketRow {
    ticket_id: TicketId,
    loop_state: String,
    grid_code: String,
    citizen_key: String,
    dispose_by: Option<DateTime<Utc>>,
    category_code: String,
    category_name: String,
    channel: String,
    last_disposer: String,
    last_unreached_at: Option<DateTime<Utc>>,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = Error;
    fn try_from(r: TicketRow) -> Result<Self, Error> {
        Ok(Ticket {
            id: r.ticket_id,
            loop_state: serde_json::from_str(&r.loop_state)?,
            grid_code: r.grid_code,
            citizen_key: r.citizen_key,
            dispose_by: r.dispose_by,
            category_code: r.category_code,
            category_name: r.category_name,
            channel: CHANNEL.parse(&r.channel),
            last_disposer: r.last_disposer,
            last_unreached_at: r.last_unreached_at,
        })
    }
}

const TICKET_COLUMNS: &str = "ticket_id, loop_state::text AS loop_state, grid_code, citizen_key, \
     dispose_by, category_code, category_name, channel, last_disposer, last_unreached_at";

/// The ticket, locked for the rest of the transaction.
pub async fn lock(tx: &mut PgConnection, id: TicketId) -> Result<Option<Ticket>, Error> {
    let row: Option<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE ticket_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(Ticket::try_from).transpose()
}

/// The ticket as committed, for reads.
pub async fn get(conn: &mut PgConnection, id: TicketId) -> Result<Option<Ticket>, Error> {
    let row: Option<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE ticket_id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Ticket::try_from).transpose()
}

/// Writes the ticket's row, creating it on the first dispatch.
pub async fn save(tx: &mut PgConnection, t: &Ticket) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO tickets (ticket_id, loop_state, grid_code, citizen_key, dispose_by, \
         category_code, category_name, channel, last_disposer, last_unreached_at) \
         VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (ticket_id) DO UPDATE SET loop_state = $2::jsonb, grid_code = $3, \
         citizen_key = $4, dispose_by = $5, category_code = $6, category_name = $7, \
         channel = $8, last_disposer = $9, last_unreached_at = $10, updated_at = now()",
    )
    .bind(t.id)
    .bind(serde_json::to_string(&t.loop_state)?)
    .bind(&t.grid_code)
    .bind(&t.citizen_key)
    .bind(t.dispose_by)
    .bind(&t.category_code)
    .bind(&t.category_name)
    .bind(CHANNEL.name(t.channel))
    .bind(&t.last_disposer)
    .bind(t.last_unreached_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One disposal (处置) as stored (its type by name).
#[derive(Debug, Clone)]
pub struct DisposalRow {
    pub disposal_id: Uuid,
    pub ticket_id: TicketId,
    pub worker_id: String,
    pub grid_code: String,
    pub disposal_type: i32,
    pub result: String,
    pub evidence_urls: Vec<String>,
    pub disposed_at: DateTime<Utc>,
    pub unresolvable_reason: String,
    pub rework_count: i32,
}

impl<'r> sqlx::FromRow<'r, PgRow> for DisposalRow {
    fn from_row(r: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(DisposalRow {
            disposal_id: r.try_get("disposal_id")?,
            ticket_id: r.try_get("ticket_id")?,
            worker_id: r.try_get("worker_id")?,
            grid_code: r.try_get("grid_code")?,
            disposal_type: DISPOSAL_TYPE.parse(r.try_get("disposal_type")?),
            result: r.try_get("result")?,
            evidence_urls: r.try_get("evidence_urls")?,
            disposed_at: r.try_get("disposed_at")?,
            unresolvable_reason: r.try_get("unresolvable_reason")?,
            rework_count: r.try_get("rework_count")?,
        })
    }
}

pub async fn insert_disposal(tx: &mut PgConnection, d: &DisposalRow) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO disposals (disposal_id, ticket_id, worker_id, grid_code, disposal_type, \
         result, evidence_urls, disposed_at, unresolvable_reason, rework_count) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (disposal_id) DO NOTHING",
    )
    .bind(d.disposal_id)
    .bind(d.ticket_id)
    .bind(&d.worker_id)
    .bind(&d.grid_code)
    .bind(DISPOSAL_TYPE.name(d.disposal_type))
    .bind(&d.result)
    .bind(&d.evidence_urls)
    .bind(d.disposed_at)
    .bind(&d.unresolvable_reason)
    .bind(d.rework_count)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn disposals(conn: &mut PgConnection, id: TicketId) -> Result<Vec<DisposalRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT disposal_id, ticket_id, worker_id, grid_code, disposal_type, result, \
         evidence_urls, disposed_at, unresolvable_reason, rework_count \
         FROM disposals WHERE ticket_id = $1 ORDER BY recorded_at, disposal_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?)
}

/// One rating or callback attempt as stored (rating, source and role by name).
#[derive(Debug, Clone)]
pub struct FeedbackRow {
    pub feedback_id: Uuid,
    pub ticket_id: TicketId,
    pub rating: i32,
    pub comment: String,
    pub source: i32,
    pub reached: bool,
    pub actor_id: String,
    pub actor_role: i32,
    pub recorded_at: DateTime<Utc>,
    pub rework_count: i32,
}

impl<'r> sqlx::FromRow<'r, PgRow> for FeedbackRow {
    fn from_row(r: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(FeedbackRow {
            feedback_id: r.try_get("feedback_id")?,
            ticket_id: r.try_get("ticket_id")?,
            rating: RATING.parse(r.try_get("rating")?),
            comment: r.try_get("comment")?,
            source: FEEDBACK_SOURCE.parse(r.try_get("source")?),
            reached: r.try_get("reached")?,
            actor_id: r.try_get("actor_id")?,
            actor_role: ACTOR_ROLE.parse(r.try_get("actor_role")?),
            recorded_at: r.try_get("recorded_at")?,
            rework_count: r.try_get("rework_count")?,
        })
    }
}

pub async fn insert_feedback(tx: &mut PgConnection, f: &FeedbackRow) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO feedback (feedback_id, ticket_id, rating, comment, source, reached, \
         actor_id, actor_role, recorded_at, rework_count) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(f.feedback_id)
    .bind(f.ticket_id)
    .bind(RATING.name(f.rating))
    .bind(&f.comment)
    .bind(FEEDBACK_SOURCE.name(f.source))
    .bind(f.reached)
    .bind(&f.actor_id)
    .bind(ACTOR_ROLE.name(f.actor_role))
    .bind(f.recorded_at)
    .bind(f.rework_count)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn feedback(conn: &mut PgConnection, id: TicketId) -> Result<Vec<FeedbackRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT feedback_id, ticket_id, rating, comment, source, reached, actor_id, actor_role, \
         recorded_at, rework_count FROM feedback WHERE ticket_id = $1 \
         ORDER BY recorded_at, feedback_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?)
}

/// One write-off (销号) in the ledger (rating, exemption kind and channel stored by name).
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub entry_id: Uuid,
    pub ticket_id: TicketId,
    pub grid_code: String,
    pub worker_id: String,
    pub closed_at: DateTime<Utc>,
    /// `rating` or `exemption`.
    pub basis: String,
    pub rating: Option<i32>,
    pub exemption_kind: Option<i32>,
    pub exemption_reason: Option<String>,
    pub approved_by: Option<String>,
    pub rework_count: i32,
    pub on_time: bool,
    pub dispose_by: Option<DateTime<Utc>>,
    pub category_code: String,
    pub category_name: String,
    pub channel: i32,
}

impl<'r> sqlx::FromRow<'r, PgRow> for LedgerRow {
    fn from_row(r: &'r PgRow) -> Result<Self, sqlx::Error> {
        let rating: Option<&str> = r.try_get("rating")?;
        let exemption_kind: Option<&str> = r.try_get("exemption_kind")?;
        Ok(LedgerRow {
            entry_id: r.try_get("entry_id")?,
            ticket_id: r.try_get("ticket_id")?,
            grid_code: r.try_get("grid_code")?,
            worker_id: r.try_get("worker_id")?,
            closed_at: r.try_get("closed_at")?,
            basis: r.try_get("basis")?,
            rating: rating.map(|n| RATING.parse(n)),
            exemption_kind: exemption_kind.map(|n| EXEMPTION_KIND.parse(n)),
            exemption_reason: r.try_get("exemption_reason")?,
            approved_by: r.try_get("approved_by")?,
            rework_count: r.try_get("rework_count")?,
            on_time: r.try_get("on_time")?,
            dispose_by: r.try_get("dispose_by")?,
            category_code: r.try_get("category_code")?,
            category_name: r.try_get("category_name")?,
            channel: CHANNEL.parse(r.try_get("channel")?),
        })
    }
}

pub const LEDGER_COLUMNS: &str = "entry_id, ticket_id, grid_code, worker_id, closed_at, basis, \
     rating, exemption_kind, exemption_reason, approved_by, rework_count, on_time, dispose_by, \
     category_code, category_name, channel";

pub async fn insert_ledger(tx: &mut PgConnection, l: &LedgerRow) -> Result<(), Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO ledger ({LEDGER_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    )))
    .bind(l.entry_id)
    .bind(l.ticket_id)
    .bind(&l.grid_code)
    .bind(&l.worker_id)
    .bind(l.closed_at)
    .bind(&l.basis)
    .bind(l.rating.map(|r| RATING.name(r)))
    .bind(l.exemption_kind.map(|k| EXEMPTION_KIND.name(k)))
    .bind(&l.exemption_reason)
    .bind(&l.approved_by)
    .bind(l.rework_count)
    .bind(l.on_time)
    .bind(l.dispose_by)
    .bind(&l.category_code)
    .bind(&l.category_name)
    .bind(CHANNEL.name(l.channel))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn ledger_entry(
    conn: &mut PgConnection,
    id: TicketId,
) -> Result<Option<LedgerRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LEDGER_COLUMNS} FROM ledger WHERE ticket_id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}
