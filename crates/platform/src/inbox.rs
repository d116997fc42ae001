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

mod progress;
mod read;
mod records;
mod remembered;

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::{FutureExt, StreamExt};
use gridloop_proto::v1::{LifecycleState, TicketEvent};
use prost::Message as _;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

pub use crate::envelope::{Envelope, Unfit};
use crate::nats::Bus;
use crate::telemetry::spans;
use crate::{Error, metrics};
use gridloop_client::pace::Pace;
pub use progress::{Progress, settle};
use read::{Read, decode, event_span, record_handled};
pub use records::{DeadLetter, dead_letters, report_refusal, stored_position};
pub use remembered::Remembered;

/// What a service does with one event. It gets the event's validated envelope and the open
/// transaction; everything it writes commits together with the inbox record and the new
/// position, or not at all.
pub trait Handler: Send + Sync + 'static {
    type Error: std::fmt::Display + Send;

    fn handle<'a>(
        &'a self,
        event: &'a Envelope,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a;

    /// Called once per transaction, after its last `handle` and before it commits: work done
    /// once for all the events of a batch (a high-water mark, say) instead of once per event.
    /// A failure here counts as the batch's last event failing.
    fn flush<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a {
        async { Ok(()) }
    }

    /// The transaction of the `handle` calls since the last `settled` committed (`true`) or
    /// did not (`false`): for a handler that remembers what it has written, so that it
    /// forgets what was rolled back.
    fn settled(&self, _committed: bool) {}
}

impl<H: Handler> Handler for std::sync::Arc<H> {
    type Error = H::Error;

    fn handle<'a>(
        &'a self,
        event: &'a Envelope,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a {
        (**self).handle(event, tx)
    }

    fn flush<'a>(
        &'a self,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a {
        (**self).flush(tx)
    }

    fn settled(&self, committed: bool) {
        (**self).settled(committed)
    }
}

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
            match self.try_batch(&readable[..len], position).await? {
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
        let result = self.try_batch_once(batch, position).await;
        self.handler.settled(matches!(result, Ok(None)));
        result
    }

    async fn try_batch_once(
        &self,
        batch: &[(&Message, u64, Read, Uuid)],
        position: &mut u64,
    ) -> Result<Option<usize>, Error> {
        let mut tx = self.pool.begin().await?;
        let last = batch.last().map_or(*position, |(_, seq, _, _)| *seq);
        let events = batch.iter().map(|(m, _, _, id)| (*m, *id));
        let mut fresh = self.claim(&mut tx, *position, last, events).await?;
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
        self.opts.progress.advance(last, tickets);
        *position = last;
        for ((msg, ..), outcome) in batch.iter().zip(outcomes) {
            record_handled(&self.opts.durable, msg, outcome);
        }
        Ok(None)
    }

    /// One event on its own, retried in place until it is applied or, failing while the
    /// database is healthy, dead-lettered. Nothing after it is read meanwhile.
    async fn apply_alone(&self, msg: &Message, position: &mut u64) -> Result<(), Stop> {
        let Some(seq) = seq_of(msg) else {
            return Err(Stop::Reread("a message without stream metadata".into()));
        };
        let Some((event, event_id)) = decode(msg) else {
            let why = match TicketEvent::decode(msg.payload.as_ref()) {
                Err(e) => format!("undecodable event: {e}"),
                Ok(_) => "event id is not a UUID".to_string(),
            };
            tracing::error!(subject = %msg.subject, seq, reason = %why, "event cannot be read; dead-lettered");
            self.dead_letter(msg, seq, 1, None, &why, *position)
                .await
                .map_err(reread)?;
            *position = seq;
            record_handled(&self.opts.durable, msg, "dead_letter");
            return Ok(());
        };
        let span = event_span(msg, &event, &self.opts.durable);
        let failed = span.clone();
        async {
            let mut attempts = 0i64;
            // 200 ms after the first failure, doubling to 3.2 s.
            let mut backoff =
                Pace::exponential(Duration::from_millis(200), Duration::from_millis(3200));
            loop {
                match self.apply_one(msg, seq, event_id, &event, *position).await {
                    Ok(Ok(outcome)) => {
                        *position = seq;
                        record_handled(&self.opts.durable, msg, outcome);
                        return Ok(());
                    }
                    Ok(Err(error)) => {
                        // Handler errors may quote data: no phone number goes into a log.
                        let error = crate::pii::mask_digits(&error);
                        if !self.database_answers().await {
                            // The failure may be the database going away: not the event's fault.
                            return Err(Stop::Reread(format!(
                                "handler failed while the database is unreachable: {error}"
                            )));
                        }
                        attempts += 1;
                        spans::fail(&failed, &error);
                        if attempts >= self.opts.max_deliveries {
                            tracing::error!(%error, attempts, "event failed too often; dead-lettered and reported as a violation");
                            self.dead_letter(msg, seq, attempts, Some(&event), &error, *position)
                                .await
                                .map_err(reread)?;
                            *position = seq;
                            record_handled(&self.opts.durable, msg, "dead_letter");
                            return Ok(());
                        }
                        metrics::instruments()
                            .consumer_retries
                            .add(1, &[metrics::service(&self.opts.durable)]);
                        tracing::warn!(%error, attempts, "event handler failed; retrying in place");
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                    Err(e) => return Err(reread(e)),
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One attempt: position check, inbox record and the handler's writes in one
    /// transaction. The outer `Result` is the database failing; the inner one is the handler
    /// refusing.
    async fn apply_one(
        &self,
        msg: &Message,
        seq: u64,
        event_id: Uuid,
        event: &Read,
        position: u64,
    ) -> Result<Result<&'static str, String>, Error> {
        let result = self
            .apply_one_once(msg, seq, event_id, event, position)
            .await;
        self.handler.settled(matches!(result, Ok(Ok(_))));
        result
    }

    async fn apply_one_once(
        &self,
        msg: &Message,
        seq: u64,
        event_id: Uuid,
        event: &Read,
        position: u64,
    ) -> Result<Result<&'static str, String>, Error> {
        let mut tx = self.pool.begin().await?;
        let fresh = !self
            .claim(&mut tx, position, seq, [(msg, event_id)])
            .await?
            .is_empty();
        let outcome = if fresh {
            match self.handle(event, &mut tx).await {
                Ok(outcome) => outcome,
                Err(error) => {
                    tx.rollback().await?;
                    return Ok(Err(error));
                }
            }
        } else {
            "duplicate"
        };
        if let Err(error) = self.handler.flush(&mut tx).await {
            tx.rollback().await?;
            return Ok(Err(error.to_string()));
        }
        tx.commit().await?;
        self.opts.progress.advance(seq, event.ticket_id());
        Ok(Ok(outcome))
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

    /// The first statement of applying events: moves the position from `expected` to `to`
    /// (which locks its row until the transaction ends, so two consumers cannot interleave)
    /// and records the events' ids in the inbox, in one statement. Fails when another
    /// consumer moved the position since this one read it; returns the ids that were not in
    /// the inbox yet (one already there is a republished event).
    async fn claim<'m>(
        &self,
        tx: &mut PgConnection,
        expected: u64,
        to: u64,
        events: impl IntoIterator<Item = (&'m Message, Uuid)>,
    ) -> Result<HashSet<Uuid>, Error> {
        let (ids, subjects): (Vec<Uuid>, Vec<&str>) = events
            .into_iter()
            .map(|(m, id)| (id, m.subject.as_str()))
            .unzip();
        let (moved, fresh): (bool, Vec<Uuid>) = sqlx::query_as(
            "WITH moved AS ( \
                 UPDATE consumer_position SET stream_seq = $3, updated_at = now() \
                 WHERE consumer = $1 AND stream_seq = $2 RETURNING 1), \
             fresh AS ( \
                 INSERT INTO inbox (event_id, subject) \
                 SELECT e.id, e.subject FROM unnest($4::uuid[], $5::text[]) AS e (id, subject) \
                 WHERE EXISTS (SELECT 1 FROM moved) \
                 ON CONFLICT DO NOTHING RETURNING event_id) \
             SELECT EXISTS (SELECT 1 FROM moved), ARRAY(SELECT event_id FROM fresh)",
        )
        .bind(&self.opts.durable)
        .bind(expected as i64)
        .bind(to as i64)
        .bind(&ids)
        .bind(&subjects)
        .fetch_one(&mut *tx)
        .await?;
        if !moved {
            return Err(self.moved_away(tx, expected).await);
        }
        Ok(fresh.into_iter().collect())
    }

    async fn moved_away(&self, tx: &mut PgConnection, expected: u64) -> Error {
        let stored: Option<i64> =
            sqlx::query_scalar("SELECT stream_seq FROM consumer_position WHERE consumer = $1")
                .bind(&self.opts.durable)
                .fetch_optional(&mut *tx)
                .await
                .ok()
                .flatten();
        Error::Event(format!(
            "position moved to {} by another consumer (this one was at {expected})",
            stored.map_or("?".into(), |s| s.to_string())
        ))
    }

    async fn database_answers(&self) -> bool {
        let probe = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.pool);
        matches!(
            tokio::time::timeout(Duration::from_secs(2), probe).await,
            Ok(Ok(1))
        )
    }

    /// Records the event in `dead_letters`, reports it as a violation (when it could be
    /// read) and moves the position past it, in one transaction.
    async fn dead_letter(
        &self,
        msg: &Message,
        seq: u64,
        attempts: i64,
        event: Option<&Read>,
        error: &str,
        position: u64,
    ) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        self.claim(&mut tx, position, seq, std::iter::empty())
            .await?;
        sqlx::query(
            "INSERT INTO dead_letters (event_id, subject, stream_seq, deliveries, error, payload) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (stream_seq) DO NOTHING",
        )
        .bind(event.map(|e| e.raw_event_id()).unwrap_or_default())
        .bind(msg.subject.as_str())
        .bind(seq as i64)
        .bind(attempts)
        .bind(error)
        .bind(msg.payload.as_ref())
        .execute(&mut *tx)
        .await?;
        if let Some(Read::Fit(event)) = event {
            let reason = format!("could not be applied: {error}");
            report_refusal(
                &mut tx,
                &self.opts.durable,
                event,
                LifecycleState::Unspecified,
                &reason,
            )
            .await?;
        }
        tx.commit().await?;
        self.opts.progress.advance(seq, None);
        Ok(())
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
