//! After the load: wait until every service has caught up, then count what went wrong.
//!
//! - lost: acknowledged, but intake's GetTicket or the tracker's GetLoopStatus does not know
//!   the ticket;
//! - duplicated: an external id with more than one ticket among the stream's `discovered`
//!   events (what every consumer saw), one per extra ticket;
//! - stuck: acknowledged but still DISCOVERED in the tracker (never dispatched), walked to
//!   the end but not CLOSED in the tracker, or a walk that could not finish in time (each
//!   ticket once, under the first of these that applies);
//! - diverged: the sum of the differences every service's `verify` reports.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use gridloop_proto::v1::{
    GetLoopStatusRequest, GetTicketRequest, LifecycleState, TicketEvent, ticket_event,
};
use prost::Message;
use tokio::time::Instant;
use tonic::Code;

use crate::clients::{Clients, retrying};
use crate::load::Acked;
use crate::stack::{SERVICES, Stack};

/// Each service with the event kinds its consumer reads (empty: all).
const CONSUMERS: [(&str, &[&str]); 5] = [
    ("intake", gridloop_intake::VIEW.kinds),
    ("routing", gridloop_routing::VIEW.kinds),
    ("closure", gridloop_closure::VIEW.kinds),
    ("tracker", gridloop_tracker::VIEW.kinds),
    ("reports", gridloop_reports::VIEW.kinds),
];

/// Waits, at most `limit`, until no outbox holds an unsent row, every consumer has applied
/// everything of its kinds on the stream, and the stream did not move meanwhile. On time
/// out, the last thing seen busy.
pub async fn settle(stack: &Stack, limit: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::from("nothing checked yet");
    while start.elapsed() < limit {
        match quiet(stack).await {
            Ok(()) => return Ok(start.elapsed()),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(last)
}

async fn quiet(stack: &Stack) -> Result<(), String> {
    let client = async_nats::connect(stack.nats_url())
        .await
        .map_err(|e| format!("nats: {e}"))?;
    let js = jetstream::new(client);
    let mut stream = js
        .get_stream("TICKETS")
        .await
        .map_err(|e| format!("stream: {e}"))?;
    let before = stream
        .info()
        .await
        .map_err(|e| format!("stream info: {e}"))?
        .state
        .last_sequence;
    let db = sqlx::PgPool::connect(&stack.database_url())
        .await
        .map_err(|e| format!("postgres: {e}"))?;
    // Each consumer keeps its position in the stream in its own schema.
    for (name, kinds) in CONSUMERS {
        let position: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT stream_seq FROM {name}.consumer_position"
        )))
        .fetch_optional(&db)
        .await
        .map_err(|e| format!("{name}.consumer_position: {e}"))?;
        let last = gridloop_platform::nats::last_sequence_of(&mut stream, "tickets", kinds)
            .await
            .map_err(|e| format!("stream: {e}"))?;
        let position = position.unwrap_or(0) as u64;
        if position < last {
            return Err(format!(
                "{name}: applied up to {position}, its last event is {last}"
            ));
        }
    }
    for schema in SERVICES {
        let unsent: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"
        )))
        .fetch_one(&db)
        .await
        .map_err(|e| format!("{schema}.outbox: {e}"))?;
        if unsent > 0 {
            return Err(format!("{schema}: {unsent} unsent outbox row(s)"));
        }
    }
    db.close().await;
    let after = stream
        .info()
        .await
        .map_err(|e| format!("stream info: {e}"))?
        .state
        .last_sequence;
    if before != after {
        return Err(format!("stream moved from {before} to {after}"));
    }
    Ok(())
}

/// The counts the run is judged on (diverged comes from [`crate::verify`]).
#[derive(Debug, Default)]
pub struct Counts {
    pub acknowledged: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// Acknowledged, still DISCOVERED in the tracker.
    pub not_dispatched: usize,
    /// Walked to the end, not CLOSED in the tracker.
    pub walked_not_closed: usize,
    /// Walks that did not reach the end in time.
    pub walks_unfinished: usize,
    pub walks: usize,
    /// Tickets per tracker state, for the summary.
    pub states: HashMap<String, usize>,
    /// Tickets on the stream whose submission was never acknowledged (not an error: the
    /// answer was lost, or the run gave up on it).
    pub unacknowledged_on_stream: usize,
    /// A few ticket ids per finding, to start an investigation from.
    pub examples: Vec<String>,
}

impl Counts {
    pub fn stuck(&self) -> usize {
        self.not_dispatched + self.walked_not_closed + self.walks_unfinished
    }
}

/// Looks up every acknowledged ticket in intake and the tracker, and scans the stream.
pub async fn count(stack: &Stack, c: &Clients, acked: &HashMap<String, Acked>) -> Counts {
    let mut counts = Counts {
        acknowledged: acked.len(),
        ..Counts::default()
    };
    let lookups = futures::stream::iter(acked.values().cloned())
        .map(|a| async move {
            let state = look_up(c, &a.ticket_id).await;
            (a, state)
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for (a, found) in lookups {
        let example = |counts: &mut Counts, what: &str| {
            if counts.examples.len() < 12 {
                counts.examples.push(format!("{what}: {}", a.ticket_id));
            }
        };
        if a.plan.walk {
            counts.walks += 1;
        }
        // Each ticket counts once, under the first finding that applies.
        match found {
            Err(why) => {
                counts.lost += 1;
                example(&mut counts, &why);
            }
            Ok(state) => {
                *counts.states.entry(format!("{state:?}")).or_default() += 1;
                if state == LifecycleState::Discovered {
                    counts.not_dispatched += 1;
                    example(&mut counts, "still DISCOVERED");
                } else if a.walked && state != LifecycleState::Closed {
                    counts.walked_not_closed += 1;
                    example(&mut counts, &format!("walked, tracker says {state:?}"));
                } else if a.plan.walk && !a.walked {
                    counts.walks_unfinished += 1;
                    example(
                        &mut counts,
                        &format!("walk unfinished, tracker says {state:?}"),
                    );
                }
            }
        }
    }
    match discovered(stack).await {
        Ok(by_external) => {
            for (external, tickets) in &by_external {
                if tickets.len() > 1 {
                    counts.duplicated += tickets.len() - 1;
                    if counts.examples.len() < 12 {
                        counts
                            .examples
                            .push(format!("duplicated {external}: {tickets:?}"));
                    }
                }
                if !acked.contains_key(external) {
                    counts.unacknowledged_on_stream += 1;
                }
            }
        }
        Err(e) => {
            say!("cannot scan the stream for duplicates: {e}; counting every ticket as duplicated");
            counts.duplicated = acked.len().max(1);
        }
    }
    counts
}

/// The tracker's state of `ticket`, after checking intake knows it too.
async fn look_up(c: &Clients, ticket: &str) -> Result<LifecycleState, String> {
    let limit = Duration::from_secs(30);
    let id = ticket.to_string();
    let intake = retrying(limit, || {
        let (mut intake, r) = (
            c.intake.clone(),
            c.operator(GetTicketRequest {
                ticket_id: id.clone(),
            }),
        );
        async move { intake.get_ticket(r).await }
    })
    .await;
    match intake {
        Ok(_) => {}
        Err(s) if s.code() == Code::NotFound => return Err("unknown to intake".into()),
        Err(s) => return Err(format!("intake GetTicket: {:?} {}", s.code(), s.message())),
    }
    let status = retrying(limit, || {
        let (mut tracker, r) = (
            c.tracker.clone(),
            c.admin(GetLoopStatusRequest {
                ticket_id: id.clone(),
            }),
        );
        async move { tracker.get_loop_status(r).await }
    })
    .await;
    match status {
        Ok(r) => Ok(r.into_inner().status.map(|s| s.state()).unwrap_or_default()),
        Err(s) if s.code() == Code::NotFound => Err("unknown to the tracker".into()),
        Err(s) => Err(format!(
            "tracker GetLoopStatus: {:?} {}",
            s.code(),
            s.message()
        )),
    }
}

/// Every `discovered` event on the stream: ticket ids by external id.
async fn discovered(stack: &Stack) -> Result<HashMap<String, HashSet<String>>, String> {
    let client = async_nats::connect(stack.nats_url())
        .await
        .map_err(|e| format!("nats: {e}"))?;
    let js = jetstream::new(client);
    let stream = js
        .get_stream("TICKETS")
        .await
        .map_err(|e| format!("stream: {e}"))?;
    let mut reader = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: "tickets.discovered".into(),
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("reader: {e}"))?;
    let pending = reader
        .info()
        .await
        .map_err(|e| format!("reader info: {e}"))?
        .num_pending;
    let mut messages = reader
        .messages()
        .await
        .map_err(|e| format!("reader messages: {e}"))?;
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for _ in 0..pending {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .map_err(|_| "the stream stopped answering".to_string())?
            .ok_or("the stream ended early")?
            .map_err(|e| format!("reading: {e}"))?;
        let event = TicketEvent::decode(m.payload.as_ref()).map_err(|e| format!("decode: {e}"))?;
        if let Some(ticket_event::Body::Discovered(d)) = event.body {
            out.entry(d.external_id)
                .or_default()
                .insert(event.ticket_id);
        }
    }
    Ok(out)
}
