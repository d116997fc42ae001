//! Events on the wire ⇄ the lifecycle's events and values, in one place: every service that checks a
//! step with the lifecycle rules reads a `TicketEvent` the same way, and `verify` replays the
//! stream with the same reading.

use gridloop_lifecycle::{CloseBasis, DisposalKind, Event, ExemptionKind, Feedback, Rating};
use gridloop_proto::v1::{self as pb, TicketEvent, ticket_event::Body};

/// The lifecycle step an event is, as the tracker reads it; `None` for the kinds that do not
/// move a ticket (overdue, escalated, violation).
pub fn lifecycle_event(event: &TicketEvent) -> Option<Event> {
    lifecycle_step(event.body.as_ref()?)
}

/// The lifecycle step of an event's body, as [`lifecycle_event`].
pub fn lifecycle_step(body: &Body) -> Option<Event> {
    Some(match body {
        Body::Discovered(d) => Event::Discovered {
            split_from: Some(d.split_from_ticket_id.clone()).filter(|p| !p.is_empty()),
        },
        Body::Merged(m) => Event::Merged {
            parent: m.parent_ticket_id.clone(),
        },
        Body::Dispatched(d) => Event::Dispatched {
            grid: d.grid_code.clone(),
            worker: d.worker_id.clone(),
        },
        Body::Accepted(a) => Event::Accepted {
            worker: a.worker_id.clone(),
        },
        Body::Returned(r) => Event::Returned {
            reason: r.reason_text.clone(),
        },
        Body::Transferred(t) => Event::Transferred {
            to_grid: t.to_grid_code.clone(),
        },
        Body::Unroutable(u) => Event::Unroutable {
            reason: u.reason.clone(),
        },
        Body::Disposed(d) => Event::Disposed {
            kind: match pb::DisposalType::try_from(d.disposal_type) {
                Ok(pb::DisposalType::Unresolvable) => DisposalKind::Unresolvable,
                _ => DisposalKind::Resolved,
            },
        },
        Body::FeedbackRecorded(f) => Event::FeedbackRecorded {
            feedback: match rating(f.rating) {
                Some(r) if f.reached || f.rating != 0 => Feedback::Rated(r),
                _ => Feedback::Unreached,
            },
        },
        Body::Closed(c) => Event::Closed {
            basis: match &c.basis {
                Some(pb::ticket_closed::Basis::Exemption(e)) => CloseBasis::Exemption {
                    kind: exemption_kind(e.kind),
                    reason: e.reason.clone(),
                },
                _ => CloseBasis::Rating,
            },
        },
        Body::Reopened(_) => Event::Reopened,
        Body::Overdue(_) | Body::Escalated(_) | Body::Violation(_) => return None,
    })
}

/// A lifecycle state as its proto enum.
pub fn state_pb(s: &gridloop_lifecycle::State) -> pb::LifecycleState {
    use gridloop_lifecycle::State;
    match s {
        State::Discovered => pb::LifecycleState::Discovered,
        State::Reported(_) => pb::LifecycleState::Reported,
        State::Disposed { .. } => pb::LifecycleState::Disposed,
        State::Feedback { .. } => pb::LifecycleState::Feedback,
        State::Closed { .. } => pb::LifecycleState::Closed,
        State::Merged { .. } => pb::LifecycleState::Merged,
    }
}

/// A rating on the wire; `None` for RATING_UNSPECIFIED (a callback that did not reach the
/// citizen).
pub fn rating(raw: i32) -> Option<Rating> {
    match pb::Rating::try_from(raw) {
        Ok(pb::Rating::Satisfied) => Some(Rating::Satisfied),
        Ok(pb::Rating::BasicallySatisfied) => Some(Rating::BasicallySatisfied),
        Ok(pb::Rating::Dissatisfied) => Some(Rating::Dissatisfied),
        _ => None,
    }
}

/// An exemption kind on the wire: UNRESOLVABLE_CONFIRMED, or (any other value) the citizen
/// unreachable.
pub fn exemption_kind(raw: i32) -> ExemptionKind {
    match pb::ExemptionKind::try_from(raw) {
        Ok(pb::ExemptionKind::UnresolvableConfirmed) => ExemptionKind::Unresolvable,
        _ => ExemptionKind::CitizenUnreachable,
    }
}

/// A rating as its proto enum.
pub fn rating_pb(r: Rating) -> pb::Rating {
    match r {
        Rating::Satisfied => pb::Rating::Satisfied,
        Rating::BasicallySatisfied => pb::Rating::BasicallySatisfied,
        Rating::Dissatisfied => pb::Rating::Dissatisfied,
    }
}
