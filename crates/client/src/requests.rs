//! The loop's requests, built in one place for every caller — `gridloopctl`'s commands, the
//! demo and the whole-system tests: a submission from each channel, then each step of the
//! worker's task (签收, 退单, 转办, 处置), the citizen's verdict (好差评, 回访) and the
//! supervisor's exemption (销号). The functions take typed values (enums, instants) and do the
//! wire's conversions (enum numbers, timestamps) so no caller spells them again.

use chrono::{DateTime, Utc};
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;

/// A 12345 call as the operator's desk submits it.
#[derive(Clone, Debug, Default)]
pub struct HotlineCall {
    /// The 12345 work order number (工单号): the idempotency key.
    pub work_order: String,
    pub operator_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub address: String,
    /// Where the operator located the matter, if they did (else routing finds it).
    pub grid_code: String,
    pub category_code: String,
    pub urgency: pb::Urgency,
    pub content: String,
    pub recording_url: String,
}

/// `call`, received at `at`.
pub fn hotline(call: HotlineCall, at: DateTime<Utc>) -> pb::SubmitHotlineTicketRequest {
    pb::SubmitHotlineTicketRequest {
        external_id: call.work_order,
        operator_id: call.operator_id,
        caller_phone: call.phone,
        caller_name: call.name,
        address: call.address,
        grid_code: call.grid_code,
        category_code: call.category_code,
        urgency: call.urgency as i32,
        content: call.content,
        recording_url: call.recording_url,
        received_at: Some(ts(at)),
    }
}

/// A one-key button press `press_id` of `device_id` at `at`, as the device gateway reports it.
pub fn one_key(
    device_id: impl Into<String>,
    press_id: impl Into<String>,
    voice_note_url: impl Into<String>,
    at: DateTime<Utc>,
) -> pb::SubmitOneKeyCallRequest {
    pb::SubmitOneKeyCallRequest {
        device_id: device_id.into(),
        press_id: press_id.into(),
        pressed_at: Some(ts(at)),
        voice_note_url: voice_note_url.into(),
    }
}

/// A submission from the citizen app, the 书记信箱 or the web form.
#[derive(Clone, Debug, Default)]
pub struct AppSubmission {
    /// `App`, `Mailbox` or `Web`.
    pub channel: pb::Channel,
    /// The idempotency key.
    pub submission_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub content: String,
    pub category_code: String,
    pub photo_urls: Vec<String>,
    pub point: Option<pb::GeoPoint>,
    pub address: String,
}

/// `s`, submitted at `at`.
pub fn app(s: AppSubmission, at: DateTime<Utc>) -> pb::SubmitAppTicketRequest {
    pb::SubmitAppTicketRequest {
        channel: s.channel as i32,
        submission_id: s.submission_id,
        citizen_phone: s.phone,
        citizen_name: s.name,
        content: s.content,
        category_code: s.category_code,
        photo_urls: s.photo_urls,
        point: s.point,
        address: s.address,
        submitted_at: Some(ts(at)),
    }
}

/// What a grid worker found on patrol.
#[derive(Clone, Debug, Default)]
pub struct PatrolFinding {
    /// The idempotency key.
    pub finding_id: String,
    /// The grid it was found in (one of the worker's posts).
    pub grid_code: String,
    pub category_code: String,
    pub urgency: pb::Urgency,
    pub content: String,
    pub photo_urls: Vec<String>,
    pub address: String,
}

/// `f`, found at `at`; its location is the grid it was found in.
pub fn patrol(f: PatrolFinding, at: DateTime<Utc>) -> pb::ReportPatrolFindingRequest {
    pb::ReportPatrolFindingRequest {
        finding_id: f.finding_id,
        grid_code: f.grid_code.clone(),
        category_code: f.category_code,
        urgency: f.urgency as i32,
        content: f.content,
        photo_urls: f.photo_urls,
        location: Some(pb::Location {
            point: None,
            address: f.address,
            grid_code: f.grid_code,
        }),
        found_at: Some(ts(at)),
    }
}

/// Routing's current task of `ticket_id`.
pub fn task(ticket_id: impl Into<String>) -> pb::GetTaskRequest {
    pb::GetTaskRequest {
        ticket_id: ticket_id.into(),
    }
}

/// 签收: the holding worker signs for the task.
pub fn accept(ticket_id: impl Into<String>) -> pb::AcceptTaskRequest {
    pb::AcceptTaskRequest {
        ticket_id: ticket_id.into(),
    }
}

/// 退单: the holding worker sends the task back, for `reason`.
pub fn give_back(
    ticket_id: impl Into<String>,
    reason: pb::ReturnReason,
    text: impl Into<String>,
) -> pb::ReturnTaskRequest {
    pb::ReturnTaskRequest {
        ticket_id: ticket_id.into(),
        reason: reason as i32,
        reason_text: text.into(),
    }
}

/// 转办: the holding worker moves the task on to `to_grid_code`.
pub fn transfer(
    ticket_id: impl Into<String>,
    to_grid_code: impl Into<String>,
    reason: impl Into<String>,
) -> pb::TransferTaskRequest {
    pb::TransferTaskRequest {
        ticket_id: ticket_id.into(),
        to_grid_code: to_grid_code.into(),
        reason: reason.into(),
    }
}

/// What a disposal (处置) reports.
#[derive(Clone, Debug, Default)]
pub struct Disposal {
    pub kind: pb::DisposalType,
    /// What was done.
    pub result: String,
    pub evidence_urls: Vec<String>,
    /// Why it cannot be resolved (for `Unresolvable`).
    pub unresolvable_reason: String,
}

impl Disposal {
    /// Resolved (or explained, by `kind`) with `result` and its evidence.
    pub fn done(kind: pb::DisposalType, result: impl Into<String>, evidence: Vec<String>) -> Self {
        Disposal {
            kind,
            result: result.into(),
            evidence_urls: evidence,
            unresolvable_reason: String::new(),
        }
    }
}

/// 处置 of `ticket_id`, done at `at`.
pub fn dispose(
    ticket_id: impl Into<String>,
    d: Disposal,
    at: DateTime<Utc>,
) -> pb::SubmitDisposalRequest {
    pb::SubmitDisposalRequest {
        ticket_id: ticket_id.into(),
        disposal_type: d.kind as i32,
        result: d.result,
        evidence_urls: d.evidence_urls,
        disposed_at: Some(ts(at)),
        unresolvable_reason: d.unresolvable_reason,
    }
}

/// 好差评: the citizen's `rating` (through the app, or the app backend for them).
pub fn feedback(
    ticket_id: impl Into<String>,
    rating: pb::Rating,
    comment: impl Into<String>,
) -> pb::SubmitFeedbackRequest {
    pb::SubmitFeedbackRequest {
        ticket_id: ticket_id.into(),
        rating: rating as i32,
        comment: comment.into(),
    }
}

/// How a 12345 callback went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reached {
    /// The caller answered and rated the disposal.
    Yes(pb::Rating),
    /// Nobody answered (three such let a supervisor close by exemption).
    No,
}

/// 回访: the operator's callback of `ticket_id` at `at`.
pub fn callback(
    ticket_id: impl Into<String>,
    reached: Reached,
    notes: impl Into<String>,
    at: DateTime<Utc>,
) -> pb::RecordCallbackRequest {
    let (reached, rating) = match reached {
        Reached::Yes(r) => (true, r),
        Reached::No => (false, pb::Rating::Unspecified),
    };
    pb::RecordCallbackRequest {
        ticket_id: ticket_id.into(),
        reached,
        rating: rating as i32,
        notes: notes.into(),
        called_at: Some(ts(at)),
    }
}

/// 销号 by the supervisor's audited exemption of `kind`.
pub fn close(
    ticket_id: impl Into<String>,
    kind: pb::ExemptionKind,
    reason: impl Into<String>,
) -> pb::CloseTicketRequest {
    pb::CloseTicketRequest {
        ticket_id: ticket_id.into(),
        kind: kind as i32,
        reason: reason.into(),
    }
}

/// The tracker's loop status of `ticket_id`.
pub fn loop_status(ticket_id: impl Into<String>) -> pb::GetLoopStatusRequest {
    pb::GetLoopStatusRequest {
        ticket_id: ticket_id.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_and_times_go_on_the_wire() {
        let at = DateTime::from_timestamp(1_772_000_000, 0).unwrap();
        let r = hotline(
            HotlineCall {
                work_order: "GD-1".into(),
                urgency: pb::Urgency::Urgent,
                ..Default::default()
            },
            at,
        );
        assert_eq!(
            (r.external_id.as_str(), r.urgency()),
            ("GD-1", pb::Urgency::Urgent)
        );
        assert_eq!(r.received_at.map(|t| t.seconds), Some(1_772_000_000));
        let p = patrol(
            PatrolFinding {
                grid_code: "341504102201001".into(),
                ..Default::default()
            },
            at,
        );
        assert_eq!(p.location.unwrap().grid_code, p.grid_code);
        let cb = callback("t", Reached::No, "", at);
        assert_eq!((cb.reached, cb.rating()), (false, pb::Rating::Unspecified));
        let cb = callback("t", Reached::Yes(pb::Rating::Satisfied), "", at);
        assert_eq!((cb.reached, cb.rating()), (true, pb::Rating::Satisfied));
        let d = dispose(
            "t",
            Disposal::done(pb::DisposalType::Resolved, "ok", vec!["e".into()]),
            at,
        );
        assert_eq!(d.disposal_type(), pb::DisposalType::Resolved);
        assert_eq!(
            give_back("t", pb::ReturnReason::NotMyGrid, "x").reason(),
            pb::ReturnReason::NotMyGrid
        );
    }
}
