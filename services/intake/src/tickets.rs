//! Reading tickets back for an operator answering a caller who rings again: one ticket with
//! its short history ([`crate::history`]), a phone number's open and recent tickets, or one
//! submission's ticket by its channel's own id.
//!
//! What intake decided itself — received, merged, split off — comes from `tickets`, which has
//! it at once; where the ticket stands in the loop — holder, deadlines, disposal, write-off —
//! from intake's view of the stream ([`crate::loop_view`]), which may lag by the time an event
//! takes to come back. Until the view has the ticket, it shows as intake stored it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use gridloop_lifecycle::{Assignment, State, TicketId};
use gridloop_platform::ApiError;
use gridloop_proto::v1::{
    Category, Deadlines, Exemption, GeoPoint, LifecycleState, Location, MaskedContact, Ticket,
    TicketDisposalSummary, ticket::CloseBasis,
};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::loop_view::{self, Loop};
use crate::stored::{CHANNEL, URGENCY};

macro_rules! columns {
    () => {
        "t.ticket_id, t.channel, t.external_id, t.state, t.parent_ticket_id, t.repeat_count, \
         t.category_code, c.name AS category_name, t.urgency, t.content, t.masked_phone, \
         t.citizen_key, t.address, t.grid_code, t.lat, t.lng, t.photo_urls, t.received_at, \
         t.created_at, t.split_from_ticket_id, t.split_at"
    };
}

/// A ticket as intake stored it (contact masked) and as its view stands, with what history
/// needs.
pub struct Stored {
    pub ticket: Ticket,
    pub citizen_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub split_at: Option<DateTime<Utc>>,
    pub view: Option<Loop>,
}

fn from_row(r: &PgRow) -> Stored {
    let id: Uuid = r.get("ticket_id");
    let parent: Option<Uuid> = r.get("parent_ticket_id");
    let split_from: Option<Uuid> = r.get("split_from_ticket_id");
    let state: String = r.get("state");
    let lat: Option<f64> = r.get("lat");
    let lng: Option<f64> = r.get("lng");
    let citizen_key: Option<String> = r.get("citizen_key");
    let received_at: DateTime<Utc> = r.get("received_at");
    let ticket = Ticket {
        ticket_id: id.to_string(),
        channel: CHANNEL.parse(r.get("channel")),
        external_id: r.get("external_id"),
        category: Some(Category {
            code: r.get("category_code"),
            name: r.get("category_name"),
        }),
        urgency: URGENCY.parse(r.get("urgency")),
        content: r.get("content"),
        contact: citizen_key.as_ref().map(|k| MaskedContact {
            masked_phone: r.get("masked_phone"),
            citizen_key: k.clone(),
        }),
        location: Some(Location {
            point: lat.zip(lng).map(|(lat, lng)| GeoPoint { lat, lng }),
            address: r.get("address"),
            grid_code: r.get("grid_code"),
        }),
        // Intake's own decision until the view has the ticket ([`with_view`]).
        state: match state.as_str() {
            "MERGED" => LifecycleState::Merged,
            "CLOSED" => LifecycleState::Closed,
            _ => LifecycleState::Discovered,
        } as i32,
        received_at: Some(gridloop_proto::ts(received_at)),
        repeat_count: r.get::<i32, _>("repeat_count").max(0) as u32,
        parent_ticket_id: parent.map(|p| p.to_string()).unwrap_or_default(),
        photo_urls: r.get("photo_urls"),
        split_from_ticket_id: split_from.map(|p| p.to_string()).unwrap_or_default(),
        ..Ticket::default()
    };
    Stored {
        ticket,
        citizen_key,
        created_at: r.get("created_at"),
        split_at: r.get("split_at"),
        view: None,
    }
}

use gridloop_platform::convert::state_pb;

/// `t` with where its loop stands, from intake's view of the stream.
fn with_view(mut t: Ticket, v: &Loop) -> Ticket {
    let s = &v.loop_state;
    // A split decided by intake shows at once, while its `discovered` is on its way back.
    t.state = match (&s.state, t.split_from_ticket_id.is_empty()) {
        (State::Merged { .. }, false) => LifecycleState::Discovered,
        (state, _) => state_pb(state),
    } as i32;
    t.grid_code = v.grid_code.clone();
    t.worker_id = v.worker_id.clone();
    t.accepted = matches!(
        s.state,
        State::Reported(Assignment::Dispatched { accepted: true, .. })
    ) || matches!(
        s.state,
        State::Disposed { .. } | State::Feedback { .. } | State::Closed { .. }
    );
    t.deadlines = (v.respond_by.is_some() || v.dispose_by.is_some()).then(|| Deadlines {
        respond_by: v.respond_by.map(gridloop_proto::ts),
        dispose_by: v.dispose_by.map(gridloop_proto::ts),
    });
    t.disposal = v.disposed_at.map(|at| TicketDisposalSummary {
        disposal_type: v.disposal_type,
        result: v.disposal_result.clone(),
        disposed_at: Some(gridloop_proto::ts(at)),
    });
    t.rating = v.rating;
    t.closed_at = v.closed_at.map(gridloop_proto::ts);
    t.close_basis = match (&v.exemption, v.closed_on_rating) {
        (Some(e), _) => Some(CloseBasis::ClosedOnExemption(Exemption {
            kind: e.kind,
            reason: e.reason.clone(),
            approved_by: Some(gridloop_proto::v1::Actor {
                id: e.approved_by.clone(),
                role: gridloop_proto::v1::ActorRole::Supervisor as i32,
            }),
        })),
        (None, Some(r)) => Some(CloseBasis::ClosedOnRating(r)),
        (None, None) => None,
    };
    t.return_count = s.return_count;
    t.transfer_count = s.transfer_count;
    t.rework_count = s.rework_count;
    t.overdue_count = v.overdue_count;
    t.escalation_count = v.escalation_count;
    t
}

/// The stored tickets of `rows` with their views.
async fn with_views(pool: &PgPool, rows: &[PgRow]) -> Result<Vec<Stored>, ApiError> {
    let mut stored: Vec<Stored> = rows.iter().map(from_row).collect();
    let ids: Vec<TicketId> = rows.iter().map(|r| r.get("ticket_id")).collect();
    for v in loop_view::read(pool, &ids).await? {
        if let Some(s) = stored
            .iter_mut()
            .find(|s| s.ticket.ticket_id == v.ticket_id.to_string())
        {
            s.ticket = with_view(std::mem::take(&mut s.ticket), &v);
            s.view = Some(v);
        }
    }
    Ok(stored)
}

pub fn parse_id(field: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| ApiError::invalid(field, "not a ticket id (UUID)"))
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Stored, ApiError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tickets t JOIN categories c ON c.code = t.category_code WHERE t.ticket_id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("ticket {id}")))?;
    with_views(pool, std::slice::from_ref(&row))
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("a stored ticket read back as nothing"))
}

/// The ticket of one submission, by its channel's own id.
pub async fn by_external_id(
    pool: &PgPool,
    channel: i16,
    external_id: &str,
) -> Result<Vec<Ticket>, ApiError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM tickets t JOIN categories c ON c.code = t.category_code \
          WHERE t.channel = $1 AND t.external_id = $2"
    ))
    .bind(CHANNEL.name(i32::from(channel)))
    .bind(external_id)
    .fetch_all(pool)
    .await?;
    Ok(with_views(pool, &rows)
        .await?
        .into_iter()
        .map(|s| s.ticket)
        .collect())
}

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

/// A citizen's open tickets (not merged, inside the repeat window) and the others received
/// in the last `recent_days`; open first, newest first. Pages by offset (small result sets).
pub async fn find(
    pool: &PgPool,
    citizen_key: &str,
    open_window: Duration,
    recent_days: u32,
    page_size: i32,
    page_token: &str,
) -> Result<(Vec<Ticket>, String), ApiError> {
    let recent = Duration::days(i64::from(if recent_days == 0 {
        30
    } else {
        recent_days.min(3660)
    }));
    let size = match i64::from(page_size) {
        n if n <= 0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let offset: i64 = if page_token.is_empty() {
        0
    } else {
        B64.decode(page_token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
            .filter(|n: &i64| *n >= 0)
            .ok_or_else(|| ApiError::invalid("page_token", "not a token this server issued"))?
    };
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        ", (t.state = 'DISCOVERED' AND t.received_at >= now() - $2::interval) AS open \
         FROM tickets t JOIN categories c ON c.code = t.category_code \
         WHERE t.citizen_key = $1 \
           AND ((t.state = 'DISCOVERED' AND t.received_at >= now() - $2::interval) \
             OR t.received_at >= now() - $3::interval) \
         ORDER BY open DESC, t.received_at DESC, t.ticket_id DESC OFFSET $4 LIMIT $5"
    ))
    .bind(citizen_key)
    .bind(format!("{} seconds", open_window.num_seconds()))
    .bind(format!("{} seconds", recent.num_seconds()))
    .bind(offset)
    .bind(size + 1)
    .fetch_all(pool)
    .await?;
    let mut tickets: Vec<Ticket> = with_views(pool, &rows)
        .await?
        .into_iter()
        .map(|s| s.ticket)
        .collect();
    let next = if tickets.len() as i64 > size {
        tickets.truncate(size as usize);
        B64.encode(format!("o:{}", offset + size))
    } else {
        String::new()
    };
    Ok((tickets, next))
}
