//! How far the consumer has applied the stream, for requests decided on the view it keeps. A
//! step that depends on another service's event (a rating needs the disposal) can arrive
//! before that event has been applied here; instead of refusing it and having the caller try
//! again, the request waits a bounded time for the view of its ticket to move ([`settle`]) and
//! is decided once, on the view it then finds.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridloop_lifecycle::TicketId;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What this process's consumer has committed: a wake-up for requests
/// waiting on a ticket whose events it just applied.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// This process's consumer is running (it leads): its commits wake waiting requests.
    running: std::sync::atomic::AtomicBool,
    waiting: Mutex<HashMap<TicketId, Arc<Notify>>>,
}

impl Progress {
    /// Called by the consumer when it starts and stops.
    pub(crate) fn running(&self, running: bool) {
        self.0
            .running
            .store(running, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long a waiting request may go without looking at the view: while this process's
    /// consumer runs, its commits wake the request and the pause is only a safeguard.
    fn pause(&self) -> Duration {
        if self.0.running.load(std::sync::atomic::Ordering::Relaxed) {
            WOKEN_POLL
        } else {
            POLL
        }
    }

    /// Called by the consumer after each commit, with the tickets of the events it applied.
    pub(crate) fn advance(&self, tickets: impl IntoIterator<Item = TicketId>) {
        let waiting = self.0.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if waiting.is_empty() {
            return;
        }
        for t in tickets {
            if let Some(n) = waiting.get(&t) {
                n.notify_waiters();
            }
        }
    }

    fn waiter(&self, ticket: TicketId) -> Waiter<'_> {
        let notify = self
            .0
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(ticket)
            .or_default()
            .clone();
        Waiter {
            progress: self,
            ticket,
            notify,
        }
    }
}

/// A request's registration for its ticket's commits; the last one to leave removes it.
struct Waiter<'a> {
    progress: &'a Progress,
    ticket: TicketId,
    notify: Arc<Notify>,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut waiting = self
            .progress
            .0
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Held by the map and by this waiter only: nobody else waits for the ticket.
        if Arc::strong_count(&self.notify) == 2 {
            waiting.remove(&self.ticket);
        }
    }
}

/// Longest pause between two looks at the view while waiting for it: a replica whose
/// consumer runs elsewhere is told of no commits and looks again at this pace.
const POLL: Duration = Duration::from_millis(50);
/// The same, while this process's consumer runs and wakes the request.
const WOKEN_POLL: Duration = Duration::from_millis(250);

/// Runs `check` on the current view of `ticket` until its answer is not `behind`, or until
/// `within` has passed: again after each commit of an event of that ticket. Returns the last
/// answer, so a step the view still refuses is refused with the state the view is in.
pub async fn settle<T, E, F, Fut>(
    progress: &Progress,
    ticket: TicketId,
    within: Duration,
    behind: impl Fn(&E) -> bool,
    mut check: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    let waiter = progress.waiter(ticket);
    loop {
        // Registered before the look, so a commit between the two is not missed.
        let commit = waiter.notify.notified();
        tokio::pin!(commit);
        commit.as_mut().enable();
        match check().await {
            Err(e) if behind(&e) && Instant::now() < deadline => {
                let pause = progress
                    .pause()
                    .min(deadline.saturating_duration_since(Instant::now()));
                let _ = tokio::time::timeout(pause, commit).await;
            }
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn ticket() -> TicketId {
        TicketId::parse("0190b9f4-7a3e-7c1d-9f00-000000000001").expect("uuid")
    }

    #[tokio::test]
    async fn a_commit_of_the_ticket_wakes_the_waiting_request() {
        let progress = Progress::default();
        let p = progress.clone();
        // The view the request looks at: the committer moves it, then says so.
        let view = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let v = view.clone();
        let looks = AtomicU32::new(0);
        let started = Instant::now();
        let committer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            v.store(7, Ordering::SeqCst);
            p.advance([ticket()]);
        });
        let answer: Result<u64, &str> = settle(
            &progress,
            ticket(),
            Duration::from_secs(5),
            |e| *e == "behind",
            || {
                looks.fetch_add(1, Ordering::SeqCst);
                let pos = view.load(Ordering::SeqCst);
                async move { if pos == 7 { Ok(pos) } else { Err("behind") } }
            },
        )
        .await;
        committer.await.expect("committer");
        assert_eq!(answer, Ok(7));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "woken, not timed out"
        );
        assert!(looks.load(Ordering::SeqCst) >= 2);
        assert!(
            progress.0.waiting.lock().unwrap().is_empty(),
            "the waiter left"
        );
    }

    #[tokio::test]
    async fn a_view_that_never_moves_is_answered_at_the_deadline() {
        let progress = Progress::default();
        let started = Instant::now();
        let answer: Result<(), &str> = settle(
            &progress,
            ticket(),
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
            ticket(),
            Duration::from_secs(5),
            |e| *e == "behind",
            || async { Err("denied") },
        )
        .await;
        assert_eq!(answer, Err("denied"));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
