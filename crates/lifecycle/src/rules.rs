//! The transition function: which event is legal from which state, and what it leads to.
//!
//! Modelling choices, in one place:
//! - A return (退单) or transfer (转办) keeps the ticket `REPORTED` but unassigned
//!   ([`Assignment::Unassigned`]) rather than sending it back to `DISCOVERED`: it has been
//!   reported, may not be merged any more, and its disposal deadline keeps running. Routing
//!   then dispatches it again.
//! - A dispatch that nobody has accepted yet may be replaced by another dispatch (AB岗: post
//!   B takes over while A has not signed). Once accepted, the holder must return or transfer
//!   it first.
//! - A reopen (返工) goes back to `REPORTED`, dispatched to the same grid and worker but *not
//!   accepted*: the rework is a new task that the worker signs for again, which gives the
//!   tracker a response clock for it and lets routing hand it to post B before signing.
//! - A repeat complaint merged into a ticket that turns out to be closed already is split off:
//!   `MERGED { parent }` → `DISCOVERED` on a `discovered` event whose `split_from` names that
//!   same parent — the one way out of a terminal state. Intake merges on its own view, which
//!   may lag closure's `closed`; when the stream shows the parent's `closed` before the
//!   child's `merged`, intake publishes that `discovered` and the child is dispatched as a
//!   ticket of its own, so nothing the citizen said is lost. The rule looks at the child's
//!   own state only (the parent must match the one it was merged into), so every consumer
//!   replaying the stream agrees without knowing any other ticket. The child keeps its
//!   counters (a merged ticket has none to speak of); the closed parent never counted it.

use serde::{Deserialize, Serialize};

use crate::event::{Event, Feedback};
use crate::state::{
    Assignment, CloseBasis, DisposalKind, ExemptionKind, FeedbackState, Holder, LoopState, Rating,
    State,
};
use crate::violation::{UNKNOWN_STATE, Violation};

/// The configurable part of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rules {
    /// Unreached callback attempts in one feedback round after which a supervisor may write
    /// the ticket off as `CITIZEN_UNREACHABLE`.
    pub callbacks_before_exemption: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            callbacks_before_exemption: 3,
        }
    }
}

/// Applies `event` to `current` under the default [`Rules`].
pub fn apply(current: &LoopState, event: &Event) -> Result<LoopState, Violation> {
    Rules::default().apply(current, event)
}

impl Rules {
    /// The state after `event`, or why `event` is not allowed now. `current` is never changed,
    /// so a caller can check a transition before committing anything.
    pub fn apply(&self, current: &LoopState, event: &Event) -> Result<LoopState, Violation> {
        if let (
            State::Merged { parent },
            Event::Discovered {
                split_from: Some(from),
            },
        ) = (&current.state, event)
        {
            // A repeat split off a parent that was closed first (see the opening comment).
            if parent != from {
                return Err(Violation::new(
                    event,
                    &current.state,
                    format!("merged into {parent}, not {from}"),
                ));
            }
            return Ok(LoopState {
                state: State::Discovered,
                ..current.clone()
            });
        }
        if current.state.is_terminal() {
            return Err(Violation::new(event, &current.state, "terminal"));
        }
        let mut next = current.clone();
        match self.transition(&current.state, event, &mut next) {
            Ok(state) => {
                next.state = state;
                Ok(next)
            }
            Err(detail) => Err(Violation::new(event, &current.state, detail)),
        }
    }

    /// The state `event` leads to from the non-terminal `state`, bumping the counters in
    /// `counters`; or what forbids it (then `counters` is thrown away).
    fn transition(
        &self,
        state: &State,
        event: &Event,
        counters: &mut LoopState,
    ) -> Result<State, String> {
        use Assignment as A;
        use State as S;
        let bump = |n: &mut u32| *n = n.saturating_add(1);
        let next = match (state, event) {
            (S::Discovered, Event::Merged { parent }) => S::Merged {
                parent: parent.clone(),
            },

            (
                S::Discovered
                | S::Reported(
                    A::Unassigned { .. }
                    | A::Dispatched {
                        accepted: false, ..
                    },
                ),
                Event::Dispatched { grid, worker },
            ) => S::Reported(A::Dispatched {
                holder: Holder {
                    grid: grid.clone(),
                    worker: worker.clone(),
                },
                accepted: false,
            }),
            (
                S::Reported(A::Dispatched {
                    holder,
                    accepted: true,
                }),
                Event::Dispatched { .. },
            ) => {
                return Err(format!(
                    "accepted by {}; return or transfer it first",
                    holder.worker
                ));
            }

            (
                S::Reported(A::Dispatched {
                    holder,
                    accepted: false,
                }),
                Event::Accepted { worker },
            ) => {
                if holder.worker != *worker {
                    return Err(format!("dispatched to {}, not {worker}", holder.worker));
                }
                S::Reported(A::Dispatched {
                    holder: holder.clone(),
                    accepted: true,
                })
            }

            (S::Reported(A::Dispatched { .. }), Event::Returned { .. }) => {
                bump(&mut counters.return_count);
                S::Reported(A::Unassigned { grid: None })
            }

            (S::Reported(_), Event::Transferred { to_grid }) => {
                bump(&mut counters.transfer_count);
                S::Reported(A::Unassigned {
                    grid: Some(to_grid.clone()),
                })
            }

            (S::Discovered | S::Reported(_), Event::Unroutable { .. }) => state.clone(),

            (
                S::Reported(A::Dispatched {
                    holder,
                    accepted: true,
                }),
                Event::Disposed { kind },
            ) => S::Disposed {
                holder: holder.clone(),
                disposal: *kind,
            },

            (S::Disposed { holder, disposal }, Event::FeedbackRecorded { feedback })
            | (
                S::Feedback {
                    holder,
                    disposal,
                    outcome: FeedbackState::Unreached { .. },
                },
                Event::FeedbackRecorded { feedback },
            ) => {
                let attempts_so_far = match state {
                    S::Feedback {
                        outcome: FeedbackState::Unreached { attempts },
                        ..
                    } => *attempts,
                    _ => 0,
                };
                let outcome = match feedback {
                    Feedback::Rated(rating) => FeedbackState::Rated(*rating),
                    Feedback::Unreached => {
                        bump(&mut counters.unreached_callbacks);
                        FeedbackState::Unreached {
                            attempts: attempts_so_far.saturating_add(1),
                        }
                    }
                };
                S::Feedback {
                    holder: holder.clone(),
                    disposal: *disposal,
                    outcome,
                }
            }

            (
                S::Feedback {
                    disposal, outcome, ..
                },
                Event::Closed { basis },
            ) => S::Closed {
                rating: self.closing(*disposal, *outcome, basis)?,
                basis: basis.clone(),
            },

            (
                S::Feedback {
                    holder,
                    outcome: FeedbackState::Rated(Rating::Dissatisfied),
                    ..
                },
                Event::Reopened,
            ) => {
                bump(&mut counters.rework_count);
                S::Reported(A::Dispatched {
                    holder: holder.clone(),
                    accepted: false,
                })
            }

            (_, Event::Overdue { .. }) => {
                bump(&mut counters.overdue_count);
                state.clone()
            }
            (_, Event::Escalated { .. }) => {
                bump(&mut counters.escalation_count);
                state.clone()
            }
            (_, Event::Violation { .. }) => state.clone(),

            (_, event) => return Err(refusal(state, event)),
        };
        Ok(next)
    }

    /// Whether a write-off on `basis` is allowed; the rating to keep on the closed ticket.
    fn closing(
        &self,
        disposal: DisposalKind,
        outcome: FeedbackState,
        basis: &CloseBasis,
    ) -> Result<Option<Rating>, String> {
        let rating = match outcome {
            FeedbackState::Rated(rating) => Some(rating),
            FeedbackState::Unreached { .. } => None,
        };
        match basis {
            CloseBasis::Rating => match outcome {
                FeedbackState::Rated(r) if r.closes() => Ok(rating),
                FeedbackState::Rated(r) => Err(format!(
                    "rated {}; reopen for rework or close with an exemption",
                    r.name()
                )),
                FeedbackState::Unreached { attempts } => Err(format!(
                    "no rating recorded, {attempts} unreached callback(s)"
                )),
            },
            CloseBasis::Exemption { reason, .. } if reason.trim().is_empty() => {
                Err("an exemption needs a reason".into())
            }
            CloseBasis::Exemption {
                kind: ExemptionKind::CitizenUnreachable,
                ..
            } => match outcome {
                FeedbackState::Unreached { attempts }
                    if attempts >= self.callbacks_before_exemption =>
                {
                    Ok(None)
                }
                FeedbackState::Unreached { attempts } => Err(format!(
                    "{attempts} of {} unreached callbacks needed for the exemption",
                    self.callbacks_before_exemption
                )),
                FeedbackState::Rated(r) => {
                    Err(format!("citizen was reached and rated {}", r.name()))
                }
            },
            CloseBasis::Exemption {
                kind: ExemptionKind::Unresolvable,
                ..
            } => match disposal {
                DisposalKind::Unresolvable => Ok(rating),
                other => Err(format!("disposal was {}", other.name())),
            },
        }
    }
}

/// Why `event` is refused from a non-terminal `state` that no rule above accepts it from.
fn refusal(state: &State, event: &Event) -> String {
    use Assignment as A;
    match (state, event) {
        (_, Event::Discovered { .. }) => return "already discovered".into(),
        (_, Event::Merged { .. }) => return "only a DISCOVERED ticket can be merged".into(),
        _ => {}
    }
    match state {
        State::Discovered => "not dispatched",
        State::Reported(A::Unassigned { .. }) => "waiting for dispatch",
        State::Reported(A::Dispatched {
            accepted: false, ..
        }) => "not accepted",
        State::Reported(A::Dispatched { accepted: true, .. }) => match event {
            Event::Accepted { .. } => "already accepted",
            _ => "accepted, not disposed",
        },
        State::Disposed { .. } => match event {
            Event::Closed { .. } | Event::Reopened => "no feedback recorded",
            _ => "already disposed",
        },
        State::Feedback { outcome, .. } => match (outcome, event) {
            (FeedbackState::Rated(r), Event::FeedbackRecorded { .. }) => {
                return format!("already rated {}", r.name());
            }
            (FeedbackState::Rated(r), Event::Reopened) => {
                return format!("rated {}; only DISSATISFIED reopens", r.name());
            }
            (FeedbackState::Unreached { .. }, Event::Reopened) => {
                "no rating recorded; only DISSATISFIED reopens"
            }
            _ => "in feedback after disposal",
        },
        State::Closed { .. } | State::Merged { .. } => "terminal",
    }
    .to_string()
}

impl LoopState {
    /// Starts a ticket's loop from its first event, which must be `discovered` (not one that
    /// splits a merged repeat off: that one follows the ticket's `merged`). The tracker uses
    /// this for an id it has not seen, so an event for an unknown ticket is a violation.
    pub fn start(event: &Event) -> Result<LoopState, Violation> {
        match event {
            Event::Discovered { split_from: None } => Ok(LoopState::new()),
            Event::Discovered {
                split_from: Some(parent),
            } => Err(Violation::raw(
                event.kind(),
                event.verb(),
                UNKNOWN_STATE,
                format!("split from {parent}, but never merged"),
            )),
            other => Err(Violation::raw(
                other.kind(),
                other.verb(),
                UNKNOWN_STATE,
                "no discovered event yet",
            )),
        }
    }

    /// Counts a repeat complaint merged into this ticket: the parent's side of a `merged`
    /// event. A repeat can only join an open ticket.
    pub fn record_repeat(&self) -> Result<LoopState, Violation> {
        if self.state.is_terminal() {
            return Err(Violation::raw(
                "merged",
                "take a repeat complaint",
                self.state.name(),
                "terminal",
            ));
        }
        let mut next = self.clone();
        next.repeat_count = next.repeat_count.saturating_add(1);
        Ok(next)
    }
}

#[cfg(test)]
mod split_tests;
#[cfg(test)]
mod tests;
