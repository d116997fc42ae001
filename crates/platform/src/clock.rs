//! Every service's notion of "now", injectable so that tests can move time (past a deadline,
//! across midnight) instead of waiting for it.
//!
//! Two ways in, for two needs:
//!
//! - A [`Clock`] value handed to what owns a schedule (the tracker's SLA timers, its gauges and
//!   API take an `Arc<dyn Clock>`): each service instance has its own, so tests running side by
//!   side in one process each move their own time.
//! - [`now`], the process's clock, read where a step stamps a time (a submission's receipt, a
//!   write-off, an event's `occurred_at`, a token's expiry check). Those stamps are taken deep in
//!   request and event code, far from any value a clock could ride on, so they read one clock
//!   per process: the system's, unless [`set`] put another there. A test that sets it moves the
//!   time of everything in its process, so it runs in a test binary of its own.

use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, TimeDelta, Utc};

/// Where time is read.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move; clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(t)))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The process's clock; `None` is the system's (the common case costs one uncontended read).
static PROCESS: RwLock<Option<Arc<dyn Clock>>> = RwLock::new(None);

/// The current time on the process's clock.
pub fn now() -> DateTime<Utc> {
    match PROCESS.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(clock) => clock.now(),
        None => Utc::now(),
    }
}

/// Makes `clock` the process's clock until [`reset`].
pub fn set(clock: Arc<dyn Clock>) {
    *PROCESS.write().unwrap_or_else(|e| e.into_inner()) = Some(clock);
}

/// Back to the system's clock.
pub fn reset() {
    *PROCESS.write().unwrap_or_else(|e| e.into_inner()) = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clocks_move_only_when_told_and_clones_share_them() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-20T08:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ManualClock::at(t0);
        let seen_by_a_service = clock.clone();
        clock.advance(TimeDelta::minutes(3));
        assert_eq!(seen_by_a_service.now(), t0 + TimeDelta::minutes(3));
        clock.set(t0);
        assert_eq!(seen_by_a_service.now(), t0);
    }

    // The only test of this crate's unit tests that sets the process clock.
    #[test]
    fn the_process_clock_can_be_set_and_reset() {
        let t0 = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        set(Arc::new(ManualClock::at(t0)));
        assert_eq!(now(), t0);
        reset();
        assert!(now() > t0 + TimeDelta::days(365));
    }
}
