//! Workers and citizens walking one ticket through the loop while the faults go on: the
//! holding worker signs for the task (签收), sometimes sends it back first (退单), reports the
//! disposal (处置), and the citizen rates it (好差评) — sometimes DISSATISFIED first, which
//! reopens it for rework (返工).
//!
//! Each round reads the current state again and takes the step it calls for, so an answer
//! lost to a killed process never makes a step be taken twice. A step refused with
//! FAILED_PRECONDITION (the deciding service has not seen the step before it yet) is tried
//! again after a short wait; transient failures likewise; every refusal is counted.

use std::time::Duration;

use gridloop_platform::auth::Role;
use gridloop_proto::v1::{
    AcceptTaskRequest, DisposalType, GetClosureRequest, GetTaskRequest, LifecycleState, Rating,
    ReturnReason, ReturnTaskRequest, SubmitDisposalRequest, SubmitFeedbackRequest, TaskState,
};
use tokio::time::Instant;
use tonic::{Code, Status};

use crate::clients::{self, COUNTY, Clients};
use crate::rng::Rng;
use crate::settings::Settings;
use crate::tally::Tally;

/// What happens to one acknowledged ticket.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plan {
    /// Walked through the loop at all.
    pub walk: bool,
    /// Returned (退单) once by the first worker it is dispatched to.
    pub send_back: bool,
    /// Rated DISSATISFIED once, then reworked and rated SATISFIED.
    pub rework: bool,
}

impl Plan {
    pub fn draw(rng: &mut Rng, s: &Settings) -> Plan {
        let walk = rng.percent(s.walk_percent);
        let send_back = rng.percent(s.return_percent);
        let rework = rng.percent(s.rework_percent);
        Plan {
            walk,
            send_back: walk && send_back,
            rework: walk && rework,
        }
    }
}

/// 处置 by `worker`, decided by routing with the rest of the worker's task.
async fn dispose(c: &Clients, ticket: &str, worker: &str) -> Result<(), Status> {
    let r = SubmitDisposalRequest {
        ticket_id: ticket.into(),
        disposal_type: DisposalType::Resolved as i32,
        result: "已上门协调，问题解决".into(),
        evidence_urls: vec!["https://img.example.cn/evidence/1.jpg".into()],
        disposed_at: Some(gridloop_proto::ts(chrono::Utc::now())),
        unresolvable_reason: String::new(),
    };
    c.routing
        .clone()
        .submit_disposal(c.worker(r, worker))
        .await
        .map(|_| ())
}

/// Walks `ticket` until routing shows it CLOSED; false when `deadline` came first.
pub async fn walk(c: &Clients, tally: &Tally, ticket: &str, plan: Plan, deadline: Instant) -> bool {
    tally.add("walk.started");
    let mut sent_back = false;
    // Where routing's task stood when our last step succeeded: until routing's view moves on,
    // the step is done and waiting is all there is to do (repeating it would only be refused).
    let mut acted: Option<(TaskState, u32, u32)> = None;
    let mut last = String::from("never dispatched");
    let id = || GetTaskRequest {
        ticket_id: ticket.into(),
    };
    loop {
        if Instant::now() > deadline {
            tally.add_with(&format!("walk.unfinished.{last}"), ticket);
            return false;
        }
        let task = match c.routing.clone().get_task(c.admin(id())).await {
            Ok(r) => r.into_inner().task.unwrap_or_default(),
            Err(s) => {
                if s.code() != Code::NotFound {
                    note(tally, "get_task", &s);
                }
                pause(1000).await;
                continue;
            }
        };
        let worker = task.worker_id.clone();
        last = format!("{:?}", task.state());
        let here = (task.state(), task.attempt, task.rework_count);
        if acted == Some(here) && task.state() != TaskState::Disposed {
            pause(500).await;
            continue;
        }
        let step = match task.state() {
            TaskState::PendingAccept if plan.send_back && !sent_back && task.attempt <= 1 => {
                let r = ReturnTaskRequest {
                    ticket_id: ticket.into(),
                    reason: ReturnReason::NotMyGrid as i32,
                    reason_text: "不属本组".into(),
                };
                let out = c.routing.clone().return_task(c.worker(r, &worker)).await;
                sent_back = out.is_ok();
                ("return", out.map(|_| ()))
            }
            TaskState::PendingAccept => {
                let r = AcceptTaskRequest {
                    ticket_id: ticket.into(),
                };
                let out = c.routing.clone().accept_task(c.worker(r, &worker)).await;
                ("accept", out.map(|_| ()))
            }
            TaskState::Accepted => ("dispose", dispose(c, ticket, &worker).await),
            TaskState::Disposed => match rate(c, ticket, plan).await {
                Ok(Some(true)) => {
                    tally.add("walk.completed");
                    return true;
                }
                Ok(_) => ("rate", Ok(())),
                Err(s) => ("rate", Err(s)),
            },
            TaskState::Closed => {
                tally.add("walk.completed");
                return true;
            }
            _ => ("wait", Ok(())),
        };
        match step {
            ("wait", _) => pause(1000).await,
            (_, Ok(())) => {
                acted = Some(here);
                pause(200).await;
            }
            (name, Err(s)) => {
                note(tally, name, &s);
                pause(700).await;
            }
        }
    }
}

/// Rates the disposal if closure is waiting for a rating: DISSATISFIED the first time when
/// the plan says rework, SATISFIED otherwise. `Some(true)` once the SATISFIED rating is taken
/// or closure shows the ticket closed; `None` when closure is not at DISPOSED yet.
async fn rate(c: &Clients, ticket: &str, plan: Plan) -> Result<Option<bool>, Status> {
    let view = c
        .closure
        .clone()
        .get_closure(c.req(
            GetClosureRequest {
                ticket_id: ticket.into(),
            },
            Role::Supervisor,
            "faults-supervisor",
            &[COUNTY],
        ))
        .await?
        .into_inner();
    match view.state() {
        LifecycleState::Closed => return Ok(Some(true)),
        LifecycleState::Disposed => {}
        _ => return Ok(None),
    }
    let rating = if plan.rework && view.rework_count == 0 {
        Rating::Dissatisfied
    } else {
        Rating::Satisfied
    };
    let r = SubmitFeedbackRequest {
        ticket_id: ticket.into(),
        rating: rating as i32,
        comment: String::new(),
    };
    c.closure.clone().submit_feedback(c.app(r)).await?;
    Ok(Some(rating == Rating::Satisfied))
}

fn note(tally: &Tally, step: &str, s: &Status) {
    let kind = if clients::transient(s) {
        "transient"
    } else if s.code() == Code::FailedPrecondition {
        "not_yet"
    } else {
        "error"
    };
    tally.add_with(&format!("walk.{kind}.{step}.{:?}", s.code()), s.message());
}

/// About `ms` milliseconds, jittered so walks do not poll in step.
async fn pause(ms: u64) {
    let jitter = u64::from(std::process::id() ^ chrono::Utc::now().timestamp_subsec_nanos()) % ms;
    tokio::time::sleep(Duration::from_millis(ms / 2 + jitter)).await;
}
