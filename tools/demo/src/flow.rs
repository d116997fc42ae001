//! One demo ticket's journey: submitted by its channel, waited for until routing dispatches
//! it, then worked by whoever holds it — 签收, 退单, 转办, 处置 — rated by the citizen or
//! called back by the 12345 centre, and closed by a rating or a supervisor's exemption.

mod submit;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gridloop_client::Backoff;
use gridloop_client::requests::{self, Reached};
use gridloop_client::retry::{retry, unavailable};
use gridloop_proto::from_ts;
use gridloop_proto::v1 as pb;

use crate::county::County;
use crate::plan::{Chan, Path, Plan};
use crate::rpc::{As, Rpc, lagging, why};

/// How long a step waits for another service to catch up before the ticket counts as failed.
const CATCH_UP: Backoff = Backoff::within(Duration::from_secs(60));
/// The longest the demo waits between two unreached callbacks (closure's configured
/// interval); longer intervals leave the ticket waiting for its callbacks.
pub const MAX_CALLBACK_WAIT: Duration = Duration::from_secs(30);

/// Counters the progress line and the summary read.
#[derive(Default)]
pub struct Stats {
    pub done: AtomicUsize,
    pub closed: AtomicUsize,
    pub open: AtomicUsize,
    pub merged: AtomicUsize,
    pub failed: AtomicUsize,
    pub accepted: AtomicUsize,
    pub returned: AtomicUsize,
    pub transferred: AtomicUsize,
    pub reworked: AtomicUsize,
    pub unreached_exempted: AtomicUsize,
    pub unresolvable: AtomicUsize,
    pub satisfied: AtomicUsize,
    pub basic: AtomicUsize,
    pub escalated: AtomicUsize,
    pub left_unaccepted: AtomicUsize,
    pub left_accepted: AtomicUsize,
    pub left_disposed: AtomicUsize,
    pub merged_elsewhere: AtomicUsize,
    pub by_channel: [AtomicUsize; 7],
    pub errors: Mutex<Vec<String>>,
    /// Latest respond deadline of the tickets left waiting for 签收 (hazards aside).
    pub respond_by: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// Ticket ids of the urgent safety hazards left waiting for 签收.
    pub hazards: Mutex<Vec<String>>,
}

fn add(c: &AtomicUsize, n: usize) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Everything a flow needs.
pub struct Demo {
    pub rpc: Rpc,
    pub county: County,
    /// Worker id of each entry of `county.staff`.
    pub worker_ids: Vec<String>,
    pub run: String,
    /// Three digits of the run, for phone numbers.
    pub run_digits: u32,
    pub stats: Stats,
}

type Flow<T = ()> = Result<T, String>;

const OPERATOR: &str = "op-12345-07";
const APP: &str = "wushi-zhao-shuji-app";
const GATEWAY: &str = "onekey-gateway";

impl Demo {
    /// The ticket's task once routing has dispatched it beyond attempt `after`.
    async fn dispatched(&self, ticket: &str, after: u32) -> Flow<pb::Task> {
        let rpc = &self.rpc;
        let start = std::time::Instant::now();
        loop {
            let req = rpc.req(As::Supervisor, requests::task(ticket));
            match rpc.routing().get_task(req).await {
                Ok(r) => {
                    if let Some(t) = r.into_inner().task
                        && t.attempt > after
                        && t.state == pb::TaskState::PendingAccept as i32
                    {
                        return Ok(t);
                    }
                }
                Err(s) if lagging(&s) => {}
                Err(s) => return Err(why("waiting for dispatch", &s)),
            }
            if start.elapsed() > CATCH_UP.limit {
                return Err(format!(
                    "routing did not dispatch ticket {ticket} (attempt > {after}) within {}s",
                    CATCH_UP.limit.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn accept(&self, t: &pb::Task) -> Flow {
        let rpc = &self.rpc;
        let msg = requests::accept(&t.ticket_id);
        retry(CATCH_UP, unavailable, || {
            let req = rpc.req(As::Worker(&t.worker_id), msg.clone());
            let mut c = rpc.routing();
            async move { c.accept_task(req).await }
        })
        .await
        .map_err(|s| why("accept", &s))?;
        add(&self.stats.accepted, 1);
        Ok(())
    }

    async fn dispose(&self, t: &pb::Task, kind: pb::DisposalType, round: usize) -> Flow {
        let rpc = &self.rpc;
        let explained = t
            .category
            .as_ref()
            .is_some_and(|c| c.code == "consultation");
        let kind = if kind == pb::DisposalType::Resolved && explained {
            pb::DisposalType::Explained
        } else {
            kind
        };
        let disposal = requests::Disposal {
            kind,
            result: match kind {
                pb::DisposalType::Explained => "已电话联系并当面解释相关政策,群众表示理解。".into(),
                pb::DisposalType::Unresolvable => "涉及历史遗留问题,需区级部门统筹。".into(),
                _ if round > 0 => "返工:重新上门处理,问题已彻底解决。".into(),
                _ => "已上门核实并处理完毕,现场照片已上传。".into(),
            },
            evidence_urls: vec![format!(
                "https://img.example.cn/evidence/{}-{round}.jpg",
                t.ticket_id
            )],
            unresolvable_reason: if kind == pb::DisposalType::Unresolvable {
                "权属争议需法院裁定".into()
            } else {
                String::new()
            },
        };
        let msg = requests::dispose(&t.ticket_id, disposal, chrono::Utc::now());
        // Routing takes the disposal on the same view as the acceptance just before it, so
        // only an unavailable service is worth a retry.
        retry(CATCH_UP, unavailable, || {
            let req = rpc.req(As::Worker(&t.worker_id), msg.clone());
            let mut c = rpc.routing();
            async move { c.submit_disposal(req).await }
        })
        .await
        .map_err(|s| why("dispose", &s))?;
        Ok(())
    }

    /// The citizen's verdict: a 12345 callback for phone channels, the app's rating otherwise.
    async fn rate(&self, p: &Plan, ticket: &str, rating: pb::Rating) -> Flow {
        let rpc = &self.rpc;
        let by_phone = matches!(p.chan, Chan::Hotline | Chan::OneKey(_));
        let comment = match rating {
            pb::Rating::Dissatisfied => "问题没有解决,还是老样子。",
            pb::Rating::BasicallySatisfied => "基本解决了。",
            _ => "处理及时,很满意。",
        };
        let r = if by_phone {
            let msg = requests::callback(ticket, Reached::Yes(rating), comment, chrono::Utc::now());
            retry(CATCH_UP, lagging, || {
                let req = rpc.req(As::Operator(OPERATOR), msg.clone());
                let mut c = rpc.closure();
                async move { c.record_callback(req).await.map(|_| ()) }
            })
            .await
        } else {
            let msg = requests::feedback(ticket, rating, comment);
            retry(CATCH_UP, lagging, || {
                let req = rpc.req(As::Service(APP), msg.clone());
                let mut c = rpc.closure();
                async move { c.submit_feedback(req).await.map(|_| ()) }
            })
            .await
        };
        r.map_err(|s| why("feedback", &s))?;
        match rating {
            pb::Rating::Satisfied => add(&self.stats.satisfied, 1),
            pb::Rating::BasicallySatisfied => add(&self.stats.basic, 1),
            _ => {}
        }
        Ok(())
    }

    async fn exempt(&self, ticket: &str, kind: pb::ExemptionKind, reason: &str) -> Flow {
        let rpc = &self.rpc;
        let msg = requests::close(ticket, kind, reason);
        retry(CATCH_UP, lagging, || {
            let req = rpc.req(As::Supervisor, msg.clone());
            let mut c = rpc.closure();
            async move { c.close_ticket(req).await }
        })
        .await
        .map_err(|s| why("close by exemption", &s))?;
        Ok(())
    }

    /// Three unreached callbacks, as far apart as closure requires (waiting up to
    /// [`MAX_CALLBACK_WAIT`] between them), then the supervisor's exemption.
    async fn unreached(&self, ticket: &str) -> Flow {
        for attempt in 1..=3 {
            let r = self.callback_unreached(ticket, attempt).await?;
            if r.exemption_eligible {
                return self
                    .exempt(
                        ticket,
                        pb::ExemptionKind::CitizenUnreachable,
                        "三次回访均未接通,经核实予以销号",
                    )
                    .await;
            }
            let next = r.next_attempt_not_before.as_ref().and_then(from_ts);
            if let Some(next) = next {
                let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
                if wait > MAX_CALLBACK_WAIT {
                    return Err(format!(
                        "closure wants {}s between unreached callbacks (GRIDLOOP_CLOSURE_CALLBACK_INTERVAL_SECS); \
                         the demo waits at most {}s",
                        wait.as_secs(),
                        MAX_CALLBACK_WAIT.as_secs()
                    ));
                }
                tokio::time::sleep(wait + Duration::from_millis(100)).await;
            }
        }
        Err("three unreached callbacks did not make the ticket eligible for exemption".into())
    }

    async fn callback_unreached(
        &self,
        ticket: &str,
        attempt: usize,
    ) -> Flow<pb::RecordCallbackResponse> {
        let rpc = &self.rpc;
        let notes = format!("第{attempt}次回访,电话无人接听");
        let msg = requests::callback(ticket, Reached::No, notes, chrono::Utc::now());
        Ok(retry(CATCH_UP, lagging, || {
            let req = rpc.req(As::Operator(OPERATOR), msg.clone());
            let mut c = rpc.closure();
            async move { c.record_callback(req).await }
        })
        .await
        .map_err(|s| why("unreached callback", &s))?
        .into_inner())
    }

    /// Waits (briefly) for the tracker to escalate a ticket with repeat complaints.
    async fn escalated(&self, ticket: &str) -> bool {
        for _ in 0..40 {
            let req = self.rpc.req(As::Supervisor, requests::loop_status(ticket));
            if let Ok(r) = self.rpc.tracker().get_loop_status(req).await
                && r.into_inner()
                    .status
                    .is_some_and(|s| s.escalation_level != 0)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }

    /// Runs one plan to its end; the counters say how it went.
    pub async fn run(&self, p: &Plan) {
        let stats = &self.stats;
        match self.journey(p).await {
            Ok(()) => {}
            Err(e) => {
                add(&stats.failed, 1);
                let mut errs = stats.errors.lock().unwrap_or_else(|e| e.into_inner());
                if errs.len() < 20 {
                    errs.push(format!("ticket #{} ({:?}, {:?}): {e}", p.n, p.chan, p.path));
                }
            }
        }
        add(&stats.done, p.submissions());
    }

    async fn journey(&self, p: &Plan) -> Flow {
        let s = &self.stats;
        let (ticket, outcome) = self.submit(p, 0).await?;
        let channel = match p.chan {
            Chan::Hotline => pb::Channel::Hotline12345,
            Chan::OneKey(_) => pb::Channel::OneKeyCall,
            Chan::App(c) => c,
            Chan::Patrol => pb::Channel::Patrol,
        };
        add(&s.by_channel[channel as usize], p.submissions());
        if outcome == pb::SubmitOutcome::Merged {
            // The household or phone still has an open ticket (an earlier run's).
            add(&s.merged, 1);
            add(&s.merged_elsewhere, 1);
            return Ok(());
        }
        let mut task = self.dispatched(&ticket, 0).await?;
        for k in 1..=p.repeats {
            let (_, o) = self.submit(p, k).await?;
            if o != pb::SubmitOutcome::Merged {
                return Err(format!("repeat {k} was {o:?}, not merged"));
            }
            add(&s.merged, 1);
        }
        if p.repeats >= 2 && self.escalated(&ticket).await {
            add(&s.escalated, 1);
        }
        match p.path {
            Path::LeftUnaccepted if p.hazard() => {
                // Its deadline is the tracker's (the town's rule in minutes), not the
                // informational one routing put in the task: the demo asks the tracker later.
                let mut hazards = s.hazards.lock().unwrap_or_else(|e| e.into_inner());
                hazards.push(ticket);
                add(&s.left_unaccepted, 1);
                add(&s.open, 1);
                return Ok(());
            }
            Path::LeftUnaccepted => {
                let due = task
                    .deadlines
                    .as_ref()
                    .and_then(|d| d.respond_by.as_ref())
                    .and_then(from_ts);
                let mut latest = s.respond_by.lock().unwrap_or_else(|e| e.into_inner());
                *latest = (*latest).max(due);
                add(&s.left_unaccepted, 1);
                add(&s.open, 1);
                return Ok(());
            }
            Path::Returned => {
                self.give_back(&task).await?;
                task = self.dispatched(&ticket, task.attempt).await?;
            }
            Path::Transferred => {
                self.transfer(p, &task).await?;
                task = self.dispatched(&ticket, task.attempt).await?;
            }
            _ => {}
        }
        self.accept(&task).await?;
        if p.path == Path::LeftAccepted {
            add(&s.left_accepted, 1);
            add(&s.open, 1);
            return Ok(());
        }
        let kind = if p.path == Path::Unresolvable {
            pb::DisposalType::Unresolvable
        } else {
            pb::DisposalType::Resolved
        };
        self.dispose(&task, kind, 0).await?;
        match p.path {
            Path::LeftDisposed => {
                add(&s.left_disposed, 1);
                add(&s.open, 1);
                return Ok(());
            }
            Path::Unresolvable => {
                // The exemption needs the citizen's verdict or a callback first.
                self.callback_unreached(&ticket, 1).await?;
                self.exempt(
                    &ticket,
                    pb::ExemptionKind::UnresolvableConfirmed,
                    "经镇综治中心核实,确属无法解决,予以销号",
                )
                .await?;
                add(&s.unresolvable, 1);
            }
            Path::Unreached => {
                self.unreached(&ticket).await?;
                add(&s.unreached_exempted, 1);
            }
            Path::Reworked => {
                self.rate(p, &ticket, pb::Rating::Dissatisfied).await?;
                let again = self.dispatched(&ticket, task.attempt).await?;
                self.accept(&again).await?;
                self.dispose(&again, pb::DisposalType::Resolved, 1).await?;
                self.rate(p, &ticket, pb::Rating::Satisfied).await?;
                add(&s.reworked, 1);
            }
            Path::Closed(rating) => self.rate(p, &ticket, rating).await?,
            _ => self.rate(p, &ticket, pb::Rating::Satisfied).await?,
        }
        add(&s.closed, 1);
        Ok(())
    }

    async fn give_back(&self, t: &pb::Task) -> Flow {
        let rpc = &self.rpc;
        let msg = requests::give_back(
            &t.ticket_id,
            pb::ReturnReason::NotMyGrid,
            "现场核实不属于本网格",
        );
        retry(CATCH_UP, unavailable, || {
            let req = rpc.req(As::Worker(&t.worker_id), msg.clone());
            let mut c = rpc.routing();
            async move { c.return_task(req).await }
        })
        .await
        .map_err(|s| why("return", &s))?;
        add(&self.stats.returned, 1);
        Ok(())
    }

    /// 转办 to the next group of the same village.
    async fn transfer(&self, p: &Plan, t: &pb::Task) -> Flow {
        let g = &self.county.groups[p.group];
        let v = &self.county.villages[g.village];
        let next = v.groups[g.number % v.groups.len()];
        let to = self.county.groups[next].code.clone();
        let to = if to == t.grid_code {
            v.code.clone()
        } else {
            to
        };
        let rpc = &self.rpc;
        let msg = requests::transfer(&t.ticket_id, to, "诉求地点在邻组,转邻组网格员办理");
        retry(CATCH_UP, unavailable, || {
            let req = rpc.req(As::Worker(&t.worker_id), msg.clone());
            let mut c = rpc.routing();
            async move { c.transfer_task(req).await }
        })
        .await
        .map_err(|s| why("transfer", &s))?;
        add(&self.stats.transferred, 1);
        Ok(())
    }
}
