//! One way to pace retries: every loop that waits between attempts — a call retried until
//! it answers ([`crate::retry`]), and the platform's outbox relay, consumer re-reads, events
//! retried in place and consumer election — takes its delays from a [`Pace`].
//!
//! The delays come from `backon`'s exponential builder (no jitter: a service has one relay
//! and one consumer, so there is no herd to spread). The loops themselves stay in their
//! modules, because none of them is "call this until it succeeds": the relay and the consumer
//! run until shutdown, start again from the first delay after a good round, and must stop
//! waiting the moment shutdown comes. [`Pace::pause`] is that wait.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio_util::sync::CancellationToken;

/// Delays that start at `first`, double after every failure up to `max`, and never run out.
#[derive(Debug)]
pub struct Pace {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
    /// Taken from `delays` ahead of time, so a log line can say how long the wait will be.
    upcoming: Duration,
}

impl Pace {
    /// `first`, `2 × first`, `4 × first`, … up to `max`, then `max` for ever.
    pub fn exponential(first: Duration, max: Duration) -> Self {
        let builder = ExponentialBuilder::new()
            .with_min_delay(first)
            .with_max_delay(max.max(first))
            .with_factor(2.0)
            .without_max_times();
        let mut delays = builder.build();
        let upcoming = Self::step(&mut delays);
        Self {
            builder,
            delays,
            upcoming,
        }
    }

    /// The same delay every time: a steady pace for waiting on something another process holds.
    pub fn constant(every: Duration) -> Self {
        Self::exponential(every, every)
    }

    /// The delay the next [`Pace::next_delay`] or [`Pace::pause`] will take.
    pub fn upcoming(&self) -> Duration {
        self.upcoming
    }

    /// The delay before the next attempt; each call moves one step up.
    pub fn next_delay(&mut self) -> Duration {
        let now = self.upcoming;
        self.upcoming = Self::step(&mut self.delays);
        now
    }

    /// Back to the first delay, after an attempt that succeeded.
    pub fn reset(&mut self) {
        self.delays = self.builder.build();
        self.upcoming = Self::step(&mut self.delays);
    }

    /// Sleeps the next delay; `false` when `shutdown` came first (the caller stops).
    pub async fn pause(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = shutdown.cancelled() => false,
        }
    }

    fn step(delays: &mut ExponentialBackoff) -> Duration {
        // Without a cap on the number of attempts the sequence never ends; the fallback only
        // keeps that promise should it ever change.
        let delay = delays.next().unwrap_or(Duration::MAX);
        // `backon` multiplies in `f32`, which turns 100 ms into 100.000001 ms; whole
        // microseconds keep the pace the numbers say.
        Duration::from_micros((delay.as_secs_f64() * 1e6).round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Pace::exponential(ms(50), ms(300));
        let taken: Vec<_> = (0..6).map(|_| b.next_delay()).collect();
        assert_eq!(taken, [ms(50), ms(100), ms(200), ms(300), ms(300), ms(300)]);
        assert_eq!(b.upcoming(), ms(300));
        b.reset();
        assert_eq!(b.upcoming(), ms(50));
        assert_eq!(b.next_delay(), ms(50));
    }

    #[test]
    fn constant_never_grows() {
        let mut b = Pace::constant(ms(500));
        assert!((0..10).all(|_| b.next_delay() == ms(500)));
    }

    #[tokio::test]
    async fn pause_gives_way_to_shutdown() {
        assert!(Pace::constant(ms(1)).pause(&CancellationToken::new()).await);
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let mut b = Pace::constant(Duration::from_secs(3600));
        assert!(!b.pause(&shutdown).await);
    }
}
