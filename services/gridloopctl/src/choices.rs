//! The fixed choices of the command line (urgencies, ratings, states, ...) and the proto
//! enum value each stands for.

use clap::ValueEnum;
use gridloop_proto::v1 as pb;

pub(crate) fn parse_post(s: &str) -> Result<(String, PostArg), String> {
    let (grid, post) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("`{s}`: expected GRID:A or GRID:B"))?;
    let post = match post {
        "A" | "a" => PostArg::A,
        "B" | "b" => PostArg::B,
        other => return Err(format!("`{other}`: the post is A or B")),
    };
    if grid.is_empty() {
        return Err(format!("`{s}`: the grid code is missing"));
    }
    Ok((grid.to_string(), post))
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum UrgencyArg {
    General,
    Urgent,
    Complex,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AppChannel {
    App,
    Mailbox,
    Web,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ChannelArg {
    Hotline,
    Onekey,
    App,
    Mailbox,
    Web,
    Patrol,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FlagArg {
    ElderlyAlone,
    Disabled,
    LowIncome,
    LeftBehindChildren,
    SpecialCare,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LevelArg {
    County,
    Town,
    Village,
    Group,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GridFormat {
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum WorkerRoleArg {
    Chief,
    Worker,
    Assistant,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PostArg {
    A,
    B,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TaskStateArg {
    Pending,
    Accepted,
    Disposed,
    Returned,
    Transferred,
    Closed,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TaskKindArg {
    Handle,
    Supervise,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReturnReasonArg {
    NotMyGrid,
    NotMyRemit,
    Duplicate,
    Other,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DisposalArg {
    Resolved,
    Explained,
    Unresolvable,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RatingArg {
    Satisfied,
    Basic,
    Dissatisfied,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExemptionArg {
    Unreachable,
    Unresolvable,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DeadlineArg {
    Respond,
    Dispose,
    Feedback,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ByArg {
    None,
    Town,
    Village,
    Group,
    /// The grid root's direct children.
    Grid,
    Worker,
    Category,
    Channel,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PeriodArg {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RoleArg {
    Operator,
    Worker,
    Supervisor,
    Leader,
    Admin,
    Service,
    Citizen,
}

impl UrgencyArg {
    pub fn proto(self) -> pb::Urgency {
        match self {
            Self::General => pb::Urgency::General,
            Self::Urgent => pb::Urgency::Urgent,
            Self::Complex => pb::Urgency::Complex,
        }
    }
}

impl AppChannel {
    pub fn proto(self) -> pb::Channel {
        match self {
            Self::App => pb::Channel::App,
            Self::Mailbox => pb::Channel::Mailbox,
            Self::Web => pb::Channel::Web,
        }
    }
}

impl ChannelArg {
    pub fn proto(self) -> pb::Channel {
        match self {
            Self::Hotline => pb::Channel::Hotline12345,
            Self::Onekey => pb::Channel::OneKeyCall,
            Self::App => pb::Channel::App,
            Self::Mailbox => pb::Channel::Mailbox,
            Self::Web => pb::Channel::Web,
            Self::Patrol => pb::Channel::Patrol,
        }
    }
}

impl FlagArg {
    pub fn proto(self) -> pb::HouseholdFlag {
        match self {
            Self::ElderlyAlone => pb::HouseholdFlag::ElderlyLivingAlone,
            Self::Disabled => pb::HouseholdFlag::Disabled,
            Self::LowIncome => pb::HouseholdFlag::LowIncome,
            Self::LeftBehindChildren => pb::HouseholdFlag::LeftBehindChildren,
            Self::SpecialCare => pb::HouseholdFlag::SpecialCare,
        }
    }
}

impl LevelArg {
    pub fn proto(self) -> pb::GridLevel {
        match self {
            Self::County => pb::GridLevel::County,
            Self::Town => pb::GridLevel::Town,
            Self::Village => pb::GridLevel::Village,
            Self::Group => pb::GridLevel::Group,
        }
    }
}

impl WorkerRoleArg {
    pub fn proto(self) -> pb::WorkerRole {
        match self {
            Self::Chief => pb::WorkerRole::GridChief,
            Self::Worker => pb::WorkerRole::GridWorker,
            Self::Assistant => pb::WorkerRole::GridAssistant,
        }
    }
}

impl PostArg {
    pub fn proto(self) -> pb::Post {
        match self {
            Self::A => pb::Post::A,
            Self::B => pb::Post::B,
        }
    }
}

impl TaskStateArg {
    pub fn proto(self) -> pb::TaskState {
        match self {
            Self::Pending => pb::TaskState::PendingAccept,
            Self::Accepted => pb::TaskState::Accepted,
            Self::Disposed => pb::TaskState::Disposed,
            Self::Returned => pb::TaskState::Returned,
            Self::Transferred => pb::TaskState::Transferred,
            Self::Closed => pb::TaskState::Closed,
        }
    }
}

impl TaskKindArg {
    pub fn proto(self) -> pb::TaskKind {
        match self {
            Self::Handle => pb::TaskKind::Handle,
            Self::Supervise => pb::TaskKind::Supervise,
        }
    }
}

impl ReturnReasonArg {
    pub fn proto(self) -> pb::ReturnReason {
        match self {
            Self::NotMyGrid => pb::ReturnReason::NotMyGrid,
            Self::NotMyRemit => pb::ReturnReason::NotMyRemit,
            Self::Duplicate => pb::ReturnReason::Duplicate,
            Self::Other => pb::ReturnReason::Other,
        }
    }
}

impl DisposalArg {
    pub fn proto(self) -> pb::DisposalType {
        match self {
            Self::Resolved => pb::DisposalType::Resolved,
            Self::Explained => pb::DisposalType::Explained,
            Self::Unresolvable => pb::DisposalType::Unresolvable,
        }
    }
}

impl RatingArg {
    pub fn proto(self) -> pb::Rating {
        match self {
            Self::Satisfied => pb::Rating::Satisfied,
            Self::Basic => pb::Rating::BasicallySatisfied,
            Self::Dissatisfied => pb::Rating::Dissatisfied,
        }
    }
}

impl ExemptionArg {
    pub fn proto(self) -> pb::ExemptionKind {
        match self {
            Self::Unreachable => pb::ExemptionKind::CitizenUnreachable,
            Self::Unresolvable => pb::ExemptionKind::UnresolvableConfirmed,
        }
    }
}

impl DeadlineArg {
    pub fn proto(self) -> pb::DeadlineKind {
        match self {
            Self::Respond => pb::DeadlineKind::Respond,
            Self::Dispose => pb::DeadlineKind::Dispose,
            Self::Feedback => pb::DeadlineKind::Feedback,
        }
    }
}

impl PeriodArg {
    pub fn proto(self) -> pb::PeriodUnit {
        match self {
            Self::Day => pb::PeriodUnit::Day,
            Self::Week => pb::PeriodUnit::Week,
            Self::Month => pb::PeriodUnit::Month,
            Self::Quarter => pb::PeriodUnit::Quarter,
            Self::Year => pb::PeriodUnit::Year,
        }
    }
}

impl ByArg {
    /// The report dimension and, for grid rows, their level.
    pub fn proto(self) -> (pb::ReportDimension, pb::GridLevel) {
        use pb::{GridLevel as L, ReportDimension as D};
        match self {
            Self::None => (D::None, L::Unspecified),
            Self::Town => (D::Grid, L::Town),
            Self::Village => (D::Grid, L::Village),
            Self::Group => (D::Grid, L::Group),
            Self::Grid => (D::Grid, L::Unspecified),
            Self::Worker => (D::Worker, L::Unspecified),
            Self::Category => (D::Category, L::Unspecified),
            Self::Channel => (D::Channel, L::Unspecified),
        }
    }
}
