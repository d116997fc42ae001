//! SLA clocks of one ticket: which event starts, meets, restarts or stops which clock.
//!
//! - respond (签收): starts at every dispatch (a new dispatch after a return, transfer or
//!   rework restarts it; a return or transfer stops the running one), met by `accepted`;
//! - dispose (处置): starts at the first dispatch and is kept through returns and transfers;
//!   a rework (`reopened`) gives the new round its own dispose clock from the reopen; met by
//!   `disposed`; moved only by an approved extension;
//! - feedback (回访): starts at `disposed`, met by any `feedback_recorded` (a callback was
//!   made, reached or not);
//! - `closed` and `merged` stop every clock.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{Calendar, TicketId};
use gridloop_proto::v1::{DeadlineKind, ticket_event::Body};
use sqlx::PgConnection;

pub use crate::domain::timer_kind;
use crate::error::Error;
use crate::sla;
use crate::store::Ticket;

/// One clock row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Timer {
    pub id: i64,
    pub ticket_id: TicketId,
    /// The stored name; [`Timer::kind`] reads it.
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    pub met_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub extended: bool,
    pub extension_reason: String,
}

pub const COLUMNS: &str = "id, ticket_id, kind, started_at, due_at, fired_at, met_at, \
     cancelled_at, extended, extension_reason";

impl Timer {
    pub fn kind(&self) -> DeadlineKind {
        timer_kind::parse(&self.kind)
    }

    /// Whether the deadline passed without its step (or the step came late). A clock stopped
    /// by closing counts as overdue only if it had fired.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        match (self.met_at, self.cancelled_at) {
            (Some(met), _) => met > self.due_at,
            (None, Some(_)) => self.fired_at.is_some(),
            (None, None) => self.due_at <= now,
        }
    }
}

/// Starts a clock (replacing the live one of the same kind) due at `due_at`.
pub async fn start(
    tx: &mut PgConnection,
    ticket: TicketId,
    kind: DeadlineKind,
    started_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
) -> Result<(), Error> {
    // One statement: the live clock of the kind is cancelled, then the new one inserted. The
    // insert reads the update's output, so the update has finished (and the old row left
    // `timers_one_live`) before the new row is checked against that index.
    sqlx::query(
        "WITH stopped AS ( \
             UPDATE timers SET cancelled_at = $3 \
             WHERE ticket_id = $1 AND kind = $2 AND met_at IS NULL AND cancelled_at IS NULL \
             RETURNING id) \
         INSERT INTO timers (ticket_id, kind, started_at, due_at) \
         SELECT $1, $2, $3, $4 FROM (SELECT count(*) FROM stopped) AS s",
    )
    .bind(ticket)
    .bind(timer_kind::name(kind))
    .bind(started_at)
    .bind(due_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks the live clock of `kind` met at `at`.
pub async fn meet(
    tx: &mut PgConnection,
    ticket: TicketId,
    kind: DeadlineKind,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE timers SET met_at = $3 \
         WHERE ticket_id = $1 AND kind = $2 AND met_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(ticket)
    .bind(timer_kind::name(kind))
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Stops the live clock of `kind` (every live clock when `None`).
pub async fn stop(
    tx: &mut PgConnection,
    ticket: TicketId,
    kind: Option<DeadlineKind>,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE timers SET cancelled_at = $3 \
         WHERE ticket_id = $1 AND ($2::text IS NULL OR kind = $2) \
           AND met_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(ticket)
    .bind(kind.and_then(timer_kind::name))
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The live clock of `kind`, locked.
pub async fn live(
    tx: &mut PgConnection,
    ticket: TicketId,
    kind: DeadlineKind,
) -> Result<Option<Timer>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM timers WHERE ticket_id = $1 AND kind = $2 \
         AND met_at IS NULL AND cancelled_at IS NULL FOR UPDATE"
    )))
    .bind(ticket)
    .bind(timer_kind::name(kind))
    .fetch_optional(&mut *tx)
    .await?)
}

/// The latest clock of each kind, respond first.
pub async fn latest(conn: &mut PgConnection, ticket: TicketId) -> Result<Vec<Timer>, Error> {
    let mut clocks: Vec<Timer> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT ON (kind) {COLUMNS} FROM timers WHERE ticket_id = $1 \
         ORDER BY kind, id DESC"
    )))
    .bind(ticket)
    .fetch_all(&mut *conn)
    .await?;
    // Names sort alphabetically; the steps' order is respond, dispose, feedback.
    clocks.sort_by_key(|c| c.kind() as i32);
    Ok(clocks)
}

async fn has_any(
    tx: &mut PgConnection,
    ticket: TicketId,
    kind: DeadlineKind,
) -> Result<bool, Error> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM timers WHERE ticket_id = $1 AND kind = $2)",
    )
    .bind(ticket)
    .bind(timer_kind::name(kind))
    .fetch_one(&mut *tx)
    .await?)
}

/// The deadlines of `t`'s clocks started at `at`, by the ticket's SLA rule, read once per
/// event however many clocks it starts.
struct Deadlines<'a> {
    t: &'a Ticket,
    at: DateTime<Utc>,
    calendar: &'a Calendar,
    rule: Option<Option<sla::Rule>>,
}

impl Deadlines<'_> {
    async fn of(
        &mut self,
        tx: &mut PgConnection,
        kind: DeadlineKind,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        if self.rule.is_none() {
            let rule = sla::for_ticket(tx, &self.t.category_code, self.t.urgency).await?;
            self.rule = Some(rule);
        }
        Ok(self
            .rule
            .as_ref()
            .and_then(Option::as_ref)
            .map(|r| r.span(kind).deadline_from(self.at, self.calendar)))
    }
}

/// Moves the clocks of `t` for an applied event. Returns the earliest deadline of the clocks
/// it started, if any (for the timer loop).
pub async fn follow(
    tx: &mut PgConnection,
    t: &Ticket,
    body: &Body,
    at: DateTime<Utc>,
    calendar: &Calendar,
) -> Result<Option<DateTime<Utc>>, Error> {
    let id = t.id;
    let mut due = Deadlines {
        t,
        at,
        calendar,
        rule: None,
    };
    let mut started = Vec::new();
    match body {
        Body::Dispatched(_) => {
            if let Some(d) = due.of(tx, DeadlineKind::Respond).await? {
                start(tx, id, DeadlineKind::Respond, at, d).await?;
                started.push(d);
            }
            if !has_any(tx, id, DeadlineKind::Dispose).await?
                && let Some(d) = due.of(tx, DeadlineKind::Dispose).await?
            {
                start(tx, id, DeadlineKind::Dispose, at, d).await?;
                started.push(d);
            }
        }
        Body::Accepted(_) => meet(tx, id, DeadlineKind::Respond, at).await?,
        Body::Returned(_) | Body::Transferred(_) => {
            stop(tx, id, Some(DeadlineKind::Respond), at).await?;
        }
        Body::Disposed(_) => {
            meet(tx, id, DeadlineKind::Dispose, at).await?;
            if let Some(d) = due.of(tx, DeadlineKind::Feedback).await? {
                start(tx, id, DeadlineKind::Feedback, at, d).await?;
                started.push(d);
            }
        }
        Body::FeedbackRecorded(_) => meet(tx, id, DeadlineKind::Feedback, at).await?,
        Body::Reopened(_) => {
            if let Some(d) = due.of(tx, DeadlineKind::Dispose).await? {
                start(tx, id, DeadlineKind::Dispose, at, d).await?;
                started.push(d);
            }
        }
        Body::Closed(_) | Body::Merged(_) => stop(tx, id, None, at).await?,
        _ => {}
    }
    Ok(started.into_iter().min())
}
