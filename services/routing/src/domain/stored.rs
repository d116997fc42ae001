//! The names routing stores its enums by: one `name` and `parse` per enum, used by every
//! query on the column, so that a renumbered proto never changes what a stored row means.

/// Grid levels as stored, mapped to and from [`Level`] here only.
pub mod grid_level {
    use crate::domain::Level;

    /// The stored names, county first: a grid's parent is the name before its own.
    pub const NAMES: [&str; 4] = ["county", "town", "village", "group"];

    pub fn name(level: Level) -> &'static str {
        NAMES[level as usize - 1]
    }

    pub fn parse(name: &str) -> Option<Level> {
        match name {
            "county" => Some(Level::County),
            "town" => Some(Level::Town),
            "village" => Some(Level::Village),
            "group" => Some(Level::Group),
            _ => None,
        }
    }
}

/// Worker roles as stored, mapped to and from `WorkerRole` here only.
pub mod role {
    use gridloop_proto::v1::WorkerRole;

    /// The stored name. UNSPECIFIED is never stored: an upsert without a role is refused,
    /// and the column's CHECK admits only the three names.
    pub fn name(role: WorkerRole) -> &'static str {
        match role {
            WorkerRole::Unspecified => "unspecified",
            WorkerRole::GridChief => "grid_chief",
            WorkerRole::GridWorker => "grid_worker",
            WorkerRole::GridAssistant => "grid_assistant",
        }
    }

    pub fn parse(name: &str) -> WorkerRole {
        match name {
            "grid_chief" => WorkerRole::GridChief,
            "grid_worker" => WorkerRole::GridWorker,
            "grid_assistant" => WorkerRole::GridAssistant,
            _ => WorkerRole::Unspecified,
        }
    }
}

/// Urgencies (a ticket's own, and SLA classes) as stored, mapped to and from `Urgency` here.
pub mod urgency {
    use gridloop_proto::v1::Urgency;

    /// The stored name; `unspecified` only for a ticket whose channel gave none.
    pub fn name(urgency: Urgency) -> &'static str {
        match urgency {
            Urgency::Unspecified => "unspecified",
            Urgency::General => "general",
            Urgency::Urgent => "urgent",
            Urgency::Complex => "complex",
        }
    }

    pub fn parse(name: &str) -> Urgency {
        match name {
            "general" => Urgency::General,
            "urgent" => Urgency::Urgent,
            "complex" => Urgency::Complex,
            _ => Urgency::Unspecified,
        }
    }
}

/// Intake channels as stored, mapped to and from `Channel` here only.
pub mod channel {
    use gridloop_proto::v1::Channel;

    pub fn name(channel: Channel) -> &'static str {
        match channel {
            Channel::Unspecified => "unspecified",
            Channel::Hotline12345 => "hotline_12345",
            Channel::OneKeyCall => "one_key_call",
            Channel::App => "app",
            Channel::Mailbox => "mailbox",
            Channel::Web => "web",
            Channel::Patrol => "patrol",
        }
    }

    pub fn parse(name: &str) -> Channel {
        match name {
            "hotline_12345" => Channel::Hotline12345,
            "one_key_call" => Channel::OneKeyCall,
            "app" => Channel::App,
            "mailbox" => Channel::Mailbox,
            "web" => Channel::Web,
            "patrol" => Channel::Patrol,
            _ => Channel::Unspecified,
        }
    }
}

/// Task states as stored: stable names, mapped to and from `TaskState` here only.
pub mod task_state {
    use gridloop_proto::v1::TaskState;
    pub const PENDING_ACCEPT: &str = "pending_accept";
    pub const ACCEPTED: &str = "accepted";
    pub const DISPOSED: &str = "disposed";
    pub const RETURNED: &str = "returned";
    pub const TRANSFERRED: &str = "transferred";
    pub const CLOSED: &str = "closed";

    /// The stored name of a state; UNSPECIFIED has none.
    pub fn name(state: TaskState) -> Option<&'static str> {
        match state {
            TaskState::Unspecified => None,
            TaskState::PendingAccept => Some(PENDING_ACCEPT),
            TaskState::Accepted => Some(ACCEPTED),
            TaskState::Disposed => Some(DISPOSED),
            TaskState::Returned => Some(RETURNED),
            TaskState::Transferred => Some(TRANSFERRED),
            TaskState::Closed => Some(CLOSED),
        }
    }

    /// The state a stored name stands for (the column's CHECK admits no other name).
    pub fn parse(name: &str) -> TaskState {
        match name {
            PENDING_ACCEPT => TaskState::PendingAccept,
            ACCEPTED => TaskState::Accepted,
            DISPOSED => TaskState::Disposed,
            RETURNED => TaskState::Returned,
            TRANSFERRED => TaskState::Transferred,
            CLOSED => TaskState::Closed,
            _ => TaskState::Unspecified,
        }
    }
}

/// Task kinds as stored, mapped to and from `TaskKind` here only.
pub mod task_kind {
    use gridloop_proto::v1::TaskKind;
    pub const HANDLE: &str = "handle";
    pub const SUPERVISE: &str = "supervise";

    /// The stored name of a kind; UNSPECIFIED has none.
    pub fn name(kind: TaskKind) -> Option<&'static str> {
        match kind {
            TaskKind::Unspecified => None,
            TaskKind::Handle => Some(HANDLE),
            TaskKind::Supervise => Some(SUPERVISE),
        }
    }

    pub fn parse(name: &str) -> TaskKind {
        match name {
            HANDLE => TaskKind::Handle,
            SUPERVISE => TaskKind::Supervise,
            _ => TaskKind::Unspecified,
        }
    }
}

/// A task's post as stored; `none` for a task held at no post (督办, the fallback desk).
pub mod task_post {
    use crate::domain::PostKind;
    use gridloop_proto::v1::Post;

    pub const NONE: &str = "none";

    pub fn name(post: Option<PostKind>) -> &'static str {
        post.map_or(NONE, PostKind::name)
    }

    pub fn parse(name: &str) -> Post {
        PostKind::proto(PostKind::parse(name))
    }
}

/// Disposal types as stored, mapped to and from `DisposalType` here only.
pub mod disposal_type {
    use gridloop_proto::v1::DisposalType;

    /// The stored name. UNSPECIFIED is never stored: a report without a type is refused when
    /// parsed, and the column's CHECK admits only the three names.
    pub fn name(kind: DisposalType) -> &'static str {
        match kind {
            DisposalType::Unspecified => "unspecified",
            DisposalType::Resolved => "resolved",
            DisposalType::Explained => "explained",
            DisposalType::Unresolvable => "unresolvable",
        }
    }

    pub fn parse(name: &str) -> DisposalType {
        match name {
            "resolved" => DisposalType::Resolved,
            "explained" => DisposalType::Explained,
            "unresolvable" => DisposalType::Unresolvable,
            _ => DisposalType::Unspecified,
        }
    }
}

/// The trigger a waiting ticket's re-dispatch carries, as stored.
pub mod dispatch_trigger {
    use gridloop_proto::v1::DispatchTrigger;

    /// The stored name; UNSPECIFIED has none.
    pub fn name(trigger: DispatchTrigger) -> Option<&'static str> {
        match trigger {
            DispatchTrigger::Unspecified => None,
            DispatchTrigger::Discovered => Some("discovered"),
            DispatchTrigger::Returned => Some("returned"),
            DispatchTrigger::Transferred => Some("transferred"),
            DispatchTrigger::Reopened => Some("reopened"),
        }
    }

    pub fn parse(name: &str) -> Option<DispatchTrigger> {
        match name {
            "discovered" => Some(DispatchTrigger::Discovered),
            "returned" => Some(DispatchTrigger::Returned),
            "transferred" => Some(DispatchTrigger::Transferred),
            "reopened" => Some(DispatchTrigger::Reopened),
            _ => None,
        }
    }
}
