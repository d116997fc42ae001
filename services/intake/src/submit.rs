//! Accepting submissions: idempotency, repeat-complaint merging, and the ticket rows committed
//! with their events in one transaction. [`record`] takes a batch (the [`crate::writer`] groups
//! submissions that arrive together); the rules below hold per submission, batch or not.
//!
//! Idempotency: `(channel, external_id)` is unique in `tickets`; a retry finds the row and gets
//! the first answer back as `REPLAYED`. Twins racing each other are serialised by the
//! submission key's lock; the unique constraint stays as the last word.
//!
//! Repeat complaints (重复诉求): a submission with the same citizen key or household key and
//! the same category as an *open* earlier ticket is merged into the earliest such ticket.
//! "Open" is intake's view of the loop ([`crate::consume`] marks a ticket CLOSED in `tickets`
//! when its write-off comes by): not merged, not closed, and received within the repeat window
//! (default 30 days). That view may lag closure; a repeat merged into a ticket whose write-off
//! reached the stream first is split off as a ticket of its own ([`crate::split`]).
//!
//! Submissions of one citizen (and one household, and one submission key) are serialised with
//! transaction-scoped advisory locks taken before anything is read, so two concurrent repeats
//! cannot both become parents and two twins cannot both be new. What each submission becomes
//! is decided in [`crate::plan`]; the statements here are set-based, so a batch costs the
//! same round trips as a single submission (three when all are new, five otherwise).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use gridloop_lifecycle::{Event, LoopState, apply};
use gridloop_platform::{ApiError, outbox};
use gridloop_proto::v1::{Channel, GeoPoint, HouseholdFlag, SubmitOutcome, TicketEvent, Urgency};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::domain::Phone;
use crate::plan::{self, Earlier, Found, Keys, Step};
use crate::publish;
use crate::stored::{ACTOR_ROLE, CHANNEL, HOUSEHOLD_FLAG, URGENCY};

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

impl Accepted {
    /// A new ticket of its own.
    fn created(ticket_id: Uuid, urgency: Urgency) -> Self {
        Self {
            ticket_id,
            outcome: SubmitOutcome::Created,
            merged_ticket_id: None,
            repeat_count: 0,
            urgency,
        }
    }
}

/// A submission waiting to be recorded, with the trace context of the request it came in on
/// (its event carries that context, whichever task writes it).
pub struct Pending<'a> {
    pub sub: &'a Submission,
    pub trace: &'a HashMap<String, String>,
}

/// Records `batch` in one transaction — ticket rows and their events — and returns one answer
/// per submission: accepted (created, merged or replayed), or refused because its category was
/// retired (nothing written for it). An `Err` means nothing of the batch was committed.
///
/// Three round trips when every submission is new, whatever the batch's size: `BEGIN` with
/// the submitters' locks; one statement inserting the new tickets with their events; `COMMIT`.
/// Submissions that are not plainly new (retries, repeats, a retired category, or sharing a
/// key with an earlier one of the batch) then take two more: one read of what they depend on
/// and one write, decided in [`crate::plan`].
pub async fn record(
    pool: &PgPool,
    batch: &[Pending<'_>],
    window: Duration,
) -> Result<Vec<Result<Accepted, ApiError>>, ApiError> {
    // Check the loop's rules for both possible outcomes before writing anything.
    let discovered = LoopState::start(&Event::discovered())
        .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
    merge_child(&discovered, String::new())?;

    let keys: Vec<Keys<'_>> = batch.iter().map(|p| keys(p.sub)).collect();
    let mut tx = pool.begin_with(AssertSqlSafe(begin_locked(&keys))).await?;

    // First try: every submission sharing no key with an earlier one, inserted if new.
    let fresh = plan::first_of_their_kind(&keys);
    let tries: Vec<(usize, Uuid)> = (0..batch.len())
        .filter(|&i| fresh[i])
        .map(|i| (i, Uuid::now_v7()))
        .collect();
    let created = insert_new(&mut tx, batch, &tries, window).await?;
    let mut answers: Vec<Option<Result<Accepted, ApiError>>> =
        std::iter::repeat_with(|| None).take(batch.len()).collect();
    for &(i, id) in &tries {
        if created.contains(&id) {
            answers[i] = Some(Ok(Accepted::created(id, batch[i].sub.urgency)));
        }
    }

    // The rest, in order, against what the database holds now (the first try included).
    let rest: Vec<usize> = (0..batch.len()).filter(|&i| answers[i].is_none()).collect();
    if !rest.is_empty() {
        let pending: Vec<&Pending<'_>> = rest.iter().map(|&i| &batch[i]).collect();
        let done = settle(&mut tx, &pending, &discovered, window).await?;
        for (i, answer) in rest.into_iter().zip(done) {
            answers[i] = Some(answer);
        }
    }
    tx.commit().await?;
    answers
        .into_iter()
        .map(|a| a.ok_or_else(|| ApiError::internal("a submission without an answer")))
        .collect()
}

// A macro, not a const: sqlx takes only literal SQL (`concat!` of literals stays literal).
/// The `tickets` columns a new ticket is written with ([`TicketRow`]'s fields).
macro_rules! ticket_columns {
    () => {
        "ticket_id, channel, external_id, state, parent_ticket_id, repeat_count, category_code, \
         urgency, content, phone, contact_name, masked_phone, citizen_key, household_key, \
         device_id, household_flags, address, grid_code, lat, lng, photo_urls, recording_url, \
         submitted_by, submitted_by_role, received_at"
    };
}

/// `INSERT INTO tickets (…) SELECT …` of [`ticket_columns`], for a `FROM` that has them.
macro_rules! insert_tickets {
    () => {
        concat!(
            "INSERT INTO tickets (",
            ticket_columns!(),
            ") SELECT ",
            ticket_columns!()
        )
    };
}

/// One statement: inserts each of `tries` (submission index, new ticket id) that is plainly
/// new — category active, no stored ticket with its key, no open ticket it would repeat —
/// together with its `discovered` event. Returns the ids inserted.
///
/// The batch's statements run with generic plans (see [`begin_locked`]), made once per
/// connection from whatever statistics the table had then. So every lookup of `tickets` here
/// is written as a per-row probe (`LATERAL … LIMIT 1`, a correlated subquery, `= ANY`): a join
/// the planner could turn into a scan of the whole table — cheap while it was empty — would
/// stay a scan of the whole table as it grows.
async fn insert_new(
    tx: &mut PgConnection,
    batch: &[Pending<'_>],
    tries: &[(usize, Uuid)],
    window: Duration,
) -> Result<HashSet<Uuid>, ApiError> {
    if tries.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<TicketRow<'_>> = tries
        .iter()
        .filter_map(|&(i, id)| TicketRow::new(&Step::Create { id }, batch[i].sub, None))
        .collect();
    let events: Vec<TicketEvent> = tries
        .iter()
        .map(|&(i, id)| event(id, publish::discovered(batch[i].sub), batch[i].trace))
        .collect();
    let json = serde_json::to_string(&rows)
        .map_err(|e| ApiError::internal(format!("ticket rows: {e}")))?;
    let out = outbox::Rows::of(&events)?;
    let inserted: Vec<Uuid> = sqlx::query_scalar(concat!(
        "WITH ins AS (",
        insert_tickets!(),
        " \
           FROM jsonb_populate_recordset(NULL::tickets, $1::jsonb) AS r \
           LEFT JOIN LATERAL ( \
             SELECT t.ticket_id AS open_id FROM tickets t \
              WHERE t.state = 'DISCOVERED' AND t.category_code = r.category_code \
                AND t.received_at >= now() - $2::interval \
                AND ((t.citizen_key IS NOT NULL AND t.citizen_key = r.citizen_key) \
                  OR (t.household_key IS NOT NULL AND t.household_key = r.household_key)) \
              LIMIT 1) AS open ON true \
           WHERE open.open_id IS NULL \
             AND EXISTS (SELECT 1 FROM categories c WHERE c.code = r.category_code AND c.active) \
           ON CONFLICT (channel, external_id) DO NOTHING \
           RETURNING ticket_id), \
         events AS ( \
           INSERT INTO outbox (event_id, ticket_id, subject, payload) \
           SELECT e, t, s, p FROM unnest($3::uuid[], $4::text[], $5::text[], $6::bytea[]) \
             WITH ORDINALITY AS u(e, t, s, p, n) \
           WHERE t::uuid IN (SELECT ticket_id FROM ins) \
           ORDER BY n) \
         SELECT ticket_id FROM ins"
    ))
    .bind(json)
    .bind(format!("{} seconds", window.num_seconds()))
    .bind(&out.event_ids)
    .bind(&out.ticket_ids)
    .bind(&out.subjects)
    .bind(&out.payloads)
    .fetch_all(&mut *tx)
    .await?;
    Ok(inserted.into_iter().collect())
}

/// Submissions that were not plainly new, in order: read what they depend on (everything
/// committed, and this transaction's first try), plan, write.
async fn settle(
    tx: &mut PgConnection,
    batch: &[&Pending<'_>],
    discovered: &LoopState,
    window: Duration,
) -> Result<Vec<Result<Accepted, ApiError>>, ApiError> {
    let keys: Vec<Keys<'_>> = batch.iter().map(|p| keys(p.sub)).collect();
    let found = look_up(tx, &keys, window).await?;
    let plan = plan::plan(&keys, &found, window, Uuid::now_v7);

    let mut answers = Vec::with_capacity(batch.len());
    let mut events = Vec::new();
    for (step, pending) in plan.steps.iter().zip(batch) {
        let sub = pending.sub;
        let answer = match step {
            Step::Create { id } => {
                events.push(event(*id, publish::discovered(sub), pending.trace));
                Ok(Accepted::created(*id, sub.urgency))
            }
            Step::Merge { id, parent, count } => {
                // The parent's new count must be what the loop's rules make of the one before.
                let parent_state = LoopState {
                    repeat_count: count.saturating_sub(1),
                    ..LoopState::new()
                }
                .record_repeat()
                .map_err(|v| ApiError::precondition(v.to_string(), v.state))?;
                merge_child(discovered, parent.to_string())?;
                if parent_state.repeat_count != *count {
                    return Err(ApiError::internal(
                        "repeat count out of step with the loop's rules",
                    ));
                }
                events.push(event(
                    *id,
                    publish::merged(sub, *parent, *count),
                    pending.trace,
                ));
                Ok(Accepted {
                    ticket_id: *parent,
                    outcome: SubmitOutcome::Merged,
                    merged_ticket_id: Some(*id),
                    repeat_count: *count,
                    urgency: sub.urgency,
                })
            }
            Step::Replay(earlier) => Ok(replayed(earlier, &plan, batch)),
            Step::Retired => Err(ApiError::invalid(
                "category_code",
                "category is no longer in use",
            )),
        };
        answers.push(answer);
    }

    let rows: Vec<TicketRow<'_>> = plan
        .steps
        .iter()
        .zip(batch)
        .filter_map(|(step, p)| TicketRow::new(step, p.sub, Some(&plan)))
        .collect();
    write(tx, &rows, &plan, &events).await?;
    Ok(answers)
}

fn keys(sub: &Submission) -> Keys<'_> {
    Keys {
        channel: sub.channel as i16,
        external_id: &sub.external_id,
        citizen_key: sub.contact.as_ref().map(|c| c.citizen_key.as_str()),
        household_key: sub.household.as_ref().map(|h| h.key.as_str()),
        category_code: &sub.category_code,
        received_at: sub.received_at,
    }
}

/// `BEGIN`, the batch's settings and its transaction-scoped advisory locks — every submitter
/// (citizen, household) and every submission key — in one round trip. Locks are taken in
/// ascending id order, the same for every batch, so no two batches wait on each other in a
/// cycle. The ids are numbers computed here, so the text holds nothing a caller sent.
fn begin_locked(keys: &[Keys<'_>]) -> String {
    let mut ids: Vec<i64> = Vec::with_capacity(keys.len() * 2);
    for k in keys {
        ids.push(lock_id(&format!(
            "intake/submission/{}/{}",
            k.channel, k.external_id
        )));
        if let Some(c) = k.citizen_key {
            ids.push(lock_id(&format!("intake/citizen/{c}")));
        }
        if let Some(h) = k.household_key {
            ids.push(lock_id(&format!("intake/household/{h}")));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    // Generic plans: the batch's statements take arrays whose lengths vary from batch to batch,
    // and planned for each execution (the default for them) they cost more than they take to
    // run. A generic plan is kept for the connection's life, though, and one made while the
    // table was small (a new deployment) would scan it ever after: these statements only look
    // rows up by key, so scans are ruled out. No JIT: they touch a handful of rows, and
    // compiling would take milliseconds.
    format!(
        "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off; \
         SET LOCAL jit = off; \
         SELECT pg_advisory_xact_lock(id) FROM unnest('{{{}}}'::bigint[]) AS id",
        list.join(",")
    )
}

/// The advisory lock id of `name`: the first 8 bytes of its SHA-256.
fn lock_id(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// One statement, run after the locks so that it sees everything committed before they were
/// granted: stored answers to the batch's keys, each submission's earliest open ticket of the
/// same citizen or household and category (locked, so its repeat count holds until commit),
/// the batch's active categories, and the clock.
async fn look_up(
    tx: &mut PgConnection,
    keys: &[Keys<'_>],
    window: Duration,
) -> Result<Found, ApiError> {
    let rows = sqlx::query(
        "WITH q AS ( \
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
             WITH ORDINALITY AS q(channel, external_id, citizen_key, household_key, category_code, n)) \
         SELECT 'stored' AS kind, q.n, t.ticket_id, t.parent_ticket_id AS parent, t.urgency, \
                CASE WHEN t.parent_ticket_id IS NULL THEN t.repeat_count \
                     ELSE (SELECT p.repeat_count FROM tickets p \
                            WHERE p.ticket_id = t.parent_ticket_id) END AS repeats, \
                t.received_at, NULL::text AS code \
           FROM q CROSS JOIN LATERAL ( \
             SELECT * FROM tickets t \
              WHERE t.channel = q.channel AND t.external_id = q.external_id LIMIT 1) AS t \
         UNION ALL \
         SELECT 'open', q.n, o.ticket_id, NULL, NULL, o.repeat_count, o.received_at, NULL \
           FROM q CROSS JOIN LATERAL ( \
             SELECT t.ticket_id, t.received_at, t.repeat_count FROM tickets t \
              WHERE t.state = 'DISCOVERED' AND t.category_code = q.category_code \
                AND t.received_at >= now() - $6::interval \
                AND ((t.citizen_key IS NOT NULL AND t.citizen_key = q.citizen_key) \
                  OR (t.household_key IS NOT NULL AND t.household_key = q.household_key)) \
              ORDER BY t.received_at, t.ticket_id LIMIT 1 \
                FOR UPDATE) AS o \
         UNION ALL \
         SELECT 'category', NULL, NULL, NULL, NULL, NULL, NULL, c.code FROM categories c \
          WHERE c.active AND c.code IN (SELECT category_code FROM q) \
         UNION ALL \
         SELECT 'now', NULL, NULL, NULL, NULL, NULL, now(), NULL",
    )
    .bind(CHANNEL.names(keys.iter().map(|k| i32::from(k.channel))))
    .bind(keys.iter().map(|k| k.external_id).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.citizen_key).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.household_key).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.category_code).collect::<Vec<_>>())
    .bind(format!("{} seconds", window.num_seconds()))
    .fetch_all(&mut *tx)
    .await?;

    let mut found = Found {
        open: vec![None; keys.len()],
        ..Found::default()
    };
    let index = |r: &PgRow| -> Result<usize, ApiError> {
        let n: i64 = r.get("n");
        usize::try_from(n - 1)
            .ok()
            .filter(|i| *i < keys.len())
            .ok_or_else(|| ApiError::internal(format!("lookup row for submission {n}")))
    };
    let count = |r: &PgRow| r.get::<Option<i32>, _>("repeats").unwrap_or(0).max(0) as u32;
    for r in &rows {
        match r.get::<&str, _>("kind") {
            "stored" => {
                let k = &keys[index(r)?];
                found.stored.insert(
                    (k.channel, k.external_id.to_owned()),
                    plan::Stored {
                        ticket_id: r.get("ticket_id"),
                        parent: r.get("parent"),
                        urgency: Urgency::try_from(URGENCY.parse(r.get("urgency")))
                            .unwrap_or(Urgency::Unspecified),
                        repeats: count(r),
                    },
                );
            }
            "open" => {
                found.open[index(r)?] = Some(plan::OpenTicket {
                    ticket_id: r.get("ticket_id"),
                    received_at: r.get("received_at"),
                    repeat_count: count(r),
                });
            }
            "category" => {
                found.active.insert(r.get("code"));
            }
            _ => found.now = r.get("received_at"),
        }
    }
    Ok(found)
}

/// One statement: inserts the new tickets (with the repeat counts of parents new in this
/// batch), adds the repeats gained by stored parents, and writes the events to the outbox in
/// order (the platform's outbox columns: see `outbox::Rows`).
async fn write(
    tx: &mut PgConnection,
    rows: &[TicketRow<'_>],
    plan: &plan::Plan,
    events: &[TicketEvent],
) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Ok(());
    }
    let new: HashSet<Uuid> = rows.iter().map(|r| r.ticket_id).collect();
    let (parents, gained): (Vec<Uuid>, Vec<i32>) = plan
        .gained
        .iter()
        .filter(|(p, _)| !new.contains(p))
        .map(|(p, n)| (*p, i32::try_from(*n).unwrap_or(i32::MAX)))
        .unzip();
    let json =
        serde_json::to_string(rows).map_err(|e| ApiError::internal(format!("ticket rows: {e}")))?;
    let out = outbox::Rows::of(events)?;
    let bumped: i64 = sqlx::query_scalar(concat!(
        "WITH ins AS (",
        insert_tickets!(),
        " \
           FROM jsonb_populate_recordset(NULL::tickets, $1::jsonb)), \
         bumped AS ( \
           UPDATE tickets t SET repeat_count = t.repeat_count + ( \
               SELECT u.gained FROM unnest($2::uuid[], $3::int4[]) AS u(ticket_id, gained) \
                WHERE u.ticket_id = t.ticket_id) \
            WHERE t.ticket_id = ANY($2::uuid[]) \
           RETURNING 1), \
         events AS ( \
           INSERT INTO outbox (event_id, ticket_id, subject, payload) \
           SELECT e, t, s, p FROM unnest($4::uuid[], $5::text[], $6::text[], $7::bytea[]) \
             WITH ORDINALITY AS u(e, t, s, p, n) \
           ORDER BY n) \
         SELECT count(*) FROM bumped"
    ))
    .bind(json)
    .bind(&parents)
    .bind(&gained)
    .bind(&out.event_ids)
    .bind(&out.ticket_ids)
    .bind(&out.subjects)
    .bind(&out.payloads)
    .fetch_one(&mut *tx)
    .await?;
    if usize::try_from(bumped).ok() != Some(parents.len()) {
        return Err(ApiError::internal(format!(
            "{bumped} of {} parents' repeat counts updated",
            parents.len()
        )));
    }
    Ok(())
}

/// The first answer to a retried submission, with the followed ticket's count as it is now.
fn replayed(earlier: &Earlier, plan: &plan::Plan, batch: &[&Pending<'_>]) -> Accepted {
    let (own, parent, urgency, repeats) = match earlier {
        Earlier::Stored(s) => (s.ticket_id, s.parent, s.urgency, s.repeats),
        Earlier::InBatch(j) => {
            let urgency = batch[*j].sub.urgency;
            match &plan.steps[*j] {
                Step::Merge { id, parent, .. } => (*id, Some(*parent), urgency, 0),
                Step::Create { id } => (*id, None, urgency, 0),
                // Only a created or merged submission is followed by a later twin.
                Step::Replay(_) | Step::Retired => (Uuid::nil(), None, urgency, 0),
            }
        }
    };
    let followed = parent.unwrap_or(own);
    Accepted {
        ticket_id: followed,
        outcome: SubmitOutcome::Replayed,
        merged_ticket_id: parent.map(|_| own),
        repeat_count: plan.after.get(&followed).copied().unwrap_or(repeats),
        urgency,
    }
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
    outbox::new_event_under(PRODUCER, &ticket_id.to_string(), body, trace)
}

/// A new ticket as a `tickets` row (JSON keys are the column names, enums by stored name).
#[derive(Serialize)]
struct TicketRow<'a> {
    ticket_id: Uuid,
    channel: &'static str,
    external_id: &'a str,
    state: &'static str,
    parent_ticket_id: Option<Uuid>,
    repeat_count: u32,
    category_code: &'a str,
    urgency: &'static str,
    content: &'a str,
    phone: Option<&'a str>,
    contact_name: Option<&'a str>,
    masked_phone: String,
    citizen_key: Option<&'a str>,
    household_key: Option<&'a str>,
    device_id: Option<&'a str>,
    household_flags: Vec<&'static str>,
    address: &'a str,
    grid_code: &'a str,
    lat: Option<f64>,
    lng: Option<f64>,
    photo_urls: &'a [String],
    recording_url: &'a str,
    submitted_by: &'a str,
    submitted_by_role: &'static str,
    received_at: DateTime<Utc>,
}

impl<'a> TicketRow<'a> {
    /// The row `step` writes for `sub`, if it writes one; a new ticket starts with the repeats
    /// `plan` gives it. States by name, as the table's CHECK spells them (the loop's own
    /// names: see the test below).
    fn new(step: &Step, sub: &'a Submission, plan: Option<&plan::Plan>) -> Option<Self> {
        let (ticket_id, state, parent_ticket_id, repeat_count) = match step {
            Step::Create { id } => (
                *id,
                "DISCOVERED",
                None,
                plan.and_then(|p| p.gained.get(id).copied()).unwrap_or(0),
            ),
            Step::Merge { id, parent, .. } => (*id, "MERGED", Some(*parent), 0),
            Step::Replay(_) | Step::Retired => return None,
        };
        let contact = sub.contact.as_ref();
        let household = sub.household.as_ref();
        Some(Self {
            ticket_id,
            channel: CHANNEL.name(sub.channel as i32),
            external_id: &sub.external_id,
            state,
            parent_ticket_id,
            repeat_count,
            category_code: &sub.category_code,
            urgency: URGENCY.name(sub.urgency as i32),
            content: &sub.content,
            phone: contact.map(|c| c.phone.as_str()),
            contact_name: contact.and_then(|c| c.name.as_deref()),
            masked_phone: contact.map(|c| c.phone.masked()).unwrap_or_default(),
            citizen_key: contact.map(|c| c.citizen_key.as_str()),
            household_key: household.map(|h| h.key.as_str()),
            device_id: household.map(|h| h.device_id.as_str()),
            household_flags: household
                .map(|h| HOUSEHOLD_FLAG.names(h.flags.iter().map(|f| *f as i32)))
                .unwrap_or_default(),
            address: &sub.address,
            grid_code: &sub.grid_code,
            lat: sub.point.map(|p| p.lat),
            lng: sub.point.map(|p| p.lng),
            photo_urls: &sub.photo_urls,
            recording_url: &sub.recording_url,
            submitted_by: sub.submitted_by.as_ref().map_or("", |s| s.id.as_str()),
            submitted_by_role: ACTOR_ROLE
                .name(sub.submitted_by.as_ref().map_or(0, |s| s.role as i32)),
            received_at: sub.received_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `submit_batch` writes the states by name; they must be the loop's own.
    #[test]
    fn stored_state_names_are_the_loops() {
        let discovered = LoopState::start(&Event::discovered()).unwrap();
        assert_eq!(discovered.state.name(), "DISCOVERED");
        let merged = merge_child(&discovered, "parent".into()).unwrap();
        assert_eq!(merged.state.name(), "MERGED");
    }
}
