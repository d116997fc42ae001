//! SLA spans and the deadlines they give.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;

/// How long a step may take, as an SLA rule states it.
///
/// `Hours` are clock hours — urgent matters run day and night, so their deadline may fall on
/// any day at any time. `WorkingHours` and `WorkingDays` count working time only, and their
/// deadlines always fall inside working time of a working day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaSpan {
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
            SlaSpan::Hours(n) => start + TimeDelta::hours(i64::from(n)),
            SlaSpan::WorkingHours(n) => calendar.add_working_hours(start, n),
            SlaSpan::WorkingDays(n) => calendar.add_working_days(start, n),
        }
    }
}

impl fmt::Display for SlaSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlaSpan::Hours(n) => write!(f, "{n} hours"),
            SlaSpan::WorkingHours(n) => write!(f, "{n} working hours"),
            SlaSpan::WorkingDays(n) => write!(f, "{n} working days"),
        }
    }
}
