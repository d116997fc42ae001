//! Closure's commands: `feedback`, `callback`, `close`.

use chrono::Utc;
use gridloop_client::requests::{self, Reached};
use gridloop_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::{Callback, Close, Feedback};
use crate::client::Ctx;
use crate::enum_name;
use crate::error::CtlResult;
use crate::output::{fields, opt_str};
use crate::timefmt::{json_ts, table_ts};

pub async fn feedback(ctx: &Ctx, f: Feedback) -> CtlResult {
    let mut c = ctx.closure()?;
    let req = requests::feedback(f.ticket_id, f.rating.proto(), f.comment);
    let r = c
        .client
        .submit_feedback(req)
        .await
        .map_err(|s| c.err(s))?
        .into_inner();
    let fb = r.feedback.unwrap_or_default();
    let mut view = feedback_view(&fb);
    view["state"] = json!(state(r.state));
    view["rework_count"] = json!(r.rework_count);
    ctx.out.emit(&view, || {
        fields(&[
            ("ticket", fb.ticket_id.clone()),
            ("rating", enum_name!(Rating, fb.rating, "RATING_")),
            ("state", state(r.state)),
            ("rework count", r.rework_count.to_string()),
        ])
    });
    Ok(())
}

pub async fn callback(ctx: &Ctx, cb: Callback) -> CtlResult {
    let mut c = ctx.closure()?;
    // clap requires --rating unless --unreached, and refuses both.
    let reached = match cb.rating {
        Some(r) if !cb.unreached => Reached::Yes(r.proto()),
        _ => Reached::No,
    };
    let req = requests::callback(
        cb.ticket_id,
        reached,
        cb.notes,
        cb.at.unwrap_or_else(Utc::now),
    );
    let r = c
        .client
        .record_callback(req)
        .await
        .map_err(|s| c.err(s))?
        .into_inner();
    let fb = r.feedback.unwrap_or_default();
    let mut view = feedback_view(&fb);
    view["state"] = json!(state(r.state));
    view["unreached_attempts"] = json!(r.unreached_attempts);
    view["exemption_eligible"] = json!(r.exemption_eligible);
    view["next_attempt_not_before"] = json_ts(r.next_attempt_not_before.as_ref());
    view["rework_count"] = json!(r.rework_count);
    ctx.out.emit(&view, || {
        let mut pairs = vec![
            ("ticket", fb.ticket_id.clone()),
            ("reached", fb.reached.to_string()),
            ("rating", enum_name!(Rating, fb.rating, "RATING_")),
            ("state", state(r.state)),
            ("unreached attempts", r.unreached_attempts.to_string()),
        ];
        if r.exemption_eligible {
            pairs.push((
                "exemption",
                "eligible: a supervisor may `close --kind unreachable`".into(),
            ));
        }
        if r.next_attempt_not_before.is_some() {
            pairs.push((
                "next attempt",
                format!(
                    "not before {}",
                    table_ts(r.next_attempt_not_before.as_ref())
                ),
            ));
        }
        fields(&pairs)
    });
    Ok(())
}

pub async fn close(ctx: &Ctx, cl: Close) -> CtlResult {
    let mut c = ctx.closure()?;
    let req = requests::close(cl.ticket_id, cl.kind.proto(), cl.reason);
    let r = c
        .client
        .close_ticket(req)
        .await
        .map_err(|s| c.err(s))?
        .into_inner();
    let e = r.entry.unwrap_or_default();
    let view = ledger_view(&e);
    ctx.out.emit(&view, || {
        fields(&[
            ("ticket", e.ticket_id.clone()),
            ("ledger entry", e.entry_id.clone()),
            ("closed", table_ts(e.closed_at.as_ref())),
            ("basis", basis(&e)),
            ("on time", e.on_time.to_string()),
            ("grid", e.grid_code.clone()),
        ])
    });
    Ok(())
}

pub(crate) fn state(v: i32) -> String {
    enum_name!(LifecycleState, v, "LIFECYCLE_STATE_")
}

fn basis(e: &pb::LedgerEntry) -> String {
    match &e.basis {
        Some(pb::ledger_entry::Basis::Rating(r)) => enum_name!(Rating, *r, "RATING_"),
        Some(pb::ledger_entry::Basis::Exemption(x)) => {
            format!(
                "exemption {}: {}",
                enum_name!(ExemptionKind, x.kind, "EXEMPTION_KIND_"),
                x.reason
            )
        }
        None => String::new(),
    }
}

fn feedback_view(f: &pb::Feedback) -> Value {
    json!({
        "feedback_id": f.feedback_id,
        "ticket_id": f.ticket_id,
        "rating": enum_name!(Rating, f.rating, "RATING_"),
        "comment": opt_str(&f.comment),
        "source": enum_name!(FeedbackSource, f.source, "FEEDBACK_SOURCE_"),
        "reached": f.reached,
        "recorded_by": f.recorded_by.as_ref().map(actor),
        "recorded_at": json_ts(f.recorded_at.as_ref()),
    })
}

pub fn actor(a: &pb::Actor) -> Value {
    json!({"id": opt_str(&a.id), "role": enum_name!(ActorRole, a.role, "ACTOR_ROLE_")})
}

fn ledger_view(e: &pb::LedgerEntry) -> Value {
    let (rating, exemption) = match &e.basis {
        Some(pb::ledger_entry::Basis::Rating(r)) => {
            (json!(enum_name!(Rating, *r, "RATING_")), Value::Null)
        }
        Some(pb::ledger_entry::Basis::Exemption(x)) => (
            Value::Null,
            json!({
                "kind": enum_name!(ExemptionKind, x.kind, "EXEMPTION_KIND_"),
                "reason": x.reason,
                "approved_by": x.approved_by.as_ref().map(actor),
            }),
        ),
        None => (Value::Null, Value::Null),
    };
    json!({
        "entry_id": e.entry_id,
        "ticket_id": e.ticket_id,
        "grid_code": e.grid_code,
        "worker_id": opt_str(&e.worker_id),
        "closed_at": json_ts(e.closed_at.as_ref()),
        "rating": rating,
        "exemption": exemption,
        "rework_count": e.rework_count,
        "on_time": e.on_time,
        "dispose_by": json_ts(e.dispose_by.as_ref()),
        "category": e.category.as_ref().map(|c| json!({"code": c.code, "name": c.name})),
        "channel": enum_name!(Channel, e.channel, "CHANNEL_"),
    })
}
