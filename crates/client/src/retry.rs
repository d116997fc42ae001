//! One retry helper: call again while the status says "try later", with exponential backoff
//! bounded both per pause and in total, so a service that stays down fails the call instead of
//! hanging it.

use std::future::Future;
use std::time::Duration;

use tonic::{Code, Status};

use crate::pace::Pace;

/// How long to keep trying and how to pace it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first pause; each later one doubles, up to `max_pause`.
    pub first_pause: Duration,
    pub max_pause: Duration,
    /// No new attempt starts after this much time since the first.
    pub limit: Duration,
}

impl Backoff {
    /// 50 ms doubling to 500 ms, for up to `limit`.
    pub const fn within(limit: Duration) -> Backoff {
        Backoff {
            first_pause: Duration::from_millis(50),
            max_pause: Duration::from_millis(500),
            limit,
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::within(Duration::from_secs(10))
    }
}

/// Whether `status` is `UNAVAILABLE`: the service is down or restarting.
pub fn unavailable(status: &Status) -> bool {
    status.code() == Code::Unavailable
}

/// Calls `f` until it succeeds, retrying the statuses `again` accepts within `backoff`.
pub async fn retry<T, F, Fut>(
    backoff: Backoff,
    again: impl Fn(&Status) -> bool,
    mut f: F,
) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let start = tokio::time::Instant::now();
    let mut pace = Pace::exponential(backoff.first_pause, backoff.max_pause);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(s) if again(&s) && start.elapsed() < backoff.limit => {
                tokio::time::sleep(pace.next_delay()).await;
            }
            Err(s) => return Err(s),
        }
    }
}

/// [`retry`] of `UNAVAILABLE` only, with the default [`Backoff`].
pub async fn retry_unavailable<T, F, Fut>(f: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    retry(Backoff::default(), unavailable, f).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_unavailable_until_it_answers() {
        let calls = AtomicU32::new(0);
        let got = retry_unavailable(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(Status::unavailable("down")),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(got.unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_limit_and_on_other_codes() {
        let start = tokio::time::Instant::now();
        let calls = AtomicU32::new(0);
        let err = retry(
            Backoff::within(Duration::from_secs(2)),
            unavailable,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Status::unavailable("down"))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(3));
        // 50, 100, 200, 400, then 500 ms pauses.
        assert_eq!(calls.load(Ordering::SeqCst), 8);

        calls.store(0, Ordering::SeqCst);
        let err = retry_unavailable(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Status::not_found("no"))
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
