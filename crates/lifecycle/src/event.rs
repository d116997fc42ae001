//! What can happen to a ticket: one variant per `tickets.<kind>` subject in DESIGN.md.

use serde::{Deserialize, Serialize};

use crate::state::{CloseBasis, DisposalKind, Rating};

/// The outcome of one callback (回访) to the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    /// The citizen was reached and rated the disposal.
    Rated(Rating),
    /// One callback attempt that did not reach the citizen.
    Unreached,
}

/// Which SLA clock ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Clock {
    /// 签收 within N working hours of dispatch.
    Respond,
    /// 处置 within N working days.
    Dispose,
    /// 回访 within N working days of disposal.
    Feedback,
}

/// An event about one ticket. Ids are the wire strings; the loop compares them, nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Intake created the ticket. `split_from` is set when a repeat complaint that was merged
    /// into a ticket already closed becomes a ticket of its own (see [`crate::rules`]); it
    /// names that closed parent.
    Discovered { split_from: Option<String> },
    /// Intake folded the ticket into an open ticket as a repeat complaint.
    Merged { parent: String },
    /// Routing assigned the ticket to a grid and worker (派单).
    Dispatched { grid: String, worker: String },
    /// The assigned worker signed for the task (签收).
    Accepted { worker: String },
    /// The worker sent it back to routing (退单).
    Returned { reason: String },
    /// Moved to another grid or department, to be dispatched there (转办).
    Transferred { to_grid: String },
    /// Routing found no one to dispatch to. Informational.
    Unroutable { reason: String },
    /// The holder reported what was done (处置).
    Disposed { kind: DisposalKind },
    /// A callback's outcome (回访 / 反馈).
    FeedbackRecorded { feedback: Feedback },
    /// Written off in the ledger (销号).
    Closed { basis: CloseBasis },
    /// A dissatisfied rating sends the disposal back for rework (返工).
    Reopened,
    /// An SLA clock ran out (督办). Informational.
    Overdue { clock: Clock },
    /// Supervision moved up the grid tree (层级上报). Informational.
    Escalated { grid: String },
    /// The tracker rejected an event for this ticket. Informational.
    Violation { reason: String },
}

impl Event {
    /// A plain `discovered`: a new ticket, not split off a merge.
    pub fn discovered() -> Event {
        Event::Discovered { split_from: None }
    }

    /// The subject suffix: the event is published on `tickets.<kind>`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Discovered { .. } => "discovered",
            Event::Merged { .. } => "merged",
            Event::Dispatched { .. } => "dispatched",
            Event::Accepted { .. } => "accepted",
            Event::Returned { .. } => "returned",
            Event::Transferred { .. } => "transferred",
            Event::Unroutable { .. } => "unroutable",
            Event::Disposed { .. } => "disposed",
            Event::FeedbackRecorded { .. } => "feedback_recorded",
            Event::Closed { .. } => "closed",
            Event::Reopened => "reopened",
            Event::Overdue { .. } => "overdue",
            Event::Escalated { .. } => "escalated",
            Event::Violation { .. } => "violation",
        }
    }

    /// Every kind, in loop order; for tables and exhaustive tests.
    pub const KINDS: [&'static str; 14] = [
        "discovered",
        "merged",
        "dispatched",
        "accepted",
        "returned",
        "transferred",
        "unroutable",
        "disposed",
        "feedback_recorded",
        "closed",
        "reopened",
        "overdue",
        "escalated",
        "violation",
    ];

    /// The verb a violation message uses ("cannot dispose: ...").
    pub(crate) fn verb(&self) -> &'static str {
        match self {
            Event::Discovered { .. } => "discover",
            Event::Merged { .. } => "merge",
            Event::Dispatched { .. } => "dispatch",
            Event::Accepted { .. } => "accept",
            Event::Returned { .. } => "return",
            Event::Transferred { .. } => "transfer",
            Event::Unroutable { .. } => "mark unroutable",
            Event::Disposed { .. } => "dispose",
            Event::FeedbackRecorded { .. } => "record feedback",
            Event::Closed { .. } => "close",
            Event::Reopened => "reopen",
            Event::Overdue { .. } => "mark overdue",
            Event::Escalated { .. } => "escalate",
            Event::Violation { .. } => "record a violation",
        }
    }
}
