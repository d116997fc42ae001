//! SLA spans and the deadlines they give.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;

/// How long a step may take, as an SLA rule states it.
///
/// `Minutes` and `Hours` are clock time — urgent matters run day and night, so their deadline
/// may fall on any day at any time. `WorkingHours` and `WorkingDays` count working time only, and their
/// deadlines always fall inside working time of a working day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaSpan {
    /// Natural (clock) minutes, e.g. "urgent safety hazard: respond within 30 minutes".
    Minutes(u32),
    /// Natural (clock) hours, e.g. "urgent: dispose within 24 h".
    Hours(u32),
    /// Working hours, e.g. "respond within 2 working hours".
    WorkingHours(u32),
    /// Whole working days, e.g. "dispose within 3 working days"; see
    /// [`Calendar::add_working_days`] for how they are counted.
    WorkingDays(u32),
}

impl SlaSpan {
    /// The deadline of a clock started at `start`.
    ///
    /// An approved extension is another span applied to the current deadline:
    /// `extension.deadline_from(deadline, calendar)`.
    pub fn deadline_from(&self, start: DateTime<Utc>, calendar: &Calendar) -> DateTime<Utc> {
        match *self {
            SlaSpan::Minutes(n) => start + TimeDelta::minutes(i64::from(n)),
            SlaSpan::Hours(n) => start + TimeDelta::hours(i64::from(n)),
            SlaSpan::WorkingHours(n) => calendar.add_working_hours(start, n),
            SlaSpan::WorkingDays(n) => calendar.add_working_days(start, n),
        }
    }
}

impl fmt::Display for SlaSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlaSpan::Minutes(n) => write!(f, "{n} minutes"),
            SlaSpan::Hours(n) => write!(f, "{n} hours"),
            SlaSpan::WorkingHours(n) => write!(f, "{n} working hours"),
            SlaSpan::WorkingDays(n) => write!(f, "{n} working days"),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::calendar::shanghai;

    fn cst(d: u32, h: u32, min: u32) -> DateTime<Utc> {
        shanghai()
            .with_ymd_and_hms(2026, 10, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn minutes_are_clock_minutes_on_any_day() {
        let cal = Calendar::china_default();
        // Thursday 1 October (National Day) at 23:50: a holiday night, no working time.
        let start = cst(1, 23, 50);
        assert_eq!(
            SlaSpan::Minutes(15).deadline_from(start, &cal),
            cst(2, 0, 5)
        );
        assert_eq!(SlaSpan::Minutes(0).deadline_from(start, &cal), start);
        assert_eq!(
            SlaSpan::Minutes(120).deadline_from(start, &cal),
            SlaSpan::Hours(2).deadline_from(start, &cal)
        );
    }

    #[test]
    fn spans_say_their_unit() {
        assert_eq!(SlaSpan::Minutes(30).to_string(), "30 minutes");
        assert_eq!(SlaSpan::Hours(24).to_string(), "24 hours");
        assert_eq!(SlaSpan::WorkingHours(2).to_string(), "2 working hours");
        assert_eq!(SlaSpan::WorkingDays(3).to_string(), "3 working days");
    }

    #[test]
    fn spans_serialize_by_unit() {
        let json = serde_json::to_string(&SlaSpan::Minutes(30)).unwrap();
        assert_eq!(json, r#"{"minutes":30}"#);
        let back: SlaSpan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, SlaSpan::Minutes(30));
    }
}
