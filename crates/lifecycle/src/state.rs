//! Where a ticket stands in the loop, with exactly the data each step has.

use serde::{Deserialize, Serialize};

/// The citizen's rating of a disposal (好差评).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rating {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意: the disposal is reworked unless a supervisor exempts it.
    Dissatisfied,
}

impl Rating {
    pub fn name(self) -> &'static str {
        match self {
            Rating::Satisfied => "SATISFIED",
            Rating::BasicallySatisfied => "BASICALLY_SATISFIED",
            Rating::Dissatisfied => "DISSATISFIED",
        }
    }

    /// Whether this rating lets the ticket be written off without an exemption.
    pub fn closes(self) -> bool {
        matches!(self, Rating::Satisfied | Rating::BasicallySatisfied)
    }
}

/// What the worker reported when disposing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DisposalKind {
    /// The matter was dealt with.
    Resolved,
    /// The matter cannot be solved (outside policy, law or means); the citizen is told why.
    /// Only such a disposal can be written off by a supervisor against a dissatisfied rating.
    Unresolvable,
}

impl DisposalKind {
    pub fn name(self) -> &'static str {
        match self {
            DisposalKind::Resolved => "RESOLVED",
            DisposalKind::Unresolvable => "UNRESOLVABLE",
        }
    }
}

/// Why a supervisor may write a ticket off without a satisfied rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExemptionKind {
    /// The citizen could not be reached after the configured number of callback attempts.
    CitizenUnreachable,
    /// The disposal was `UNRESOLVABLE` and a supervisor confirmed it.
    Unresolvable,
}

impl ExemptionKind {
    pub fn name(self) -> &'static str {
        match self {
            ExemptionKind::CitizenUnreachable => "CITIZEN_UNREACHABLE",
            ExemptionKind::Unresolvable => "UNRESOLVABLE",
        }
    }
}

/// On what ground a ticket is written off (销号).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseBasis {
    /// The recorded rating is satisfied or basically satisfied.
    Rating,
    /// An audited exemption; `reason` must not be blank.
    Exemption { kind: ExemptionKind, reason: String },
}

/// A grid and the worker in it who holds the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Holder {
    pub grid: String,
    pub worker: String,
}

/// Who holds a `REPORTED` ticket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Back with routing, waiting for a (re-)dispatch after a return (`grid: None`) or a
    /// transfer (`grid`: where it was transferred to).
    Unassigned { grid: Option<String> },
    /// A worker has the task; `accepted` once they signed for it (签收).
    Dispatched { holder: Holder, accepted: bool },
}

/// How the feedback stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackState {
    /// The citizen was reached and rated the disposal; a rating is final for this round.
    Rated(Rating),
    /// Callback attempts in this round, none of which reached the citizen.
    Unreached { attempts: u32 },
}

/// A step of the loop 发现 → 上报 → 处置 → 反馈 → 销号, with the data that step has.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// 发现: the ticket exists and waits for its first dispatch.
    Discovered,
    /// 上报: routing has it; dispatched to a worker or waiting for re-dispatch.
    Reported(Assignment),
    /// 处置: the holder reported a disposal with evidence.
    Disposed {
        holder: Holder,
        disposal: DisposalKind,
    },
    /// 反馈: the callback outcome of the current disposal.
    Feedback {
        holder: Holder,
        disposal: DisposalKind,
        outcome: FeedbackState,
    },
    /// 销号: written off in the ledger. Terminal. `rating` is the last one recorded, if any.
    Closed {
        basis: CloseBasis,
        rating: Option<Rating>,
    },
    /// Folded into another open ticket as a repeat complaint. Terminal.
    Merged { parent: String },
}

impl State {
    /// The state's name as it appears in protos, logs and violations.
    pub fn name(&self) -> &'static str {
        match self {
            State::Discovered => "DISCOVERED",
            State::Reported(_) => "REPORTED",
            State::Disposed { .. } => "DISPOSED",
            State::Feedback { .. } => "FEEDBACK",
            State::Closed { .. } => "CLOSED",
            State::Merged { .. } => "MERGED",
        }
    }

    /// Nothing leaves `CLOSED` or `MERGED`; every clock stops there.
    pub fn is_terminal(&self) -> bool {
        matches!(self, State::Closed { .. } | State::Merged { .. })
    }

    /// The grid and worker currently responsible, if any.
    pub fn holder(&self) -> Option<&Holder> {
        match self {
            State::Reported(Assignment::Dispatched { holder, .. })
            | State::Disposed { holder, .. }
            | State::Feedback { holder, .. } => Some(holder),
            _ => None,
        }
    }
}

/// A ticket's position in the loop plus the counters that outlive single states.
///
/// Services keep one per ticket and move it only through [`crate::apply`], so the counters
/// can never disagree with the events that produced them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoopState {
    pub state: State,
    /// Reopens after a dissatisfied rating (返工).
    pub rework_count: u32,
    /// Returns by a worker (退单).
    pub return_count: u32,
    /// Transfers to another grid or department (转办).
    pub transfer_count: u32,
    /// Callback attempts that did not reach the citizen, over all feedback rounds.
    pub unreached_callbacks: u32,
    /// Repeat complaints merged into this ticket while it was open.
    pub repeat_count: u32,
    /// `overdue` events received (督办).
    pub overdue_count: u32,
    /// `escalated` events received (层级上报).
    pub escalation_count: u32,
}

impl LoopState {
    /// A freshly discovered ticket: what a `discovered` event creates.
    pub fn new() -> Self {
        LoopState {
            state: State::Discovered,
            rework_count: 0,
            return_count: 0,
            transfer_count: 0,
            unreached_callbacks: 0,
            repeat_count: 0,
            overdue_count: 0,
            escalation_count: 0,
        }
    }
}

impl Default for LoopState {
    fn default() -> Self {
        Self::new()
    }
}
