//! How far the consumer has applied the stream, for requests decided on the view it keeps. A
//! step that depends on another service's event (a rating needs the disposal) can arrive
//! before that event has been applied here; instead of refusing it and having the caller try
//! again, the request waits a bounded time for the view to move ([`settle`]) and is decided
//! once, on the view it then finds.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// The stream sequence this process's consumer last committed; 0 before it commits anything
/// (or when the consumer runs in another replica).
#[derive(Clone, Debug)]
pub struct Progress(Arc<watch::Sender<u64>>);

impl Default for Progress {
    fn default() -> Self {
        Progress(Arc::new(watch::Sender::new(0)))
    }
}

impl Progress {
    /// Called by the consumer after each commit.
    pub(crate) fn advance(&self, position: u64) {
        self.0.send_replace(position);
    }

    /// The position last committed.
    pub fn position(&self) -> u64 {
        *self.0.borrow()
    }

    /// Sees the commits made from now on.
    fn watch(&self) -> watch::Receiver<u64> {
        let mut rx = self.0.subscribe();
        rx.mark_unchanged();
        rx
    }
}

/// Longest pause between two looks at the view while waiting for it.
const POLL: Duration = Duration::from_millis(50);

/// Runs `check` on the current view until it is not `behind`, or until `within` has passed:
/// again after each commit of the consumer. Returns the last answer, so a step the view
/// still refuses is refused with the state the view is in.
pub async fn settle<T, E, F, Fut>(
    progress: &Progress,
    within: Duration,
    behind: impl Fn(&E) -> bool,
    mut check: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    loop {
        // Watching before the look, so a commit between the two is not missed. A replica
        // whose consumer runs elsewhere sees no commits and looks again every POLL.
        let mut commits = progress.watch();
        match check().await {
            Err(e) if behind(&e) && Instant::now() < deadline => {
                let pause = POLL.min(deadline.saturating_duration_since(Instant::now()));
                let _ = tokio::time::timeout(pause, commits.changed()).await;
            }
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_commit_wakes_the_waiting_request() {
        let progress = Progress::default();
        let p = progress.clone();
        let looks = std::sync::atomic::AtomicU32::new(0);
        let started = Instant::now();
        let committer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            p.advance(7);
        });
        let answer: Result<u64, &str> = settle(
            &progress,
            Duration::from_secs(5),
            |e| *e == "behind",
            || {
                looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let pos = progress.position();
                async move { if pos == 7 { Ok(pos) } else { Err("behind") } }
            },
        )
        .await;
        committer.await.unwrap();
        assert_eq!(answer, Ok(7));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "woken by the commit, not the deadline"
        );
        assert!(looks.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    }

    #[tokio::test]
    async fn a_view_that_never_moves_is_answered_at_the_deadline() {
        let progress = Progress::default();
        let started = Instant::now();
        let answer: Result<(), &str> = settle(
            &progress,
            Duration::from_millis(120),
            |e| *e == "behind",
            || async { Err("behind") },
        )
        .await;
        assert_eq!(answer, Err("behind"));
        assert!(started.elapsed() >= Duration::from_millis(120));
    }

    #[tokio::test]
    async fn other_refusals_are_answered_at_once() {
        let progress = Progress::default();
        let started = Instant::now();
        let answer: Result<(), &str> = settle(
            &progress,
            Duration::from_secs(5),
            |e| *e == "behind",
            || async { Err("denied") },
        )
        .await;
        assert_eq!(answer, Err("denied"));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
