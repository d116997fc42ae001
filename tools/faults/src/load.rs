//! The 12345 desk: hotline tickets at a steady rate, each retried under the same call id
//! (external id) after a transient failure until intake acknowledges it. Every acknowledged
//! ticket is recorded; some are then walked through the loop ([`crate::walk`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridloop_proto::v1::{SubmitHotlineTicketRequest, SubmitOutcome, Urgency};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::clients::{self, Clients, GROUPS, OPERATOR};
use crate::rng::Rng;
use crate::settings::Settings;
use crate::tally::Tally;
use crate::walk::{self, Plan};

/// One acknowledged submission.
#[derive(Clone, Debug)]
pub struct Acked {
    pub ticket_id: String,
    pub plan: Plan,
    /// The walk reached its end (the SATISFIED rating was taken, or routing shows CLOSED).
    pub walked: bool,
}

/// What the run submitted and what came of it, by external id.
#[derive(Debug, Default)]
pub struct Book {
    pub acked: Mutex<HashMap<String, Acked>>,
    pub tally: Tally,
}

impl Book {
    pub fn acked(&self) -> HashMap<String, Acked> {
        self.acked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, external_id: &str, a: Acked) {
        self.acked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(external_id.to_string(), a);
    }

    fn walked(&self, external_id: &str) {
        if let Some(a) = self
            .acked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(external_id)
        {
            a.walked = true;
        }
    }
}

/// Submits for `settings.duration()`, then waits for every submission to be acknowledged
/// (or `give_up`) and every walk to end (or `walk_deadline`).
pub async fn run(
    c: Clients,
    book: Arc<Book>,
    settings: &Settings,
    seed: u64,
    give_up: Instant,
    walk_deadline: Instant,
) {
    let period = Duration::from_secs_f64(1.0 / f64::from(settings.rate.max(1)));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rng = Rng::new(seed ^ 0x5EED_10AD);
    let end = Instant::now() + settings.duration();
    let mut tasks = JoinSet::new();
    let mut n: u64 = 0;
    while Instant::now() < end {
        tick.tick().await;
        n += 1;
        let plan = Plan::draw(&mut rng, settings);
        let (c, book) = (c.clone(), book.clone());
        tasks.spawn(async move {
            let external_id = format!("FT-{n:07}");
            let Some(ticket_id) = submit(&c, &book.tally, n, &external_id, give_up).await else {
                return;
            };
            book.record(
                &external_id,
                Acked {
                    ticket_id: ticket_id.clone(),
                    plan,
                    walked: false,
                },
            );
            if plan.walk && walk::walk(&c, &book.tally, &ticket_id, plan, walk_deadline).await {
                book.walked(&external_id);
            }
        });
        // Finished tasks are dropped as we go, so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    book.tally.add_n("submit.offered", n);
    while tasks.join_next().await.is_some() {}
}

/// Submits ticket `n` until acknowledged; its ticket id, or `None` when intake refused it
/// for good or it was still unanswered at `give_up`.
async fn submit(
    c: &Clients,
    tally: &Tally,
    n: u64,
    external_id: &str,
    give_up: Instant,
) -> Option<String> {
    let grid = GROUPS[(n % GROUPS.len() as u64) as usize];
    // A phone of its own per ticket: no submission is a repeat of another.
    let request = SubmitHotlineTicketRequest {
        external_id: external_id.into(),
        operator_id: OPERATOR.into(),
        caller_phone: format!("139{:08}", 20_000_000 + n),
        caller_name: Some("李秀英".into()),
        address: format!("城关镇第{n}号"),
        grid_code: grid.into(),
        category_code: "neighbor_dispute".into(),
        urgency: Urgency::Unspecified as i32,
        content: format!("故障测试工单{n}：楼上邻居深夜噪音扰民"),
        recording_url: format!("https://rec.example.cn/12345/{n}.mp3"),
        received_at: Some(gridloop_proto::ts(chrono::Utc::now())),
    };
    loop {
        match c
            .intake
            .clone()
            .submit_hotline_ticket(c.operator(request.clone()))
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                tally.add("submit.acknowledged");
                if r.outcome() == SubmitOutcome::Merged {
                    tally.add_with("submit.merged", &r.ticket_id);
                }
                return Some(r.ticket_id);
            }
            Err(s) if clients::transient(&s) => {
                tally.add_with(&format!("submit.retried.{:?}", s.code()), s.message());
                if Instant::now() > give_up {
                    tally.add_with("submit.unanswered", external_id);
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(s) => {
                tally.add_with(&format!("submit.refused.{:?}", s.code()), s.message());
                return None;
            }
        }
    }
}
