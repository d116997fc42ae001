//! Idempotent inbox consumer. Each service has one durable pull consumer on the stream
//! (replicas share it). For every event the handler runs inside a transaction that also
//! records the event id in `inbox`; the message is acked only after that commits. A
//! redelivered event finds its id in the inbox and is acked without being applied again.
//! An event that keeps failing goes to `dead_letters` with its error after the configured
//! number of deliveries, where a person can see it; undecodable payloads go there at once.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{AckKind, Message};
use futures::{FutureExt, StreamExt};
use gridloop_proto::v1::TicketEvent;
use prost::Message as _;
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::nats::Bus;
use crate::{Error, telemetry};

/// What a service does with one event. It gets the decoded event and the open transaction;
/// everything it writes commits together with the inbox record, or not at all.
pub trait Handler: Send + Sync + 'static {
    type Error: std::fmt::Display + Send;

    fn handle<'a>(
        &'a self,
        event: &'a TicketEvent,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a;
}

impl<H: Handler> Handler for std::sync::Arc<H> {
    type Error = H::Error;

    fn handle<'a>(
        &'a self,
        event: &'a TicketEvent,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a {
        (**self).handle(event, tx)
    }
}

/// Settings of a [`Consumer`].
#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// Durable consumer name, shared by a service's replicas (the service name).
    pub durable: String,
    /// Event kinds to receive (`dispatched`, …); empty means every event.
    pub kinds: Vec<String>,
    /// Deliveries after which a failing event is dead-lettered.
    pub max_deliveries: i64,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
}

/// A running inbox consumer for one service.
pub struct Consumer<H> {
    pool: PgPool,
    bus: Bus,
    opts: ConsumerOptions,
    handler: H,
    #[cfg(feature = "testing")]
    die_before_ack: bool,
}

impl<H: Handler> Consumer<H> {
    pub fn new(pool: PgPool, bus: Bus, opts: ConsumerOptions, handler: H) -> Self {
        Self {
            pool,
            bus,
            opts,
            handler,
            #[cfg(feature = "testing")]
            die_before_ack: false,
        }
    }

    /// Test hook: the consumer stops right after its first commit, before acking, exactly as
    /// if the process died between commit and ack.
    #[cfg(feature = "testing")]
    pub fn die_before_ack(mut self) -> Self {
        self.die_before_ack = true;
        self
    }

    async fn consumer(&self) -> Result<pull::Stream, Error> {
        let stream = self.bus.ensure_stream().await?;
        let filter_subjects = self
            .opts
            .kinds
            .iter()
            .map(|k| self.bus.subject(k))
            .collect::<Vec<_>>();
        let config = pull::Config {
            durable_name: Some(self.opts.durable.clone()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.opts.ack_wait,
            // Redelivery is bounded by our own dead-lettering, not by the server dropping it.
            max_deliver: -1,
            filter_subjects,
            ..Default::default()
        };
        let consumer = stream.create_consumer(config).await.map_err(Error::nats)?;
        consumer
            .stream()
            .max_messages_per_batch(256)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(Error::nats)
    }

    /// Consumes until `shutdown`, then finishes the events in hand and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        'outer: while !shutdown.is_cancelled() {
            let mut messages = match self.consumer().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, durable = %self.opts.durable, "cannot open consumer; will retry");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            loop {
                let next = tokio::select! {
                    m = messages.next() => m,
                    _ = shutdown.cancelled() => break 'outer,
                };
                let mut batch = match next {
                    Some(Ok(m)) => vec![m],
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "consumer stream error; reopening");
                        continue 'outer;
                    }
                    None => continue 'outer,
                };
                // Whatever else has already arrived joins the batch; nothing waits for more.
                let mut reopen = false;
                while batch.len() < MAX_BATCH {
                    match messages.next().now_or_never() {
                        Some(Some(Ok(m))) => batch.push(m),
                        Some(Some(Err(e))) => {
                            tracing::warn!(error = %e, "consumer stream error; reopening");
                            reopen = true;
                            break;
                        }
                        Some(None) => {
                            reopen = true;
                            break;
                        }
                        None => break,
                    }
                }
                if !self.handle_batch(&batch).await {
                    return;
                }
                if reopen {
                    continue 'outer;
                }
            }
        }
    }

    /// Applies a batch: as many leading events as succeed share one transaction (one commit
    /// instead of one per event); from the first that fails, events go one by one with
    /// retries, so order is kept. Returns false when a test hook simulates a crash.
    async fn handle_batch(&self, batch: &[Message]) -> bool {
        let committed = match self.apply_batch(batch).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "batch transaction failed; applying one by one");
                0
            }
        };
        #[cfg(feature = "testing")]
        if self.die_before_ack && committed > 0 {
            return false;
        }
        for msg in &batch[..committed] {
            self.ack(msg, AckKind::Ack).await;
        }
        for msg in &batch[committed..] {
            match self.process(msg).await {
                Ok(Outcome::Applied | Outcome::Duplicate) => self.ack(msg, AckKind::Ack).await,
                Ok(Outcome::DeadLettered) => self.ack(msg, AckKind::Term).await,
                Err(e) => {
                    // The database itself failed: leave the message for redelivery.
                    tracing::warn!(error = %e, "inbox transaction failed; event will be redelivered");
                    self.ack(msg, AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
        }
        true
    }

    /// The fast path: each event in its own savepoint inside one transaction. Stops at the
    /// first event that cannot be decoded or whose handler fails (rolled back to its
    /// savepoint) and returns how many leading events were committed.
    async fn apply_batch(&self, batch: &[Message]) -> Result<usize, Error> {
        let mut tx = self.pool.begin().await?;
        let mut done = 0;
        for msg in batch {
            let Ok(event) = TicketEvent::decode(msg.payload.as_ref()) else {
                break;
            };
            let Ok(event_id) = Uuid::parse_str(&event.event_id) else {
                break;
            };
            let span = event_span(msg, &event, event_id);
            let mut sp = Connection::begin(&mut *tx).await?;
            let outcome = async {
                if !record_in_inbox(&mut sp, msg, event_id).await? {
                    return Ok::<_, Error>(true);
                }
                Ok(self.handler.handle(&event, &mut sp).await.is_ok())
            }
            .instrument(span)
            .await?;
            if outcome {
                sp.commit().await?;
                done += 1;
                if done == 1 {
                    // The batch now holds this event's locks. A later event that has to wait
                    // for a lock gives up quickly instead (and is applied on its own), so the
                    // batch never waits while holding locks another transaction waits for.
                    sqlx::query("SET LOCAL lock_timeout = '50ms'")
                        .execute(&mut *tx)
                        .await?;
                }
            } else {
                sp.rollback().await?;
                break;
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn ack(&self, msg: &Message, kind: AckKind) {
        if let Err(e) = msg.ack_with(kind).await {
            // A lost ack means a redelivery, which the inbox absorbs.
            tracing::debug!(error = %e, "ack not sent");
        }
    }

    async fn process(&self, msg: &Message) -> Result<Outcome, Error> {
        let (seq, delivered) = match msg.info() {
            Ok(i) => (i.stream_sequence as i64, i.delivered),
            Err(e) => return Err(Error::nats(e)),
        };
        let event = match TicketEvent::decode(msg.payload.as_ref()) {
            Ok(ev) => ev,
            Err(e) => {
                self.dead_letter(msg, seq, delivered, "", &format!("undecodable event: {e}"))
                    .await?;
                return Ok(Outcome::DeadLettered);
            }
        };
        let Ok(event_id) = Uuid::parse_str(&event.event_id) else {
            self.dead_letter(
                msg,
                seq,
                delivered,
                &event.event_id,
                "event id is not a UUID",
            )
            .await?;
            return Ok(Outcome::DeadLettered);
        };

        let span = event_span(msg, &event, event_id);

        async {
            // Failures are retried here, in place, rather than by nak-and-redeliver: a later
            // event of the same ticket must not overtake one that has not been applied yet.
            let mut attempt = delivered;
            loop {
                match self.apply(msg, event_id, &event).await? {
                    Ok(outcome) => return Ok(outcome),
                    Err(error) if attempt >= self.opts.max_deliveries => {
                        tracing::error!(%error, attempt, "event failed too often; dead-lettered");
                        self.dead_letter(msg, seq, attempt, &event.event_id, &error)
                            .await?;
                        return Ok(Outcome::DeadLettered);
                    }
                    Err(error) => {
                        tracing::warn!(%error, attempt, "event handler failed; retrying");
                        // Keep the server from redelivering it to another replica meanwhile.
                        let _ = msg.ack_with(AckKind::Progress).await;
                        let pause =
                            Duration::from_millis(100 * 2u64.pow(attempt.clamp(1, 5) as u32));
                        tokio::time::sleep(pause).await;
                        attempt += 1;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One attempt: the inbox record and the handler's writes in one transaction. The outer
    /// `Result` is the database failing; the inner one is the handler refusing.
    async fn apply(
        &self,
        msg: &Message,
        event_id: Uuid,
        event: &TicketEvent,
    ) -> Result<Result<Outcome, String>, Error> {
        let mut tx = self.pool.begin().await?;
        if !record_in_inbox(&mut tx, msg, event_id).await? {
            tx.rollback().await?;
            return Ok(Ok(Outcome::Duplicate));
        }
        match self.handler.handle(event, &mut tx).await {
            Ok(()) => {
                tx.commit().await?;
                Ok(Ok(Outcome::Applied))
            }
            Err(e) => {
                tx.rollback().await?;
                Ok(Err(e.to_string()))
            }
        }
    }

    async fn dead_letter(
        &self,
        msg: &Message,
        seq: i64,
        delivered: i64,
        event_id: &str,
        error: &str,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO dead_letters (event_id, subject, stream_seq, deliveries, error, payload) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (stream_seq) DO NOTHING",
        )
        .bind(event_id)
        .bind(msg.subject.as_str())
        .bind(seq)
        .bind(delivered)
        .bind(error)
        .bind(msg.payload.as_ref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Records the event id; false when it was already there (a redelivery).
async fn record_in_inbox(
    tx: &mut PgConnection,
    msg: &Message,
    event_id: Uuid,
) -> Result<bool, Error> {
    let inserted =
        sqlx::query("INSERT INTO inbox (event_id, subject) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(event_id)
            .bind(msg.subject.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    Ok(inserted == 1)
}

/// A span for handling one event, child of the trace that produced it.
fn event_span(msg: &Message, event: &TicketEvent, event_id: Uuid) -> tracing::Span {
    let span = tracing::info_span!("handle_event", subject = %msg.subject, ticket_id = %event.ticket_id, %event_id);
    let mut cx: HashMap<String, String> = event.trace_context.clone();
    if let Some(h) = msg.headers.as_ref()
        && let Some(tp) = h.get("traceparent")
    {
        cx.entry("traceparent".into())
            .or_insert_with(|| tp.to_string());
    }
    telemetry::set_parent_from(&span, &cx);
    span
}

/// Largest number of events applied in one transaction.
const MAX_BATCH: usize = 64;

enum Outcome {
    Applied,
    Duplicate,
    DeadLettered,
}

/// An event that could not be applied, as kept in `dead_letters`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeadLetter {
    pub event_id: String,
    pub subject: String,
    pub stream_seq: i64,
    pub deliveries: i64,
    pub error: String,
    pub failed_at: chrono::DateTime<chrono::Utc>,
}

/// The dead letters of this service, newest first.
pub async fn dead_letters(pool: &PgPool, limit: i64) -> Result<Vec<DeadLetter>, Error> {
    Ok(sqlx::query_as(
        "SELECT event_id, subject, stream_seq, deliveries, error, failed_at \
         FROM dead_letters ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
