//! What routing does with other services' events, inside the inbox transaction: a
//! `discovered` ticket is dispatched in the same transaction that records the event, so a
//! redelivered event dispatches nothing twice.
//!
//! Besides the events it acts on (discovered, merged, escalated, reopened), routing follows
//! feedback_recorded and closed to keep its own view of the loop right: without them it could
//! not accept a reopen, nor take a closed ticket off the task lists.
//!
//! Routing does not consume `disposed`. It is the only producer of that event since 处置
//! became a step of the task (`api::dispose`), and the disposal is in routing's view from the
//! transaction that decided it; reading it back from the stream could only find it applied
//! already. Not subscribing says so plainly and keeps a stray `disposed` from anyone else
//! from moving routing's view of a task it did not decide.

use std::sync::Arc;

use gridloop_lifecycle::{Calendar, Event, Kind, LoopState, TicketId, apply};
use gridloop_platform::Error;
use gridloop_platform::convert::state_pb;
use gridloop_platform::inbox::{Envelope, Handler, report_refusal};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::{
    DeadlineKind, DispatchTrigger, EscalationCause, TicketDiscovered, TicketEscalated,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dispatch::{self, Ctx, PRODUCER, Target};
use crate::domain::{channel, task_kind, task_state, urgency};
use crate::index::Index;
use crate::{grids, tickets, workers};

/// The kinds routing consumes.
pub const CONSUMES: [Kind; 6] = [
    Kind::Discovered,
    Kind::Merged,
    Kind::Escalated,
    Kind::Reopened,
    Kind::FeedbackRecorded,
    Kind::Closed,
];

#[derive(Clone)]
pub struct Events {
    pub cal: Arc<Calendar>,
    pub index: Arc<Index>,
}

impl Events {
    pub fn new(cal: Arc<Calendar>, index: Arc<Index>) -> Self {
        // A later event of a consumer batch that would wait for a lock gives up and is
        // applied on its own (the platform sets a short lock_timeout after a batch's first
        // event), so batches cannot deadlock with 退单 and 转办 holding workers' rows.
        Self { cal, index }
    }
}

impl Handler for Events {
    type Error = Error;

    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), Error> {
        let id = event.ticket_id;
        let ctx = Ctx {
            cal: &self.cal,
            now: gridloop_platform::clock::now(),
        };
        match &event.body {
            Body::Discovered(d) => discovered(tx, &self.index, &ctx, event, d).await,
            Body::Merged(m) => {
                merged(tx, event, &m.parent_ticket_id).await?;
                // A parent that ended first does not count it: intake files such a repeat as
                // a ticket of its own (a `discovered` with `split_from`).
                // A parent that is not a ticket id names no ticket routing could hold.
                let parent = TicketId::parse(&m.parent_ticket_id).ok();
                sqlx::query(
                    "UPDATE tickets SET repeat_count = GREATEST(repeat_count, $2) \
                     WHERE ticket_id = $1 AND NOT (loop_state->'state' ?| array['closed', 'merged'])",
                )
                .bind(parent)
                .bind(m.repeat_count as i32)
                .execute(&mut *tx)
                .await?;
                Ok(())
            }
            Body::Escalated(e) => escalated(tx, event, e).await,
            Body::Reopened(r) => {
                let Some((ticket, next)) = step(tx, event, &Event::Reopened).await? else {
                    return Ok(());
                };
                let target = match Uuid::parse_str(&r.worker_id) {
                    Ok(worker) if !r.grid_code.is_empty() => Target::Rework {
                        grid: r.grid_code.clone(),
                        worker,
                    },
                    _ => Target::Resolve,
                };
                dispatch::dispatch(
                    tx,
                    &self.index,
                    &ctx,
                    &ticket,
                    next,
                    target,
                    DispatchTrigger::Reopened,
                    None,
                )
                .await?;
                Ok(())
            }
            Body::FeedbackRecorded(_) => {
                if let Some((_, next)) = step(tx, event, &read(event)?).await? {
                    tickets::save_state(tx, id, &next).await?;
                }
                Ok(())
            }
            Body::Closed(_) => {
                // A closed ticket leaves every task list even if routing's view refused the
                // close (then reported as a violation): no worker is chased for it.
                if let Some((_, next)) = step(tx, event, &read(event)?).await? {
                    tickets::save_state(tx, id, &next).await?;
                }
                set_current(tx, id, task_state::CLOSED).await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Locks the ticket and applies `event` to routing's view. `None` when the ticket is unknown
/// or the view refuses the event; the refusal is reported as a violation naming routing, never
/// dropped silently.
async fn step(
    tx: &mut PgConnection,
    event: &Envelope,
    step: &Event,
) -> Result<Option<(tickets::TicketRow, LoopState)>, Error> {
    let id = event.ticket_id;
    let Some(ticket) = tickets::lock(tx, id).await? else {
        let why = "routing has no discovery of this ticket";
        report_refusal(tx, PRODUCER, event, pb::LifecycleState::Unspecified, why).await?;
        return Ok(None);
    };
    let current = ticket.state()?;
    match apply(&current, step) {
        Ok(next) => Ok(Some((ticket, next))),
        Err(v) => {
            let from = state_pb(&current.state);
            report_refusal(tx, PRODUCER, event, from, &v.to_string()).await?;
            Ok(None)
        }
    }
}

/// The lifecycle step of an event that has one.
fn read(event: &Envelope) -> Result<Event, Error> {
    event
        .step()
        .ok_or_else(|| Error::Event(format!("{:?} is not a lifecycle step", event.kind())))
}

/// Sets the state of every task of the ticket that stands now (HANDLE and SUPERVISE).
async fn set_current(
    tx: &mut PgConnection,
    ticket: TicketId,
    state: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tasks SET state = $2 WHERE ticket_id = $1 AND current")
        .bind(ticket)
        .bind(state)
        .execute(tx)
        .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(ticket_id = %pb_event.ticket_id))]
async fn discovered(
    tx: &mut PgConnection,
    index: &Index,
    ctx: &Ctx<'_>,
    pb_event: &Envelope,
    d: &TicketDiscovered,
) -> Result<(), Error> {
    let id = pb_event.ticket_id;
    // A repeat that intake merged into a ticket closed first comes back as its own ticket
    // (`split_from`): routing knows it as MERGED, and dispatches it now like a new one.
    let split_from = Some(d.split_from_ticket_id.clone()).filter(|p| !p.is_empty());
    let split = split_from.is_some();
    let event = Event::Discovered { split_from };
    let state = if split {
        let current = tickets::lock(tx, id)
            .await?
            .map(|t| t.state())
            .transpose()?;
        let known = match &current {
            Some(s) => apply(s, &event),
            None => LoopState::start(&event),
        };
        match known {
            Ok(state) => state,
            Err(v) => {
                let from = current
                    .map(|s| state_pb(&s.state))
                    .unwrap_or(pb::LifecycleState::Unspecified);
                report_refusal(tx, PRODUCER, pb_event, from, &v.to_string()).await?;
                return Ok(());
            }
        }
    } else {
        LoopState::start(&event).map_err(|v| Error::Event(v.to_string()))?
    };
    let json = serde_json::to_string(&state).map_err(|e| Error::Event(e.to_string()))?;
    let loc = d.location.clone().unwrap_or_default();
    let contact = d.contact.clone().unwrap_or_default();
    let category = d.category.clone().unwrap_or_default();
    // A ticket seen before (merged first, or the same ticket under another event id) is not
    // dispatched again — unless it is a merged repeat split off, whose row (the merge's, state
    // only) takes the submission's facts. The row comes back only when written, and is this
    // transaction's.
    let inserted: Option<tickets::TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tickets (ticket_id, loop_state, category_code, category_name, urgency, \
           channel, content, address, grid_hint, lat, lng, masked_phone, citizen_key, photo_urls) \
         VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (ticket_id) DO UPDATE SET loop_state = EXCLUDED.loop_state, \
           category_code = EXCLUDED.category_code, category_name = EXCLUDED.category_name, \
           urgency = EXCLUDED.urgency, channel = EXCLUDED.channel, content = EXCLUDED.content, \
           address = EXCLUDED.address, grid_hint = EXCLUDED.grid_hint, lat = EXCLUDED.lat, \
           lng = EXCLUDED.lng, masked_phone = EXCLUDED.masked_phone, \
           citizen_key = EXCLUDED.citizen_key, photo_urls = EXCLUDED.photo_urls, \
           updated_at = now() \
         WHERE $15 RETURNING {}",
        tickets::COLUMNS
    )))
    .bind(id)
    .bind(json)
    .bind(&category.code)
    .bind(&category.name)
    .bind(urgency::name(d.urgency()))
    .bind(channel::name(d.channel()))
    .bind(&d.content)
    .bind(&loc.address)
    .bind(&loc.grid_code)
    .bind(loc.point.map(|p| p.lat))
    .bind(loc.point.map(|p| p.lng))
    .bind(&contact.masked_phone)
    .bind(&contact.citizen_key)
    .bind(&d.photo_urls)
    .bind(split)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(ticket) = inserted else {
        tracing::info!("ticket already known (merged or seen); not dispatched again");
        return Ok(());
    };
    dispatch::dispatch(
        tx,
        index,
        ctx,
        &ticket,
        state,
        Target::Resolve,
        DispatchTrigger::Discovered,
        None,
    )
    .await?;
    Ok(())
}

/// Records a merged ticket so that a later `discovered` for it dispatches nothing.
async fn merged(tx: &mut PgConnection, pb_event: &Envelope, parent: &str) -> Result<(), Error> {
    let id = pb_event.ticket_id;
    let event = Event::Merged {
        parent: parent.to_owned(),
    };
    let state = match tickets::lock(tx, id).await? {
        Some(t) => {
            let current = t.state()?;
            match apply(&current, &event) {
                Ok(s) => s,
                Err(v) => {
                    let from = state_pb(&current.state);
                    report_refusal(tx, PRODUCER, pb_event, from, &v.to_string()).await?;
                    return Ok(());
                }
            }
        }
        None => apply(&LoopState::new(), &event).map_err(|v| Error::Event(v.to_string()))?,
    };
    let json = serde_json::to_string(&state).map_err(|e| Error::Event(e.to_string()))?;
    sqlx::query(
        "INSERT INTO tickets (ticket_id, loop_state) VALUES ($1, $2::jsonb) \
         ON CONFLICT (ticket_id) DO UPDATE SET loop_state = EXCLUDED.loop_state, updated_at = now()",
    )
    .bind(id)
    .bind(json)
    .execute(tx)
    .await?;
    Ok(())
}

/// 督办: a SUPERVISE task for the chief of the named grid (or the nearest chief above it).
#[tracing::instrument(skip_all, fields(ticket_id = %event.ticket_id))]
async fn escalated(
    tx: &mut PgConnection,
    event: &Envelope,
    e: &TicketEscalated,
) -> Result<(), Error> {
    let id = event.ticket_id;
    let Some((_, next)) = step(
        tx,
        event,
        &Event::Escalated {
            grid: e.grid_code.clone(),
        },
    )
    .await?
    else {
        return Ok(());
    };
    tickets::save_state(tx, id, &next).await?;
    let Some(grid) = grids::get(tx, &e.grid_code).await? else {
        tracing::warn!(grid = %e.grid_code, "escalation names an unknown grid; no supervision recorded");
        return Ok(());
    };
    let mut chain = vec![grid];
    chain.extend(grids::ancestors(tx, &chain[0].code).await?);
    let mut chief = None;
    for g in &chain {
        let mut cs = workers::chiefs(tx, &g.code).await?;
        cs.sort_by_key(|w| (!w.on_duty, w.open_tasks, w.staff_no.clone()));
        if let Some(c) = cs.into_iter().next() {
            chief = Some((g.code.clone(), c.worker_id));
            break;
        }
    }
    let Some((grid_code, chief)) = chief else {
        tracing::warn!(grid = %e.grid_code, "no chief at or above the escalated grid");
        return Ok(());
    };
    let note = match EscalationCause::try_from(e.cause) {
        Ok(EscalationCause::RepeatComplaint) => format!("重复诉求{}次", e.repeat_count),
        _ => match DeadlineKind::try_from(e.deadline_kind) {
            Ok(DeadlineKind::Respond) => "签收超期".to_string(),
            Ok(DeadlineKind::Feedback) => "回访超期".to_string(),
            _ => "处置超期".to_string(),
        },
    };
    let note = format!("{note} (escalation step {})", e.escalation_step);
    let updated = sqlx::query(
        "UPDATE tasks SET supervision_note = $3, grid_code = $4 \
         WHERE ticket_id = $1 AND worker_id = $2 AND kind = $5 AND current",
    )
    .bind(id)
    .bind(chief)
    .bind(&note)
    .bind(&grid_code)
    .bind(task_kind::SUPERVISE)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        sqlx::query(
            "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id, reason, \
               supervision_note, respond_by, dispose_by) \
             SELECT $1, $5, $6, $4, $2, 'escalated for supervision (督办)', $3, \
               k.dispose_by, k.dispose_by FROM tickets k WHERE k.ticket_id = $1",
        )
        .bind(id)
        .bind(chief)
        .bind(&note)
        .bind(&grid_code)
        .bind(task_kind::SUPERVISE)
        .bind(task_state::PENDING_ACCEPT)
        .execute(&mut *tx)
        .await?;
    }
    tracing::info!(grid = %grid_code, %chief, "supervision recorded");
    Ok(())
}
