//! 派单: decide the grid and the worker, write the task and enqueue `dispatched` (and
//! `unroutable` when a fallback desk takes it) in the caller's transaction, whose ticket row
//! is already locked.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{Calendar, Event, LoopState, apply};
use gridloop_platform::{Error, outbox};
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::{
    Category, Deadlines, DispatchTrigger, TicketDispatched, TicketUnroutable, UnroutableCause,
};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

pub use crate::decide::{Plan, decide, finish, plan};
use crate::domain::{
    PostKind, SlaClass, channel, dispatch_trigger, task_kind, task_post, task_state, urgency,
};
use crate::grids::GridRow;
use crate::index::Index;
use crate::pick::Choice;
use crate::tickets::TicketRow;

pub const PRODUCER: &str = "routing";

/// Returns after which the ticket goes to the town's 兜底 desk.
pub const RETURN_LIMIT: u32 = 3;

/// Where a dispatch looks for its grid.
pub enum Target {
    /// Discovery: resolve from the ticket's place, lift to the rule's level.
    Resolve,
    /// After a 退单: resolve again, but not to the returning grid nor its worker.
    AfterReturn { grid: String, worker: Uuid },
    /// The return limit: the town's desk above `grid`.
    TownDesk { grid: String, worker: Uuid },
    /// 转办: within the named grid.
    Within { grid: String },
    /// 返工: the same worker if present, else the chain at the grid.
    Rework { grid: String, worker: Uuid },
    /// A waiting ticket (nobody could take it) at the grid it waits at, once a worker who can
    /// serve that grid is back; `excluded` stays excluded (the worker who returned it).
    Waiting {
        grid: String,
        excluded: Option<Uuid>,
    },
}

impl Target {
    /// The worker this target keeps off the ticket, if any.
    fn excluded(&self) -> Option<Uuid> {
        match self {
            Target::AfterReturn { worker, .. } | Target::TownDesk { worker, .. } => Some(*worker),
            Target::Waiting { excluded, .. } => *excluded,
            Target::Resolve | Target::Within { .. } | Target::Rework { .. } => None,
        }
    }
}

/// Clock and calendar of a dispatch.
pub struct Ctx<'a> {
    pub cal: &'a Calendar,
    pub now: DateTime<Utc>,
}

/// What a dispatch decided, before anything is written.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Nobody can take it (no grid at all, or nobody along the chain): `unroutable` goes out
    /// and the ticket waits; `desk` is the grid that would have handled it.
    Nobody {
        cause: UnroutableCause,
        reason: String,
        desk: Option<GridRow>,
    },
    /// `choice` at `grid`; `cause` is set when a 兜底 desk took it.
    To {
        grid: GridRow,
        choice: Choice,
        cause: Option<UnroutableCause>,
        reason: String,
        sla: SlaClass,
        /// The rework path's own worker, who gets it back whatever their load.
        any_load: bool,
    },
}

/// Dispatches `ticket` (its row locked, `state` its current loop state). Returns whether a
/// worker got it; when nobody can take it, `unroutable` is enqueued and the ticket waits —
/// recorded at its grid when nobody along the chain was available (NO_WORKER), so that
/// [`crate::waiting`] dispatches it when someone who can serve that grid comes back.
///
/// The standing HANDLE task, if any, is retired here, ending in `retire_as` when given
/// (RETURNED, TRANSFERRED) — not by the caller beforehand. Lock order: the caller holds the
/// ticket's row; the worker rows a dispatch writes (the standing task's holder, whose open
/// count the retirement lowers, and the chosen worker) are then locked together in
/// worker-id order before any task is written. Retiring first and locking the new worker
/// after would take the two in whatever order the tickets go, and two 退单/转办 going
/// opposite ways between the same two workers would deadlock.
#[allow(clippy::too_many_arguments)]
pub async fn dispatch(
    tx: &mut PgConnection,
    index: &Index,
    ctx: &Ctx<'_>,
    ticket: &TicketRow,
    state: LoopState,
    target: Target,
    trigger: DispatchTrigger,
    retire_as: Option<&str>,
) -> Result<bool, Error> {
    let holder = standing_holder(tx, ticket).await?;
    // The retirement frees the holder's slot: the decision counts it free already.
    let freed = holder.filter(|h| h.1).map(|h| h.0);
    // A concurrent dispatch may fill the chosen worker between the availability read and the
    // write; the write checks again under the worker's row lock, and the decision is redone.
    // Each attempt runs in a savepoint, so a failed one gives its worker locks back and the
    // next still takes all of its locks in one sorted step.
    for _ in 0..3 {
        let decision = decide(tx, index, ctx, ticket, &target, freed).await?;
        let mut sp = Connection::begin(&mut *tx).await?;
        let (grid, choice, cause, reason, sla, any_load) = match decision {
            Decision::Nobody {
                cause,
                reason,
                desk,
            } => {
                if let Some(g) = &desk {
                    tracing::warn!(ticket_id = %ticket.ticket_id, grid = %g.code, %reason, "nobody can take the ticket");
                }
                if retire_as.is_some() {
                    lock_workers(&mut sp, freed.into_iter().collect()).await?;
                    retire(&mut sp, ticket, retire_as).await?;
                }
                unroutable(&mut sp, ticket, cause, &reason, desk.as_ref()).await?;
                if let (UnroutableCause::NoWorker, Some(g)) = (cause, &desk) {
                    wait(&mut sp, ticket, g, target.excluded(), trigger).await?;
                }
                sp.commit().await?;
                return Ok(false);
            }
            Decision::To {
                grid,
                choice,
                cause,
                reason,
                sla,
                any_load,
            } => (grid, choice, cause, reason, sla, any_load),
        };
        let worker_id = choice.worker.worker_id;
        let next = apply(
            &state,
            &Event::Dispatched {
                grid: grid.code.clone(),
                worker: worker_id.to_string(),
            },
        )
        .map_err(|v| Error::Event(v.to_string()))?;
        let attempt = ticket.attempt + 1;
        let respond_by = sla.respond_by(ctx.now, ctx.cal);
        let dispose_by = ticket
            .dispose_by
            .unwrap_or_else(|| sla.dispose_by(ctx.now, ctx.cal));
        lock_workers(&mut sp, freed.into_iter().chain([worker_id]).collect()).await?;
        if holder.is_some() {
            retire(&mut sp, ticket, retire_as).await?;
        }
        // Written only while the worker, locked, can still take it; the rework path keeps its
        // worker whatever their load, as the decision did.
        let written = sqlx::query(
            "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id, post, reason, \
               attempt, fallback_desk, dispatched_at, respond_by, dispose_by, rework_count) \
             SELECT $1, $14, $2, $3, w.worker_id, $5, $6, $7, $8, $9, $10, $11, $12 \
             FROM workers w WHERE w.worker_id = $4 AND w.on_duty \
               AND NOT (CASE WHEN w.leave_until IS NULL THEN false \
                             WHEN w.leave_from IS NULL THEN $9 < w.leave_until \
                             ELSE w.leave_from <= $9 AND $9 < w.leave_until END) \
               AND (NOT $13 OR w.capacity = 0 OR w.open_tasks < w.capacity)",
        )
        .bind(ticket.ticket_id)
        .bind(task_state::PENDING_ACCEPT)
        .bind(&grid.code)
        .bind(worker_id)
        .bind(task_post::name(choice.post))
        .bind(&reason)
        .bind(attempt)
        .bind(cause.is_some())
        .bind(ctx.now)
        .bind(respond_by)
        .bind(dispose_by)
        .bind(next.rework_count as i32)
        .bind(!any_load)
        .bind(task_kind::HANDLE)
        .execute(&mut *sp)
        .await?
        .rows_affected();
        if written == 0 {
            tracing::info!(ticket_id = %ticket.ticket_id, %worker_id, "chosen worker filled up meanwhile; deciding again");
            sp.rollback().await?;
            continue;
        }
        if let Some(cause) = cause {
            unroutable(&mut sp, ticket, cause, &reason, Some(&grid)).await?;
        }
        let json = serde_json::to_string(&next).map_err(|e| Error::Event(e.to_string()))?;
        sqlx::query(
            "UPDATE tickets SET attempt = $2, dispose_by = $3, sla_class = $4, \
               loop_state = $5::jsonb, waiting_grid = NULL, waiting_since = NULL, \
               waiting_excluded = NULL, waiting_trigger = NULL, updated_at = now() \
             WHERE ticket_id = $1",
        )
        .bind(ticket.ticket_id)
        .bind(attempt)
        .bind(dispose_by)
        .bind(urgency::name(sla.proto()))
        .bind(json)
        .execute(&mut *sp)
        .await?;

        let body = Body::Dispatched(TicketDispatched {
            grid_code: grid.code.clone(),
            grid_level: grid.level().proto() as i32,
            grid_name: grid.name.clone(),
            worker_id: worker_id.to_string(),
            post: PostKind::proto(choice.post) as i32,
            worker_role: choice.worker.role as i32,
            reason: reason.clone(),
            sla_class: sla.proto() as i32,
            deadlines: Some(Deadlines {
                respond_by: Some(gridloop_proto::ts(respond_by)),
                dispose_by: Some(gridloop_proto::ts(dispose_by)),
            }),
            attempt: attempt as u32,
            trigger: trigger as i32,
            fallback_desk: cause.is_some(),
            category: Some(Category {
                code: ticket.category_code.clone(),
                name: ticket.category_name.clone(),
            }),
            channel: channel::parse(&ticket.channel) as i32,
            citizen_key: ticket.citizen_key.clone(),
            rework_count: next.rework_count,
        });
        outbox::enqueue(
            &mut sp,
            &outbox::new_event(PRODUCER, &ticket.ticket_id.to_string(), body),
        )
        .await?;
        sp.commit().await?;
        tracing::info!(ticket_id = %ticket.ticket_id, grid = %grid.code, %worker_id, attempt, %reason, "dispatched");
        return Ok(true);
    }
    Err(Error::Event(
        "every chosen worker filled up meanwhile; will retry".into(),
    ))
}

/// The standing HANDLE task's worker and whether the task is open (counted on their row).
/// A ticket never dispatched has none.
async fn standing_holder(
    tx: &mut PgConnection,
    ticket: &TicketRow,
) -> Result<Option<(Uuid, bool)>, sqlx::Error> {
    if ticket.attempt == 0 {
        return Ok(None);
    }
    sqlx::query_as(
        "SELECT worker_id, state IN ($2, $3) FROM tasks \
         WHERE ticket_id = $1 AND kind = $4 AND current",
    )
    .bind(ticket.ticket_id)
    .bind(task_state::PENDING_ACCEPT)
    .bind(task_state::ACCEPTED)
    .bind(task_kind::HANDLE)
    .fetch_optional(tx)
    .await
}

/// Locks the workers' rows in worker-id order, the one order every transaction takes them
/// in. `NO KEY UPDATE` is what the open-count trigger's update takes anyway, and it leaves
/// foreign-key checks of other tasks' inserts (`KEY SHARE`) unblocked.
async fn lock_workers(tx: &mut PgConnection, mut ids: Vec<Uuid>) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort();
    ids.dedup();
    sqlx::query(
        "SELECT 1 FROM workers WHERE worker_id = ANY($1) ORDER BY worker_id FOR NO KEY UPDATE",
    )
    .bind(&ids)
    .execute(tx)
    .await?;
    Ok(())
}

/// Retires the standing HANDLE task, ending it in `state` when given.
async fn retire(
    tx: &mut PgConnection,
    ticket: &TicketRow,
    state: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tasks SET current = false, state = COALESCE($2, state) \
         WHERE ticket_id = $1 AND kind = $3 AND current",
    )
    .bind(ticket.ticket_id)
    .bind(state)
    .bind(task_kind::HANDLE)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records that the ticket waits at `grid` for someone available; the first wait's time is
/// kept, so re-dispatches go oldest first.
async fn wait(
    tx: &mut PgConnection,
    ticket: &TicketRow,
    grid: &GridRow,
    excluded: Option<Uuid>,
    trigger: DispatchTrigger,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET waiting_grid = $2, waiting_since = COALESCE(waiting_since, now()), \
           waiting_excluded = $3, waiting_trigger = $4 WHERE ticket_id = $1",
    )
    .bind(ticket.ticket_id)
    .bind(&grid.code)
    .bind(excluded)
    .bind(dispatch_trigger::name(trigger))
    .execute(tx)
    .await?;
    Ok(())
}

async fn unroutable(
    tx: &mut PgConnection,
    ticket: &TicketRow,
    cause: UnroutableCause,
    reason: &str,
    desk: Option<&GridRow>,
) -> Result<(), Error> {
    let body = Body::Unroutable(TicketUnroutable {
        cause: cause as i32,
        reason: reason.to_owned(),
        fallback_grid_code: desk.map(|g| g.code.clone()).unwrap_or_default(),
        fallback_grid_level: desk.map(|g| g.level().proto() as i32).unwrap_or_default(),
    });
    outbox::enqueue(
        tx,
        &outbox::new_event(PRODUCER, &ticket.ticket_id.to_string(), body),
    )
    .await?;
    Ok(())
}
