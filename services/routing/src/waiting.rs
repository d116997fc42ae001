//! Tickets nobody could take (`unroutable` NO_WORKER) wait at their grid; when a worker who
//! can serve that grid comes back (SetDuty: on duty again, leave ended, capacity raised) or
//! is upserted with posts, [`redispatch_for`] dispatches them in the same transaction as the
//! change, through [`dispatch::dispatch`] (which emits `dispatched`).

use gridloop_lifecycle::{Event, TicketId, apply};
use gridloop_platform::Error;
use gridloop_proto::v1::DispatchTrigger;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::decide::decide;
use crate::dispatch::{self, Ctx, Decision, Target};
use crate::domain::{dispatch_trigger, task_kind, task_state};
use crate::index::Index;
use crate::{tickets, workers};

/// Waiting tickets one change re-dispatches at most, so an admin write stays short; the rest
/// wait for the next change (or the next call of the same one).
pub const REDISPATCH_LIMIT: i64 = 50;

/// A waiting ticket: where it waits, whom it keeps excluded, what dispatch left it waiting.
type WaitingRow = (TicketId, String, Option<Uuid>, Option<String>);

/// Dispatches, oldest first and at most [`REDISPATCH_LIMIT`], the waiting tickets whose grid
/// `worker` serves: a grid they hold a post at, or their chief grid and anything below it (a
/// chief is on every chain beneath them). Only tickets somebody can now take are dispatched,
/// so nothing new goes out for the others; tickets another transaction holds are skipped.
/// Returns how many were dispatched.
pub async fn redispatch_for(
    tx: &mut PgConnection,
    index: &Index,
    ctx: &Ctx<'_>,
    worker: Uuid,
) -> Result<u32, Error> {
    match workers::get(tx, worker).await? {
        Some(w) if w.candidate().present(ctx.now) => {}
        _ => return Ok(0),
    }
    let rows: Vec<WaitingRow> = sqlx::query_as(
        "WITH RECURSIVE below(code) AS ( \
           SELECT chief_of_grid FROM workers WHERE worker_id = $1 AND chief_of_grid IS NOT NULL \
           UNION ALL SELECT g.code FROM below JOIN grids g ON g.parent_code = below.code) \
         SELECT k.ticket_id, k.waiting_grid, k.waiting_excluded, k.waiting_trigger \
         FROM tickets k \
         WHERE k.waiting_grid IS NOT NULL \
           AND (k.waiting_grid IN (SELECT grid_code FROM posts WHERE worker_id = $1) \
                OR k.waiting_grid IN (SELECT code FROM below)) \
           AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.ticket_id = k.ticket_id \
                           AND t.kind = $3 AND t.current AND t.state IN ($4, $5)) \
         ORDER BY k.waiting_since, k.ticket_id LIMIT $2 \
         FOR UPDATE OF k SKIP LOCKED",
    )
    .bind(worker)
    .bind(REDISPATCH_LIMIT)
    .bind(task_kind::HANDLE)
    .bind(task_state::PENDING_ACCEPT)
    .bind(task_state::ACCEPTED)
    .fetch_all(&mut *tx)
    .await?;
    let mut done = 0;
    for (id, grid, excluded, trigger) in rows {
        if redispatch_one(tx, index, ctx, id, grid, excluded, trigger).await? {
            done += 1;
        }
    }
    if done > 0 {
        tracing::info!(%worker, dispatched = done, "waiting tickets dispatched");
    }
    Ok(done)
}

/// One waiting ticket (its row locked): dispatched if somebody can take it now.
async fn redispatch_one(
    tx: &mut PgConnection,
    index: &Index,
    ctx: &Ctx<'_>,
    id: TicketId,
    grid: String,
    excluded: Option<Uuid>,
    trigger: Option<String>,
) -> Result<bool, Error> {
    let Some(ticket) = tickets::lock(tx, id).await? else {
        return Ok(false);
    };
    let state = ticket.state()?;
    // The loop moved on without routing (closed, cancelled): nothing to wait for any more.
    let probe = Event::Dispatched {
        grid: grid.clone(),
        worker: String::new(),
    };
    if apply(&state, &probe).is_err() {
        clear(tx, id).await?;
        return Ok(false);
    }
    let target = Target::Waiting { grid, excluded };
    let trigger = trigger
        .as_deref()
        .and_then(dispatch_trigger::parse)
        .unwrap_or(DispatchTrigger::Discovered);
    // Own savepoint: one ticket that cannot be dispatched (its grid gone, a deadlock with a
    // dispatch going the other way) stays waiting and does not undo the change.
    let mut sp = Connection::begin(&mut *tx).await?;
    let outcome = match decide(&mut sp, index, ctx, &ticket, &target, None).await {
        Ok(Decision::Nobody { .. }) => Ok(false),
        Ok(Decision::To { .. }) => {
            dispatch::dispatch(&mut sp, index, ctx, &ticket, state, target, trigger, None).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(got) => {
            sp.commit().await?;
            Ok(got)
        }
        Err(e) if ticket_only(&e) => {
            tracing::warn!(ticket_id = %id, error = %e, "waiting ticket not dispatched; it keeps waiting");
            sp.rollback().await?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Failures that concern this ticket only; anything else from the database fails the call.
fn ticket_only(e: &Error) -> bool {
    match e {
        Error::Db(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        Error::Db(_) => false,
        _ => true,
    }
}

async fn clear(tx: &mut PgConnection, id: TicketId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET waiting_grid = NULL, waiting_since = NULL, waiting_excluded = NULL, \
           waiting_trigger = NULL WHERE ticket_id = $1",
    )
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}
