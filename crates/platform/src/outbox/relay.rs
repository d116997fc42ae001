//! The relay: publishes a schema's committed outbox rows to JetStream in id order, marks them
//! sent, and waits for more (see [`super`] for the guarantees and how it is woken).

use std::collections::HashMap;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage;
use prost::Message;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

use super::ENQUEUED;
use crate::nats::Bus;
use crate::telemetry::spans;
use crate::{Error, metrics};
use gridloop_client::pace::Pace;

/// Empty looks the relay makes at [`BUSY_POLL`] before it declares itself idle. Rows of this
/// process wake it at once ([`ENQUEUED`]); the poll is for other replicas' rows.
const BUSY_ROUNDS: u32 = 2;
const BUSY_POLL: Duration = Duration::from_millis(50);
/// After this process enqueues, how long and how often the relay looks for the row to commit.
const HINT_WINDOW: Duration = Duration::from_millis(100);
const HINT_POLL: Duration = Duration::from_millis(2);

/// Settings of a [`Relay`].
#[derive(Clone, Debug)]
pub struct RelayOptions {
    /// Rows claimed and published per round trip.
    pub batch: i64,
    /// Poll interval when no notification arrives (notifications can be lost on reconnect).
    pub poll: Duration,
    /// Sent rows older than this are deleted.
    pub retention: Duration,
    /// Longest wait between retries while NATS or the database is down.
    pub max_backoff: Duration,
    /// The service whose outbox this is, for its metrics.
    pub service: String,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            batch: 256,
            poll: Duration::from_millis(250),
            retention: Duration::from_secs(7 * 86_400),
            max_backoff: Duration::from_secs(5),
            service: String::new(),
        }
    }
}

/// Publishes the outbox of one service's schema.
pub struct Relay {
    pool: PgPool,
    bus: Bus,
    opts: RelayOptions,
    #[cfg(feature = "testing")]
    crash_after_publish: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    pub fn new(pool: PgPool, bus: Bus, opts: RelayOptions) -> Self {
        Self {
            pool,
            bus,
            opts,
            #[cfg(feature = "testing")]
            crash_after_publish: Default::default(),
        }
    }

    /// Test hook: the next batch is published but the relay fails before marking it sent,
    /// exactly as if the process died between the two steps.
    #[cfg(feature = "testing")]
    pub fn crash_after_next_publish(&self) {
        self.crash_after_publish
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Runs until `shutdown`: publishes whatever is pending, then waits for this process to
    /// enqueue, for a notification from another's writer, or for the poll interval. Never drops
    /// an event: on any failure it backs off and retries.
    pub async fn run(self, shutdown: CancellationToken) {
        let channel: Option<String> = sqlx::query_scalar("SELECT current_schema() || '_outbox'")
            .fetch_one(&self.pool)
            .await
            .ok();
        let mut listener = match channel {
            Some(ch) => match PgListener::connect_with(&self.pool).await {
                Ok(mut l) => l.listen(&ch).await.ok().map(|_| l),
                Err(_) => None,
            },
            None => None,
        };
        if listener.is_none() {
            tracing::warn!("outbox relay could not listen for notifications; polling only");
        }
        let mut enqueued = ENQUEUED.subscribe();
        let mut backoff = Pace::exponential(Duration::from_millis(50), self.opts.max_backoff);
        let mut last_purge = tokio::time::Instant::now();
        // Empty looks since rows were last published, and whether writers are asked to notify.
        let mut quiet = 0u32;
        let mut idle = false;
        // When this process last enqueued a row the relay has not seen committed yet.
        let mut hinted: Option<Instant> = None;
        while !shutdown.is_cancelled() {
            match self.round().await {
                Ok(n) => {
                    backoff.reset();
                    if n > 0 {
                        (quiet, hinted) = (0, None);
                        if idle {
                            idle = !self.set_idle(false).await;
                        }
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.upcoming().as_millis() as u64, "outbox relay failed; will retry");
                    if !backoff.pause(&shutdown).await {
                        break;
                    }
                    continue;
                }
            }
            if last_purge.elapsed() > Duration::from_secs(60) {
                last_purge = tokio::time::Instant::now();
                if let Err(e) = self.purge().await {
                    tracing::warn!(error = %e, "outbox purge failed");
                }
            }
            // Rows enqueued here but not visible yet: their transaction is still committing
            // (or rolled back). Look again shortly, for a bounded time.
            if let Some(at) = hinted {
                if at.elapsed() < HINT_WINDOW {
                    tokio::select! {
                        _ = tokio::time::sleep(HINT_POLL) => continue,
                        _ = shutdown.cancelled() => break,
                    }
                }
                hinted = None;
            }
            quiet += 1;
            // Busy: other replicas' rows are looked for at a short poll, and nobody is asked
            // to notify, because a notifying commit holds a database-wide lock through its WAL
            // flush and would serialise every writer's commit. Idle: writers are asked to
            // (raised, then one more look, since a row committed before the flag was visible
            // did not notify).
            let wait = if quiet <= BUSY_ROUNDS {
                BUSY_POLL
            } else if !idle {
                idle = self.set_idle(true).await;
                continue;
            } else {
                self.opts.poll
            };
            let notified = async {
                match listener.as_mut() {
                    Some(l) => {
                        let _ = l.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                changed = enqueued.changed() => {
                    if changed.is_ok() {
                        hinted = Some(Instant::now());
                    }
                }
                _ = notified => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        if idle {
            self.set_idle(false).await;
        }
        // Drain: whatever committed before shutdown goes out if NATS is there to take it.
        if let Err(e) = self.publish_pending().await {
            tracing::warn!(error = %e, "outbox relay could not drain on shutdown");
        }
    }

    /// One look: a plain read first, so that finding nothing costs one statement and no
    /// transaction; the claiming transaction only when there is something to claim.
    async fn round(&self) -> Result<usize, Error> {
        let any: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM outbox WHERE sent_at IS NULL)")
                .fetch_one(&self.pool)
                .await?;
        if any {
            self.publish_pending().await
        } else {
            Ok(0)
        }
    }

    /// Publishes one batch of pending rows; returns how many were acknowledged and marked.
    pub async fn publish_pending(&self) -> Result<usize, Error> {
        let mut tx = self.pool.begin().await?;
        // One relay per schema at a time keeps publication in id order across replicas.
        let leader: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.outbox_relay'))",
        )
        .fetch_one(&mut *tx)
        .await?;
        if !leader {
            return Ok(0);
        }
        let rows = sqlx::query(
            "SELECT id, event_id, subject, payload FROM outbox WHERE sent_at IS NULL \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.opts.batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }

        let contexts: Vec<HashMap<String, String>> = rows
            .iter()
            .map(|row| trace_context(row.get::<&[u8], _>("payload")))
            .collect();
        let span = spans::send_span(&self.bus.stream, &contexts);
        let (done, failure) = self.publish(&rows, contexts).instrument(span.clone()).await;
        if let Some(e) = &failure {
            spans::fail(&span, &e.to_string());
        }
        drop(span);

        #[cfg(feature = "testing")]
        if self
            .crash_after_publish
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(Error::Event("simulated crash after publish".into()));
        }

        // Only the acknowledged prefix is marked; the rest is retried (and deduplicated).
        sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = ANY($1)")
            .bind(&done)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        metrics::instruments()
            .outbox_published
            .add(done.len() as u64, &[metrics::service(&self.opts.service)]);
        match failure {
            Some(e) if done.is_empty() => Err(e),
            Some(e) => {
                tracing::warn!(error = %e, published = done.len(), "outbox batch partly published");
                Ok(done.len())
            }
            None => Ok(done.len()),
        }
    }

    /// Sends `rows` pipelined, then collects the acks in order (the connection keeps the
    /// order, so the stream stores them in id order). Returns the ids of the acknowledged
    /// prefix and the failure that ended it, if any.
    async fn publish(
        &self,
        rows: &[sqlx::postgres::PgRow],
        contexts: Vec<HashMap<String, String>>,
    ) -> (Vec<i64>, Option<Error>) {
        let mut acks = Vec::with_capacity(rows.len());
        let mut failure = None;
        for (row, context) in rows.iter().zip(contexts) {
            let event_id: Uuid = row.get("event_id");
            let kind: String = row.get("subject");
            let payload: Vec<u8> = row.get("payload");
            let mut headers = HeaderMap::new();
            for (k, v) in context {
                headers.insert(k.as_str(), v.as_str());
            }
            let publish = PublishMessage::build()
                .payload(payload.into())
                .headers(headers)
                .message_id(event_id.to_string());
            match self
                .bus
                .js
                .send_publish(self.bus.subject(&kind), publish)
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    failure = Some(Error::nats(e));
                    break;
                }
            }
        }
        let mut done: Vec<i64> = Vec::with_capacity(acks.len());
        for (row, ack) in rows.iter().zip(acks) {
            match ack.await {
                Ok(_) => done.push(row.get("id")),
                Err(e) => {
                    failure.get_or_insert(Error::nats(e));
                    break;
                }
            }
        }
        (done, failure)
    }

    /// Raises or lowers the flag that makes writers notify; false if it could not be set
    /// (the relay then simply polls).
    async fn set_idle(&self, idle: bool) -> bool {
        let sql = if idle {
            "INSERT INTO outbox_relay_idle DEFAULT VALUES ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM outbox_relay_idle"
        };
        match sqlx::query(sql).execute(&self.pool).await {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(error = %e, "outbox idle flag not updated");
                false
            }
        }
    }

    async fn purge(&self) -> Result<u64, Error> {
        let cutoff = crate::clock::now()
            - chrono::Duration::from_std(self.opts.retention).unwrap_or(chrono::Duration::days(7));
        let done = sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// The trace context of the event: linked from the relay's `send` span and repeated as NATS
/// headers, so that tools reading the stream (and consumers that do not decode the body
/// first) see it.
fn trace_context(payload: &[u8]) -> HashMap<String, String> {
    TraceOnly::decode(payload)
        .map(|ev| ev.trace_context)
        .unwrap_or_default()
}

/// `TicketEvent` reduced to its trace context (same tag): decoding it skips the body instead
/// of allocating every string in it, once per event the relay publishes.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceOnly {
    #[prost(map = "string, string", tag = "5")]
    trace_context: HashMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::new_event;
    use gridloop_proto::v1::{TicketDiscovered, ticket_event::Body};

    #[test]
    fn the_trace_context_comes_from_the_event() {
        let mut event = new_event(
            "test",
            "t-1",
            Body::Discovered(TicketDiscovered {
                content: "路灯不亮".into(),
                ..Default::default()
            }),
        );
        event.trace_context.insert(
            "traceparent".into(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        );
        let cx = trace_context(&event.encode_to_vec());
        assert_eq!(
            cx.get("traceparent").map(|v| v.as_str()),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
    }
}
