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
use crate::grids::{self, GridRow};
use crate::pick::{self, Choice};
use crate::resolve::{self, Resolved};
use crate::rules::{self, DEFAULT_LEVEL};
use crate::tickets::{self, TicketRow};
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
    },
}

/// Dispatches `ticket` (its row locked, `state` its current loop state). Returns whether a
/// worker got it; when nobody can take it, `unroutable` is enqueued and the ticket waits.
pub async fn dispatch(
    tx: &mut PgConnection,
    ctx: &Ctx<'_>,
    ticket: &TicketRow,
    state: LoopState,
    target: Target,
    trigger: DispatchTrigger,
) -> Result<bool, Error> {
    let (grid, choice, cause, reason, sla) = match decide(tx, ctx, ticket, target).await? {
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
        } => (grid, choice, cause, reason, sla),
    };
    if let Some(cause) = cause {
        unroutable(tx, ticket, cause, &reason, Some(&grid)).await?;
    }
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
    sqlx::query("UPDATE tasks SET current = false WHERE ticket_id = $1 AND kind = 1 AND current")
        .bind(&ticket.ticket_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id, post, reason, attempt, \
           fallback_desk, dispatched_at, respond_by, dispose_by, rework_count) \
         VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE tickets SET attempt = $2, dispose_by = $3, sla_class = $4 WHERE ticket_id = $1",
    )
    .bind(&ticket.ticket_id)
    .bind(attempt)
    .bind(dispose_by)
    .bind(sla.proto() as i16)
    .execute(&mut *tx)
    .await?;
    tickets::save_state(tx, &ticket.ticket_id, &next).await?;

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
    Ok(true)
}

/// The decision alone: the rule, the grid and the worker, read in `tx` but nothing written.
/// Deterministic for the same state.
pub async fn decide(
    tx: &mut PgConnection,
    ctx: &Ctx<'_>,
    ticket: &TicketRow,
    target: Target,
) -> Result<Decision, Error> {
    let rule = rules::get(tx, &ticket.category_code).await?;
    let level = rule.as_ref().map(|r| r.level()).unwrap_or(DEFAULT_LEVEL);
    let rule_sla = rule.as_ref().map(|r| r.sla()).unwrap_or(SlaClass::General);
    let sla = SlaClass::effective(rule_sla, SlaClass::from_i32(i32::from(ticket.urgency)));

    let mut notes: Vec<String> = Vec::new();
    let mut cause = None;
    let mut excluded = Vec::new();
    let mut direct: Option<Choice> = None;
    let grid: GridRow = match target {
        Target::Resolve | Target::AfterReturn { .. } => {
            let Some(Resolved {
                grid,
                how,
                fallback,
            }) = resolve::resolve(tx, &ticket.place(), level).await?
            else {
                return Ok(Decision::Nobody {
                    cause: UnroutableCause::NoGridMatch,
                    reason: "no grid configured at all".into(),
                    desk: None,
                });
            };
            notes.push(how);
            if fallback {
                cause = Some(UnroutableCause::NoGridMatch);
            }
            let mut g = lifted(tx, grid, level, &ticket.category_code, &mut notes).await?;
            if let Target::AfterReturn { grid: back, worker } = &target {
                excluded.push(*worker);
                if g.code == *back
                    && let Some(parent) = grids::ancestors(tx, &g.code).await?.into_iter().next()
                {
                    notes.push(format!("{} returned it; desk of {}", g.name, parent.name));
                    g = parent;
                }
            }
            g
        }
        Target::TownDesk { grid, worker } => {
            excluded.push(worker);
            let from = grids::get(tx, &grid).await?.ok_or_else(|| missing(&grid))?;
            let mut chain = vec![from.clone()];
            chain.extend(grids::ancestors(tx, &from.code).await?);
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
            let g = grids::get(tx, &grid).await?.ok_or_else(|| missing(&grid))?;
            notes.push(format!("transferred to {}", g.name));
            g
        }
        Target::Rework { grid, worker } => {
            let g = grids::get(tx, &grid).await?.ok_or_else(|| missing(&grid))?;
            match workers::get(tx, worker).await? {
                Some(w) if w.candidate().present(ctx.now) => {
                    let post: Option<i16> = sqlx::query_scalar(
                        "SELECT post FROM posts WHERE worker_id = $1 AND grid_code = $2",
                    )
                    .bind(worker)
                    .bind(&g.code)
                    .fetch_optional(&mut *tx)
                    .await?;
                    direct = Some(Choice {
                        worker: w.candidate(),
                        post: post.and_then(|p| PostKind::from_i32(i32::from(p))),
                        reason: "rework: back to the worker whose disposal was rejected".into(),
                    });
                }
                Some(w) => {
                    let why = w.candidate().unavailable(ctx.now, &[]).unwrap_or_default();
                    notes.push(format!("rework: previous worker {why}"));
                }
                None => notes.push("rework: previous worker unknown".into()),
            }
            g
        }
    };

    let choice = match direct {
        Some(c) => c,
        None => {
            let ancestors = grids::ancestors(tx, &grid.code).await?;
            let tiers = workers::tiers(tx, &grid, &ancestors).await?;
            match pick::choose(&tiers, ctx.now, &excluded) {
                Ok(c) => c,
                Err(why) => {
                    notes.push(why);
                    return Ok(Decision::Nobody {
                        cause: UnroutableCause::NoWorker,
                        reason: notes.join("; "),
                        desk: Some(grid),
                    });
                }
            }
        }
    };
    notes.push(choice.reason.clone());
    Ok(Decision::To {
        grid,
        choice,
        cause,
        reason: notes.join("; "),
        sla,
    })
}

async fn lifted(
    tx: &mut PgConnection,
    grid: GridRow,
    level: Level,
    category: &str,
    notes: &mut Vec<String>,
) -> Result<GridRow, sqlx::Error> {
    let (from, from_code) = (grid.name.clone(), grid.code.clone());
    let lifted = resolve::lift(tx, grid, level).await?;
    if lifted.code != from_code {
        notes.push(format!(
            "lifted from {from} to {} ({} handles {category})",
            lifted.name,
            level.name()
        ));
    }
    Ok(lifted)
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
