//! The one way a transition fails.

use crate::event::Event;
use crate::state::State;

/// An event that the loop does not allow from the ticket's current state.
///
/// It names the attempted event and the state it was attempted from, so the tracker can
/// record it verbatim and services can answer `FAILED_PRECONDITION` naming the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action}: ticket is {state} ({detail})")]
pub struct Violation {
    /// The attempted event's kind, as in [`Event::kind`].
    pub event: &'static str,
    /// The state it was attempted from, as in [`State::name`]; `UNKNOWN` before discovery.
    pub state: &'static str,
    /// What about that state forbids it.
    pub detail: String,
    action: &'static str,
}

/// The state name used for a ticket whose `discovered` event has not been seen.
pub const UNKNOWN_STATE: &str = "UNKNOWN";

impl Violation {
    pub(crate) fn new(event: &Event, state: &State, detail: impl Into<String>) -> Self {
        Self::raw(event.kind(), event.verb(), state.name(), detail)
    }

    pub(crate) fn raw(
        event: &'static str,
        action: &'static str,
        state: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Violation {
            event,
            state,
            detail: detail.into(),
            action,
        }
    }
}
