//! `verify`: does this service's view of every ticket agree with the stream?
//!
//! The stream is the record: replaying it through the lifecycle rules (as the tracker does:
//! a ticket starts with `discovered`, or with `merged` for a repeat that was never discovered
//! on its own; a step the rules reject leaves the ticket as it was) gives each ticket's state.
//! A service's view converges on that state once it has applied every event it consumes and
//! published every event it decided. `verify` waits (bounded) until the service has caught up
//! — nothing left in its outbox, its stored position at or past the last event of the kinds it
//! consumes — then compares each ticket's state (with its holder, acceptance, disposal and
//! feedback) and counters, prints every difference and fails unless there are none.

// Printing the differences is what this command is for.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use gridloop_lifecycle::{Event, Kind, LoopState, State, apply};
use gridloop_proto::v1::TicketEvent;
use prost::Message as _;
use sqlx::PgPool;

use crate::convert::lifecycle_event;
use crate::nats::Bus;
use crate::{Error, inbox, outbox};

/// Which tickets a service is expected to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every ticket on the stream (discovered or merged).
    All,
    /// Tickets dispatched at least once.
    Dispatched,
}

/// How a service keeps its view, for [`run`].
#[derive(Clone, Copy, Debug)]
pub enum View {
    /// A table of lifecycle states: `query` returns `(ticket_id text, loop_state jsonb)`.
    LoopStates { query: &'static str, scope: Scope },
    /// Reports' facts: `query` returns `(ticket_id text, dispatched, merged, closed)`.
    Facts { query: &'static str },
}

/// What a service consumes and how it keeps its view: the one declaration its consumer
/// ([`crate::service::Host::spawn_consumer`]) and `verify` both read.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The subject names of the event kinds its consumer reads: `&Kind::names(CONSUMES)` of
    /// the service's `CONSUMES`.
    pub kinds: &'static [&'static str],
    pub view: View,
}

impl Spec {
    /// The subject kinds to read; empty when the service consumes every kind, so that it
    /// reads the whole stream (a malformed event of no kind included, which the inbox then
    /// acknowledges with a warning) rather than fourteen subjects.
    pub fn subject_kinds(&self) -> Vec<&'static str> {
        if Kind::ALL.iter().all(|k| self.kinds.contains(&k.as_str())) {
            Vec::new()
        } else {
            self.kinds.to_vec()
        }
    }
}

/// A ticket as the stream says it stands.
#[derive(Clone, Debug)]
pub struct Expected {
    pub state: LoopState,
    pub dispatched: bool,
}

/// The stream's verdict on every ticket, up to `last_seq`.
pub struct Replay {
    pub tickets: BTreeMap<String, Expected>,
    pub last_seq: u64,
}

/// Reads the whole stream, in order, and replays it through the lifecycle rules.
pub async fn replay(bus: &Bus) -> Result<Replay, Error> {
    let mut stream = bus.ensure_stream().await?;
    let last_seq = stream
        .info()
        .await
        .map_err(Error::nats)?
        .state
        .last_sequence;
    let mut out = Replay {
        tickets: BTreeMap::new(),
        last_seq,
    };
    if last_seq == 0 {
        return Ok(out);
    }
    let mut messages = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(Error::nats)?
        .messages()
        .await
        .map_err(Error::nats)?;
    while let Some(msg) = messages.next().await {
        let msg = msg.map_err(Error::nats)?;
        let seq = msg.info().map_err(Error::nats)?.stream_sequence;
        if let Ok(event) = TicketEvent::decode(msg.payload.as_ref()) {
            step(&mut out.tickets, &event);
        }
        if seq >= last_seq {
            break;
        }
    }
    Ok(out)
}

/// Applies one event to the replayed tickets, as the tracker would.
fn step(tickets: &mut BTreeMap<String, Expected>, event: &TicketEvent) {
    let Some(step) = lifecycle_event(event) else {
        return;
    };
    let dispatched = matches!(step, Event::Dispatched { .. });
    let next = match tickets.get(&event.ticket_id) {
        Some(t) => apply(&t.state, &step),
        None if matches!(step, Event::Merged { .. }) => {
            LoopState::start(&Event::discovered()).and_then(|s| apply(&s, &step))
        }
        None => LoopState::start(&step),
    };
    // A rejected step leaves the ticket as it was, exactly as in the tracker.
    if let Ok(state) = next {
        let entry = tickets
            .entry(event.ticket_id.clone())
            .or_insert_with(|| Expected {
                state: state.clone(),
                dispatched: false,
            });
        entry.state = state;
        entry.dispatched |= dispatched;
    }
}

/// One ticket's state in words, for a difference line.
fn describe(s: &LoopState) -> String {
    let holder = match &s.state {
        State::Reported(gridloop_lifecycle::Assignment::Dispatched { holder, accepted }) => {
            format!(
                " held by {} at {}{}",
                holder.worker,
                holder.grid,
                if *accepted { ", accepted" } else { "" }
            )
        }
        other => other
            .holder()
            .map(|h| format!(" held by {} at {}", h.worker, h.grid))
            .unwrap_or_default(),
    };
    format!(
        "{}{holder} (returns {}, transfers {}, rework {}, unreached callbacks {})",
        s.state.name(),
        s.return_count,
        s.transfer_count,
        s.rework_count,
        s.unreached_callbacks
    )
}

/// Whether a view's state agrees with the replay: the state with all its data and the
/// counters every service keeps (repeat, overdue and escalation counts are the tracker's own).
fn agrees(view: &LoopState, want: &LoopState) -> bool {
    view.state == want.state
        && view.return_count == want.return_count
        && view.transfer_count == want.transfer_count
        && view.rework_count == want.rework_count
        && view.unreached_callbacks == want.unreached_callbacks
}

/// Compares the service's view with `replay`; returns (tickets checked, differences printed).
async fn compare(
    pool: &PgPool,
    view: View,
    replay: &Replay,
) -> Result<(usize, Vec<String>), Error> {
    let mut diffs = Vec::new();
    match view {
        View::LoopStates { query, scope } => {
            let rows: Vec<(String, serde_json::Value)> =
                sqlx::query_as(query).fetch_all(pool).await?;
            let mut seen = BTreeMap::new();
            for (id, json) in rows {
                match serde_json::from_value::<LoopState>(json) {
                    Ok(s) => {
                        seen.insert(id, s);
                    }
                    Err(e) => diffs.push(format!("ticket {id}: unreadable view state: {e}")),
                }
            }
            for (id, want) in &replay.tickets {
                let expected = scope == Scope::All || want.dispatched;
                match seen.remove(id) {
                    Some(got) if !expected => diffs.push(format!(
                        "ticket {id}: in the view as {} but never dispatched on the stream",
                        describe(&got)
                    )),
                    Some(got) if !agrees(&got, &want.state) => diffs.push(format!(
                        "ticket {id}: view {} ≠ stream {}",
                        describe(&got),
                        describe(&want.state)
                    )),
                    Some(_) => {}
                    None if expected => diffs.push(format!(
                        "ticket {id}: missing from the view; stream {}",
                        describe(&want.state)
                    )),
                    None => {}
                }
            }
            for (id, got) in seen {
                diffs.push(format!(
                    "ticket {id}: in the view as {} but not on the stream",
                    describe(&got)
                ));
            }
        }
        View::Facts { query } => {
            let rows: Vec<(String, bool, bool, bool)> =
                sqlx::query_as(query).fetch_all(pool).await?;
            let mut seen: BTreeMap<String, (bool, bool, bool)> = rows
                .into_iter()
                .map(|(id, d, m, c)| (id, (d, m, c)))
                .collect();
            for (id, want) in &replay.tickets {
                let expected = (
                    want.dispatched,
                    matches!(want.state.state, State::Merged { .. }),
                    matches!(want.state.state, State::Closed { .. }),
                );
                match seen.remove(id) {
                    Some(got) if got != expected => diffs.push(format!(
                        "ticket {id}: facts (dispatched, merged, closed) {got:?} ≠ stream {expected:?}"
                    )),
                    Some(_) => {}
                    None => diffs.push(format!("ticket {id}: missing from the facts")),
                }
            }
            for (id, _) in seen {
                diffs.push(format!("ticket {id}: in the facts but not on the stream"));
            }
        }
    }
    Ok((replay.tickets.len(), diffs))
}

/// How far the service is from the stream: events of its kinds not yet applied, and its own
/// decisions not yet published.
async fn lag(pool: &PgPool, bus: &Bus, service: &str, spec: &Spec) -> Result<(u64, i64), Error> {
    let position = inbox::stored_position(pool, service).await?;
    let last = bus.last_sequence_of(&spec.subject_kinds()).await?;
    Ok((last.saturating_sub(position), outbox::pending(pool).await?))
}

/// Waits up to `wait` for the service to catch up, then compares its view with the stream.
/// Prints each difference and a summary line; an error unless the view agrees.
pub async fn run(
    service: &str,
    pool: &PgPool,
    bus: &Bus,
    spec: &Spec,
    wait: Duration,
) -> Result<(), Error> {
    let started = Instant::now();
    // Waiting reads two numbers; the whole stream is replayed once, when caught up.
    loop {
        let (behind, unsent) = lag(pool, bus, service, spec).await?;
        if behind == 0 && unsent == 0 {
            break;
        }
        if started.elapsed() >= wait {
            return Err(Error::Ops(format!(
                "verify: {service}: not caught up after {}s: {behind} event(s) to apply, {unsent} to publish",
                wait.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The view is read after the replay; the stream must not move meanwhile (checked below).
    let replay = replay(bus).await?;
    let (checked, diffs) = compare(pool, spec.view, &replay).await?;
    let after = bus
        .ensure_stream()
        .await?
        .info()
        .await
        .map_err(Error::nats)?
        .state
        .last_sequence;
    for d in &diffs {
        println!("verify: {service}: {d}");
    }
    println!(
        "verify: {service}: {checked} tickets checked, {} differences",
        diffs.len()
    );
    if after != replay.last_seq {
        return Err(Error::Ops(format!(
            "verify: {service}: the stream moved on while checking ({} → {after}); run it again on a quiet system",
            replay.last_seq
        )));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Ops(format!(
            "verify: {service}: {} ticket(s) differ from the stream",
            diffs.len()
        )))
    }
}
