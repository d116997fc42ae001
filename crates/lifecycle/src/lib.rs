//! The rules of gridloop's closed loop, 发现 → 上报 → 处置 → 反馈 → 销号, and the working-time
//! arithmetic its deadlines need, and the typed ids and kinds every service shares ([`TicketId`],
//! [`WorkerId`], [`GridCode`] with its level, parent and subtree, [`Kind`]). Pure: no I/O, no
//! clock, no protos.
//!
//! Every service that changes a ticket keeps a [`LoopState`] for it and checks the change
//! with [`apply`] (or [`Rules::apply`] with configured rules) *before* committing, so a step
//! out of order is refused with a [`Violation`] that names the attempted event and the
//! current state (mapped to `FAILED_PRECONDITION`). The tracker replays the whole event
//! stream through the same function and is the authority: an event it rejects is recorded
//! and published as a violation, never applied. [`LoopState::start`] opens a ticket from its
//! first event (only `discovered` may be first) and [`LoopState::record_repeat`] is the
//! parent's side of a merge. [`LoopState`] is serde-serialisable, so a service can store it
//! next to the ticket.
//!
//! ```
//! use gridloop_lifecycle::{apply, CloseBasis, DisposalKind, Event, Feedback, LoopState, Rating};
//!
//! let events = [
//!     Event::discovered(),
//!     Event::Dispatched { grid: "g-7".into(), worker: "w-42".into() },
//!     Event::Accepted { worker: "w-42".into() },
//!     Event::Disposed { kind: DisposalKind::Resolved },
//!     Event::FeedbackRecorded { feedback: Feedback::Rated(Rating::Satisfied) },
//!     Event::Closed { basis: CloseBasis::Rating },
//! ];
//! let mut ticket = LoopState::start(&events[0]).unwrap();
//! for event in &events[1..] {
//!     ticket = apply(&ticket, event).unwrap();
//! }
//! assert_eq!(ticket.state.name(), "CLOSED");
//!
//! let err = apply(&LoopState::new(), &Event::Disposed { kind: DisposalKind::Resolved });
//! assert_eq!(err.unwrap_err().to_string(), "cannot dispose: ticket is DISCOVERED (not dispatched)");
//! ```
//!
//! Deadlines: an SLA rule is a [`SlaSpan`] and [`SlaSpan::deadline_from`] turns a start
//! instant into a deadline on a [`Calendar`] of working days (Monday–Friday, minus holidays,
//! plus make-up working days, Asia/Shanghai). [`Calendar::china_default`] ships the 2026
//! national arrangement; the reports service measures handling time with
//! [`Calendar::working_hours_between`].

pub mod calendar;
mod deadline;
mod event;
mod grid;
mod ids;
mod kind;
mod rules;
mod state;
mod violation;

pub use calendar::{Calendar, CalendarError, DayKind, Session, SpecialDay};
pub use deadline::SlaSpan;
pub use event::{Clock, Event, Feedback};
pub use grid::{GridCode, GridLevel};
pub use ids::{IdError, TicketId, WorkerId};
pub use kind::Kind;
pub use rules::{Rules, apply};
pub use state::{
    Assignment, CloseBasis, DisposalKind, ExemptionKind, FeedbackState, Holder, LoopState, Rating,
    State,
};
pub use violation::{UNKNOWN_STATE, Violation};
