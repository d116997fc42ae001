//! What an event means to intake's view: the lifecycle step it is, and what it tells a caller
//! besides the state (holder, deadlines, disposal, rating, write-off, a line of history).
//! Summaries carry ids, codes and fixed words only — never free text another service took
//! from a person, which could hold a phone number.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{Event, Rating};
use gridloop_platform::convert::rating;
use gridloop_proto::from_ts;
use gridloop_proto::v1::{self as pb, ticket_event::Body};

use crate::loop_view::{Exemption, Loop, Step};

/// The lifecycle step of `body`; `None` for the informational kinds (overdue, escalated,
/// violation), which the tracker records without changing the state, and so does intake.
/// Read as the tracker reads it, so both views agree.
pub fn step(body: &Body) -> Option<Event> {
    gridloop_platform::convert::lifecycle_step(body)
}

fn rating_name(raw: i32) -> &'static str {
    match rating(raw) {
        Some(Rating::Satisfied) => "满意",
        Some(Rating::BasicallySatisfied) => "基本满意",
        Some(Rating::Dissatisfied) => "不满意",
        None => "未评价",
    }
}

fn deadline_name(raw: i32) -> &'static str {
    match pb::DeadlineKind::try_from(raw) {
        Ok(pb::DeadlineKind::Respond) => "签收",
        Ok(pb::DeadlineKind::Feedback) => "回访",
        _ => "处置",
    }
}

/// Takes what an applied event (at `at`) tells besides the state. Intake's own kinds
/// (discovered, merged) add nothing here: `tickets` has them from the moment intake decided.
pub fn take(l: &mut Loop, body: &Body, at: DateTime<Utc>) {
    let summary = match body {
        Body::Discovered(_) | Body::Merged(_) | Body::Violation(_) => return,
        Body::Dispatched(d) => {
            l.grid_code = d.grid_code.clone();
            l.worker_id = d.worker_id.clone();
            l.accepted_at = None;
            let deadlines = d.deadlines.as_ref();
            l.respond_by = deadlines
                .and_then(|x| x.respond_by.as_ref())
                .and_then(from_ts);
            if l.dispose_by.is_none() {
                l.dispose_by = deadlines
                    .and_then(|x| x.dispose_by.as_ref())
                    .and_then(from_ts);
            }
            let name = if d.grid_name.is_empty() {
                &d.grid_code
            } else {
                &d.grid_name
            };
            format!(
                "派单至{name} (网格员 {}, 第{}次派单)",
                d.worker_id, d.attempt
            )
        }
        Body::Accepted(a) => {
            l.accepted_at = Some(at);
            if a.on_time {
                "签收"
            } else {
                "签收 (超时)"
            }
            .to_string()
        }
        Body::Returned(_) => {
            l.worker_id.clear();
            l.accepted_at = None;
            "退单, 等待重新派单".to_string()
        }
        Body::Transferred(t) => {
            l.grid_code = t.to_grid_code.clone();
            l.worker_id.clear();
            l.accepted_at = None;
            format!("转办至 {}", t.to_grid_code)
        }
        Body::Unroutable(u) => format!("无法正常派单, 转兜底 {}", u.fallback_grid_code),
        Body::Disposed(d) => {
            l.disposal_type = d.disposal_type;
            l.disposal_result = d.result.clone();
            l.disposed_at = d.disposed_at.as_ref().and_then(from_ts).or(Some(at));
            match pb::DisposalType::try_from(d.disposal_type) {
                Ok(pb::DisposalType::Resolved) => "处置: 已解决",
                Ok(pb::DisposalType::Explained) => "处置: 已解释说明",
                Ok(pb::DisposalType::Unresolvable) => "处置: 无法解决",
                _ => "处置",
            }
            .to_string()
        }
        Body::FeedbackRecorded(f) => match rating(f.rating) {
            Some(_) => {
                l.rating = f.rating;
                format!("回访: {}", rating_name(f.rating))
            }
            None => format!("回访未接通 (第{}次)", f.unreached_attempts),
        },
        Body::Closed(c) => {
            l.closed_at = Some(at);
            if !c.grid_code.is_empty() {
                l.grid_code = c.grid_code.clone();
            }
            match &c.basis {
                Some(pb::ticket_closed::Basis::Exemption(e)) => {
                    l.exemption = Some(Exemption {
                        kind: e.kind,
                        reason: e.reason.clone(),
                        approved_by: e
                            .approved_by
                            .as_ref()
                            .map(|a| a.id.clone())
                            .unwrap_or_default(),
                    });
                    "销号 (豁免)".to_string()
                }
                Some(pb::ticket_closed::Basis::Rating(r)) => {
                    l.closed_on_rating = Some(*r);
                    format!("销号 ({})", rating_name(*r))
                }
                None => "销号".to_string(),
            }
        }
        Body::Reopened(r) => {
            // The rejected disposal stays the latest one until the rework's own.
            l.accepted_at = None;
            format!("返工 (第{}次)", r.rework_count)
        }
        Body::Overdue(o) => {
            l.overdue_count = l.overdue_count.saturating_add(1);
            format!("督办: {}超期", deadline_name(o.deadline_kind))
        }
        Body::Escalated(e) => {
            l.escalation_count = l.escalation_count.saturating_add(1);
            format!("层级上报至 {} (第{}次上报)", e.grid_code, e.escalation_step)
        }
    };
    l.record(Step {
        at,
        kind: body.kind().to_string(),
        summary,
    });
}
