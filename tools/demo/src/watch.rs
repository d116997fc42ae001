//! The demo's 督办: the town's SLA rule for urgent safety hazards (治安隐患) — respond within a
//! few minutes, set on the tracker like any other rule — and, after the tickets have gone
//! through, the wait until the tracker reports the hazards nobody signed for overdue and
//! escalated, with a progress line, bounded by their deadline.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gridloop_client::{Service, requests};
use gridloop_lifecycle::calendar::shanghai;
use gridloop_proto::from_ts;
use gridloop_proto::v1 as pb;
use gridloopctl::error::CtlResult;

use crate::county::TOWN;
use crate::plan::HAZARD;
use crate::rpc::{As, Rpc};

/// How long after the last hazard's deadline the demo still waits for the tracker.
const GRACE: Duration = Duration::from_secs(30);
/// Pages of the supervisor's overdue list read to find this run's hazards in it.
const MAX_PAGES: usize = 20;

/// Sets the town's rule for urgent safety hazards: respond within `minutes` clock minutes;
/// dispose and feedback limits stay those the category (or the urgent default) has.
pub async fn hazard_rule(rpc: &Rpc, minutes: u32) -> CtlResult<pb::SlaRule> {
    let rules = rpc
        .tracker()
        .list_sla_rules(rpc.req(
            As::Supervisor,
            pb::ListSlaRulesRequest {
                category_code: HAZARD.into(),
                page_size: 100,
                page_token: String::new(),
            },
        ))
        .await
        .map_err(|s| rpc.err(Service::Tracker, s))?
        .into_inner()
        .rules;
    let urgent = pb::Urgency::Urgent as i32;
    let current = rules
        .iter()
        .find(|r| r.category_code == HAZARD && r.urgency == urgent)
        .or_else(|| {
            rules
                .iter()
                .find(|r| r.category_code.is_empty() && r.urgency == urgent)
        });
    let limit = |amount, unit: pb::TimeUnit| {
        Some(pb::TimeLimit {
            amount,
            unit: unit as i32,
        })
    };
    let rule = pb::SlaRule {
        category_code: HAZARD.into(),
        urgency: urgent,
        respond_within: limit(minutes, pb::TimeUnit::Minutes),
        dispose_within: current
            .and_then(|r| r.dispose_within)
            .or_else(|| limit(24, pb::TimeUnit::CalendarHours)),
        feedback_within: current
            .and_then(|r| r.feedback_within)
            .or_else(|| limit(2, pb::TimeUnit::WorkingDays)),
        updated_at: None,
    };
    let stored = rpc
        .tracker()
        .upsert_sla_rule(rpc.req(
            As::Supervisor,
            pb::UpsertSlaRuleRequest { rule: Some(rule) },
        ))
        .await
        .map_err(|s| rpc.err(Service::Tracker, s))?
        .into_inner()
        .rule
        .unwrap_or_default();
    Ok(stored)
}

/// What the tracker said of the hazards when the wait ended.
#[derive(Debug, Default)]
pub struct Supervised {
    pub total: usize,
    /// Past their respond deadline, by the tracker's status.
    pub overdue: usize,
    /// Overdue and escalated (督办 to the level above).
    pub escalated: usize,
    /// Of those, found in the supervisor's overdue list (ListOverdue, 签收).
    pub listed: usize,
    /// Latest respond deadline of the hazards, as the tracker set it.
    pub due: Option<DateTime<Utc>>,
    /// Where the first escalated one went (grid code).
    pub escalated_to: Option<String>,
    pub waited: Duration,
}

#[derive(Clone, Default)]
struct Seen {
    due: Option<DateTime<Utc>>,
    overdue: bool,
    escalated_to: Option<String>,
}

/// Waits until the tracker reports every hazard overdue and escalated, or until
/// [`GRACE`] after the latest of their deadlines (at most `bound` in all).
pub async fn supervised(rpc: &Rpc, tickets: &[String], bound: Duration) -> Supervised {
    let start = Instant::now();
    let mut seen = vec![Seen::default(); tickets.len()];
    loop {
        for (id, s) in tickets.iter().zip(seen.iter_mut()) {
            if s.escalated_to.is_none() {
                *s = status(rpc, id).await.unwrap_or_else(|| s.clone());
            }
        }
        let due = seen.iter().filter_map(|s| s.due).max();
        let done = seen.iter().filter(|s| s.escalated_to.is_some()).count();
        let finished = done == tickets.len()
            || start.elapsed() >= bound
            || due.is_some_and(|d| Utc::now() > d + GRACE);
        progress(done, tickets.len(), due, start.elapsed(), finished);
        if finished {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let escalated: Vec<&String> = tickets
        .iter()
        .zip(&seen)
        .filter(|(_, s)| s.escalated_to.is_some())
        .map(|(id, _)| id)
        .collect();
    Supervised {
        total: tickets.len(),
        overdue: seen.iter().filter(|s| s.overdue).count(),
        escalated: escalated.len(),
        listed: listed(rpc, &escalated).await,
        due: seen.iter().filter_map(|s| s.due).max(),
        escalated_to: seen.iter().find_map(|s| s.escalated_to.clone()),
        waited: start.elapsed(),
    }
}

/// The tracker's view of one ticket: its respond deadline, whether it is overdue, and where
/// it was escalated once it is both. `None` while the tracker does not answer.
async fn status(rpc: &Rpc, ticket: &str) -> Option<Seen> {
    let req = rpc.req(As::Supervisor, requests::loop_status(ticket));
    let st = rpc
        .tracker()
        .get_loop_status(req)
        .await
        .ok()?
        .into_inner()
        .status?;
    let due = st
        .deadlines
        .iter()
        .find(|d| d.kind == pb::DeadlineKind::Respond as i32)
        .and_then(|d| d.due_at.as_ref())
        .and_then(from_ts);
    let escalated = st.overdue && st.escalation_level != pb::GridLevel::Unspecified as i32;
    Some(Seen {
        due,
        overdue: st.overdue,
        escalated_to: escalated.then(|| st.escalation_grid_code.clone()),
    })
}

/// How many of `tickets` the town supervisor's overdue list (签收) holds.
async fn listed(rpc: &Rpc, tickets: &[&String]) -> usize {
    let mut found = 0;
    let mut token = String::new();
    for _ in 0..MAX_PAGES {
        let req = rpc.req(
            As::Supervisor,
            pb::ListOverdueRequest {
                grid_code: TOWN.0.into(),
                kind: pb::DeadlineKind::Respond as i32,
                page_size: 200,
                page_token: token,
            },
        );
        let Ok(page) = rpc.tracker().list_overdue(req).await else {
            break;
        };
        let page = page.into_inner();
        found += page
            .tickets
            .iter()
            .filter(|t| tickets.iter().any(|id| **id == t.ticket_id))
            .count();
        if page.next_page_token.is_empty() || found == tickets.len() {
            break;
        }
        token = page.next_page_token;
    }
    found
}

/// `\r[#####.....] 督办 12/19 overdue and escalated · 签收 due 13:05:12 · 42s` on stderr.
fn progress(done: usize, total: usize, due: Option<DateTime<Utc>>, waited: Duration, last: bool) {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let due = due
        .map(|d| {
            let local = d.with_timezone(&shanghai());
            let left = (d - Utc::now()).num_seconds();
            if left > 0 {
                format!(" · 签收 due {} (in {left}s)", local.format("%H:%M:%S"))
            } else {
                format!(" · 签收 was due {}", local.format("%H:%M:%S"))
            }
        })
        .unwrap_or_default();
    let line = format!(
        "\r[{}{}] 督办 {done}/{total} overdue and escalated{due} · {:.0}s    ",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        waited.as_secs_f64()
    );
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    if last {
        let _ = err.write_all(b"\n");
    }
    let _ = err.flush();
}
