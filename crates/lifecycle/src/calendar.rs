//! Working time in Asia/Shanghai: which days are working days and which hours of them count.
//!
//! A working day is Monday–Friday, minus the holidays and plus the make-up working days
//! (调休上班) that the loaded holiday files list; a year with no file counts Monday–Friday
//! only. Its working time is a list of sessions, by default 08:30–12:00 and 14:00–17:30,
//! the usual office hours of Chinese government offices (towns that keep summer hours
//! configure their own with [`Calendar::with_sessions`]).
//!
//! All arithmetic is on UTC instants; dates and session times are local to UTC+8. China has
//! not observed daylight saving time since 1991, so a fixed offset is exact and no time zone
//! database is needed. Session ends are inclusive: a deadline at the close of business is
//! inside working time.

mod csv;

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday,
};

pub use csv::CHINA_2026_CSV;

/// The offset of Asia/Shanghai from UTC, in seconds.
pub const SHANGHAI_OFFSET_SECS: i32 = 8 * 3600;

/// Asia/Shanghai as a fixed offset.
pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(SHANGHAI_OFFSET_SECS).expect("UTC+8 is a valid offset")
}

/// What a holiday file says about a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayKind {
    /// A day off, even if it is a weekday.
    Holiday,
    /// A make-up working day (调休上班), even if it is a weekend.
    Workday,
}

/// A date listed in a holiday file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpecialDay {
    pub kind: DayKind,
    /// The holiday it belongs to, e.g. `国庆节`.
    pub name: String,
}

/// One stretch of working time within a working day, in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Session {
    start: NaiveTime,
    end: NaiveTime,
}

impl Session {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Session, CalendarError> {
        if start >= end {
            return Err(CalendarError::Sessions(format!(
                "session {start}–{end} does not end after it starts"
            )));
        }
        Ok(Session { start, end })
    }

    pub fn start(&self) -> NaiveTime {
        self.start
    }

    pub fn end(&self) -> NaiveTime {
        self.end
    }
}

/// Why a calendar could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("holiday file line {line}: {message}")]
    Csv { line: usize, message: String },
    #[error("working sessions: {0}")]
    Sessions(String),
}

/// Working days and working hours; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    special: BTreeMap<NaiveDate, SpecialDay>,
    /// Sorted, non-overlapping, never empty: every working day has working time.
    sessions: Vec<Session>,
}

impl Default for Calendar {
    /// The national calendar with the shipped holiday data: [`Calendar::china_default`].
    fn default() -> Self {
        Calendar::china_default()
    }
}

impl Calendar {
    /// Monday–Friday with the default sessions and no holidays.
    pub fn weekdays_only() -> Calendar {
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time of day");
        Calendar {
            special: BTreeMap::new(),
            sessions: vec![
                Session {
                    start: hm(8, 30),
                    end: hm(12, 0),
                },
                Session {
                    start: hm(14, 0),
                    end: hm(17, 30),
                },
            ],
        }
    }

    /// The national arrangement shipped with this crate (2026), default sessions. Later
    /// years and local extra days are added with [`Calendar::with_csv`].
    pub fn china_default() -> Calendar {
        Calendar::from_csv(CHINA_2026_CSV).expect("the shipped holiday file parses")
    }

    /// Monday–Friday adjusted by one holiday file (`date,kind,name`; see [`Calendar::with_csv`]).
    pub fn from_csv(text: &str) -> Result<Calendar, CalendarError> {
        Calendar::weekdays_only().with_csv(text)
    }

    /// Adds the dates of a holiday file: lines `YYYY-MM-DD,holiday|workday,name`, an optional
    /// `date,kind,name` header, blank lines and `#` comments. A date listed again — in the
    /// same or a later file — takes the later entry, so local adjustments loaded after the
    /// national file override it.
    pub fn with_csv(mut self, text: &str) -> Result<Calendar, CalendarError> {
        for (date, day) in csv::parse(text)? {
            self.special.insert(date, day);
        }
        Ok(self)
    }

    /// Replaces the working sessions of every working day. They must be non-empty, each
    /// ending after it starts, in order and not overlapping.
    pub fn with_sessions(mut self, sessions: Vec<Session>) -> Result<Calendar, CalendarError> {
        if sessions.is_empty() {
            return Err(CalendarError::Sessions(
                "a working day needs at least one session".into(),
            ));
        }
        if let Some(w) = sessions.windows(2).find(|w| w[0].end > w[1].start) {
            return Err(CalendarError::Sessions(format!(
                "session starting {} overlaps or precedes the one before it",
                w[1].start
            )));
        }
        self.sessions = sessions;
        Ok(self)
    }

    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// The holiday-file entry for `date`, if any.
    pub fn special_day(&self, date: NaiveDate) -> Option<&SpecialDay> {
        self.special.get(&date)
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.special.get(&date) {
            Some(day) => day.kind == DayKind::Workday,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// Whether `t` falls inside a session of a working day (session ends included).
    pub fn is_working_time(&self, t: DateTime<Utc>) -> bool {
        let l = local(t);
        self.sessions_on(l.date()).any(|(s, e)| s <= l && l <= e)
    }

    /// `t` if it is working time, else the start of the next session.
    pub fn next_working_time(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.add_working_time(t, TimeDelta::zero())
    }

    /// The instant at which `span` of working time has passed since `start`, counting only
    /// time inside sessions of working days. A negative `span` counts as zero. The result is
    /// always working time; when it falls exactly on a session's end it stays there (a
    /// deadline at 12:00 is not moved to 14:00).
    pub fn add_working_time(&self, start: DateTime<Utc>, span: TimeDelta) -> DateTime<Utc> {
        let from = local(start);
        let mut remaining = span.max(TimeDelta::zero());
        let mut date = from.date();
        loop {
            for (s, e) in self.sessions_on(date) {
                let begin = s.max(from);
                if begin > e {
                    continue;
                }
                let available = e - begin;
                if remaining <= available {
                    return to_utc(begin + remaining);
                }
                remaining -= available;
            }
            date = next_day(date);
        }
    }

    /// [`Calendar::add_working_time`] in whole hours, the unit SLA rules use.
    ///
    /// Like every deadline function here it walks day by day, so spans should be bounded
    /// where SLA rules are accepted; a result beyond chrono's last date (year 262142)
    /// panics.
    pub fn add_working_hours(&self, start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
        self.add_working_time(start, TimeDelta::hours(i64::from(hours)))
    }

    /// The close of business of the `days`-th whole working day after `start`.
    ///
    /// A working day counts when all of its working time lies at or after `start`: the rest
    /// of the day a ticket arrives on is a bonus, never one of the `days` (as the Civil Code,
    /// art. 201, does not count the starting day), while a ticket that arrives at night, at
    /// a weekend or before opening gets the next working day in full. So, with default
    /// sessions, 3 working days from Monday 10:00 is Thursday 17:30, and from Friday 18:00,
    /// Saturday or Monday 08:00 it is Wednesday 17:30.
    ///
    /// `days == 0` gives the close of the working day in which the clock next runs; from a
    /// start outside working time that is the same as `days == 1`.
    pub fn add_working_days(&self, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let from = local(start);
        if days == 0 {
            let running = local(self.next_working_time(start));
            return to_utc(running.date().and_time(self.close()));
        }
        let mut counted = 0;
        let mut date = from.date();
        loop {
            if self.is_working_day(date) && date.and_time(self.open()) >= from {
                counted += 1;
                if counted == days {
                    return to_utc(date.and_time(self.close()));
                }
            }
            date = next_day(date);
        }
    }

    /// Working time between `a` and `b`: the time inside sessions of working days. Negative
    /// when `b` is before `a`, so that it adds up like a difference of instants.
    pub fn working_time_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> TimeDelta {
        if b < a {
            return -self.working_time_between(b, a);
        }
        let (la, lb) = (local(a), local(b));
        let mut total = TimeDelta::zero();
        let mut date = la.date();
        while date <= lb.date() {
            for (s, e) in self.sessions_on(date) {
                let overlap = e.min(lb) - s.max(la);
                if overlap > TimeDelta::zero() {
                    total += overlap;
                }
            }
            date = next_day(date);
        }
        total
    }

    /// [`Calendar::working_time_between`] in hours, for reports ("handling time in working
    /// hours").
    pub fn working_hours_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
        let d = self.working_time_between(a, b);
        // Seconds and nanoseconds separately: i64 nanoseconds would overflow after ~292 years.
        (d.num_seconds() as f64 + f64::from(d.subsec_nanos()) / 1e9) / 3600.0
    }

    fn open(&self) -> NaiveTime {
        self.sessions[0].start
    }

    fn close(&self) -> NaiveTime {
        self.sessions[self.sessions.len() - 1].end
    }

    /// The local start and end of each session on `date`; none if it is not a working day.
    fn sessions_on(
        &self,
        date: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDateTime, NaiveDateTime)> + '_ {
        let working = self.is_working_day(date);
        self.sessions
            .iter()
            .filter(move |_| working)
            .map(move |s| (date.and_time(s.start), date.and_time(s.end)))
    }
}

fn local(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&shanghai()).naive_local()
}

fn to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    (local - TimeDelta::seconds(i64::from(SHANGHAI_OFFSET_SECS))).and_utc()
}

fn next_day(date: NaiveDate) -> NaiveDate {
    date.succ_opt()
        .expect("dates stay far inside chrono's range")
}

#[cfg(test)]
mod tests;
