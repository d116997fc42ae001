//! A ticket's short history for an operator to read out, oldest first: what intake decided
//! itself (received, merged, split off, repeats merged into it) from `tickets`, which has it
//! at once, and the loop's later steps from intake's view of the stream.

use chrono::{DateTime, Utc};
use gridloop_platform::ApiError;
use gridloop_proto::v1::{Channel, TicketHistoryEntry};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::stored::CHANNEL;
use crate::tickets::{Stored, parse_id};

/// Most repeats listed in a history; the count is on the ticket anyway.
const HISTORY_REPEATS: i64 = 20;

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

fn entry(at: DateTime<Utc>, kind: &str, summary: String, related: String) -> TicketHistoryEntry {
    TicketHistoryEntry {
        at: Some(gridloop_proto::ts(at)),
        kind: kind.into(),
        summary,
        related_ticket_id: related,
    }
}

/// Oldest first: received; merged into a parent (and split off it, if it had been closed),
/// or the repeats merged into this ticket; then the loop's steps.
pub async fn history(pool: &PgPool, t: &Stored) -> Result<Vec<TicketHistoryEntry>, ApiError> {
    let ticket = &t.ticket;
    let received = ticket
        .received_at
        .as_ref()
        .and_then(gridloop_proto::from_ts)
        .unwrap_or(t.created_at);
    let mut out = vec![entry(
        received,
        "discovered",
        format!("{}受理", channel_name(ticket.channel)),
        String::new(),
    )];
    let split_from = &ticket.split_from_ticket_id;
    if !ticket.parent_ticket_id.is_empty() {
        let parent = &ticket.parent_ticket_id;
        out.push(entry(
            t.created_at,
            "merged",
            format!("重复诉求，并入工单 {parent}"),
            parent.clone(),
        ));
    } else if let (false, Some(split_at)) = (split_from.is_empty(), t.split_at) {
        out.push(entry(
            t.created_at,
            "merged",
            format!("重复诉求，并入工单 {split_from}"),
            split_from.clone(),
        ));
        out.push(entry(
            split_at,
            "discovered",
            format!("工单 {split_from} 此前已销号，本诉求另行立单办理"),
            split_from.clone(),
        ));
    }
    if ticket.parent_ticket_id.is_empty() {
        out.extend(repeats(pool, &ticket.ticket_id).await?);
    }
    if let Some(view) = &t.view {
        out.extend(
            view.history
                .iter()
                .map(|s| entry(s.at, &s.kind, s.summary.clone(), String::new())),
        );
    }
    // Intake's own records and the stream's steps interleave by time; equal times keep the
    // order above (receipt first).
    out.sort_by_key(|e| e.at.as_ref().map(|t| (t.seconds, t.nanos)));
    Ok(out)
}

/// The repeats merged into the ticket, including those split off because it was closed first.
async fn repeats(pool: &PgPool, id: &str) -> Result<Vec<TicketHistoryEntry>, ApiError> {
    let id: Uuid = parse_id("ticket_id", id)?;
    let rows = sqlx::query(
        "SELECT ticket_id, channel, created_at, split_from_ticket_id IS NOT NULL AS split \
         FROM tickets WHERE parent_ticket_id = $1 OR split_from_ticket_id = $1 \
         ORDER BY created_at, ticket_id LIMIT $2",
    )
    .bind(id)
    .bind(HISTORY_REPEATS)
    .fetch_all(pool)
    .await?;
    let mut n = 0;
    Ok(rows
        .iter()
        .map(|r| {
            let child: Uuid = r.get("ticket_id");
            let channel = channel_name(CHANNEL.parse(r.get("channel")));
            let summary = if r.get("split") {
                format!("重复诉求（{channel}，工单 {child}）到达时本单已销号，已另行立单")
            } else {
                n += 1;
                format!("第{n}次重复诉求（{channel}，工单 {child}）")
            };
            entry(r.get("created_at"), "merged", summary, child.to_string())
        })
        .collect())
}
