//! The names routing stores its enums by: one `name` and `parse` per enum, used by every
//! query on the column, so that a renumbered proto never changes what a stored row means.
//! The names are the lists in [`gridloop_platform::stored`] (and [`WORKER_ROLE`], routing's
//! own); where a column stores fewer of them (no `unspecified`), the wrapper here says so.

use gridloop_platform::stored::Names;

/// Worker roles' stored names in wire order; only routing stores them.
pub const WORKER_ROLE: Names =
    Names(&["unspecified", "grid_chief", "grid_worker", "grid_assistant"]);

/// Grid levels as stored, mapped to and from [`Level`] here only: the platform's
/// `GRID_LEVEL` without `unspecified`, which a [`Level`] cannot be.
pub mod grid_level {
    use gridloop_platform::stored::GRID_LEVEL;

    use crate::domain::Level;

    /// The stored names, county first: a grid's parent is the name before its own.
    pub const NAMES: [&str; 4] = {
        let n = GRID_LEVEL.0;
        [n[1], n[2], n[3], n[4]]
    };

    pub fn name(level: Level) -> &'static str {
        GRID_LEVEL.name(level as i32)
    }

    /// The level a stored name stands for; `None` for `unspecified` or any other name.
    pub fn parse(name: &str) -> Option<Level> {
        Level::from_i32(GRID_LEVEL.parse(name))
    }
}

/// Worker roles as stored, mapped to and from `WorkerRole` here only.
pub mod role {
    use gridloop_proto::v1::WorkerRole;

    use super::WORKER_ROLE;

    /// The stored name. UNSPECIFIED is never stored: an upsert without a role is refused,
    /// and the column's CHECK admits only the three names.
    pub fn name(role: WorkerRole) -> &'static str {
        WORKER_ROLE.name(role as i32)
    }

    pub fn parse(name: &str) -> WorkerRole {
        WORKER_ROLE.parse_enum(name)
    }
}

/// Urgencies (a ticket's own, and SLA classes) as stored, mapped to and from `Urgency` here.
pub mod urgency {
    use gridloop_platform::stored::URGENCY;
    use gridloop_proto::v1::Urgency;

    /// The stored name; `unspecified` only for a ticket whose channel gave none.
    pub fn name(urgency: Urgency) -> &'static str {
        URGENCY.name(urgency as i32)
    }

    pub fn parse(name: &str) -> Urgency {
        URGENCY.parse_enum(name)
    }
}

/// Intake channels as stored, mapped to and from `Channel` here only.
pub mod channel {
    use gridloop_platform::stored::CHANNEL;
    use gridloop_proto::v1::Channel;

    pub fn name(channel: Channel) -> &'static str {
        CHANNEL.name(channel as i32)
    }

    pub fn parse(name: &str) -> Channel {
        CHANNEL.parse_enum(name)
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
    use gridloop_platform::stored::DISPOSAL_TYPE;
    use gridloop_proto::v1::DisposalType;

    /// The stored name. UNSPECIFIED is never stored: a report without a type is refused when
    /// parsed, and the column's CHECK admits only the three names.
    pub fn name(kind: DisposalType) -> &'static str {
        DISPOSAL_TYPE.name(kind as i32)
    }

    pub fn parse(name: &str) -> DisposalType {
        DISPOSAL_TYPE.parse_enum(name)
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

#[cfg(test)]
mod tests {
    use gridloop_platform::stored::assert_proto_names;
    use gridloop_proto::v1 as pb;

    use super::*;
    use crate::domain::Level;

    #[test]
    fn worker_roles_are_the_protos() {
        assert_proto_names(&WORKER_ROLE, "WORKER_ROLE_", |i| {
            pb::WorkerRole::try_from(i).ok().map(|v| v.as_str_name())
        });
    }

    /// The names each column stores, as its CHECK admits them (migration 0008, 0007).
    #[test]
    fn stored_names_are_unchanged() {
        assert_eq!(grid_level::NAMES, ["county", "town", "village", "group"]);
        for level in [Level::County, Level::Town, Level::Village, Level::Group] {
            assert_eq!(grid_level::parse(grid_level::name(level)), Some(level));
        }
        assert_eq!(grid_level::name(Level::County), "county");
        assert_eq!(grid_level::name(Level::Group), "group");
        assert_eq!(grid_level::parse("unspecified"), None);
        assert_eq!(grid_level::parse("none"), None);

        assert_eq!(role::name(pb::WorkerRole::GridChief), "grid_chief");
        assert_eq!(role::name(pb::WorkerRole::GridAssistant), "grid_assistant");
        assert_eq!(role::parse("grid_worker"), pb::WorkerRole::GridWorker);
        assert_eq!(role::parse("chief"), pb::WorkerRole::Unspecified);

        assert_eq!(urgency::name(pb::Urgency::Unspecified), "unspecified");
        assert_eq!(urgency::name(pb::Urgency::Complex), "complex");
        assert_eq!(urgency::parse("urgent"), pb::Urgency::Urgent);
        assert_eq!(urgency::parse("other"), pb::Urgency::Unspecified);

        assert_eq!(channel::name(pb::Channel::Hotline12345), "hotline_12345");
        assert_eq!(channel::name(pb::Channel::Patrol), "patrol");
        assert_eq!(channel::parse("one_key_call"), pb::Channel::OneKeyCall);
        assert_eq!(channel::parse("other"), pb::Channel::Unspecified);

        assert_eq!(
            disposal_type::name(pb::DisposalType::Explained),
            "explained"
        );
        assert_eq!(
            disposal_type::parse("unresolvable"),
            pb::DisposalType::Unresolvable
        );
        assert_eq!(disposal_type::parse("other"), pb::DisposalType::Unspecified);
    }
}
