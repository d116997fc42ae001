//! Values parsed at the edge and the mapping between the lifecycle's types and wire enums.

use gridloop_lifecycle::{SlaSpan, TicketId};
use gridloop_platform::ApiError;
pub use gridloop_platform::stored::{ACTOR_ROLE, Names};
use gridloop_proto::v1 as pb;

pub fn ticket_id(raw: &str) -> Result<TicketId, ApiError> {
    TicketId::parse(raw.trim()).map_err(|_| ApiError::invalid("ticket_id", "not a UUID"))
}

pub use gridloop_platform::convert::state_pb;

pub use gridloop_platform::auth::in_scope;

pub use gridloop_platform::pii::mask_digits;

/// A clock's kind as stored: stable names, mapped to and from `DeadlineKind` here only.
pub mod timer_kind {
    use gridloop_proto::v1::DeadlineKind;

    /// The stored name of a kind; UNSPECIFIED has none.
    pub fn name(kind: DeadlineKind) -> Option<&'static str> {
        match kind {
            DeadlineKind::Unspecified => None,
            DeadlineKind::Respond => Some("respond"),
            DeadlineKind::Dispose => Some("dispose"),
            DeadlineKind::Feedback => Some("feedback"),
        }
    }

    /// The kind a stored name stands for (the column's CHECK admits no other name).
    pub fn parse(name: &str) -> DeadlineKind {
        match name {
            "respond" => DeadlineKind::Respond,
            "dispose" => DeadlineKind::Dispose,
            "feedback" => DeadlineKind::Feedback,
            _ => DeadlineKind::Unspecified,
        }
    }
}

/// Grid levels as stored. The tracker keeps a level as its wire number (0 for none: no grid
/// held yet, no escalation yet), so the mapping is from and to that number, here only: the
/// platform's `GRID_LEVEL`, except that 0 is stored as `none`, never `unspecified`.
pub mod grid_level {
    use gridloop_platform::stored::GRID_LEVEL;

    pub const NONE: &str = "none";

    /// The stored name; 0 and numbers that are no level are `none`.
    pub fn name(level: i32) -> &'static str {
        match GRID_LEVEL.name(level) {
            n if n == GRID_LEVEL.name(0) => NONE,
            n => n,
        }
    }

    /// The level a stored name stands for; 0 for `none` (and any name that is no level).
    pub fn parse(name: &str) -> i32 {
        GRID_LEVEL.parse(name)
    }
}

/// Urgencies as stored (the platform's `URGENCY`), from and to the wire number the tracker
/// keeps, here only.
pub mod urgency {
    use gridloop_platform::stored::URGENCY;

    /// The names of the urgencies a rule is for, in wire order: a name's place (from 1) is
    /// its number, which orders rules and their page tokens as before.
    pub const RULE_ORDER: [&str; 3] = {
        let n = URGENCY.0;
        [n[1], n[2], n[3]]
    };

    /// The stored name; 0 and numbers that are no urgency are `unspecified`.
    pub fn name(urgency: i32) -> &'static str {
        URGENCY.name(urgency)
    }

    pub fn parse(name: &str) -> i32 {
        URGENCY.parse(name)
    }
}

/// An SLA rule's time units as stored, from and to their wire numbers, here only.
pub mod time_unit {
    use gridloop_proto::v1::TimeUnit;

    /// The stored name. UNSPECIFIED is never stored: a rule's units are validated, and the
    /// columns' CHECKs admit only the four names.
    pub fn name(unit: i32) -> &'static str {
        match TimeUnit::try_from(unit) {
            Ok(TimeUnit::WorkingHours) => "working_hours",
            Ok(TimeUnit::WorkingDays) => "working_days",
            Ok(TimeUnit::CalendarHours) => "calendar_hours",
            Ok(TimeUnit::Minutes) => "minutes",
            Ok(TimeUnit::Unspecified) | Err(_) => "unspecified",
        }
    }

    pub fn parse(name: &str) -> i32 {
        let unit = match name {
            "working_hours" => TimeUnit::WorkingHours,
            "working_days" => TimeUnit::WorkingDays,
            "calendar_hours" => TimeUnit::CalendarHours,
            "minutes" => TimeUnit::Minutes,
            _ => TimeUnit::Unspecified,
        };
        unit as i32
    }
}

/// Lifecycle states in the timeline and violations, as stored (a number that is no state, from
/// another service's newer proto, is stored as `unspecified`).
pub const LIFECYCLE_STATE: Names = Names(&[
    "unspecified",
    "discovered",
    "reported",
    "disposed",
    "feedback",
    "closed",
    "merged",
]);

/// An escalation's cause as stored, mapped from `EscalationCause` here only.
pub mod escalation_cause {
    use gridloop_proto::v1::EscalationCause;

    /// The stored name. UNSPECIFIED is never stored: every escalation has its cause, and the
    /// column's CHECK admits only the two names.
    pub fn name(cause: EscalationCause) -> &'static str {
        match cause {
            EscalationCause::Unspecified => "unspecified",
            EscalationCause::Overdue => "overdue",
            EscalationCause::RepeatComplaint => "repeat_complaint",
        }
    }
}

/// Which clock, from its wire value; `None` for UNSPECIFIED or unknown values.
pub fn deadline_kind(raw: i32) -> Option<pb::DeadlineKind> {
    match pb::DeadlineKind::try_from(raw) {
        Ok(pb::DeadlineKind::Unspecified) | Err(_) => None,
        Ok(k) => Some(k),
    }
}

/// The longest limits accepted, so that deadline arithmetic (which walks day by day) stays
/// bounded: a year in any unit.
const MAX_MINUTES: u32 = 60 * 24 * 366;
const MAX_HOURS: u32 = 24 * 366;
const MAX_DAYS: u32 = 366;

/// A validated time limit.
pub fn limit(field: &str, l: Option<&pb::TimeLimit>) -> Result<(i32, i32), ApiError> {
    let l = l.ok_or_else(|| ApiError::invalid(field, "required"))?;
    let max = match pb::TimeUnit::try_from(l.unit) {
        Ok(pb::TimeUnit::Minutes) => MAX_MINUTES,
        Ok(pb::TimeUnit::WorkingHours | pb::TimeUnit::CalendarHours) => MAX_HOURS,
        Ok(pb::TimeUnit::WorkingDays) => MAX_DAYS,
        _ => {
            return Err(ApiError::invalid(
                format!("{field}.unit"),
                "required: MINUTES, CALENDAR_HOURS, WORKING_HOURS or WORKING_DAYS",
            ));
        }
    };
    if l.amount == 0 {
        return Err(ApiError::invalid(
            format!("{field}.amount"),
            "must be positive",
        ));
    }
    if l.amount > max {
        return Err(ApiError::invalid(
            format!("{field}.amount"),
            format!("at most {max}"),
        ));
    }
    Ok((l.amount as i32, l.unit))
}

/// A stored (amount, unit) as the lifecycle's span.
pub fn span(amount: i32, unit: i32) -> SlaSpan {
    let n = u32::try_from(amount).unwrap_or(0);
    match pb::TimeUnit::try_from(unit) {
        Ok(pb::TimeUnit::Minutes) => SlaSpan::Minutes(n),
        Ok(pb::TimeUnit::CalendarHours) => SlaSpan::Hours(n),
        Ok(pb::TimeUnit::WorkingDays) => SlaSpan::WorkingDays(n),
        _ => SlaSpan::WorkingHours(n),
    }
}

/// The next level up the grid tree; `None` at the county, which has nothing above it.
pub fn level_up(level: i32) -> Option<i32> {
    (level > pb::GridLevel::County as i32).then(|| level - 1)
}

pub fn level_name(level: i32) -> &'static str {
    match pb::GridLevel::try_from(level) {
        Ok(pb::GridLevel::County) => "县/区",
        Ok(pb::GridLevel::Town) => "镇/街道",
        Ok(pb::GridLevel::Village) => "村/社区",
        Ok(pb::GridLevel::Group) => "组/网格",
        _ => "未知层级",
    }
}

pub fn kind_name(kind: i32) -> &'static str {
    match pb::DeadlineKind::try_from(kind) {
        Ok(pb::DeadlineKind::Respond) => "签收",
        Ok(pb::DeadlineKind::Dispose) => "处置",
        Ok(pb::DeadlineKind::Feedback) => "回访",
        _ => "未知",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_levels() {
        let roots = vec!["341504100".to_string()];
        assert!(in_scope("341504100001", &roots));
        assert!(!in_scope("341504200001", &roots));
        assert_eq!(level_up(4), Some(3));
        assert_eq!(level_up(1), None);
    }

    /// The names the columns store, as their CHECKs admit them (migrations 0006, 0007).
    #[test]
    fn stored_names_are_unchanged() {
        assert_eq!(grid_level::name(0), "none");
        assert_eq!(grid_level::name(-1), "none");
        assert_eq!(grid_level::name(5), "none");
        assert_eq!(grid_level::name(1), "county");
        assert_eq!(grid_level::name(4), "group");
        assert_eq!(grid_level::parse("none"), 0);
        assert_eq!(grid_level::parse("village"), 3);
        for level in 0..=4 {
            assert_eq!(grid_level::parse(grid_level::name(level)), level);
        }

        assert_eq!(urgency::RULE_ORDER, ["general", "urgent", "complex"]);
        assert_eq!(urgency::name(0), "unspecified");
        assert_eq!(urgency::name(7), "unspecified");
        assert_eq!(urgency::name(2), "urgent");
        assert_eq!(urgency::parse("complex"), 3);
        assert_eq!(urgency::parse("other"), 0);
    }

    #[test]
    fn limits_are_checked() {
        let ok = pb::TimeLimit {
            amount: 3,
            unit: pb::TimeUnit::WorkingDays as i32,
        };
        assert_eq!(limit("x", Some(&ok)).unwrap(), (3, 2));
        assert!(limit("x", None).is_err());
        let zero = pb::TimeLimit { amount: 0, ..ok };
        assert!(limit("x", Some(&zero)).is_err());
        let huge = pb::TimeLimit { amount: 400, ..ok };
        assert!(limit("x", Some(&huge)).is_err());
        assert_eq!(span(24, 3), SlaSpan::Hours(24));

        let minutes = pb::TimeLimit {
            amount: 15,
            unit: pb::TimeUnit::Minutes as i32,
        };
        assert_eq!(limit("x", Some(&minutes)).unwrap(), (15, 4));
        assert_eq!(span(15, 4), SlaSpan::Minutes(15));
        let one = pb::TimeLimit {
            amount: 1,
            ..minutes
        };
        assert!(limit("x", Some(&one)).is_ok(), "one minute is the least");
        let zero = pb::TimeLimit {
            amount: 0,
            ..minutes
        };
        assert!(limit("x", Some(&zero)).is_err());
        let year = pb::TimeLimit {
            amount: MAX_MINUTES,
            ..minutes
        };
        assert!(limit("x", Some(&year)).is_ok());
        let over = pb::TimeLimit {
            amount: MAX_MINUTES + 1,
            ..minutes
        };
        assert!(limit("x", Some(&over)).is_err());
    }
}
