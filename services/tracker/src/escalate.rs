//! 督办 and 层级上报: the events the tracker itself publishes for a ticket.
//!
//! A missed deadline escalates one grid level above the level supervising so far (at first,
//! the holding grid's level from `dispatched`). The escalated grid is the holding grid's
//! ancestor at that level when the tracker has seen it (grids arrive with their level in
//! dispatch and fallback events, and a child's code extends its parent's); otherwise the
//! event names the holding grid with the higher level, and routing walks up from it. At the
//! county there is nothing above: the overdue event is still sent, without an escalation.
//!
//! Repeat complaints escalate by the parent's repeat count, once per configured threshold.

use chrono::{DateTime, Utc};
use gridloop_platform::outbox::{enqueue, new_event};
use gridloop_proto::ts;
use gridloop_proto::v1::{
    EscalationCause, GridLevel, TicketEscalated, TicketEvent, TicketOverdue, ticket_event::Body,
};
use sqlx::PgConnection;

use crate::domain::{escalation_cause, grid_level, level_up, state_pb};
use crate::error::Error;
use crate::store::{self, Ticket};
use crate::timers::Timer;

pub const PRODUCER: &str = "tracker";

fn stamped(ticket: &Ticket, body: Body, at: DateTime<Utc>) -> TicketEvent {
    let mut ev = new_event(PRODUCER, &ticket.id.to_string(), body);
    ev.occurred_at = Some(ts(at));
    ev
}

/// The grid to name for supervision at `level`, above the holding grid.
async fn grid_at(tx: &mut PgConnection, ticket: &Ticket, level: i32) -> Result<String, Error> {
    Ok(store::ancestor_at(tx, &ticket.grid_code, level)
        .await?
        .unwrap_or_else(|| ticket.grid_code.clone()))
}

/// Records an escalation on the ticket and in `escalations`, and enqueues its event.
/// The caller holds the ticket's row lock and saves the ticket afterwards.
#[allow(clippy::too_many_arguments)]
async fn escalate(
    tx: &mut PgConnection,
    ticket: &mut Ticket,
    level: i32,
    cause: EscalationCause,
    timer: Option<&Timer>,
    repeat_threshold: Option<u32>,
    repeat_count: u32,
    at: DateTime<Utc>,
) -> Result<bool, Error> {
    let grid = grid_at(tx, ticket, level).await?;
    let step = ticket.escalation_step + 1;
    let event = stamped(
        ticket,
        Body::Escalated(TicketEscalated {
            level,
            grid_code: grid.clone(),
            cause: cause as i32,
            deadline_kind: timer.map(|t| t.kind() as i32).unwrap_or(0),
            repeat_count,
            from_grid_code: ticket.grid_code.clone(),
            escalation_step: u32::try_from(step).unwrap_or(0),
        }),
        at,
    );
    let inserted = sqlx::query(
        "INSERT INTO escalations (ticket_id, cause, timer_id, repeat_threshold, level, grid_code, \
           step, event_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid, $9) \
         ON CONFLICT (ticket_id, repeat_threshold) DO NOTHING",
    )
    .bind(ticket.id)
    .bind(escalation_cause::name(cause))
    .bind(timer.map(|t| t.id))
    .bind(repeat_threshold.map(|n| n as i32))
    .bind(grid_level::name(level))
    .bind(&grid)
    .bind(step)
    .bind(&event.event_id)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    enqueue(tx, &event).await?;
    ticket.escalation_step = step;
    // Supervision only moves up: a lower threshold level after a higher escalation keeps the
    // higher one.
    if ticket.escalation_level == 0 || level < ticket.escalation_level {
        ticket.escalation_level = level;
        ticket.escalation_grid = grid;
    }
    Ok(true)
}

/// 督办 for a missed deadline: the overdue event and one level of escalation.
pub async fn overdue(
    tx: &mut PgConnection,
    ticket: &mut Ticket,
    timer: &Timer,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let event = stamped(
        ticket,
        Body::Overdue(TicketOverdue {
            deadline_kind: timer.kind() as i32,
            deadline: Some(ts(timer.due_at)),
            grid_code: ticket.grid_code.clone(),
            worker_id: ticket.worker_id.clone(),
            state: state_pb(&ticket.loop_state.state) as i32,
        }),
        at,
    );
    enqueue(tx, &event).await?;
    let base = if ticket.escalation_level != 0 {
        ticket.escalation_level
    } else {
        ticket.grid_level
    };
    match level_up(base) {
        Some(level) => {
            escalate(
                tx,
                ticket,
                level,
                EscalationCause::Overdue,
                Some(timer),
                None,
                0,
                at,
            )
            .await?;
        }
        None => {
            tracing::info!(ticket_id = %ticket.id, level = base, "overdue at the top level; no escalation");
        }
    }
    tracing::info!(ticket_id = %ticket.id, kind = ?timer.kind(), "deadline missed; overdue sent");
    Ok(())
}

/// Escalations for the repeat count `count` of `parent`: one per threshold reached and not
/// yet escalated. Returns how many were sent.
pub async fn repeats(
    tx: &mut PgConnection,
    parent: &mut Ticket,
    count: u32,
    thresholds: &[(u32, GridLevel)],
    at: DateTime<Utc>,
) -> Result<usize, Error> {
    let mut sent = 0;
    for (n, level) in thresholds.iter().filter(|(n, _)| *n <= count) {
        if escalate(
            tx,
            parent,
            *level as i32,
            EscalationCause::RepeatComplaint,
            None,
            Some(*n),
            count,
            at,
        )
        .await?
        {
            sent += 1;
        }
    }
    Ok(sent)
}
