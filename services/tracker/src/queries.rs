//! The read side: timelines, loop status, overdue lists and violations, paged by positions
//! (never offsets) so that rows written while a reader pages are neither skipped nor repeated.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::TicketId;
use gridloop_platform::ApiError;
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{ACTOR_ROLE, LIFECYCLE_STATE, grid_level, state_pb, timer_kind, urgency};
use crate::error::Error;
use crate::store::Ticket;
use crate::timers::{self, Timer};

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

pub fn page_size(raw: i32) -> Result<i64, ApiError> {
    match raw {
        n if n < 0 => Err(ApiError::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE),
        n => Ok(i64::from(n).min(MAX_PAGE)),
    }
}

fn bad_token() -> ApiError {
    ApiError::invalid("page_token", "not a token from a previous page")
}

/// A token `<µs>.<id>` of a (time, id) position.
pub fn parse_pos(raw: &str) -> Result<Option<(DateTime<Utc>, i64)>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let (micros, id) = raw.split_once('.').ok_or_else(bad_token)?;
    let at = micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad_token)?;
    Ok(Some((at, id.parse().map_err(|_| bad_token())?)))
}

fn pos(at: DateTime<Utc>, id: i64) -> String {
    format!("{}.{id}", at.timestamp_micros())
}

pub fn parse_seq(raw: &str) -> Result<Option<i64>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|_| bad_token())
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    seq: i64,
    event_id: Uuid,
    kind: String,
    occurred_at: DateTime<Utc>,
    producer: String,
    actor_id: String,
    actor_role: String,
    grid_code: String,
    from_state: String,
    to_state: String,
    summary: String,
    violation: bool,
    violation_reason: String,
}

/// A page of a ticket's timeline, oldest first; `None` when the tracker never heard of it.
pub async fn timeline(
    pool: &PgPool,
    id: TicketId,
    after: Option<i64>,
    size: i64,
) -> Result<Option<(Vec<pb::TimelineEntry>, String)>, Error> {
    let mut rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT seq, event_id, kind, occurred_at, producer, actor_id, actor_role, grid_code, \
           from_state, to_state, summary, violation, violation_reason \
         FROM timeline WHERE ticket_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(id)
    .bind(after.unwrap_or(0))
    .bind(size + 1)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() && after.is_none() {
        return Ok(None);
    }
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let next = match rows.last() {
        Some(r) if more => r.seq.to_string(),
        _ => String::new(),
    };
    let entries = rows
        .into_iter()
        .map(|r| pb::TimelineEntry {
            event_id: r.event_id.to_string(),
            kind: r.kind,
            occurred_at: Some(ts(r.occurred_at)),
            producer: r.producer,
            actor: Some(pb::Actor {
                id: r.actor_id,
                role: ACTOR_ROLE.parse(&r.actor_role),
            }),
            grid_code: r.grid_code,
            from_state: LIFECYCLE_STATE.parse(&r.from_state),
            to_state: LIFECYCLE_STATE.parse(&r.to_state),
            summary: r.summary,
            violation: r.violation,
            violation_reason: r.violation_reason,
            // The platform's handler does not see the stream sequence; 0 until it does.
            stream_sequence: 0,
        })
        .collect();
    Ok(Some((entries, next)))
}

/// Where a ticket stands, with its clocks judged at `now`.
pub async fn status(
    conn: &mut PgConnection,
    t: &Ticket,
    now: DateTime<Utc>,
) -> Result<pb::LoopStatus, Error> {
    let clocks = timers::latest(conn, t.id).await?;
    Ok(render(t, &clocks, now))
}

fn render(t: &Ticket, clocks: &[Timer], now: DateTime<Utc>) -> pb::LoopStatus {
    use gridloop_lifecycle::{Assignment, State};
    let state = &t.loop_state.state;
    let deadlines: Vec<pb::DeadlineStatus> = clocks
        .iter()
        .map(|c| pb::DeadlineStatus {
            kind: c.kind() as i32,
            due_at: Some(ts(c.due_at)),
            met_at: c.met_at.map(ts),
            overdue: c.overdue(now),
            extended: c.extended,
            extension_reason: c.extension_reason.clone(),
        })
        .collect();
    let overdue = clocks
        .iter()
        .any(|c| c.met_at.is_none() && c.cancelled_at.is_none() && c.overdue(now));
    let holder = state.holder();
    pb::LoopStatus {
        ticket_id: t.id.to_string(),
        state: state_pb(state) as i32,
        accepted: matches!(
            state,
            State::Reported(Assignment::Dispatched { accepted: true, .. })
                | State::Disposed { .. }
                | State::Feedback { .. }
        ),
        grid_code: holder
            .map(|h| h.grid.clone())
            .unwrap_or_else(|| t.grid_code.clone()),
        worker_id: holder.map(|h| h.worker.clone()).unwrap_or_default(),
        deadlines,
        overdue,
        escalation_level: t.escalation_level,
        escalation_grid_code: t.escalation_grid.clone(),
        rework_count: t.loop_state.rework_count,
        repeat_count: t.loop_state.repeat_count,
        parent_ticket_id: t
            .parent_ticket_id
            .map(|p| p.to_string())
            .unwrap_or_default(),
        last_event_at: t.last_event_at.map(ts),
        sla_class: t.urgency,
        category: Some(pb::Category {
            code: t.category_code.clone(),
            name: t.category_name.clone(),
        }),
    }
}

/// Which overdue clocks to list.
pub struct OverdueQuery {
    /// Grid code prefixes; `None` for every grid (admin).
    pub roots: Option<Vec<String>>,
    pub kind: Option<&'static str>,
    pub now: DateTime<Utc>,
    pub size: i64,
    pub after: Option<(DateTime<Utc>, i64)>,
}

#[derive(sqlx::FromRow)]
struct OverdueRow {
    id: i64,
    ticket_id: TicketId,
    kind: String,
    due_at: DateTime<Utc>,
    grid_code: String,
    worker_id: String,
    loop_state: serde_json::Value,
    escalation_level: String,
    category_code: String,
    category_name: String,
    urgency: String,
}

/// Live clocks past their deadline, longest overdue first.
pub async fn overdue(
    pool: &PgPool,
    q: &OverdueQuery,
) -> Result<(Vec<pb::OverdueTicket>, String), Error> {
    let mut rows: Vec<OverdueRow> = sqlx::query_as(concat!(
        "SELECT t.id, t.ticket_id, t.kind, t.due_at, k.grid_code, k.worker_id, k.loop_state, \
           k.escalation_level, k.category_code, k.category_name, k.urgency \
         FROM timers t JOIN tickets k ON k.ticket_id = t.ticket_id \
         WHERE t.met_at IS NULL AND t.cancelled_at IS NULL AND t.due_at <= $1 \
           AND ($2::text IS NULL OR t.kind = $2) \
           AND ($3::text[] IS NULL OR ",
        gridloop_platform::scope_sql!("k.grid_code", "$3"),
        ") AND ($4::timestamptz IS NULL OR (t.due_at, t.id) > ($4, $5::bigint)) \
         ORDER BY t.due_at, t.id LIMIT $6",
    ))
    .bind(q.now)
    .bind(q.kind)
    .bind(q.roots.as_ref())
    .bind(q.after.map(|a| a.0))
    .bind(q.after.map(|a| a.1))
    .bind(q.size + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > q.size;
    rows.truncate(q.size as usize);
    let next = match rows.last() {
        Some(r) if more => pos(r.due_at, r.id),
        _ => String::new(),
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let ls: gridloop_lifecycle::LoopState = serde_json::from_value(r.loop_state)?;
        out.push(pb::OverdueTicket {
            ticket_id: r.ticket_id.to_string(),
            kind: timer_kind::parse(&r.kind) as i32,
            due_at: Some(ts(r.due_at)),
            grid_code: r.grid_code,
            worker_id: r.worker_id,
            state: state_pb(&ls.state) as i32,
            escalation_level: grid_level::parse(&r.escalation_level),
            category: Some(pb::Category {
                code: r.category_code,
                name: r.category_name,
            }),
            urgency: urgency::parse(&r.urgency),
        });
    }
    Ok((out, next))
}

#[derive(sqlx::FromRow)]
struct ViolationRow {
    id: i64,
    event_id: Uuid,
    ticket_id: TicketId,
    attempted: String,
    from_state: String,
    reason: String,
    producer: String,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    detected_by: String,
}

/// Violations recorded in [from, until), newest first.
pub async fn violations(
    pool: &PgPool,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    size: i64,
    before: Option<(DateTime<Utc>, i64)>,
) -> Result<(Vec<pb::RecordedViolation>, String), Error> {
    let mut rows: Vec<ViolationRow> = sqlx::query_as(
        "SELECT id, event_id, ticket_id, attempted, from_state, reason, producer, occurred_at, \
           recorded_at, detected_by FROM violations \
         WHERE ($1::timestamptz IS NULL OR recorded_at >= $1) \
           AND ($2::timestamptz IS NULL OR recorded_at < $2) \
           AND ($3::timestamptz IS NULL OR (recorded_at, id) < ($3, $4::bigint)) \
         ORDER BY recorded_at DESC, id DESC LIMIT $5",
    )
    .bind(from)
    .bind(until)
    .bind(before.map(|b| b.0))
    .bind(before.map(|b| b.1))
    .bind(size + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let next = match rows.last() {
        Some(r) if more => pos(r.recorded_at, r.id),
        _ => String::new(),
    };
    Ok((
        rows.into_iter()
            .map(|r| pb::RecordedViolation {
                event_id: r.event_id.to_string(),
                ticket_id: r.ticket_id.to_string(),
                attempted: r.attempted,
                from_state: LIFECYCLE_STATE.parse(&r.from_state),
                reason: r.reason,
                producer: r.producer,
                occurred_at: Some(ts(r.occurred_at)),
                recorded_at: Some(ts(r.recorded_at)),
                detected_by: r.detected_by,
            })
            .collect(),
        next,
    ))
}
