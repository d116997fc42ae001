//! The fact row of one ticket and how each event changes it. Pure: the consumer loads the
//! row, applies the event, and moves the ticket's contribution in the aggregates from the old
//! row to the new one. Facts are flags and counters set by events of one kind each, so their
//! value does not depend on which order the events of different producers arrive in. The one
//! exception is a `discovered` that splits a merged repeat off its closed parent: it clears
//! `merged`, and always follows the ticket's `merged` (both intake's, in intake's order).

use chrono::{DateTime, NaiveDate, Utc};
use gridloop_lifecycle::Rating;
use gridloop_lifecycle::calendar::Calendar;
use gridloop_platform::convert::rating;
use gridloop_platform::inbox::Envelope;
use gridloop_proto::from_ts;
use gridloop_proto::v1::ticket_event::Body;

use crate::domain::shanghai_date;

/// Width of a handling-time histogram bucket, in working minutes (0.1 working hour).
pub const BUCKET_MINUTES: i32 = 6;

/// What reports knows of one ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fact {
    pub received_at: Option<DateTime<Utc>>,
    pub grid_code: String,
    pub worker_id: String,
    pub category_code: String,
    pub channel: i32,
    pub dispatched: bool,
    pub accepted_on_time: bool,
    pub merged: bool,
    pub disposed: bool,
    pub reworked: bool,
    pub overdue: bool,
    pub closed: bool,
    pub closed_on_time: bool,
    pub closed_by_exemption: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub satisfied: i32,
    pub basically_satisfied: i32,
    pub dissatisfied: i32,
    pub handling_minutes: Option<i32>,
}

/// Where a ticket's counts go.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub day: NaiveDate,
    pub grid_code: String,
    pub category_code: String,
    pub channel: i32,
    pub worker_id: String,
}

/// The counters of one aggregate row (or of one ticket's contribution to it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub received: i64,
    pub dispatched: i64,
    pub merged: i64,
    pub closed: i64,
    pub open_overdue: i64,
    pub accepted_on_time: i64,
    pub closed_on_time: i64,
    pub disposed: i64,
    pub reworked: i64,
    pub satisfied: i64,
    pub basically_satisfied: i64,
    pub dissatisfied: i64,
    pub closed_by_exemption: i64,
    pub handling_minutes: i64,
}

impl Counts {
    /// `self + sign * other`, field by field.
    pub fn add(&mut self, o: &Counts, sign: i64) {
        self.received += sign * o.received;
        self.dispatched += sign * o.dispatched;
        self.merged += sign * o.merged;
        self.closed += sign * o.closed;
        self.open_overdue += sign * o.open_overdue;
        self.accepted_on_time += sign * o.accepted_on_time;
        self.closed_on_time += sign * o.closed_on_time;
        self.disposed += sign * o.disposed;
        self.reworked += sign * o.reworked;
        self.satisfied += sign * o.satisfied;
        self.basically_satisfied += sign * o.basically_satisfied;
        self.dissatisfied += sign * o.dissatisfied;
        self.closed_by_exemption += sign * o.closed_by_exemption;
        self.handling_minutes += sign * o.handling_minutes;
    }
}

/// A ticket's contribution: its row key, its counts and its histogram bucket when closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    pub key: Key,
    pub counts: Counts,
    pub bucket: Option<i32>,
}

impl Fact {
    /// What the ticket adds to the aggregates; none before its receipt is known.
    pub fn contribution(&self) -> Option<Contribution> {
        let received_at = self.received_at?;
        let b = |x: bool| i64::from(x);
        let open = !self.closed && !self.merged;
        let counted_closed = self.closed && !self.merged;
        let handling = if counted_closed {
            self.handling_minutes
        } else {
            None
        };
        Some(Contribution {
            key: Key {
                day: shanghai_date(received_at),
                grid_code: self.grid_code.clone(),
                category_code: self.category_code.clone(),
                channel: self.channel,
                worker_id: self.worker_id.clone(),
            },
            counts: Counts {
                received: 1,
                dispatched: b(self.dispatched),
                merged: b(self.merged),
                closed: b(counted_closed),
                open_overdue: b(open && self.overdue),
                accepted_on_time: b(self.dispatched && self.accepted_on_time),
                closed_on_time: b(counted_closed && self.closed_on_time),
                disposed: b(self.disposed),
                reworked: b(self.reworked),
                satisfied: i64::from(self.satisfied),
                basically_satisfied: i64::from(self.basically_satisfied),
                dissatisfied: i64::from(self.dissatisfied),
                closed_by_exemption: b(counted_closed && self.closed_by_exemption),
                handling_minutes: i64::from(handling.unwrap_or(0)),
            },
            bucket: handling.map(|m| m / BUCKET_MINUTES),
        })
    }

    /// Applies one event. `parent_grid` is the grid of a merged submission's parent ticket.
    pub fn apply(&mut self, event: &Envelope, parent_grid: Option<&str>, cal: &Calendar) {
        let at = event.occurred_at;
        match &event.body {
            Body::Discovered(d) => {
                self.received_at = d.received_at.as_ref().and_then(from_ts).or(at);
                if let Some(c) = &d.category {
                    self.category_code = c.code.clone();
                }
                self.channel = d.channel;
                // A repeat split off a parent closed before the merge landed is a received
                // ticket of its own from now on: no longer counted as a merged repeat, nor
                // at its parent's grid.
                let split = !d.split_from_ticket_id.is_empty() && self.merged;
                if split {
                    self.merged = false;
                    self.worker_id.clear();
                }
                if (split || self.grid_code.is_empty())
                    && !self.dispatched
                    && let Some(l) = &d.location
                {
                    self.grid_code = l.grid_code.clone();
                }
            }
            Body::Merged(m) => {
                self.merged = true;
                self.received_at = m.received_at.as_ref().and_then(from_ts).or(at);
                if let Some(c) = &m.category {
                    self.category_code = c.code.clone();
                }
                self.channel = m.channel;
                // A repeat counts where its parent stands at the merge, else where it says.
                self.grid_code = match parent_grid {
                    Some(g) if !g.is_empty() => g.to_string(),
                    _ => m
                        .location
                        .as_ref()
                        .map(|l| l.grid_code.clone())
                        .unwrap_or_default(),
                };
                self.worker_id.clear();
            }
            Body::Dispatched(d) if !self.closed => {
                self.dispatched = true;
                self.grid_code = d.grid_code.clone();
                self.worker_id = d.worker_id.clone();
                if self.category_code.is_empty()
                    && let Some(c) = &d.category
                {
                    self.category_code = c.code.clone();
                }
                if self.channel == 0 {
                    self.channel = d.channel;
                }
            }
            Body::Accepted(a) if a.attempt == 1 && a.on_time => {
                self.accepted_on_time = true;
            }
            Body::Transferred(t) if !self.closed => {
                // Nobody holds it at the new grid until its dispatch there.
                self.grid_code = t.to_grid_code.clone();
                self.worker_id.clear();
            }
            Body::Unroutable(u) if !self.closed => {
                self.grid_code = u.fallback_grid_code.clone();
                self.worker_id.clear();
            }
            Body::Disposed(_) => self.disposed = true,
            Body::FeedbackRecorded(f) => match rating(f.rating) {
                Some(Rating::Satisfied) => self.satisfied += 1,
                Some(Rating::BasicallySatisfied) => self.basically_satisfied += 1,
                Some(Rating::Dissatisfied) => self.dissatisfied += 1,
                None => {}
            },
            Body::Reopened(_) => self.reworked = true,
            Body::Overdue(_) => self.overdue = true,
            Body::Closed(c) => {
                self.closed = true;
                self.closed_on_time = c.on_time;
                self.closed_by_exemption = matches!(
                    c.basis,
                    Some(gridloop_proto::v1::ticket_closed::Basis::Exemption(_))
                );
                self.closed_at = at;
                if !c.grid_code.is_empty() {
                    self.grid_code = c.grid_code.clone();
                }
                if !c.worker_id.is_empty() {
                    self.worker_id = c.worker_id.clone();
                }
            }
            _ => {}
        }
        self.handling_minutes = match (self.received_at, self.closed_at) {
            (Some(r), Some(c)) => Some(handling_minutes(cal, r, c)),
            _ => None,
        };
    }
}

/// Whole working minutes between receipt and closing (never negative).
pub fn handling_minutes(cal: &Calendar, received: DateTime<Utc>, closed: DateTime<Utc>) -> i32 {
    let hours = cal.working_hours_between(received, closed).max(0.0);
    (hours * 60.0 + 1e-9).floor() as i32
}

#[cfg(test)]
mod tests {
    use gridloop_proto::v1::{Location, TicketDiscovered, TicketMerged};

    use super::*;

    fn event(body: Body) -> Envelope {
        Envelope {
            event_id: uuid::Uuid::now_v7(),
            ticket_id: uuid::Uuid::now_v7().into(),
            producer: "intake".into(),
            occurred_at: Some(gridloop_platform::clock::now()),
            trace_context: Default::default(),
            body,
        }
    }

    fn at(grid: &str) -> Option<Location> {
        Some(Location {
            grid_code: grid.into(),
            ..Default::default()
        })
    }

    /// A repeat merged into a parent closed first, then split off: one received ticket of its
    /// own, at its own grid, no longer a merged repeat.
    #[test]
    fn a_split_repeat_counts_as_a_received_ticket_of_its_own() {
        let cal = Calendar::china_default();
        let mut fact = Fact::default();
        fact.apply(
            &event(Body::Merged(TicketMerged {
                parent_ticket_id: "p".into(),
                location: at("g-own"),
                ..Default::default()
            })),
            Some("g-parent"),
            &cal,
        );
        let merged = fact.contribution().unwrap();
        assert_eq!(
            (merged.counts.merged, merged.key.grid_code.as_str()),
            (1, "g-parent")
        );
        fact.apply(
            &event(Body::Discovered(TicketDiscovered {
                split_from_ticket_id: "p".into(),
                location: at("g-own"),
                ..Default::default()
            })),
            None,
            &cal,
        );
        let own = fact.contribution().unwrap();
        assert_eq!((own.counts.received, own.counts.merged), (1, 0));
        assert_eq!(own.key.grid_code, "g-own");
    }
}
