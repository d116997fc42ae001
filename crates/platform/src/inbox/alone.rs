//! The slow path of the consumer: one event on its own, retried in place while its handler
//! fails and the database answers, dead-lettered after the configured number of attempts.

use std::time::Duration;

use async_nats::jetstream::Message;
use gridloop_client::pace::Pace;
use gridloop_proto::v1::{LifecycleState, TicketEvent};
use prost::Message as _;
use tracing::Instrument;
use uuid::Uuid;

use super::read::{Read, decode, event_span, record_handled};
use super::{Consumer, Handler, Stop, claim, report_refusal, reread, seq_of};
use crate::telemetry::spans;
use crate::{Error, metrics};

impl<H: Handler> Consumer<H> {
    /// One event on its own, retried in place until it is applied or, failing while the
    /// database is healthy, dead-lettered. Nothing after it is read meanwhile.
    pub(super) async fn apply_alone(&self, msg: &Message, position: &mut u64) -> Result<(), Stop> {
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
                let attempt = self.apply_one(msg, seq, event_id, &event, *position);
                match self.settled_after(attempt, |r| matches!(r, Ok(Ok(_)))).await {
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
        let mut tx = self.pool.begin().await?;
        let claimed = claim::claim(
            &self.opts.durable,
            &mut tx,
            position,
            seq,
            [(msg, event_id)],
        );
        let fresh = !claimed.await?.is_empty();
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
        self.opts.progress.advance(event.ticket_id());
        Ok(Ok(outcome))
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
        claim::claim(
            &self.opts.durable,
            &mut tx,
            position,
            seq,
            std::iter::empty(),
        )
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
        Ok(())
    }
}
