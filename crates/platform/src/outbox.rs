//! Transactional outbox. A service writes its event with [`enqueue`] inside the transaction
//! that changes its state; the [`Relay`] publishes committed rows to JetStream in commit order
//! with `Nats-Msg-Id = event_id`, waits for the stream's ack, then marks them sent.
//!
//! Guarantees: a rolled-back transaction publishes nothing; a crash anywhere loses nothing
//! (unsent rows stay unsent) and duplicates nothing downstream (a republished event id is
//! dropped by the stream's duplicate window and by consumers' inboxes).
//!
//! Waking: [`enqueue`] tells the relays of its own process at once (before the commit, so the
//! relay looks again for a short while until the row is visible); rows of other replicas are
//! found by a short poll while the relay is busy, and by a NOTIFY from their writers (a trigger
//! on `outbox`) once it is idle. It lowers its idle flag whenever it is busy, because a
//! notifying commit holds a database-wide lock through its WAL flush and would serialise
//! every writer's commit. Finding nothing costs one plain read, not a transaction.
//!
//! Ordering: rows are published in id order by one relay at a time (a transaction-scoped
//! advisory lock), never through an "id > last seen" cursor, because ids are taken before
//! commit and a cursor would skip rows that commit late. Events of one ticket keep their
//! commit order as long as the writer locks the ticket's row before enqueueing (ids are then
//! taken in commit order for that ticket).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use gridloop_proto::v1::{TicketEvent, ticket_event::Body};
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use uuid::Uuid;

mod relay;
pub use relay::{Relay, RelayOptions};

use crate::telemetry::{propagate, spans};
use crate::{Error, telemetry};

/// A new event for `ticket_id` from `producer`, stamped with a UUIDv7 id, the current time and
/// the trace context of its `create` span, a child of the current span.
pub fn new_event(producer: &str, ticket_id: &str, body: Body) -> TicketEvent {
    new_event_under(
        producer,
        ticket_id,
        body,
        &telemetry::current_context_headers(),
    )
}

/// [`new_event`] caused by the call or event whose trace context is `cause` (for work done
/// away from its cause's task, e.g. a batch writer).
pub fn new_event_under(
    producer: &str,
    ticket_id: &str,
    body: Body,
    cause: &HashMap<String, String>,
) -> TicketEvent {
    let event_id = Uuid::now_v7().to_string();
    let span = spans::create_span(body.kind(), &event_id, ticket_id, cause);
    // The call that caused the event is about this ticket too.
    telemetry::rpc::mark_call(ticket_id);
    TicketEvent {
        event_id,
        ticket_id: ticket_id.to_owned(),
        occurred_at: Some(gridloop_proto::ts(crate::clock::now())),
        producer: producer.to_owned(),
        trace_context: propagate::headers_of(&span),
        body: Some(body),
    }
}

/// Writes `event` to the outbox inside the caller's transaction. Lock the ticket's own row
/// first (`SELECT … FOR UPDATE`) so that a ticket's events are published in commit order.
pub async fn enqueue(tx: &mut PgConnection, event: &TicketEvent) -> Result<(), Error> {
    let (event_id, kind) = identify(event)?;
    sqlx::query(
        "INSERT INTO outbox (event_id, ticket_id, subject, payload) VALUES ($1, $2, $3, $4)",
    )
    .bind(event_id)
    .bind(&event.ticket_id)
    .bind(kind)
    .bind(event.encode_to_vec())
    .execute(&mut *tx)
    .await?;
    hint();
    Ok(())
}

/// Events as outbox columns, one array per column, for a service that writes many events
/// inside a statement of its own: `INSERT INTO outbox (event_id, ticket_id, subject, payload)
/// SELECT … FROM unnest(…) WITH ORDINALITY … ORDER BY` the ordinality, so that their ids, and
/// so their publication order, follow the arrays' order. Same rules as [`enqueue`].
pub struct Rows<'a> {
    pub event_ids: Vec<Uuid>,
    pub ticket_ids: Vec<&'a str>,
    pub subjects: Vec<&'static str>,
    pub payloads: Vec<Vec<u8>>,
}

impl<'a> Rows<'a> {
    pub fn of(events: &'a [TicketEvent]) -> Result<Self, Error> {
        let mut rows = Rows {
            event_ids: Vec::with_capacity(events.len()),
            ticket_ids: Vec::with_capacity(events.len()),
            subjects: Vec::with_capacity(events.len()),
            payloads: Vec::with_capacity(events.len()),
        };
        for event in events {
            let (event_id, kind) = identify(event)?;
            rows.event_ids.push(event_id);
            rows.ticket_ids.push(event.ticket_id.as_str());
            rows.subjects.push(kind);
            rows.payloads.push(event.encode_to_vec());
        }
        hint();
        Ok(rows)
    }
}

fn identify(event: &TicketEvent) -> Result<(Uuid, &'static str), Error> {
    let kind = event
        .kind()
        .ok_or_else(|| Error::Event("event has no body".into()))?;
    let event_id = Uuid::parse_str(&event.event_id)
        .map_err(|_| Error::Event(format!("event id {:?} is not a UUID", event.event_id)))?;
    Ok((event_id, kind))
}

/// Marks sent rows since `since` unsent again, so the relay republishes them. Consumers drop
/// what they already handled (inbox); the stream drops what is still inside its duplicate
/// window. Returns how many rows will be republished.
pub async fn replay_since(pool: &PgPool, since: DateTime<Utc>) -> Result<u64, Error> {
    let done = sqlx::query(
        "UPDATE outbox SET sent_at = NULL WHERE sent_at IS NOT NULL AND created_at >= $1",
    )
    .bind(since)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Number of committed events not yet acknowledged by the stream.
pub async fn pending(pool: &PgPool) -> Result<i64, Error> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            .fetch_one(pool)
            .await?,
    )
}

/// Bumped whenever this process enqueues an event, before the enqueuing transaction commits:
/// every relay of the process (tests run several services in one) sees it and looks.
pub(crate) static ENQUEUED: std::sync::LazyLock<watch::Sender<u64>> =
    std::sync::LazyLock::new(|| watch::Sender::new(0));

fn hint() {
    ENQUEUED.send_modify(|n| *n = n.wrapping_add(1));
}
