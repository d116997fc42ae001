//! Accepting submissions: idempotency, repeat-complaint merging, and the ticket rows committed
//! with their events in one transaction. [`record`] takes a batch (the [`crate::writer`] groups
//! submissions that arrive together); the rules below hold per submission, batch or not.
//!
//! Idempotency: `(channel, external_id)` is unique in `tickets`; a retry finds the row and gets
//! the first answer back as `REPLAYED`. Inserts use `ON CONFLICT DO NOTHING`, so two retries
//! racing each other cannot both create a ticket: the loser inserts nothing and answers with
//! the winner's ticket.
//!
//! Repeat complaints (重复诉求): a submission with the same citizen key or household key and
//! the same category as an *open* earlier ticket is merged into the earliest such ticket.
//! Intake consumes no events, so it cannot see closure: "open" here means intake's own view —
//! not itself merged, and received within the repeat window (default 30 days). A ticket closed
//! inside the window still takes repeats; the tracker, which sees closure, is the authority
//! on what a repeat on a closed ticket means.
//!
//! Submissions of one citizen (and one household) are serialised with transaction-scoped
//! advisory locks, so two concurrent repeats cannot both become parents. The SQL side is the
//! `submit_batch` function (`migrations/0002_submit_batch.sql`): one round trip per batch.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use gridloop_lifecycle::{Event, LoopState, apply};
use gridloop_platform::{ApiError, outbox};
use gridloop_proto::v1::{Channel, GeoPoint, HouseholdFlag, SubmitOutcome, Urgency};
use serde::Serialize;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::domain::Phone;
use crate::events;

/// The producer name on intake's events.
pub const PRODUCER: &str = "intake";

/// The citizen behind a submission. Only intake ever holds `phone` and `name`.
#[derive(Clone, Debug)]
pub struct Contact {
    pub phone: Phone,
    pub name: Option<String>,
    pub citizen_key: String,
}

/// The registered household behind a one-key call.
#[derive(Clone, Debug)]
pub struct Household {
    pub key: String,
    pub device_id: String,
    pub flags: Vec<HouseholdFlag>,
}

/// Who submitted it, when it was a person of ours (operator, worker).
#[derive(Clone, Debug)]
pub struct Submitter {
    pub id: String,
    pub role: gridloop_proto::v1::ActorRole,
}

/// A validated submission from any channel.
#[derive(Clone, Debug)]
pub struct Submission {
    pub channel: Channel,
    pub external_id: String,
    pub category_code: String,
    pub category_name: String,
    pub urgency: Urgency,
    pub content: String,
    pub contact: Option<Contact>,
    pub household: Option<Household>,
    pub address: String,
    pub grid_code: String,
    pub point: Option<GeoPoint>,
    pub photo_urls: Vec<String>,
    pub recording_url: String,
    pub submitted_by: Option<Submitter>,
    pub received_at: DateTime<Utc>,
}

/// What became of a submission, as the caller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The ticket to follow: the new one, or the parent of a merged one.
    pub ticket_id: Uuid,
    pub outcome: SubmitOutcome,
    /// The submission's own ticket when it was merged.
    pub merged_ticket_id: Option<Uuid>,
    pub repeat_count: u32,
    pub urgency: Urgency,
}

/// A submission waiting to be recorded, with the trace context of the request it came in on
/// (its event carries that context, whichever task writes it).
pub struct Pending<'a> {
    pub sub: &'a Submission,
    pub trace: &'a HashMap<String, String>,
}

/// Records `batch` in order inside `tx` — ticket rows and their events — and returns one answer
/// per submission: accepted (created, merged or replayed), or refused because its category was
/// retired (nothing written for it).
///
/// An `Err` means the transaction must be rolled back: nothing of the batch may be committed.
pub async fn record(
    tx: &mut PgConnection,
    batch: &[Pending<'_>],
    window: Duration,
) -> Result<Vec<Result<Accepted, ApiError>>, ApiError> {
    // Check the loop's rules for both possible outcomes before writing anything.
    let discovered = LoopState::start(&Event::Discovered)
        .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
    merge_child(&discovered, String::new())?;

    let items: Vec<TicketRow<'_>> = batch.iter().map(|p| TicketRow::new(p.sub)).collect();
    let json = serde_json::to_string(&items)
        .map_err(|e| ApiError::internal(format!("submission rows: {e}")))?;
    let rows = sqlx::query(
        "SELECT item, outcome, ticket, parent, urgency_code, repeats \
         FROM submit_batch($1::jsonb, $2::interval) ORDER BY item",
    )
    .bind(json)
    .bind(format!("{} seconds", window.num_seconds()))
    .fetch_all(&mut *tx)
    .await?;
    if rows.len() != batch.len() {
        return Err(ApiError::internal(format!(
            "{} answers for {} submissions",
            rows.len(),
            batch.len()
        )));
    }

    let mut answers = Vec::with_capacity(batch.len());
    let mut events = Vec::new();
    for ((row, pending), item) in rows.iter().zip(batch).zip(&items) {
        let outcome: String = row.get("outcome");
        let ticket: Option<Uuid> = row.get("ticket");
        let parent: Option<Uuid> = row.get("parent");
        let repeats = row.get::<Option<i32>, _>("repeats").unwrap_or(0).max(0) as u32;
        let stored_urgency = Urgency::try_from(i32::from(row.get::<i16, _>("urgency_code")))
            .unwrap_or(Urgency::Unspecified);
        let sub = pending.sub;
        let answer = match (outcome.as_str(), ticket, parent) {
            ("CREATED", Some(id), None) if id == item.ticket_id => {
                let body = events::discovered(sub);
                events.push(event(id, body, pending.trace));
                Ok(Accepted {
                    ticket_id: id,
                    outcome: SubmitOutcome::Created,
                    merged_ticket_id: None,
                    repeat_count: 0,
                    urgency: sub.urgency,
                })
            }
            ("MERGED", Some(id), Some(parent_id)) if id == item.ticket_id => {
                // The parent's new count is the database's (`repeat_count + 1` on the locked
                // row); it must be what the loop's rules make of the count before.
                let parent_state = LoopState {
                    repeat_count: repeats.saturating_sub(1),
                    ..LoopState::new()
                }
                .record_repeat()
                .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
                merge_child(&discovered, parent_id.to_string())?;
                if parent_state.repeat_count != repeats {
                    return Err(ApiError::internal(
                        "repeat count out of step with the loop's rules",
                    ));
                }
                let body = events::merged(sub, parent_id, repeats);
                events.push(event(id, body, pending.trace));
                Ok(Accepted {
                    ticket_id: parent_id,
                    outcome: SubmitOutcome::Merged,
                    merged_ticket_id: Some(id),
                    repeat_count: repeats,
                    urgency: sub.urgency,
                })
            }
            ("REPLAYED", Some(id), parent) => Ok(Accepted {
                ticket_id: parent.unwrap_or(id),
                outcome: SubmitOutcome::Replayed,
                merged_ticket_id: parent.map(|_| id),
                repeat_count: repeats,
                urgency: stored_urgency,
            }),
            ("CATEGORY_RETIRED", None, None) => Err(ApiError::invalid(
                "category_code",
                "category is no longer in use",
            )),
            (other, _, _) => {
                return Err(ApiError::internal(format!(
                    "unexpected submission outcome {other:?}"
                )));
            }
        };
        answers.push(answer);
    }
    outbox::enqueue_all(tx, &events).await?;
    Ok(answers)
}

/// A new ticket merged into `parent`, by the loop's rules.
fn merge_child(discovered: &LoopState, parent: String) -> Result<LoopState, ApiError> {
    apply(discovered, &Event::Merged { parent })
        .map_err(|v| ApiError::precondition(v.to_string(), v.state))
}

fn event(
    ticket_id: Uuid,
    body: gridloop_proto::v1::ticket_event::Body,
    trace: &HashMap<String, String>,
) -> gridloop_proto::v1::TicketEvent {
    let mut event = outbox::new_event(PRODUCER, &ticket_id.to_string(), body);
    event.trace_context = trace.clone();
    event
}

/// A submission as a `tickets` row for `submit_batch` (JSON keys are the column names).
/// `state`, `parent_ticket_id` and `repeat_count` are decided there.
#[derive(Serialize)]
struct TicketRow<'a> {
    ticket_id: Uuid,
    channel: i16,
    external_id: &'a str,
    category_code: &'a str,
    urgency: i16,
    content: &'a str,
    phone: Option<&'a str>,
    contact_name: Option<&'a str>,
    masked_phone: String,
    citizen_key: Option<&'a str>,
    household_key: Option<&'a str>,
    device_id: Option<&'a str>,
    household_flags: Vec<i16>,
    address: &'a str,
    grid_code: &'a str,
    lat: Option<f64>,
    lng: Option<f64>,
    photo_urls: &'a [String],
    recording_url: &'a str,
    submitted_by: &'a str,
    submitted_by_role: i16,
    received_at: DateTime<Utc>,
}

impl<'a> TicketRow<'a> {
    fn new(sub: &'a Submission) -> Self {
        let contact = sub.contact.as_ref();
        let household = sub.household.as_ref();
        Self {
            ticket_id: Uuid::now_v7(),
            channel: sub.channel as i16,
            external_id: &sub.external_id,
            category_code: &sub.category_code,
            urgency: sub.urgency as i16,
            content: &sub.content,
            phone: contact.map(|c| c.phone.as_str()),
            contact_name: contact.and_then(|c| c.name.as_deref()),
            masked_phone: contact.map(|c| c.phone.masked()).unwrap_or_default(),
            citizen_key: contact.map(|c| c.citizen_key.as_str()),
            household_key: household.map(|h| h.key.as_str()),
            device_id: household.map(|h| h.device_id.as_str()),
            household_flags: household
                .map(|h| h.flags.iter().map(|f| *f as i16).collect())
                .unwrap_or_default(),
            address: &sub.address,
            grid_code: &sub.grid_code,
            lat: sub.point.map(|p| p.lat),
            lng: sub.point.map(|p| p.lng),
            photo_urls: &sub.photo_urls,
            recording_url: &sub.recording_url,
            submitted_by: sub.submitted_by.as_ref().map_or("", |s| s.id.as_str()),
            submitted_by_role: sub.submitted_by.as_ref().map_or(0, |s| s.role as i16),
            received_at: sub.received_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `submit_batch` writes the states by name; they must be the loop's own.
    #[test]
    fn stored_state_names_are_the_loops() {
        let discovered = LoopState::start(&Event::Discovered).unwrap();
        assert_eq!(discovered.state.name(), "DISCOVERED");
        let merged = merge_child(&discovered, "parent".into()).unwrap();
        assert_eq!(merged.state.name(), "MERGED");
    }
}
