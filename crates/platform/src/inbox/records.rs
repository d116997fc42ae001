//! What the inbox records beside applying events: refusals reported as violations, the stored
//! position, and the dead letters.

use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::{LifecycleState, TicketViolation};
use sqlx::{PgConnection, PgPool};

use crate::Error;
use crate::envelope::Envelope;
use crate::outbox::{enqueue, new_event};

/// Records, inside the consumer's transaction, that `service` refused `event` with `reason`
/// while its view of the ticket stood at `from_state`: logged as a warning and published as a
/// `ticket.violation` naming the service, which the tracker keeps for ListViolations. Use it
/// wherever a handler does not apply an event, so that no event is ever dropped silently.
pub async fn report_refusal(
    tx: &mut PgConnection,
    service: &str,
    event: &Envelope,
    from_state: LifecycleState,
    reason: &str,
) -> Result<(), Error> {
    let attempted = event.kind();
    // Reasons quote errors and other services' text: no phone number leaves in one.
    let reason = crate::pii::mask_digits(reason);
    let reason = reason.as_str();
    if matches!(event.body, Body::Violation(_)) {
        // A violation about a violation would be refused the same way again, without end.
        tracing::warn!(ticket_id = %event.ticket_id, event_id = %event.event_id, service, %reason, "violation event refused; not reported again");
        return Ok(());
    }
    tracing::warn!(ticket_id = %event.ticket_id, event_id = %event.event_id, kind = attempted, service, %reason, "event refused; reported as a violation");
    let body = Body::Violation(TicketViolation {
        attempted: attempted.to_string(),
        from_state: from_state as i32,
        reason: reason.to_string(),
        rejected_event_id: event.event_id.to_string(),
        rejected_producer: event.producer.clone(),
        detected_by: service.to_string(),
    });
    enqueue(tx, &new_event(service, &event.ticket_id.to_string(), body)).await
}

/// The stored position of a service's consumer: the last stream sequence it applied.
pub async fn stored_position(pool: &PgPool, consumer: &str) -> Result<u64, Error> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT stream_seq FROM consumer_position WHERE consumer = $1")
            .bind(consumer)
            .fetch_optional(pool)
            .await?;
    Ok(seq.unwrap_or(0) as u64)
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
