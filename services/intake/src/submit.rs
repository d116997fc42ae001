//! Accepting a submission: idempotency, repeat-complaint merging, and the ticket row committed
//! with its event in one transaction.
//!
//! Idempotency: `(channel, external_id)` is unique in `tickets`; a retry finds the row and gets
//! the first answer back as `REPLAYED`. Inserts use `ON CONFLICT DO NOTHING`, so two retries
//! racing each other cannot both create a ticket: the loser sees no row returned, rolls back
//! and answers with the winner's ticket.
//!
//! Repeat complaints (重复诉求): a submission with the same citizen key or household key and
//! the same category as an *open* earlier ticket is merged into the earliest such ticket.
//! Intake consumes no events, so it cannot see closure: "open" here means intake's own view —
//! not itself merged, and received within the repeat window (default 30 days). A ticket closed
//! inside the window still takes repeats; the tracker, which sees closure, is the authority
//! on what a repeat on a closed ticket means.
//!
//! Submissions of one citizen (and one household) are serialised with transaction-scoped
//! advisory locks, so two concurrent repeats cannot both become parents.

use chrono::{DateTime, Duration, Utc};
use gridloop_lifecycle::{Event, LoopState, apply};
use gridloop_platform::{ApiError, outbox};
use gridloop_proto::v1::{Channel, GeoPoint, HouseholdFlag, SubmitOutcome, Urgency};
use sqlx::{PgConnection, PgPool, Row};
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

/// Records `sub` (or finds its earlier record) and returns the answer.
#[tracing::instrument(skip_all, fields(channel = sub.channel.as_str_name(), external_id = %sub.external_id))]
pub async fn submit(
    pool: &PgPool,
    sub: &Submission,
    window: Duration,
) -> Result<Accepted, ApiError> {
    // Retries are common (desk systems resend on timeouts): answer them without a lock.
    if let Some(done) = replay(&mut *pool.acquire().await?, sub).await? {
        return Ok(done);
    }
    let mut tx = pool.begin().await?;
    let mut locks: Vec<String> = Vec::new();
    if let Some(c) = &sub.contact {
        locks.push(format!("intake/citizen/{}", c.citizen_key));
    }
    if let Some(h) = &sub.household {
        locks.push(format!("intake/household/{}", h.key));
    }
    // One order for everyone, so two submissions never wait on each other's locks.
    locks.sort();
    for key in &locks {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(done) = replay(&mut tx, sub).await? {
        return Ok(done);
    }

    let id = Uuid::now_v7();
    let accepted = match open_parent(&mut tx, sub, window).await? {
        Some((parent_id, parent_repeats)) => {
            // Check both sides of the merge with the loop's rules before writing anything.
            let parent = LoopState {
                repeat_count: parent_repeats,
                ..LoopState::new()
            }
            .record_repeat()
            .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
            let child = LoopState::start(&Event::Discovered)
                .and_then(|s| {
                    apply(
                        &s,
                        &Event::Merged {
                            parent: parent_id.to_string(),
                        },
                    )
                })
                .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
            if !insert(&mut tx, id, sub, child.state.name(), Some(parent_id)).await? {
                return raced(tx, sub).await;
            }
            sqlx::query("UPDATE tickets SET repeat_count = $2 WHERE ticket_id = $1")
                .bind(parent_id)
                .bind(parent.repeat_count as i32)
                .execute(&mut *tx)
                .await?;
            let event = outbox::new_event(
                PRODUCER,
                &id.to_string(),
                events::merged(sub, parent_id, parent.repeat_count),
            );
            outbox::enqueue(&mut tx, &event).await?;
            tracing::info!(ticket_id = %id, parent_ticket_id = %parent_id, repeat_count = parent.repeat_count, "submission merged as a repeat complaint");
            Accepted {
                ticket_id: parent_id,
                outcome: SubmitOutcome::Merged,
                merged_ticket_id: Some(id),
                repeat_count: parent.repeat_count,
                urgency: sub.urgency,
            }
        }
        None => {
            let state = LoopState::start(&Event::Discovered)
                .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
            if !insert(&mut tx, id, sub, state.state.name(), None).await? {
                return raced(tx, sub).await;
            }
            let event = outbox::new_event(PRODUCER, &id.to_string(), events::discovered(sub));
            outbox::enqueue(&mut tx, &event).await?;
            tracing::info!(ticket_id = %id, "ticket discovered");
            Accepted {
                ticket_id: id,
                outcome: SubmitOutcome::Created,
                merged_ticket_id: None,
                repeat_count: 0,
                urgency: sub.urgency,
            }
        }
    };
    tx.commit().await?;
    Ok(accepted)
}

/// The insert lost to a concurrent twin: drop ours and answer with the twin's ticket.
async fn raced(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    sub: &Submission,
) -> Result<Accepted, ApiError> {
    let mut tx = tx;
    let done = replay(&mut tx, sub).await?;
    tx.rollback().await?;
    done.ok_or_else(|| ApiError::internal("idempotency conflict without a stored ticket"))
}

/// The first answer to this (channel, external id), if it was accepted before.
async fn replay(conn: &mut PgConnection, sub: &Submission) -> Result<Option<Accepted>, ApiError> {
    let row = sqlx::query(
        "SELECT t.ticket_id, t.parent_ticket_id, t.urgency, t.repeat_count, p.repeat_count AS parent_repeats \
         FROM tickets t LEFT JOIN tickets p ON p.ticket_id = t.parent_ticket_id \
         WHERE t.channel = $1 AND t.external_id = $2",
    )
    .bind(sub.channel as i16)
    .bind(&sub.external_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| {
        let own: Uuid = r.get("ticket_id");
        let parent: Option<Uuid> = r.get("parent_ticket_id");
        let repeats: i32 = match parent {
            Some(_) => r.get::<Option<i32>, _>("parent_repeats").unwrap_or(0),
            None => r.get("repeat_count"),
        };
        Accepted {
            ticket_id: parent.unwrap_or(own),
            outcome: SubmitOutcome::Replayed,
            merged_ticket_id: parent.map(|_| own),
            repeat_count: repeats.max(0) as u32,
            urgency: Urgency::try_from(i32::from(r.get::<i16, _>("urgency")))
                .unwrap_or(Urgency::Unspecified),
        }
    }))
}

/// The earliest open ticket this submission repeats, locked; with its repeat count.
async fn open_parent(
    tx: &mut PgConnection,
    sub: &Submission,
    window: Duration,
) -> Result<Option<(Uuid, u32)>, ApiError> {
    let citizen = sub.contact.as_ref().map(|c| c.citizen_key.as_str());
    let household = sub.household.as_ref().map(|h| h.key.as_str());
    if citizen.is_none() && household.is_none() {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT ticket_id, repeat_count FROM tickets \
         WHERE state = 'DISCOVERED' AND category_code = $1 AND received_at >= now() - $2::interval \
           AND ((citizen_key IS NOT NULL AND citizen_key = $3) \
             OR (household_key IS NOT NULL AND household_key = $4)) \
         ORDER BY received_at, ticket_id LIMIT 1 FOR UPDATE",
    )
    .bind(&sub.category_code)
    .bind(format!("{} seconds", window.num_seconds()))
    .bind(citizen)
    .bind(household)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|r| {
        (
            r.get("ticket_id"),
            r.get::<i32, _>("repeat_count").max(0) as u32,
        )
    }))
}

/// Inserts the ticket row; false when (channel, external id) already exists.
async fn insert(
    tx: &mut PgConnection,
    id: Uuid,
    sub: &Submission,
    state: &str,
    parent: Option<Uuid>,
) -> Result<bool, ApiError> {
    let flags: Vec<i16> = sub
        .household
        .as_ref()
        .map(|h| h.flags.iter().map(|f| *f as i16).collect())
        .unwrap_or_default();
    let (submitted_by, submitted_role) = sub
        .submitted_by
        .as_ref()
        .map(|s| (s.id.clone(), s.role as i16))
        .unwrap_or_default();
    let inserted = sqlx::query(
        "INSERT INTO tickets (ticket_id, channel, external_id, state, parent_ticket_id, category_code, \
            urgency, content, phone, contact_name, masked_phone, citizen_key, household_key, device_id, \
            household_flags, address, grid_code, lat, lng, photo_urls, recording_url, submitted_by, \
            submitted_by_role, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
            $19, $20, $21, $22, $23, $24) \
         ON CONFLICT (channel, external_id) DO NOTHING",
    )
    .bind(id)
    .bind(sub.channel as i16)
    .bind(&sub.external_id)
    .bind(state)
    .bind(parent)
    .bind(&sub.category_code)
    .bind(sub.urgency as i16)
    .bind(&sub.content)
    .bind(sub.contact.as_ref().map(|c| c.phone.as_str()))
    .bind(sub.contact.as_ref().and_then(|c| c.name.as_deref()))
    .bind(sub.contact.as_ref().map(|c| c.phone.masked()).unwrap_or_default())
    .bind(sub.contact.as_ref().map(|c| c.citizen_key.as_str()))
    .bind(sub.household.as_ref().map(|h| h.key.as_str()))
    .bind(sub.household.as_ref().map(|h| h.device_id.as_str()))
    .bind(flags)
    .bind(&sub.address)
    .bind(&sub.grid_code)
    .bind(sub.point.map(|p| p.lat))
    .bind(sub.point.map(|p| p.lng))
    .bind(&sub.photo_urls)
    .bind(&sub.recording_url)
    .bind(submitted_by)
    .bind(submitted_role)
    .bind(sub.received_at)
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
