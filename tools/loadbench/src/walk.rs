//! One ticket through the whole loop, as the people on it would take it: the 12345 desk
//! submits a hotline ticket, the worker it is dispatched to signs for it (签收) and reports the
//! disposal with evidence (处置), the citizen rates it SATISFIED (好评), and closure writes it
//! off (销号).
//!
//! No service offers a watch or streaming RPC for a ticket, so instead of polling `GetTask`
//! the walk waits on the events themselves: a plain NATS subscription to the stream's
//! `dispatched` and `closed` subjects (core NATS delivers every message JetStream stores to
//! matching subscribers; it adds no consumer and no acknowledgement work to the server). The
//! steps decided by a service that learns of the step before from the stream — disposal
//! (routing must have the acceptance), rating (closure must have the ticket and its
//! disposal) — are retried after a short pause while refused as not yet possible, and every
//! attempt is counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use gridloop_harness::clients::{Clients, GROUPS, OPERATOR};
use gridloop_proto::v1::{
    AcceptTaskRequest, DisposalType, Rating, SubmitDisposalRequest, SubmitFeedbackRequest,
    SubmitHotlineTicketRequest, TicketEvent, Urgency, ticket_event,
};
use prost::Message;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tonic::{Code, Status};

/// How long a walk waits for one event before it is given up.
const EVENT_WAIT: Duration = Duration::from_secs(60);
/// Pause before a refused step is tried again.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// The outcome of one event a walk waits for: already here, or someone is waiting.
enum Slot {
    Arrived(String),
    Waiting(oneshot::Sender<String>),
}

/// Events of one kind by ticket id, handed to whoever waits for them.
#[derive(Default)]
struct Board(Mutex<HashMap<String, Slot>>);

impl Board {
    fn arrive(&self, ticket: String, value: String) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match m.remove(&ticket) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(value);
            }
            // A second event of the kind (a redelivery) changes nothing.
            Some(arrived @ Slot::Arrived(_)) => {
                m.insert(ticket, arrived);
            }
            None => {
                m.insert(ticket, Slot::Arrived(value));
            }
        }
    }

    async fn wait(&self, ticket: &str) -> Option<String> {
        let rx = {
            let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match m.remove(ticket) {
                Some(Slot::Arrived(v)) => return Some(v),
                _ => {
                    let (tx, rx) = oneshot::channel();
                    m.insert(ticket.to_string(), Slot::Waiting(tx));
                    rx
                }
            }
        };
        let got = tokio::time::timeout(EVENT_WAIT, rx).await.ok()?.ok();
        if got.is_none() {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(ticket);
        }
        got
    }

    fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The `dispatched` (with the worker) and `closed` events, as they are published.
#[derive(Default)]
pub struct Events {
    dispatched: Board,
    closed: Board,
}

impl Events {
    /// Subscribes before anything is submitted, then files events as they come.
    pub async fn watch(nats_url: &str) -> anyhow::Result<Arc<Events>> {
        let client = async_nats::connect(nats_url).await?;
        let mut sub = client.subscribe("tickets.*").await?;
        let events = Arc::new(Events::default());
        let e = events.clone();
        tokio::spawn(async move {
            // The client lives as long as the subscription.
            let _client = client;
            while let Some(msg) = sub.next().await {
                let Ok(ev) = TicketEvent::decode(msg.payload) else {
                    continue;
                };
                match ev.body {
                    Some(ticket_event::Body::Dispatched(d)) => {
                        e.dispatched.arrive(ev.ticket_id, d.worker_id)
                    }
                    Some(ticket_event::Body::Closed(_)) => {
                        e.closed.arrive(ev.ticket_id, String::new())
                    }
                    _ => {}
                }
            }
        });
        Ok(events)
    }

    /// Forgets what no walk waits for (the intake-only phase's dispatches), between phases.
    pub fn clear(&self) {
        self.dispatched.clear();
        self.closed.clear();
    }
}

/// A walk that reached 销号.
#[derive(Clone, Copy, Debug)]
pub struct Done {
    /// Submission → `closed` event.
    pub latency: Duration,
    pub dispose_attempts: u32,
    pub rate_attempts: u32,
}

static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Submits one hotline ticket (a caller, address and call id of its own, so it is never a
/// repeat to merge); its id.
pub async fn submit(c: &Clients) -> Result<String, String> {
    let n = SERIAL.fetch_add(1, Ordering::Relaxed) + 1;
    let run =
        gridloop_harness::started().elapsed().as_nanos() as u64 ^ u64::from(std::process::id());
    let request = SubmitHotlineTicketRequest {
        external_id: format!("LB-{run:x}-{n:08}"),
        operator_id: OPERATOR.into(),
        caller_phone: format!("139{:08}", n % 100_000_000),
        caller_name: Some("李秀英".into()),
        address: format!("城关镇第{n}号"),
        grid_code: GROUPS[(n % GROUPS.len() as u64) as usize].into(),
        category_code: "neighbor_dispute".into(),
        urgency: Urgency::Unspecified as i32,
        content: format!("压测工单{n}：楼上邻居深夜噪音扰民"),
        recording_url: format!("https://rec.example.cn/12345/{n}.mp3"),
        received_at: Some(gridloop_proto::ts(chrono::Utc::now())),
    };
    c.intake
        .clone()
        .submit_hotline_ticket(c.operator(request))
        .await
        .map(|r| r.into_inner().ticket_id)
        .map_err(|s| format!("submit: {:?}", s.code()))
}

/// Walks one new ticket to 销号; what went wrong otherwise, as a short key.
pub async fn walk(c: &Clients, events: &Events) -> Result<Done, String> {
    let start = Instant::now();
    let ticket = submit(c).await?;
    let worker = events
        .dispatched
        .wait(&ticket)
        .await
        .ok_or("no dispatched event")?;
    retry(|| {
        let r = AcceptTaskRequest {
            ticket_id: ticket.clone(),
        };
        let mut routing = c.routing.clone();
        let req = c.worker(r, &worker);
        async move { routing.accept_task(req).await.map(|_| ()) }
    })
    .await
    .map_err(|s| format!("accept: {:?}", s.code()))?;
    let dispose_attempts = retry(|| {
        let r = SubmitDisposalRequest {
            ticket_id: ticket.clone(),
            disposal_type: DisposalType::Resolved as i32,
            result: "已上门协调，问题解决".into(),
            evidence_urls: vec!["https://img.example.cn/evidence/1.jpg".into()],
            disposed_at: Some(gridloop_proto::ts(chrono::Utc::now())),
            unresolvable_reason: String::new(),
        };
        let mut routing = c.routing.clone();
        let req = c.worker(r, &worker);
        async move { routing.submit_disposal(req).await.map(|_| ()) }
    })
    .await
    .map_err(|s| format!("dispose: {:?}", s.code()))?;
    let rate_attempts = retry(|| {
        let r = SubmitFeedbackRequest {
            ticket_id: ticket.clone(),
            rating: Rating::Satisfied as i32,
            comment: String::new(),
        };
        let mut closure = c.closure.clone();
        let req = c.app(r);
        async move { closure.submit_feedback(req).await.map(|_| ()) }
    })
    .await
    .map_err(|s| format!("rate: {:?}", s.code()))?;
    events.closed.wait(&ticket).await.ok_or("no closed event")?;
    Ok(Done {
        latency: start.elapsed(),
        dispose_attempts,
        rate_attempts,
    })
}

/// A refusal because the deciding service has not yet seen the step before from the stream:
/// FAILED_PRECONDITION (it knows the ticket at another stage) or NOT_FOUND (it has not heard
/// of the ticket at all — closure learns of a ticket from its events).
fn not_yet(s: &Status) -> bool {
    matches!(s.code(), Code::FailedPrecondition | Code::NotFound)
}

/// `call` until it is not refused for [`not_yet`], for as long as an event is waited for;
/// the attempts made.
async fn retry<F, Fut>(mut call: F) -> Result<u32, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Status>>,
{
    let until = Instant::now() + EVENT_WAIT;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match call().await {
            Ok(()) => return Ok(attempts),
            Err(s) if not_yet(&s) && Instant::now() < until => {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(s) => return Err(s),
        }
    }
}
