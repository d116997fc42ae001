//! Stored rows as wire messages.

use gridloop_proto::ts;
use gridloop_proto::v1 as pb;

use crate::store::{DisposalRow, FeedbackRow, LedgerRow};

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

pub fn disposal(d: &DisposalRow) -> pb::Disposal {
    pb::Disposal {
        disposal_id: d.disposal_id.to_string(),
        ticket_id: d.ticket_id.to_string(),
        worker_id: d.worker_id.clone(),
        grid_code: d.grid_code.clone(),
        disposal_type: d.disposal_type,
        result: d.result.clone(),
        evidence_urls: d.evidence_urls.clone(),
        disposed_at: Some(ts(d.disposed_at)),
        unresolvable_reason: d.unresolvable_reason.clone(),
        rework_count: count(d.rework_count),
    }
}

pub fn feedback(f: &FeedbackRow) -> pb::Feedback {
    pb::Feedback {
        feedback_id: f.feedback_id.to_string(),
        ticket_id: f.ticket_id.to_string(),
        rating: f.rating,
        comment: f.comment.clone(),
        source: f.source,
        reached: f.reached,
        recorded_by: Some(pb::Actor {
            id: f.actor_id.clone(),
            role: f.actor_role,
        }),
        recorded_at: Some(ts(f.recorded_at)),
        rework_count: count(f.rework_count),
    }
}

pub fn ledger_entry(l: &LedgerRow) -> pb::LedgerEntry {
    let basis = match (l.rating, l.exemption_kind) {
        (Some(r), _) => Some(pb::ledger_entry::Basis::Rating(r)),
        (None, Some(kind)) => Some(pb::ledger_entry::Basis::Exemption(pb::Exemption {
            kind,
            reason: l.exemption_reason.clone().unwrap_or_default(),
            approved_by: Some(pb::Actor {
                id: l.approved_by.clone().unwrap_or_default(),
                role: pb::ActorRole::Supervisor as i32,
            }),
        })),
        (None, None) => None,
    };
    pb::LedgerEntry {
        entry_id: l.entry_id.to_string(),
        ticket_id: l.ticket_id.to_string(),
        grid_code: l.grid_code.clone(),
        worker_id: l.worker_id.clone(),
        closed_at: Some(ts(l.closed_at)),
        basis,
        rework_count: count(l.rework_count),
        on_time: l.on_time,
        dispose_by: l.dispose_by.map(ts),
        category: Some(pb::Category {
            code: l.category_code.clone(),
            name: l.category_name.clone(),
        }),
        channel: l.channel,
    }
}
