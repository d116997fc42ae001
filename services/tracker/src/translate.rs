//! What an event means to the tracker: the lifecycle step it is (none for the informational
//! kinds), who acted, which grid is involved and a one-line summary for the timeline. Nothing
//! here keeps a phone number: actors are ids, and text passes [`mask_digits`].

use gridloop_lifecycle::{Event, Rating};
use gridloop_platform::convert::{exemption_kind, lifecycle_step, rating};
use gridloop_proto::v1 as pb;
use pb::ticket_event::Body;

use crate::domain::{kind_name, level_name, mask_digits};

/// One event, read for the timeline.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The lifecycle step; `None` for overdue, escalated and violation, which are recorded
    /// without changing the state.
    pub step: Option<Event>,
    pub actor_id: String,
    pub actor_role: pb::ActorRole,
    pub grid_code: String,
    pub summary: String,
}

fn actor(a: Option<&pb::Actor>) -> (String, pb::ActorRole) {
    match a {
        Some(a) => (
            a.id.clone(),
            pb::ActorRole::try_from(a.role).unwrap_or(pb::ActorRole::Unspecified),
        ),
        None => (String::new(), pb::ActorRole::Unspecified),
    }
}

fn rating_name(r: Rating) -> &'static str {
    match r {
        Rating::Satisfied => "满意",
        Rating::BasicallySatisfied => "基本满意",
        Rating::Dissatisfied => "不满意",
    }
}

fn short(text: &str) -> String {
    let t: String = text.trim().chars().take(80).collect();
    t
}

/// Reads `body`, produced by `producer`.
pub fn read(producer: &str, body: &Body) -> Reading {
    let worker = pb::ActorRole::Worker;
    let system = pb::ActorRole::System;
    let service_actor = (producer.to_owned(), system);
    let ((actor_id, actor_role), grid_code, summary) = match body {
        Body::Discovered(d) => {
            let by = actor(d.submitted_by.as_ref());
            let who = match &d.submitted_by {
                Some(_) => by,
                None => match &d.contact {
                    Some(c) => (c.citizen_key.clone(), pb::ActorRole::Citizen),
                    None => (String::new(), pb::ActorRole::Unspecified),
                },
            };
            let channel = pb::Channel::try_from(d.channel)
                .map(|c| c.as_str_name())
                .unwrap_or("CHANNEL_UNSPECIFIED");
            let category = d.category.as_ref().map(|c| c.name.as_str()).unwrap_or("");
            let grid = d
                .location
                .as_ref()
                .map(|l| l.grid_code.clone())
                .unwrap_or_default();
            // A repeat split off a parent closed before its merge landed: the timeline says
            // it was filed as a ticket of its own, and from which closed ticket.
            let split_from = Some(d.split_from_ticket_id.clone()).filter(|p| !p.is_empty());
            let summary = match &split_from {
                Some(p) => format!("另行立单: {channel} {category} (原并入工单 {p} 已销号)"),
                None => format!("发现: {channel} {category}"),
            };
            (who, grid, summary)
        }
        Body::Merged(m) => (
            match &m.contact {
                Some(c) => (c.citizen_key.clone(), pb::ActorRole::Citizen),
                None => (String::new(), pb::ActorRole::Unspecified),
            },
            m.location
                .as_ref()
                .map(|l| l.grid_code.clone())
                .unwrap_or_default(),
            format!(
                "重复诉求并入 {} (第{}次)",
                m.parent_ticket_id, m.repeat_count
            ),
        ),
        Body::Dispatched(d) => {
            let post = match pb::Post::try_from(d.post) {
                Ok(pb::Post::A) => " A岗",
                Ok(pb::Post::B) => " B岗",
                _ => "",
            };
            (
                service_actor,
                d.grid_code.clone(),
                format!(
                    "派单至{}{post} ({}, 第{}次派单)",
                    d.grid_name, d.worker_id, d.attempt
                ),
            )
        }
        Body::Accepted(a) => (
            (a.worker_id.clone(), worker),
            a.grid_code.clone(),
            if a.on_time {
                "签收"
            } else {
                "签收 (超时)"
            }
            .to_string(),
        ),
        Body::Returned(r) => (
            (r.worker_id.clone(), worker),
            r.grid_code.clone(),
            format!("退单: {}", short(&r.reason_text)),
        ),
        Body::Transferred(t) => (
            actor(t.transferred_by.as_ref()),
            t.to_grid_code.clone(),
            format!(
                "转办 {} → {}: {}",
                t.from_grid_code,
                t.to_grid_code,
                short(&t.reason)
            ),
        ),
        Body::Unroutable(u) => (
            service_actor,
            u.fallback_grid_code.clone(),
            format!(
                "无法正常派单, 转兜底 {}: {}",
                u.fallback_grid_code,
                short(&u.reason)
            ),
        ),
        Body::Disposed(d) => {
            let what = match pb::DisposalType::try_from(d.disposal_type) {
                Ok(pb::DisposalType::Resolved) => "已解决",
                Ok(pb::DisposalType::Explained) => "已解释说明",
                Ok(pb::DisposalType::Unresolvable) => "无法解决",
                _ => "未注明",
            };
            (
                (d.worker_id.clone(), worker),
                d.grid_code.clone(),
                format!("处置: {what}"),
            )
        }
        Body::FeedbackRecorded(f) => {
            let text = match rating(f.rating) {
                Some(r) => rating_name(r).to_string(),
                None => format!("回访未接通 (第{}次)", f.unreached_attempts),
            };
            (actor(f.recorded_by.as_ref()), String::new(), text)
        }
        Body::Closed(c) => {
            let (who, text) = match &c.basis {
                Some(pb::ticket_closed::Basis::Exemption(e)) => {
                    let kind = exemption_kind(e.kind);
                    (
                        actor(e.approved_by.as_ref()),
                        format!("销号 (豁免 {}: {})", kind.name(), short(&e.reason)),
                    )
                }
                Some(pb::ticket_closed::Basis::Rating(r)) => (
                    service_actor,
                    format!("销号 ({})", rating(*r).map(rating_name).unwrap_or("未评价")),
                ),
                None => (service_actor, "销号".to_string()),
            };
            (who, c.grid_code.clone(), text)
        }
        Body::Reopened(r) => (
            service_actor,
            r.grid_code.clone(),
            format!("返工 (第{}次)", r.rework_count),
        ),
        Body::Overdue(o) => (
            service_actor,
            o.grid_code.clone(),
            format!("督办: {}超期", kind_name(o.deadline_kind)),
        ),
        Body::Escalated(e) => {
            let why = match pb::EscalationCause::try_from(e.cause) {
                Ok(pb::EscalationCause::RepeatComplaint) => {
                    format!("重复诉求{}次", e.repeat_count)
                }
                _ => format!("{}超期", kind_name(e.deadline_kind)),
            };
            (
                service_actor,
                e.grid_code.clone(),
                format!(
                    "层级上报至{} {} ({why}, 第{}次上报)",
                    level_name(e.level),
                    e.grid_code,
                    e.escalation_step
                ),
            )
        }
        Body::Violation(v) => (
            service_actor,
            String::new(),
            format!("违规事件 {}: {}", v.attempted, short(&v.reason)),
        ),
    };
    Reading {
        step: lifecycle_step(body),
        actor_id: mask_digits(&actor_id),
        actor_role,
        grid_code,
        summary: mask_digits(&summary),
    }
}
