//! Approved extensions (延期): a supervisor moves one live deadline of a ticket in their grid
//! subtree, with a reason. The moved deadline is a new deadline: if the old one had fired,
//! the new one fires again when it passes.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{Calendar, SlaSpan, TicketId};
use gridloop_platform::ApiError;
use gridloop_proto::v1 as pb;
use sqlx::PgPool;

use crate::domain::{in_scope, kind_name, state_pb};
use crate::queries;
use crate::store;
use crate::timers;

/// How far to move the deadline.
#[derive(Debug, Clone, Copy)]
pub enum Move {
    To(DateTime<Utc>),
    By(SlaSpan),
}

/// A validated extension.
#[derive(Debug, Clone)]
pub struct Grant {
    pub ticket: TicketId,
    pub kind: pb::DeadlineKind,
    pub by: Move,
    pub reason: String,
}

pub async fn grant(
    pool: &PgPool,
    calendar: &Calendar,
    g: &Grant,
    supervisor: &str,
    roots: &[String],
    now: DateTime<Utc>,
) -> Result<pb::LoopStatus, ApiError> {
    let mut tx = pool.begin().await?;
    let ticket = store::lock(&mut tx, g.ticket)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket {}", g.ticket)))?;
    if !in_scope(&ticket.grid_code, roots) {
        return Err(ApiError::PermissionDenied(format!(
            "ticket's grid {} is outside your scope",
            ticket.grid_code
        )));
    }
    let state = &ticket.loop_state.state;
    if state.is_terminal() {
        return Err(ApiError::precondition(
            "the ticket's clocks have stopped",
            state.name(),
        ));
    }
    let timer = timers::live(&mut tx, g.ticket, g.kind)
        .await?
        .ok_or_else(|| {
            ApiError::precondition(
                format!("no running {} deadline to extend", kind_name(g.kind as i32)),
                state.name(),
            )
        })?;
    let new_due = match g.by {
        Move::To(t) => t,
        Move::By(span) => span.deadline_from(timer.due_at, calendar),
    };
    if new_due <= timer.due_at {
        return Err(ApiError::invalid(
            "new_due_at",
            "must be later than the current due time",
        ));
    }
    sqlx::query(
        "UPDATE timers SET due_at = $2, extended = true, extension_reason = $3, fired_at = NULL \
         WHERE id = $1",
    )
    .bind(timer.id)
    .bind(new_due)
    .bind(&g.reason)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO extensions (timer_id, ticket_id, old_due_at, new_due_at, reason, granted_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(timer.id)
    .bind(g.ticket)
    .bind(timer.due_at)
    .bind(new_due)
    .bind(&g.reason)
    .bind(supervisor)
    .execute(&mut *tx)
    .await?;
    let status = queries::status(&mut tx, &ticket, now).await?;
    tx.commit().await?;
    tracing::info!(ticket_id = %g.ticket, kind = ?g.kind, %new_due, state = ?state_pb(state), "deadline extended");
    Ok(status)
}
