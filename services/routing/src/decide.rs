//! The decision of a dispatch, written nothing: [`plan`] resolves and lifts the grid over the
//! replica's in-memory index, one query reads the candidates' availability (and whether the
//! index is current), and [`finish`] walks the AB chain over it.

use chrono::{DateTime, Utc};
use gridloop_platform::Error;
use gridloop_proto::v1::UnroutableCause;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch::{Ctx, Decision, RETURN_LIMIT, Target};
use crate::domain::{Level, PostKind, SlaClass, urgency};
use crate::grids::GridRow;
use crate::index::{self, GridIndex, Index};
use crate::pick::{self, Choice, Tier};
use crate::resolve::{self, Resolved};
use crate::rules::DEFAULT_LEVEL;
use crate::tickets::TicketRow;
use crate::workers;

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
    let sla = SlaClass::effective(
        rule_sla,
        SlaClass::from_urgency(urgency::parse(&ticket.urgency)),
    );
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
        Target::Waiting { grid, excluded: ex } => {
            excluded.extend(*ex);
            let g = get(grid)?;
            notes.push(format!("waited at {} until someone was available", g.name));
            g
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
///
/// `freed`: the worker whose open task this dispatch retires before it writes; their count
/// is taken one lower, as it will be when the new task is written.
pub async fn decide(
    tx: &mut PgConnection,
    index: &Index,
    ctx: &Ctx<'_>,
    ticket: &TicketRow,
    target: &Target,
    freed: Option<Uuid>,
) -> Result<Decision, Error> {
    let mut ix = index.snapshot();
    loop {
        let plan = match plan(&ix, ticket, target) {
            Ok(Ok(p)) if p.rework.is_none() => {
                let (version, mut tiers) = workers::tiers(tx, &p.grid, &p.ancestors).await?;
                if version != ix.version {
                    ix = index.refresh(tx, version).await?;
                    continue;
                }
                release(&mut tiers, freed);
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
        return rework(tx, plan, ctx.now, freed).await;
    }
}

/// Counts `freed`'s task being retired as already gone.
fn release(tiers: &mut [Tier], freed: Option<Uuid>) {
    let Some(freed) = freed else { return };
    for c in tiers.iter_mut().flat_map(|t| t.candidates.iter_mut()) {
        if c.worker_id == freed {
            c.open_tasks = (c.open_tasks - 1).max(0);
        }
    }
}

/// 返工: the same worker if present (whatever their load), else the chain at the grid.
async fn rework(
    tx: &mut PgConnection,
    mut plan: Plan,
    now: DateTime<Utc>,
    freed: Option<Uuid>,
) -> Result<Decision, Error> {
    let worker = plan.rework.unwrap_or_default();
    match workers::get(tx, worker).await? {
        Some(w) if w.candidate().present(now) => {
            let post: Option<String> = sqlx::query_scalar(
                "SELECT post FROM posts WHERE worker_id = $1 AND grid_code = $2",
            )
            .bind(worker)
            .bind(&plan.grid.code)
            .fetch_optional(&mut *tx)
            .await?;
            let choice = Choice {
                worker: w.candidate(),
                post: post.as_deref().and_then(PostKind::parse),
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
    let (_, mut tiers) = workers::tiers(tx, &plan.grid, &plan.ancestors).await?;
    release(&mut tiers, freed);
    Ok(finish(plan, &tiers, now))
}

fn missing(code: &str) -> Error {
    Error::Event(format!("grid {code} does not exist"))
}
