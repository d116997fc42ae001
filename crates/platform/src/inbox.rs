//! Idempotent, ordered inbox consumer. A service applies the stream's events in stream order,
//! whatever fails on the way: the sequence of the last applied event is kept in the service's
//! own `consumer_position` row and written in the transaction that applies the event, and the
//! consumer reads from the stream (an ordered consumer, no acknowledgements) starting right
//! after it. So:
//!
//! - a crash, a killed database, a NATS restart or a failed transaction leaves the position
//!   at the last committed event, and the next read starts with the first event not applied;
//!   a later event of a ticket can never be applied before an earlier one;
//! - two consumers of one service (an old leader that has not noticed it lost its lock and
//!   the new one) cannot interleave: every transaction checks, under the row lock, that the
//!   position is still where this consumer left it, and the one that finds it moved stops and
//!   re-reads from the position;
//! - the inbox table still records every applied event id, so an event republished outside
//!   the stream's duplicate window (a new sequence, the same id) is applied once.
//!
//! Whatever has already arrived is applied together, in one transaction (at most 64
//! events): one statement claims the batch (moves the position, records the
//! ids), the handlers run, one commit. A handler that fails rolls the batch back; the events
//! before it are applied again without it, and it is then retried on its own. A request
//! decided on the view this consumer keeps can wait for it to catch up ([`settle`]).
//!
//! Handlers get an [`Envelope`]: ids parsed, body present. An event that is not one — its
//! ticket id not a UUID, or no body — is recorded in the inbox and acknowledged here with a
//! warning, once for every service (what each handler used to do itself); one whose payload
//! cannot be decoded, or whose event id is not a UUID, cannot be recorded and is dead-lettered.
//!
//! An event whose handler keeps failing while the database is healthy is dead-lettered after
//! the configured number of attempts, with the position moved past it in the same
//! transaction, logged as an error and published as a `ticket.violation` naming this service,
//! so it shows up in the tracker's ListViolations: nothing is skipped silently. A failure
//! while the database is unreachable is not an attempt: the consumer waits and re-reads.

mod alone;
mod claim;
mod handler;
mod progress;
mod read;
mod records;
mod remembered;

use std::time::Duration;

use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::{FutureExt, StreamExt};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

pub use crate::envelope::{Envelope, Unfit};
use crate::nats::Bus;
use crate::{Error, metrics};
use gridloop_client::pace::Pace;
pub use handler::Handler;
pub use progress::{Progress, settle};
use read::{Read, decode, event_span, record_handled};
pub use records::{DeadLetter, dead_letters, report_refusal, stored_position};
pub use remembered::Remembered;

/// Settings of a [`Consumer`].
#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// The service's consumer name: keys its position (the service name).
    pub durable: String,
    /// Event kinds to receive (`dispatched`, …); empty means every event.
    pub kinds: Vec<String>,
    /// Failed attempts, with the database healthy, after which an event is dead-lettered.
    pub max_deliveries: i64,
    /// Told of every commit, for requests waiting for the view ([`settle`]).
    pub progress: Progress,
}

/// A running inbox consumer for one service.
pub struct Consumer<H> {
    pool: PgPool,
    bus: Bus,
    opts: ConsumerOptions,
    handler: H,
    #[cfg(feature = "testing")]
    die_after_commit: bool,
}

/// Why a pass over the stream ended.
enum Stop {
    /// Shut down as asked.
    Shutdown,
    /// Something failed (database, NATS, another consumer moved the position): read again
    /// from the stored position after a pause.
    Reread(String),
    /// A test hook simulated a crash.
    #[cfg(feature = "testing")]
    Crashed,
}

impl<H: Handler> Consumer<H> {
    pub fn new(pool: PgPool, bus: Bus, opts: ConsumerOptions, handler: H) -> Self {
        Self {
            pool,
            bus,
            opts,
            handler,
            #[cfg(feature = "testing")]
            die_after_commit: false,
        }
    }

    /// Test hook: the consumer stops right after its first commit, as if the process died
    /// there.
    #[cfg(feature = "testing")]
    pub fn die_after_commit(mut self) -> Self {
        self.die_after_commit = true;
        self
    }

    /// Consumes until `shutdown`, then finishes the batch in hand and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        self.opts.progress.running(true);
        self.consume(&shutdown).await;
        self.opts.progress.running(false);
    }

    async fn consume(&self, shutdown: &CancellationToken) {
        let mut backoff = Pace::exponential(Duration::from_millis(100), Duration::from_secs(5));
        while !shutdown.is_cancelled() {
            match self.pass(shutdown).await {
                Stop::Shutdown => return,
                #[cfg(feature = "testing")]
                Stop::Crashed => return,
                Stop::Reread(why) => {
                    metrics::instruments()
                        .consumer_rereads
                        .add(1, &[metrics::service(&self.opts.durable)]);
                    tracing::warn!(reason = %why, consumer = %self.opts.durable, "consumer re-reads from its stored position");
                    if !backoff.pause(shutdown).await {
                        return;
                    }
                }
            }
        }
    }

    /// One read of the stream from the stored position until something fails.
    async fn pass(&self, shutdown: &CancellationToken) -> Stop {
        let mut position = match self.position().await {
            Ok(p) => p,
            Err(e) => return Stop::Reread(format!("cannot read the position: {e}")),
        };
        let mut messages = match self.open(position).await {
            Ok(m) => m,
            Err(e) => return Stop::Reread(format!("cannot open the stream: {e}")),
        };
        loop {
            let next = tokio::select! {
                m = messages.next() => m,
                _ = shutdown.cancelled() => return Stop::Shutdown,
            };
            let mut batch = match next {
                Some(Ok(m)) => vec![m],
                Some(Err(e)) => return Stop::Reread(format!("stream error: {e}")),
                None => return Stop::Reread("stream ended".into()),
            };
            // Whatever else has already arrived joins the batch; nothing waits for more.
            let mut broken = None;
            while batch.len() < MAX_BATCH {
                match messages.next().now_or_never() {
                    Some(Some(Ok(m))) => batch.push(m),
                    Some(Some(Err(e))) => {
                        broken = Some(format!("stream error: {e}"));
                        break;
                    }
                    Some(None) => {
                        broken = Some("stream ended".into());
                        break;
                    }
                    None => break,
                }
            }
            if let Err(stop) = self.handle_batch(&batch, &mut position).await {
                return stop;
            }
            if let Some(why) = broken {
                return Stop::Reread(why);
            }
        }
    }

    /// The stored position, created at 0 (the start of the stream) the first time.
    async fn position(&self) -> Result<u64, Error> {
        sqlx::query(
            "INSERT INTO consumer_position (consumer, stream_seq) VALUES ($1, 0) \
             ON CONFLICT (consumer) DO NOTHING",
        )
        .bind(&self.opts.durable)
        .execute(&self.pool)
        .await?;
        let seq: i64 =
            sqlx::query_scalar("SELECT stream_seq FROM consumer_position WHERE consumer = $1")
                .bind(&self.opts.durable)
                .fetch_one(&self.pool)
                .await?;
        Ok(seq as u64)
    }

    /// An ordered consumer from the event after `position`: the server delivers in stream
    /// order, and the client recreates it from the last sequence it saw after any gap.
    async fn open(&self, position: u64) -> Result<pull::Ordered, Error> {
        let stream = self.bus.ensure_stream().await?;
        // Consumers of earlier versions were durable and acknowledged; nothing reads them now.
        let _ = stream.delete_consumer(&self.opts.durable).await;
        let filter_subjects = self
            .opts
            .kinds
            .iter()
            .map(|k| self.bus.subject(k))
            .collect::<Vec<_>>();
        let deliver_policy = if position == 0 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: position + 1,
            }
        };
        let config = pull::OrderedConfig {
            deliver_policy,
            filter_subjects,
            ..Default::default()
        };
        stream
            .create_consumer(config)
            .await
            .map_err(Error::nats)?
            .messages()
            .await
            .map_err(Error::nats)
    }

    /// Applies a batch in one transaction. From the first event whose handler fails, the rest
    /// of the batch is applied one by one (that event retried in place), so the order holds.
    async fn handle_batch(&self, batch: &[Message], position: &mut u64) -> Result<(), Stop> {
        let fresh: Vec<&Message> = batch
            .iter()
            .filter(|m| seq_of(m).is_some_and(|s| s > *position))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let committed = self.apply_batch(&fresh, position).await.map_err(reread)?;
        #[cfg(feature = "testing")]
        if self.die_after_commit && committed > 0 {
            return Err(Stop::Crashed);
        }
        for msg in &fresh[committed..] {
            self.apply_alone(msg, position).await?;
        }
        Ok(())
    }

    /// The fast path: returns how many leading events were committed with the position. A
    /// handler that fails rolls the whole transaction back (a savepoint per event would cost
    /// two statements on every event for a path that is rare), and the events before it are
    /// applied again without it.
    async fn apply_batch(&self, batch: &[&Message], position: &mut u64) -> Result<usize, Error> {
        // Only events that can be recorded go in a batch; the first that cannot ends it.
        let readable: Vec<(&Message, u64, Read, Uuid)> = batch
            .iter()
            .map_while(|m| {
                let seq = seq_of(m)?;
                let (event, id) = decode(m)?;
                Some((*m, seq, event, id))
            })
            .collect();
        let mut len = readable.len();
        while len > 0 {
            let attempt = self.try_batch(&readable[..len], position);
            match self
                .settled_after(attempt, |r| matches!(r, Ok(None)))
                .await?
            {
                None => return Ok(len),
                Some(failed) => len = failed,
            }
        }
        Ok(0)
    }

    /// One attempt at `batch` in one transaction: `None` when it committed, or the index of
    /// the event whose handler failed (nothing committed).
    async fn try_batch(
        &self,
        batch: &[(&Message, u64, Read, Uuid)],
        position: &mut u64,
    ) -> Result<Option<usize>, Error> {
        let mut tx = self.pool.begin().await?;
        let last = batch.last().map_or(*position, |(_, seq, _, _)| *seq);
        let events = batch.iter().map(|(m, _, _, id)| (*m, *id));
        let mut fresh = claim::claim(&self.opts.durable, &mut tx, *position, last, events).await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for (i, (msg, _, event, event_id)) in batch.iter().enumerate() {
            let outcome = if fresh.remove(event_id) {
                let span = event_span(msg, event, &self.opts.durable);
                match self.handle(event, &mut tx).instrument(span).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        tx.rollback().await?;
                        return Ok(Some(i));
                    }
                }
            } else {
                "duplicate"
            };
            outcomes.push(outcome);
            if i == 0 && batch.len() > 1 {
                // The batch now holds this event's locks. A later event that has to wait for
                // a lock gives up quickly instead (and is applied on its own), so the batch
                // never waits while holding locks another transaction waits for.
                sqlx::query("SET LOCAL lock_timeout = '50ms'")
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if self.handler.flush(&mut tx).await.is_err() {
            tx.rollback().await?;
            return Ok(Some(batch.len() - 1));
        }
        tx.commit().await?;
        let tickets = batch.iter().filter_map(|(_, _, r, _)| r.ticket_id());
        self.opts.progress.advance(tickets);
        *position = last;
        for ((msg, ..), outcome) in batch.iter().zip(outcomes) {
            record_handled(&self.opts.durable, msg, outcome);
        }
        Ok(None)
    }

    /// Runs one transaction's `attempt` and tells the handler whether it committed.
    async fn settled_after<R>(
        &self,
        attempt: impl Future<Output = R>,
        committed: impl Fn(&R) -> bool,
    ) -> R {
        let result = attempt.await;
        self.handler.settled(committed(&result));
        result
    }

    /// Hands a fit event to the handler; an unfit one is acknowledged with a warning, here
    /// for every service, and never reaches it.
    async fn handle(&self, event: &Read, tx: &mut PgConnection) -> Result<&'static str, String> {
        match event {
            Read::Fit(envelope) => self
                .handler
                .handle(envelope, tx)
                .await
                .map(|()| "applied")
                .map_err(|e| e.to_string()),
            Read::Unfit { event, why } => {
                tracing::warn!(ticket_id = %event.ticket_id, event_id = %event.event_id, consumer = %self.opts.durable, reason = %why, "event cannot be applied as it is; acknowledged and ignored");
                Ok("ignored")
            }
        }
    }
}

fn reread(e: Error) -> Stop {
    Stop::Reread(e.to_string())
}

fn seq_of(msg: &Message) -> Option<u64> {
    msg.info().ok().map(|i| i.stream_sequence)
}

/// Largest number of events applied in one transaction.
const MAX_BATCH: usize = 64;
