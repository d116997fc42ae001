//! Intake's view of each ticket's loop (`ticket_loop`), replayed from the stream by
//! [`crate::consume`]: the lifecycle state with its counters, and what a caller is told besides
//! it — holder, deadlines, disposal, rating, write-off, a short history. Writers lock the row
//! first ([`lock`]), so a ticket's events are applied one at a time.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{LoopState, TicketId};
use gridloop_platform::Error;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::stored::{DISPOSAL_TYPE, EXEMPTION_KIND, RATING};

/// Most steps kept in a ticket's history: a caller needs the latest, the tracker has them all.
pub const HISTORY_STEPS: usize = 20;

/// One step of the loop as an operator reads it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub summary: String,
}

/// An audited exemption a ticket was written off on (proto numbers; the approver's id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exemption {
    pub kind: i32,
    pub reason: String,
    pub approved_by: String,
}

/// One ticket's loop as intake has applied it.
#[derive(Clone, Debug, PartialEq)]
pub struct Loop {
    pub ticket_id: TicketId,
    pub loop_state: LoopState,
    pub grid_code: String,
    pub worker_id: String,
    pub accepted_at: Option<DateTime<Utc>>,
    pub respond_by: Option<DateTime<Utc>>,
    pub dispose_by: Option<DateTime<Utc>>,
    pub disposal_type: i32,
    pub disposal_result: String,
    pub disposed_at: Option<DateTime<Utc>>,
    pub rating: i32,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_on_rating: Option<i32>,
    pub exemption: Option<Exemption>,
    pub overdue_count: u32,
    pub escalation_count: u32,
    pub history: Vec<Step>,
}

impl Loop {
    /// A ticket entering the view in `loop_state`, with nothing else known yet.
    pub fn new(ticket_id: TicketId, loop_state: LoopState) -> Self {
        Loop {
            ticket_id,
            loop_state,
            grid_code: String::new(),
            worker_id: String::new(),
            accepted_at: None,
            respond_by: None,
            dispose_by: None,
            disposal_type: 0,
            disposal_result: String::new(),
            disposed_at: None,
            rating: 0,
            closed_at: None,
            closed_on_rating: None,
            exemption: None,
            overdue_count: 0,
            escalation_count: 0,
            history: Vec::new(),
        }
    }

    /// Appends a step, keeping the last [`HISTORY_STEPS`].
    pub fn record(&mut self, step: Step) {
        self.history.push(step);
        let extra = self.history.len().saturating_sub(HISTORY_STEPS);
        self.history.drain(..extra);
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    ticket_id: TicketId,
    loop_state: String,
    grid_code: String,
    worker_id: String,
    accepted_at: Option<DateTime<Utc>>,
    respond_by: Option<DateTime<Utc>>,
    dispose_by: Option<DateTime<Utc>>,
    disposal_type: String,
    disposal_result: String,
    disposed_at: Option<DateTime<Utc>>,
    rating: String,
    closed_at: Option<DateTime<Utc>>,
    closed_on_rating: Option<String>,
    exemption_kind: Option<String>,
    exemption_reason: Option<String>,
    exemption_approved_by: Option<String>,
    overdue_count: i32,
    escalation_count: i32,
    history: String,
}

impl TryFrom<Row> for Loop {
    type Error = Error;

    fn try_from(r: Row) -> Result<Self, Error> {
        let unreadable = |what: &str, e: serde_json::Error| {
            Error::Event(format!("stored {what} of {} unreadable: {e}", r.ticket_id))
        };
        Ok(Loop {
            ticket_id: r.ticket_id,
            loop_state: serde_json::from_str(&r.loop_state)
                .map_err(|e| unreadable("loop state", e))?,
            grid_code: r.grid_code,
            worker_id: r.worker_id,
            accepted_at: r.accepted_at,
            respond_by: r.respond_by,
            dispose_by: r.dispose_by,
            disposal_type: DISPOSAL_TYPE.parse(&r.disposal_type),
            disposal_result: r.disposal_result,
            disposed_at: r.disposed_at,
            rating: RATING.parse(&r.rating),
            closed_at: r.closed_at,
            closed_on_rating: r.closed_on_rating.map(|n| RATING.parse(&n)),
            exemption: r.exemption_kind.map(|kind| Exemption {
                kind: EXEMPTION_KIND.parse(&kind),
                reason: r.exemption_reason.unwrap_or_default(),
                approved_by: r.exemption_approved_by.unwrap_or_default(),
            }),
            overdue_count: u32::try_from(r.overdue_count).unwrap_or(0),
            escalation_count: u32::try_from(r.escalation_count).unwrap_or(0),
            history: serde_json::from_str(&r.history).map_err(|e| unreadable("history", e))?,
        })
    }
}

macro_rules! columns {
    () => {
        "ticket_id, loop_state::text AS loop_state, grid_code, worker_id, accepted_at, \
         respond_by, dispose_by, disposal_type, disposal_result, disposed_at, rating, closed_at, \
         closed_on_rating, exemption_kind, exemption_reason, exemption_approved_by, \
         overdue_count, escalation_count, history::text AS history"
    };
}

/// The ticket's loop, locked for the rest of the transaction.
pub async fn lock(tx: &mut PgConnection, id: TicketId) -> Result<Option<Loop>, Error> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM ticket_loop WHERE ticket_id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(Loop::try_from).transpose()
}

/// The loops of `ids` that the view has, as committed.
pub async fn read(pool: &PgPool, ids: &[TicketId]) -> Result<Vec<Loop>, Error> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM ticket_loop WHERE ticket_id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Loop::try_from).collect()
}

/// Writes the loop (inserted the first time).
pub async fn save(tx: &mut PgConnection, l: &Loop) -> Result<(), Error> {
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let exemption = l.exemption.as_ref();
    sqlx::query(
        "INSERT INTO ticket_loop (ticket_id, loop_state, grid_code, worker_id, accepted_at, \
           respond_by, dispose_by, disposal_type, disposal_result, disposed_at, rating, closed_at, \
           closed_on_rating, exemption_kind, exemption_reason, exemption_approved_by, \
           overdue_count, escalation_count, history) \
         VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
           $17, $18, $19::jsonb) \
         ON CONFLICT (ticket_id) DO UPDATE SET loop_state = EXCLUDED.loop_state, \
           grid_code = EXCLUDED.grid_code, worker_id = EXCLUDED.worker_id, \
           accepted_at = EXCLUDED.accepted_at, respond_by = EXCLUDED.respond_by, \
           dispose_by = EXCLUDED.dispose_by, disposal_type = EXCLUDED.disposal_type, \
           disposal_result = EXCLUDED.disposal_result, disposed_at = EXCLUDED.disposed_at, \
           rating = EXCLUDED.rating, closed_at = EXCLUDED.closed_at, \
           closed_on_rating = EXCLUDED.closed_on_rating, \
           exemption_kind = EXCLUDED.exemption_kind, \
           exemption_reason = EXCLUDED.exemption_reason, \
           exemption_approved_by = EXCLUDED.exemption_approved_by, \
           overdue_count = EXCLUDED.overdue_count, escalation_count = EXCLUDED.escalation_count, \
           history = EXCLUDED.history, updated_at = now()",
    )
    .bind(l.ticket_id)
    .bind(to_json(&l.loop_state)?)
    .bind(&l.grid_code)
    .bind(&l.worker_id)
    .bind(l.accepted_at)
    .bind(l.respond_by)
    .bind(l.dispose_by)
    .bind(DISPOSAL_TYPE.name(l.disposal_type))
    .bind(&l.disposal_result)
    .bind(l.disposed_at)
    .bind(RATING.name(l.rating))
    .bind(l.closed_at)
    .bind(l.closed_on_rating.map(|r| RATING.name(r)))
    .bind(exemption.map(|e| EXEMPTION_KIND.name(e.kind)))
    .bind(exemption.map(|e| e.reason.as_str()))
    .bind(exemption.map(|e| e.approved_by.as_str()))
    .bind(count(l.overdue_count))
    .bind(count(l.escalation_count))
    .bind(to_json(&l.history)?)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::Event(format!("loop view as JSON: {e}")))
}
