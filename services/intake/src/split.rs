//! Reconciling a merge that lost the race with its parent's write-off.
//!
//! Intake merges a repeat on its own view, which may lag closure's `closed`. When the stream
//! shows the parent's `closed` before the repeat's `merged`, the parent has ended without the
//! repeat: it is filed as a ticket of its own. In the same transaction that applies the
//! `merged`, intake publishes a `discovered` for the repeat's ticket with the submission's
//! facts and `split_from_ticket_id` naming the closed parent (the lifecycle's MERGED →
//! DISCOVERED), marks it DISCOVERED in `tickets` — open, so later repeats join it — and takes
//! the repeat off the parent's count. Every consumer then dispatches, counts and shows it as a
//! new ticket linked to the closed one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use gridloop_lifecycle::TicketId;
use gridloop_platform::{Error, outbox};
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::{Actor, Category, GeoPoint, Location, MaskedContact, TicketDiscovered};
use sqlx::PgConnection;

use crate::stored::{ACTOR_ROLE, CHANNEL, HOUSEHOLD_FLAG, URGENCY};
use crate::submit::PRODUCER;

/// A stored submission, as its `discovered` event needs it.
#[derive(sqlx::FromRow)]
struct Received {
    parent_ticket_id: Option<TicketId>,
    channel: String,
    external_id: String,
    category_code: String,
    category_name: String,
    urgency: String,
    content: String,
    masked_phone: String,
    citizen_key: Option<String>,
    household_key: Option<String>,
    device_id: Option<String>,
    household_flags: Vec<String>,
    address: String,
    grid_code: String,
    lat: Option<f64>,
    lng: Option<f64>,
    photo_urls: Vec<String>,
    recording_url: String,
    submitted_by: String,
    submitted_by_role: String,
    received_at: DateTime<Utc>,
}

/// Splits the repeat `child`, merged into the ended `parent`, off as its own ticket.
pub async fn split_off(
    tx: &mut PgConnection,
    child: TicketId,
    parent: TicketId,
    trace: &HashMap<String, String>,
) -> Result<(), Error> {
    // Locked first: the child's events go out in the order they commit.
    let received: Option<Received> = sqlx::query_as(
        "SELECT t.parent_ticket_id, t.channel, t.external_id, t.category_code, \
           c.name AS category_name, t.urgency, t.content, t.masked_phone, t.citizen_key, \
           t.household_key, t.device_id, t.household_flags, t.address, t.grid_code, t.lat, \
           t.lng, t.photo_urls, t.recording_url, t.submitted_by, t.submitted_by_role, \
           t.received_at \
         FROM tickets t JOIN categories c ON c.code = t.category_code \
         WHERE t.ticket_id = $1 FOR UPDATE OF t",
    )
    .bind(child)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(r) = received.filter(|r| r.parent_ticket_id == Some(parent)) else {
        tracing::warn!(%child, %parent, "repeat on an ended ticket is not a merge intake stored; not split");
        return Ok(());
    };
    let event =
        outbox::new_event_under(PRODUCER, &child.to_string(), discovered(&r, parent), trace);
    sqlx::query(
        "UPDATE tickets SET state = 'DISCOVERED', parent_ticket_id = NULL, \
           split_from_ticket_id = $2, split_at = now() \
         WHERE ticket_id = $1",
    )
    .bind(child)
    .bind(parent)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE tickets SET repeat_count = GREATEST(repeat_count - 1, 0) WHERE ticket_id = $1",
    )
    .bind(parent)
    .execute(&mut *tx)
    .await?;
    outbox::enqueue(tx, &event).await?;
    tracing::info!(ticket_id = %child, split_from = %parent, "repeat merged into an ended ticket filed as a ticket of its own");
    Ok(())
}

/// The submission's `discovered`, as intake sent it for a new ticket, split from `parent`.
fn discovered(r: &Received, parent: TicketId) -> Body {
    Body::Discovered(TicketDiscovered {
        channel: CHANNEL.parse(&r.channel),
        external_id: r.external_id.clone(),
        category: Some(Category {
            code: r.category_code.clone(),
            name: r.category_name.clone(),
        }),
        urgency: URGENCY.parse(&r.urgency),
        content: r.content.clone(),
        contact: r.citizen_key.as_ref().map(|k| MaskedContact {
            masked_phone: r.masked_phone.clone(),
            citizen_key: k.clone(),
        }),
        location: Some(Location {
            point: r.lat.zip(r.lng).map(|(lat, lng)| GeoPoint { lat, lng }),
            address: r.address.clone(),
            grid_code: r.grid_code.clone(),
        }),
        household_flags: HOUSEHOLD_FLAG.parse_all(&r.household_flags),
        received_at: Some(gridloop_proto::ts(r.received_at)),
        photo_urls: r.photo_urls.clone(),
        recording_url: r.recording_url.clone(),
        household_key: r.household_key.clone().unwrap_or_default(),
        device_id: r.device_id.clone().unwrap_or_default(),
        submitted_by: (!r.submitted_by.is_empty()).then(|| Actor {
            id: r.submitted_by.clone(),
            role: ACTOR_ROLE.parse(&r.submitted_by_role),
        }),
        split_from_ticket_id: parent.to_string(),
    })
}
