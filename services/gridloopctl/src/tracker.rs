//! Tracker's commands: `timeline`, `overdue`.

use gridloop_proto::v1 as pb;
use serde_json::json;

use crate::cli::{Overdue, Timeline};
use crate::client::Ctx;
use crate::closure::actor;
use crate::enum_name;
use crate::error::CtlResult;
use crate::output::{Table, opt_str, with_more};
use crate::pager::pages;
use crate::timefmt::{json_ts, table_ts};

pub async fn timeline(ctx: &Ctx, t: Timeline) -> CtlResult {
    let c = ctx.tracker()?;
    let conn = &c;
    let ticket_id = t.ticket_id;
    let (entries, more) = pages(t.page.limit, |page_token, page_size| {
        let mut client = conn.client.clone();
        let req = pb::GetTimelineRequest {
            ticket_id: ticket_id.clone(),
            page_size,
            page_token,
        };
        async move {
            let r = client
                .get_timeline(req)
                .await
                .map_err(|s| conn.err(s))?
                .into_inner();
            Ok((r.entries, r.next_page_token))
        }
    })
    .await?;
    let view = json!({
        "ticket_id": ticket_id,
        "truncated": more,
        "entries": entries.iter().map(|e| json!({
            "event_id": e.event_id,
            "kind": e.kind,
            "occurred_at": json_ts(e.occurred_at.as_ref()),
            "producer": e.producer,
            "actor": e.actor.as_ref().map(actor),
            "grid_code": opt_str(&e.grid_code),
            "from_state": state(e.from_state),
            "to_state": state(e.to_state),
            "summary": e.summary,
            "violation": e.violation,
            "violation_reason": opt_str(&e.violation_reason),
            "stream_sequence": e.stream_sequence,
        })).collect::<Vec<_>>(),
    });
    ctx.out.emit(&view, || {
        let mut table = Table::new(&["AT", "KIND", "STATE", "BY", "GRID", "SUMMARY"]);
        for e in &entries {
            let step = if e.from_state == e.to_state {
                state(e.to_state)
            } else {
                format!("{} → {}", state(e.from_state), state(e.to_state))
            };
            let by = e
                .actor
                .as_ref()
                .map(|a| {
                    format!("{} {}", enum_name!(ActorRole, a.role, "ACTOR_ROLE_"), a.id)
                        .trim()
                        .to_string()
                })
                .unwrap_or_default();
            let summary = if e.violation {
                format!("REJECTED: {} ({})", e.summary, e.violation_reason)
            } else {
                e.summary.clone()
            };
            table.row(vec![
                table_ts(e.occurred_at.as_ref()),
                e.kind.clone(),
                step,
                by,
                e.grid_code.clone(),
                summary,
            ]);
        }
        with_more(table.render(), more)
    });
    Ok(())
}

pub async fn overdue(ctx: &Ctx, o: Overdue) -> CtlResult {
    let c = ctx.tracker()?;
    let conn = &c;
    let kind = o.kind.map_or(pb::DeadlineKind::Unspecified, |k| k.proto()) as i32;
    let (tickets, more) = pages(o.page.limit, |page_token, page_size| {
        let mut client = conn.client.clone();
        let req = pb::ListOverdueRequest {
            grid_code: o.grid.clone(),
            kind,
            page_size,
            page_token,
        };
        async move {
            let r = client
                .list_overdue(req)
                .await
                .map_err(|s| conn.err(s))?
                .into_inner();
            Ok((r.tickets, r.next_page_token))
        }
    })
    .await?;
    let view = json!({
        "truncated": more,
        "tickets": tickets.iter().map(|t| json!({
            "ticket_id": t.ticket_id,
            "kind": enum_name!(DeadlineKind, t.kind, "DEADLINE_KIND_"),
            "due_at": json_ts(t.due_at.as_ref()),
            "grid_code": t.grid_code,
            "worker_id": opt_str(&t.worker_id),
            "state": state(t.state),
            "escalation_level": enum_name!(GridLevel, t.escalation_level, "GRID_LEVEL_"),
            "category": t.category.as_ref().map(|c| json!({"code": c.code, "name": c.name})),
            "urgency": enum_name!(Urgency, t.urgency, "URGENCY_"),
        })).collect::<Vec<_>>(),
    });
    ctx.out.emit(&view, || {
        let mut table = Table::new(&[
            "TICKET",
            "DEADLINE",
            "DUE",
            "STATE",
            "GRID",
            "WORKER",
            "CATEGORY",
            "ESCALATED_TO",
        ]);
        for t in &tickets {
            table.row(vec![
                t.ticket_id.clone(),
                enum_name!(DeadlineKind, t.kind, "DEADLINE_KIND_"),
                table_ts(t.due_at.as_ref()),
                state(t.state),
                t.grid_code.clone(),
                t.worker_id.clone(),
                t.category
                    .as_ref()
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                enum_name!(GridLevel, t.escalation_level, "GRID_LEVEL_"),
            ]);
        }
        with_more(table.render(), more)
    });
    Ok(())
}

fn state(v: i32) -> String {
    enum_name!(LifecycleState, v, "LIFECYCLE_STATE_")
}
