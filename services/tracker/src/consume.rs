//! The consumer of every event: replays the stream through the lifecycle rules, keeps the
//! timeline and the SLA clocks, records what the rules reject.
//!
//! - An applied event moves the ticket's `LoopState`, its clocks ([`crate::timers`]) and
//!   adds a timeline entry with the state before and after.
//! - A rejected event is recorded in `violations` and the timeline (marked) and published as
//!   `ticket.violation`; the ticket is left as it was.
//! - `overdue`, `escalated` and `violation` — the tracker's own, which come back on the
//!   stream — are informational: timeline only, the state does not change.
//! - `merged` arrives without a `discovered` for the merged submission (intake sends only the
//!   merge), so it starts that ticket as discovered and merges it; the parent counts the
//!   repeat and escalates at the configured thresholds. A parent already closed (or merged)
//!   does not count it: intake splits such a repeat off with a `discovered` naming the parent
//!   (`split_from`), and it runs the loop as a ticket of its own, so counting it on the
//!   closed parent too would count one grievance twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{Calendar, Event, LoopState, TicketId, apply};
use gridloop_platform::inbox::{Envelope, Handler, Remembered};
use gridloop_platform::outbox::enqueue;
use gridloop_proto::v1::{self as pb, ticket_event::Body};
use sqlx::PgConnection;

use crate::clock::Clock;
use crate::domain::{mask_digits, state_pb};
use crate::error::Error;
use crate::escalate::{self, PRODUCER};
use crate::settings::Settings;
use crate::store::{self, Entry, Ticket};
use crate::timers;
use crate::translate::{self, Reading};

/// The inbox handler for every event kind.
#[derive(Clone)]
pub struct Tracker {
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub calendar: Arc<Calendar>,
    /// Wakes the timer loop when a clock starts.
    pub wake: Arc<crate::firing::Wake>,
    /// Grids (code, level, name) already stored, so each is written once, not per dispatch.
    pub grids: Arc<Remembered<String, (i32, String)>>,
}

impl Handler for Tracker {
    type Error = Error;

    fn settled(&self, committed: bool) {
        self.grids.settled(committed);
    }

    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), Error> {
        let (id, event_id) = (event.ticket_id, event.event_id);
        let body = &event.body;
        let reading = translate::read(&event.producer, body);
        let at = event.occurred_or(self.clock.now());
        let existing = store::lock(tx, id).await?;
        let from = existing
            .as_ref()
            .map(|t| state_pb(&t.loop_state.state))
            .unwrap_or(pb::LifecycleState::Unspecified) as i32;
        let mut entry = Entry {
            event_id,
            ticket_id: id,
            kind: body.kind().to_string(),
            occurred_at: at,
            producer: mask_digits(&event.producer),
            actor_id: reading.actor_id.clone(),
            actor_role: reading.actor_role as i32,
            grid_code: reading.grid_code.clone(),
            from_state: from,
            to_state: from,
            summary: reading.summary.clone(),
            violation: false,
            violation_reason: String::new(),
        };
        let Some(step) = reading.step.clone() else {
            if let Body::Violation(v) = body
                && !v.detected_by.is_empty()
                && v.detected_by != PRODUCER
            {
                // Another service refused an event: kept beside the rules' own verdicts.
                store::record_refusal(tx, id, v, at, self.clock.now()).await?;
            }
            store::append(tx, &entry).await?;
            return Ok(());
        };
        let applied = match (&existing, body) {
            (Some(t), _) => apply(&t.loop_state, &step),
            // intake sends no `discovered` for a merged submission: it was discovered and
            // merged in one go.
            (None, Body::Merged(_)) => {
                LoopState::start(&Event::discovered()).and_then(|s| apply(&s, &step))
            }
            (None, _) => LoopState::start(&step),
        };
        let next = match applied {
            Ok(next) => next,
            Err(violation) => {
                entry.violation = true;
                entry.violation_reason = violation.to_string();
                return self.reject(tx, &entry, event).await;
            }
        };
        let mut ticket = existing.unwrap_or_else(|| Ticket::new(id));
        ticket.loop_state = next;
        ticket.last_event_at = Some(at);
        take_facts(&mut ticket, body, &reading);
        self.learn_grids(tx, body).await?;
        entry.to_state = state_pb(&ticket.loop_state.state) as i32;
        store::save_and_append(tx, &ticket, &entry).await?;
        if let Some(due) = timers::follow(tx, &ticket, body, at, &self.calendar).await? {
            self.wake.due(due);
        }
        if let Body::Merged(m) = body {
            self.parent_side(tx, &entry, m, at).await?;
        }
        tracing::debug!(%id, kind = %entry.kind, state = ticket.loop_state.state.name(), "applied");
        Ok(())
    }
}

impl Tracker {
    /// Remembers the grid a dispatch (or an unroutable ticket's fallback) names, with its
    /// level and name, for the scope of the tracker's reads.
    async fn learn_grids(&self, tx: &mut PgConnection, body: &Body) -> Result<(), Error> {
        let (code, level, name) = match body {
            Body::Dispatched(d) => (&d.grid_code, d.grid_level, d.grid_name.as_str()),
            Body::Unroutable(u) => (&u.fallback_grid_code, u.fallback_grid_level, ""),
            _ => return Ok(()),
        };
        let value = (level, name.to_owned());
        if self.grids.is_new(code, &value) {
            store::learn_grid(tx, code, level, name).await?;
            self.grids.wrote(code.clone(), value);
        }
        Ok(())
    }
    /// Records a rejected event and publishes it as a violation.
    async fn reject(
        &self,
        tx: &mut PgConnection,
        entry: &Entry,
        event: &Envelope,
    ) -> Result<(), Error> {
        tracing::warn!(ticket_id = %entry.ticket_id, kind = %entry.kind, reason = %entry.violation_reason, "event refused by the loop rules; recorded as a violation");
        store::append(tx, entry).await?;
        store::record_violation(tx, entry, self.clock.now()).await?;
        let violation = gridloop_platform::outbox::new_event(
            PRODUCER,
            &event.ticket_id.to_string(),
            Body::Violation(pb::TicketViolation {
                attempted: entry.kind.clone(),
                from_state: entry.from_state,
                reason: entry.violation_reason.clone(),
                rejected_event_id: event.event_id.to_string(),
                rejected_producer: entry.producer.clone(),
                detected_by: PRODUCER.to_string(),
            }),
        );
        enqueue(tx, &violation).await?;
        Ok(())
    }

    /// The parent's side of a merge: one more repeat complaint, and escalation at thresholds.
    async fn parent_side(
        &self,
        tx: &mut PgConnection,
        child: &Entry,
        m: &pb::TicketMerged,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let Ok(parent_id) = TicketId::parse(&m.parent_ticket_id) else {
            tracing::warn!(parent = %m.parent_ticket_id, "merge names a parent that is not a UUID");
            return Ok(());
        };
        let Some(mut parent) = store::lock(tx, parent_id).await? else {
            tracing::warn!(%parent_id, "merge into a ticket the tracker has not seen");
            return Ok(());
        };
        let state = state_pb(&parent.loop_state.state) as i32;
        let mut entry = Entry {
            ticket_id: parent_id,
            from_state: state,
            to_state: state,
            summary: format!(
                "重复诉求 (第{}次), 来自 {}",
                m.repeat_count, child.ticket_id
            ),
            ..child.clone()
        };
        match parent.loop_state.record_repeat() {
            Ok(next) => parent.loop_state = next,
            Err(_) => {
                // The parent ended before the repeat reached it: not a fault of either ticket.
                // Intake files the repeat as its own ticket (a split `discovered`), so it is
                // not counted here; the parent's timeline says where it went.
                entry.summary = format!(
                    "重复诉求到达时本单已结束, 不计入; 另行立单 {}",
                    child.ticket_id
                );
                store::append(tx, &entry).await?;
                return Ok(());
            }
        }
        store::append(tx, &entry).await?;
        escalate::repeats(
            tx,
            &mut parent,
            m.repeat_count,
            &self.settings.repeat_thresholds,
            at,
        )
        .await?;
        store::save(tx, &parent).await
    }
}

/// What an applied event tells about the ticket besides its state.
fn take_facts(t: &mut Ticket, body: &Body, reading: &Reading) {
    let category = |t: &mut Ticket, c: Option<&pb::Category>| {
        if let Some(c) = c.filter(|c| !c.code.is_empty()) {
            t.category_code = c.code.clone();
            t.category_name = c.name.clone();
        }
    };
    match body {
        Body::Discovered(d) => {
            category(t, d.category.as_ref());
            t.urgency = d.urgency;
            t.grid_code = reading.grid_code.clone();
            // A split repeat is no longer merged: it is read in its own grid from now on.
            t.parent_ticket_id = None;
        }
        Body::Merged(m) => {
            category(t, m.category.as_ref());
            t.urgency = m.urgency;
            t.parent_ticket_id = TicketId::parse(&m.parent_ticket_id).ok();
        }
        Body::Dispatched(d) => {
            category(t, d.category.as_ref());
            if d.sla_class != 0 {
                t.urgency = d.sla_class;
            }
            t.grid_code = d.grid_code.clone();
            t.grid_level = d.grid_level;
            t.worker_id = d.worker_id.clone();
        }
        Body::Returned(_) => t.worker_id.clear(),
        Body::Transferred(x) => {
            t.grid_code = x.to_grid_code.clone();
            t.worker_id.clear();
        }
        _ => {}
    }
}
