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
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Level, PostKind, SlaClass, task_state};
use crate::grids::GridRow;
use crate::index::{self, GridIndex, Index};
use crate::pick::{self, Choice, Tier};
use crate::resolve::{self, Resolved};
use crate::rules::DEFAULT_LEVEL;
use crate::tickets::TicketRow;
use crate::workers;

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
/// worker got it; when nobody can take it, `unroutable` is enqueued and the ticket waits.
pub async fn dispatch(
    tx: &mut PgConnection,
    index: &Index,
    ctx: &Ctx<'_>,
    ticket: &TicketRow,
    state: LoopState,
    target: Target,
    trigger: DispatchTrigger,
) -> Result<bool, Error> {
    // A concurrent dispatch may fill the chosen worker between the availability read and the
    // write; the write checks again under the worker's row lock, and the decision is redone.
    for _ in 0..3 {
        let (grid, choice, cause, reason, sla, any_load) = match decide(
            tx, index, ctx, ticket, &target,
        )
        .await?
        {
            Decision::Nobody {
                cause,
                reason,
                desk,
            } => {
                if let Some(g) = &desk {
                    tracing::warn!(ticket_id = %ticket.ticket_id, grid = %g.code, %reason, "nobody can take the ticket");
                }
                unroutable(tx, ticket, cause, &reason, desk.as_ref()).await?;
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
        // A ticket never dispatched has no HANDLE task to retire.
        if ticket.attempt > 0 {
            sqlx::query(
                "UPDATE tasks SET current = false WHERE ticket_id = $1 AND kind = 1 AND current",
            )
            .bind(&ticket.ticket_id)
            .execute(&mut *tx)
            .await?;
        }
        // Written only while the worker, locked, can still take it; the rework path keeps its
        // worker whatever their load, as the decision did.
        let written = sqlx::query(
            "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id, post, reason, \
               attempt, fallback_desk, dispatched_at, respond_by, dispose_by, rework_count) \
             SELECT $1, 1, $2, $3, w.worker_id, $5, $6, $7, $8, $9, $10, $11, $12 \
             FROM workers w WHERE w.worker_id = $4 AND w.on_duty \
               AND NOT (CASE WHEN w.leave_until IS NULL THEN false \
                             WHEN w.leave_from IS NULL THEN $9 < w.leave_until \
                             ELSE w.leave_from <= $9 AND $9 < w.leave_until END) \
               AND (NOT $13 OR w.capacity = 0 OR w.open_tasks < w.capacity) \
             FOR UPDATE",
        )
        .bind(&ticket.ticket_id)
        .bind(task_state::PENDING_ACCEPT)
        .bind(&grid.code)
        .bind(worker_id)
        .bind(PostKind::proto(choice.post) as i16)
        .bind(&reason)
        .bind(attempt)
        .bind(cause.is_some())
        .bind(ctx.now)
        .bind(respond_by)
        .bind(dispose_by)
        .bind(next.rework_count as i32)
        .bind(!any_load)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if written == 0 {
            tracing::info!(ticket_id = %ticket.ticket_id, %worker_id, "chosen worker filled up meanwhile; deciding again");
            continue;
        }
        if let Some(cause) = cause {
            unroutable(tx, ticket, cause, &reason, Some(&grid)).await?;
        }
        let json = serde_json::to_string(&next).map_err(|e| Error::Event(e.to_string()))?;
        sqlx::query(
            "UPDATE tickets SET attempt = $2, dispose_by = $3, sla_class = $4, \
               loop_state = $5::jsonb, updated_at = now() WHERE ticket_id = $1",
        )
        .bind(&ticket.ticket_id)
        .bind(attempt)
        .bind(dispose_by)
        .bind(sla.proto() as i16)
        .bind(json)
        .execute(&mut *tx)
        .await?;

        let body = Body::Dispatched(TicketDispatched {
            grid_code: grid.code.clone(),
            grid_level: grid.level().proto() as i32,
            grid_name: grid.name.clone(),
            worker_id: worker_id.to_string(),
            post: PostKind::proto(choice.post) as i32,
            worker_role: i32::from(choice.worker.role),
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
            channel: i32::from(ticket.channel),
            citizen_key: ticket.citizen_key.clone(),
            rework_count: next.rework_count,
        });
        outbox::enqueue(tx, &outbox::new_event(PRODUCER, &ticket.ticket_id, body)).await?;
        tracing::info!(ticket_id = %ticket.ticket_id, grid = %grid.code, %worker_id, attempt, %reason, "dispatched");
        return Ok(true);
    }
    Err(Error::Event(
        "every chosen worker filled up meanwhile; will retry".into(),
    ))
}
/// The in-memory part of a decision: the rule, the grid (resolved, lifted, or named by the
/// target) and its ancestors, before anyone's availability is known.
#[derive(Clone, Debug)]
pub struct Plan {
    pub grid: GridRow,
    /// Nearest first: the chiefs the chain falls back to.
    pub ancestors: Vec<GridRow>,
    notes: Vec<String>,
    cause: Option<UnroutableCause>,
    excluded: Vec<Uuid>,
    sla: SlaClass,
    /// 返工: the worker to give it back to, if still present.
    rework: Option<Uuid>,
}

/// Plans a dispatch over the replica's index: `Ok(Err(decision))` when the outcome is known
/// without anyone's availability (no grid at all), `Err` for a grid the target names that
/// the index does not know.
pub fn plan(
    ix: &GridIndex,
    ticket: &TicketRow,
    target: &Target,
) -> Result<Result<Plan, Decision>, Error> {
    let rule = ix.rule(&ticket.category_code);
    let level = rule.map(|r| r.level()).unwrap_or(DEFAULT_LEVEL);
    let rule_sla = rule.map(|r| r.sla()).unwrap_or(SlaClass::General);
    let sla = SlaClass::effective(rule_sla, SlaClass::from_i32(i32::from(ticket.urgency)));
    let get = |code: &str| ix.get(code).cloned().ok_or_else(|| missing(code));

    let mut notes: Vec<String> = Vec::new();
    let mut cause = None;
    let mut excluded = Vec::new();
    let mut rework = None;
    let grid: GridRow = match target {
        Target::Resolve | Target::AfterReturn { .. } => {
            let Some(Resolved {
                grid,
                how,
                fallback,
            }) = resolve::resolve(ix, &ticket.place(), level)
            else {
                return Ok(Err(Decision::Nobody {
                    cause: UnroutableCause::NoGridMatch,
                    reason: "no grid configured at all".into(),
                    desk: None,
                }));
            };
            notes.push(how);
            if fallback {
                cause = Some(UnroutableCause::NoGridMatch);
            }
            let (from, from_code) = (grid.name.clone(), grid.code.clone());
            let mut g = resolve::lift(ix, grid, level);
            if g.code != from_code {
                notes.push(format!(
                    "lifted from {from} to {} ({} handles {})",
                    g.name,
                    level.name(),
                    ticket.category_code
                ));
            }
            if let Target::AfterReturn { grid: back, worker } = target {
                excluded.push(*worker);
                if g.code == *back
                    && let Some(parent) = ix.ancestors(&g.code).into_iter().next()
                {
                    notes.push(format!("{} returned it; desk of {}", g.name, parent.name));
                    g = parent;
                }
            }
            g
        }
        Target::TownDesk { grid, worker } => {
            excluded.push(*worker);
            let from = get(grid)?;
            let mut chain = vec![from.clone()];
            chain.extend(ix.ancestors(&from.code));
            let desk = chain
                .iter()
                .find(|g| g.level() == Level::Town)
                .or(chain.last())
                .cloned()
                .unwrap_or(from);
            cause = Some(UnroutableCause::ReturnLimit);
            notes.push(format!(
                "returned {RETURN_LIMIT} times; 兜底 desk of {}",
                desk.name
            ));
            desk
        }
        Target::Within { grid } => {
            let g = get(grid)?;
            notes.push(format!("transferred to {}", g.name));
            g
        }
        Target::Rework { grid, worker } => {
            rework = Some(*worker);
            get(grid)?
        }
    };
    Ok(Ok(Plan {
        ancestors: ix.ancestors(&grid.code),
        grid,
        notes,
        cause,
        excluded,
        sla,
        rework,
    }))
}

/// Completes a plan with the candidates' availability: the AB chain, pure.
pub fn finish(plan: Plan, tiers: &[Tier], now: DateTime<Utc>) -> Decision {
    let Plan {
        grid,
        mut notes,
        cause,
        excluded,
        sla,
        ..
    } = plan;
    match pick::choose(tiers, now, &excluded) {
        Ok(choice) => {
            notes.push(choice.reason.clone());
            Decision::To {
                grid,
                choice,
                cause,
                reason: notes.join("; "),
                sla,
                any_load: false,
            }
        }
        Err(why) => {
            notes.push(why);
            Decision::Nobody {
                cause: UnroutableCause::NoWorker,
                reason: notes.join("; "),
                desk: Some(grid),
            }
        }
    }
}

/// The decision: [`plan`] over the index, one query for the candidates' availability (which
/// also tells whether the index is current; if not it is reloaded and the plan redone), then
/// [`finish`]. Nothing is written. Deterministic for the same state.
pub async fn decide(
    tx: &mut PgConnection,
    index: &Index,
    ctx: &Ctx<'_>,
    ticket: &TicketRow,
    target: &Target,
) -> Result<Decision, Error> {
    let mut ix = index.snapshot();
    loop {
        let plan = match plan(&ix, ticket, target) {
            Ok(Ok(p)) if p.rework.is_none() => {
                let (version, tiers) = workers::tiers(tx, &p.grid, &p.ancestors).await?;
                if version != ix.version {
                    ix = index.refresh(tx, version).await?;
                    continue;
                }
                return Ok(finish(p, &tiers, ctx.now));
            }
            // Answers that needed no availability still rest on the index: check it is current.
            other => {
                let version = index::current_version(tx).await?;
                if version != ix.version {
                    ix = index.refresh(tx, version).await?;
                    continue;
                }
                match other? {
                    Ok(p) => p,
                    Err(d) => return Ok(d),
                }
            }
        };
        return rework(tx, plan, ctx.now).await;
    }
}

/// 返工: the same worker if present (whatever their load), else the chain at the grid.
async fn rework(
    tx: &mut PgConnection,
    mut plan: Plan,
    now: DateTime<Utc>,
) -> Result<Decision, Error> {
    let worker = plan.rework.unwrap_or_default();
    match workers::get(tx, worker).await? {
        Some(w) if w.candidate().present(now) => {
            let post: Option<i16> = sqlx::query_scalar(
                "SELECT post FROM posts WHERE worker_id = $1 AND grid_code = $2",
            )
            .bind(worker)
            .bind(&plan.grid.code)
            .fetch_optional(&mut *tx)
            .await?;
            let choice = Choice {
                worker: w.candidate(),
                post: post.and_then(|p| PostKind::from_i32(i32::from(p))),
                reason: "rework: back to the worker whose disposal was rejected".into(),
            };
            plan.notes.push(choice.reason.clone());
            return Ok(Decision::To {
                grid: plan.grid,
                choice,
                cause: plan.cause,
                reason: plan.notes.join("; "),
                sla: plan.sla,
                any_load: true,
            });
        }
        Some(w) => {
            let why = w.candidate().unavailable(now, &[]).unwrap_or_default();
            plan.notes.push(format!("rework: previous worker {why}"));
        }
        None => plan.notes.push("rework: previous worker unknown".into()),
    }
    let (_, tiers) = workers::tiers(tx, &plan.grid, &plan.ancestors).await?;
    Ok(finish(plan, &tiers, now))
}

fn missing(code: &str) -> Error {
    Error::Event(format!("grid {code} does not exist"))
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
    outbox::enqueue(tx, &outbox::new_event(PRODUCER, &ticket.ticket_id, body)).await?;
    Ok(())
}
