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
use futures::StreamExt;
use gridloop_proto::v1::TicketEvent;
use prost::Message as _;
use sqlx::{PgConnection, PgPool};
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
    die_before_ack_after: Option<u64>,
}

impl<H: Handler> Consumer<H> {
    pub fn new(pool: PgPool, bus: Bus, opts: ConsumerOptions, handler: H) -> Self {
        Self {
            pool,
            bus,
            opts,
            handler,
            #[cfg(feature = "testing")]
            die_before_ack_after: None,
        }
    }

    /// Test hook: after `n` events are committed, the consumer stops before acking the next
    /// committed one, exactly as if the process died between commit and ack.
    #[cfg(feature = "testing")]
    pub fn die_before_ack_after(mut self, n: u64) -> Self {
        self.die_before_ack_after = Some(n);
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

    /// Consumes until `shutdown`, then finishes the event in hand and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        #[cfg(feature = "testing")]
        let mut committed = 0u64;
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
                let msg = match next {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "consumer stream error; reopening");
                        continue 'outer;
                    }
                    None => continue 'outer,
                };
                match self.process(&msg).await {
                    Ok(Outcome::Applied) => {
                        #[cfg(feature = "testing")]
                        {
                            committed += 1;
                            if self.die_before_ack_after.is_some_and(|n| committed > n) {
                                return;
                            }
                        }
                        self.ack(&msg, AckKind::Ack).await;
                    }
                    Ok(Outcome::Duplicate) => self.ack(&msg, AckKind::Ack).await,
                    Ok(Outcome::DeadLettered) => self.ack(&msg, AckKind::Term).await,
                    Err(e) => {
                        // The database itself failed: leave the message for redelivery.
                        tracing::warn!(error = %e, "inbox transaction failed; event will be redelivered");
                        self.ack(&msg, AckKind::Nak(Some(Duration::from_secs(1))))
                            .await;
                    }
                }
            }
        }
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

        let span = tracing::info_span!("handle_event", subject = %msg.subject, ticket_id = %event.ticket_id, %event_id);
        let mut cx: HashMap<String, String> = event.trace_context.clone();
        if let Some(h) = msg.headers.as_ref()
            && let Some(tp) = h.get("traceparent")
        {
            cx.entry("traceparent".into())
                .or_insert_with(|| tp.to_string());
        }
        telemetry::set_parent_from(&span, &cx);

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
        let fresh = sqlx::query(
            "INSERT INTO inbox (event_id, subject) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(event_id)
        .bind(msg.subject.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
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
