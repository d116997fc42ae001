//! Reading tickets back for an operator answering a caller who rings again: one ticket with
//! its short history, or a phone number's open and recent tickets.
//!
//! Intake consumes no events, so state and history are intake's own records: received, merged
//! repeats, merged into a parent. The tracker has the full timeline.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use gridloop_platform::ApiError;
use gridloop_proto::v1::{
    Category, Channel, GeoPoint, LifecycleState, Location, MaskedContact, Ticket,
    TicketHistoryEntry,
};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

macro_rules! columns {
    () => {
        "t.ticket_id, t.channel, t.external_id, t.state, t.parent_ticket_id, t.repeat_count, \
         t.category_code, c.name AS category_name, t.urgency, t.content, t.masked_phone, \
         t.citizen_key, t.address, t.grid_code, t.lat, t.lng, t.photo_urls, t.received_at, \
         t.created_at"
    };
}

/// A ticket as intake stored it (contact masked), with what history needs.
pub struct Stored {
    pub ticket: Ticket,
    pub citizen_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn from_row(r: &PgRow) -> Stored {
    let id: Uuid = r.get("ticket_id");
    let parent: Option<Uuid> = r.get("parent_ticket_id");
    let state: String = r.get("state");
    let lat: Option<f64> = r.get("lat");
    let lng: Option<f64> = r.get("lng");
    let citizen_key: Option<String> = r.get("citizen_key");
    let received_at: DateTime<Utc> = r.get("received_at");
    let ticket = Ticket {
        ticket_id: id.to_string(),
        channel: i32::from(r.get::<i16, _>("channel")),
        external_id: r.get("external_id"),
        category: Some(Category {
            code: r.get("category_code"),
            name: r.get("category_name"),
        }),
        urgency: i32::from(r.get::<i16, _>("urgency")),
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
        state: if state == "MERGED" {
            LifecycleState::Merged
        } else {
            LifecycleState::Discovered
        } as i32,
        received_at: Some(gridloop_proto::ts(received_at)),
        repeat_count: r.get::<i32, _>("repeat_count").max(0) as u32,
        parent_ticket_id: parent.map(|p| p.to_string()).unwrap_or_default(),
        photo_urls: r.get("photo_urls"),
        // Intake does not see dispatches or closure; routing and the tracker know these.
        grid_code: String::new(),
        closed_at: None,
    };
    Stored {
        ticket,
        citizen_key,
        created_at: r.get("created_at"),
    }
}

fn channel_name(code: i32) -> &'static str {
    match Channel::try_from(code) {
        Ok(Channel::Hotline12345) => "12345热线",
        Ok(Channel::OneKeyCall) => "一键呼叫",
        Ok(Channel::App) => "APP",
        Ok(Channel::Mailbox) => "书记信箱",
        Ok(Channel::Web) => "网站留言",
        Ok(Channel::Patrol) => "巡查发现",
        _ => "未知渠道",
    }
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
    Ok(from_row(&row))
}

/// Most merged repeats listed in a history; the count is on the ticket anyway.
const HISTORY_REPEATS: i64 = 20;

/// Oldest first: received, then the repeats merged into it (or where it was merged to).
pub async fn history(pool: &PgPool, t: &Stored) -> Result<Vec<TicketHistoryEntry>, ApiError> {
    let ticket = &t.ticket;
    let mut out = vec![TicketHistoryEntry {
        at: ticket.received_at,
        kind: "discovered".into(),
        summary: format!("{}受理", channel_name(ticket.channel)),
    }];
    if !ticket.parent_ticket_id.is_empty() {
        out.push(TicketHistoryEntry {
            at: Some(gridloop_proto::ts(t.created_at)),
            kind: "merged".into(),
            summary: format!("重复诉求，并入工单 {}", ticket.parent_ticket_id),
        });
        return Ok(out);
    }
    let id = parse_id("ticket_id", &ticket.ticket_id)?;
    let rows = sqlx::query(
        "SELECT ticket_id, channel, created_at FROM tickets WHERE parent_ticket_id = $1 \
         ORDER BY created_at, ticket_id LIMIT $2",
    )
    .bind(id)
    .bind(HISTORY_REPEATS)
    .fetch_all(pool)
    .await?;
    for (n, r) in rows.iter().enumerate() {
        let child: Uuid = r.get("ticket_id");
        out.push(TicketHistoryEntry {
            at: Some(gridloop_proto::ts(r.get("created_at"))),
            kind: "merged".into(),
            summary: format!(
                "第{}次重复诉求（{}，工单 {child}）",
                n + 1,
                channel_name(i32::from(r.get::<i16, _>("channel")))
            ),
        });
    }
    Ok(out)
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
    let mut tickets: Vec<Ticket> = rows.iter().map(|r| from_row(r).ticket).collect();
    let next = if tickets.len() as i64 > size {
        tickets.truncate(size as usize);
        B64.encode(format!("o:{}", offset + size))
    } else {
        String::new()
    };
    Ok((tickets, next))
}
