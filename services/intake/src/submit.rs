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
use sqlx::postgres::PgRow;
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
///
/// Five round trips: `BEGIN`, [`prepare`] (locks, replay, category), [`record`] (parent,
/// ticket, repeat count), the outbox event, `COMMIT`. Each submission holds a connection
/// for all of them, so every one saved is throughput.
#[tracing::instrument(skip_all, fields(channel = sub.channel.as_str_name(), external_id = %sub.external_id))]
pub async fn submit(
    pool: &PgPool,
    sub: &Submission,
    window: Duration,
) -> Result<Accepted, ApiError> {
    // Check the loop's rules for both possible outcomes before writing anything.
    let discovered = LoopState::start(&Event::Discovered)
        .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
    let merged = merge_child(&discovered, String::new())?;

    let mut tx = pool.begin().await?;
    let ready = prepare(&mut tx, sub).await?;
    if let Some(done) = ready.replay {
        return Ok(done);
    }
    if !ready.category_active {
        // Retired since this process last read the catalogue (e.g. through another replica).
        return Err(ApiError::invalid(
            "category_code",
            "category is no longer in use",
        ));
    }

    let id = Uuid::now_v7();
    let names = (discovered.state.name(), merged.state.name());
    let Some(recorded) = record(&mut tx, id, sub, names, window).await? else {
        return raced(tx, sub).await;
    };
    let accepted = match recorded {
        Some((parent_id, repeat_count)) => {
            // The parent's new count is the database's (`repeat_count + 1` on the locked row);
            // it must be what the loop's rules make of the count before.
            let parent = LoopState {
                repeat_count: repeat_count.saturating_sub(1),
                ..LoopState::new()
            }
            .record_repeat()
            .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
            merge_child(&discovered, parent_id.to_string())?;
            if parent.repeat_count != repeat_count {
                return Err(ApiError::internal(
                    "repeat count out of step with the loop's rules",
                ));
            }
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

/// A new ticket merged into `parent`, by the loop's rules.
fn merge_child(discovered: &LoopState, parent: String) -> Result<LoopState, ApiError> {
    apply(discovered, &Event::Merged { parent })
        .map_err(|v| ApiError::precondition(v.to_string(), v.state))
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

/// What [`prepare`] found.
struct Ready {
    replay: Option<Accepted>,
    category_active: bool,
}

/// One statement: takes the submitter's advisory locks, looks for an earlier answer to this
/// (channel, external id) and re-checks that the category is still active.
///
/// Submissions of one citizen (and one household) are serialised by the locks; the keys are
/// sorted so two submissions never wait on each other's locks. The replay lookup here is only
/// the fast path for retries (its snapshot may predate the lock): the insert's
/// `ON CONFLICT (channel, external_id)` is what guarantees one ticket per key. The parent
/// lookup in [`record`] runs in a later statement, so it sees everything committed before the
/// locks were granted.
async fn prepare(tx: &mut PgConnection, sub: &Submission) -> Result<Ready, ApiError> {
    let mut locks: Vec<String> = Vec::new();
    if let Some(c) = &sub.contact {
        locks.push(format!("intake/citizen/{}", c.citizen_key));
    }
    if let Some(h) = &sub.household {
        locks.push(format!("intake/household/{}", h.key));
    }
    locks.sort();
    let row = sqlx::query(
        "SELECT \
           (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) \
              FROM unnest($1::text[]) WITH ORDINALITY AS l(k, n)) AS locks, \
           EXISTS (SELECT 1 FROM categories WHERE code = $4 AND active) AS category_active, \
           r.ticket_id, r.parent_ticket_id, r.urgency, r.repeat_count, r.parent_repeats \
         FROM (SELECT 1) AS one LEFT JOIN ( \
           SELECT t.ticket_id, t.parent_ticket_id, t.urgency, t.repeat_count, \
                  p.repeat_count AS parent_repeats \
           FROM tickets t LEFT JOIN tickets p ON p.ticket_id = t.parent_ticket_id \
           WHERE t.channel = $2 AND t.external_id = $3) AS r ON true",
    )
    .bind(&locks)
    .bind(sub.channel as i16)
    .bind(&sub.external_id)
    .bind(&sub.category_code)
    .fetch_one(&mut *tx)
    .await?;
    let replay = row
        .get::<Option<Uuid>, _>("ticket_id")
        .map(|_| replayed(&row));
    Ok(Ready {
        replay,
        category_active: row.get("category_active"),
    })
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
    Ok(row.as_ref().map(replayed))
}

/// A stored ticket row (`ticket_id`, `parent_ticket_id`, `urgency`, `repeat_count`,
/// `parent_repeats`) as the answer to a retry.
fn replayed(r: &PgRow) -> Accepted {
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
}

/// One statement: finds the earliest open ticket this submission repeats (locked), inserts the
/// ticket — `MERGED` into that parent, or `DISCOVERED` — and bumps the parent's repeat count.
///
/// `None` when (channel, external id) already exists (a concurrent twin won; nothing was
/// written). Otherwise `Some(Some((parent, new repeat count)))` for a merge, `Some(None)` for
/// a new ticket. `names` are the states to store: (discovered, merged).
async fn record(
    tx: &mut PgConnection,
    id: Uuid,
    sub: &Submission,
    names: (&str, &str),
    window: Duration,
) -> Result<Option<Option<(Uuid, u32)>>, ApiError> {
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
    // The parent is the earliest open ticket (intake's view: not merged, received within the
    // window) of the same citizen or household in the same category. Its row lock is taken
    // before the insert; the count is bumped on the locked row's latest version.
    let row = sqlx::query(
        "WITH parent AS ( \
           SELECT ticket_id FROM tickets \
           WHERE state = $25 AND category_code = $6 AND received_at >= now() - $24::interval \
             AND ((citizen_key IS NOT NULL AND citizen_key = $11) \
               OR (household_key IS NOT NULL AND household_key = $12)) \
           ORDER BY received_at, ticket_id LIMIT 1 FOR UPDATE), \
         ins AS ( \
           INSERT INTO tickets (ticket_id, channel, external_id, state, parent_ticket_id, \
              category_code, urgency, content, phone, contact_name, masked_phone, citizen_key, \
              household_key, device_id, household_flags, address, grid_code, lat, lng, \
              photo_urls, recording_url, submitted_by, submitted_by_role, received_at) \
           SELECT $1, $2, $3, CASE WHEN p.ticket_id IS NULL THEN $25 ELSE $4 END, p.ticket_id, \
              $6, $7, $8, $9, $10, $5, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
              $22, $23 \
           FROM (SELECT 1) AS one LEFT JOIN parent p ON true \
           ON CONFLICT (channel, external_id) DO NOTHING \
           RETURNING parent_ticket_id), \
         bumped AS ( \
           UPDATE tickets t SET repeat_count = t.repeat_count + 1 \
           FROM ins WHERE t.ticket_id = ins.parent_ticket_id \
           RETURNING t.ticket_id, t.repeat_count) \
         SELECT EXISTS (SELECT 1 FROM ins) AS inserted, \
           (SELECT ticket_id FROM bumped) AS parent_id, \
           (SELECT repeat_count FROM bumped) AS repeat_count",
    )
    .bind(id)
    .bind(sub.channel as i16)
    .bind(&sub.external_id)
    .bind(names.1)
    .bind(
        sub.contact
            .as_ref()
            .map(|c| c.phone.masked())
            .unwrap_or_default(),
    )
    .bind(&sub.category_code)
    .bind(sub.urgency as i16)
    .bind(&sub.content)
    .bind(sub.contact.as_ref().map(|c| c.phone.as_str()))
    .bind(sub.contact.as_ref().and_then(|c| c.name.as_deref()))
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
    .bind(format!("{} seconds", window.num_seconds()))
    .bind(names.0)
    .fetch_one(&mut *tx)
    .await?;
    if !row.get::<bool, _>("inserted") {
        return Ok(None);
    }
    Ok(Some(row.get::<Option<Uuid>, _>("parent_id").map(|p| {
        (
            p,
            row.get::<Option<i32>, _>("repeat_count")
                .unwrap_or(0)
                .max(0) as u32,
        )
    })))
}
