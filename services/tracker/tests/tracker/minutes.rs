//! A rule in clock minutes (a safety hazard, urgent: respond within 15 minutes) drives the
//! respond deadline 15 minutes after dispatch, night or weekend, and the missed deadline is
//! supervised (督办) and escalated like any other; other categories keep the default.

use chrono::{Duration, Utc};
use gridloop_platform::auth::Role;
use gridloop_proto::{from_ts, v1 as pb};
use gridloop_tracker::{ManualClock, firing};
use pb::ticket_event::Body;
use uuid::Uuid;

use crate::support::*;

fn hazard() -> Option<pb::Category> {
    Some(pb::Category {
        code: "public_security".into(),
        name: "治安隐患".into(),
    })
}

/// Dispatches an urgent ticket at `at`, of the safety-hazard category or of the harness's
/// default (environment).
async fn dispatch_urgent(
    h: &Harness,
    t: &Instance,
    at: chrono::DateTime<Utc>,
    is_hazard: bool,
) -> Uuid {
    let id = Uuid::now_v7();
    let Body::Discovered(mut found) = discovered(pb::Urgency::Urgent) else {
        unreachable!("discovered() is a discovery")
    };
    let Body::Dispatched(mut sent) = dispatched(pb::Urgency::Urgent) else {
        unreachable!("dispatched() is a dispatch")
    };
    if is_hazard {
        found.category = hazard();
        sent.category = hazard();
    }
    h.publish("intake", id, Body::Discovered(found), at).await;
    let d = h.publish("routing", id, Body::Dispatched(sent), at).await;
    applied(&t.pool, &d).await;
    id
}

async fn respond_due(t: &Instance, id: Uuid) -> chrono::DateTime<Utc> {
    let status = t
        .client
        .clone()
        .get_loop_status(req(
            pb::GetLoopStatusRequest {
                ticket_id: id.to_string(),
            },
            &supervisor(),
        ))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    status
        .deadlines
        .iter()
        .find(|d| d.kind == pb::DeadlineKind::Respond as i32)
        .and_then(|d| d.due_at.as_ref())
        .and_then(from_ts)
        .expect("respond deadline")
}

#[tokio::test]
async fn a_minutes_rule_gives_a_deadline_minutes_after_dispatch() {
    let h = Harness::new().await;
    // Saturday 23:50: clock minutes run at night and at weekends.
    let t0 = cst(2026, 11, 14, 23, 50);
    let clock = ManualClock::at(t0);
    let t = h.start_at(&clock).await;

    let minutes = |amount| {
        Some(pb::TimeLimit {
            amount,
            unit: pb::TimeUnit::Minutes as i32,
        })
    };
    let rule = pb::SlaRule {
        category_code: "public_security".into(),
        urgency: pb::Urgency::Urgent as i32,
        respond_within: minutes(15),
        dispose_within: Some(pb::TimeLimit {
            amount: 24,
            unit: pb::TimeUnit::CalendarHours as i32,
        }),
        feedback_within: Some(pb::TimeLimit {
            amount: 2,
            unit: pb::TimeUnit::WorkingDays as i32,
        }),
        updated_at: None,
    };
    let stored = t
        .client
        .clone()
        .upsert_sla_rule(req(
            pb::UpsertSlaRuleRequest {
                rule: Some(rule.clone()),
            },
            &supervisor(),
        ))
        .await
        .expect("a supervisor sets the rule")
        .into_inner()
        .rule
        .unwrap();
    assert_eq!(stored.respond_within, minutes(15));
    let listed = t
        .client
        .clone()
        .list_sla_rules(req(
            pb::ListSlaRulesRequest {
                category_code: "public_security".into(),
                ..Default::default()
            },
            &token(Role::Operator, "op-07", &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    let shown = listed
        .rules
        .iter()
        .find(|r| r.category_code == "public_security")
        .expect("the category's rule is listed");
    assert_eq!(shown.respond_within, minutes(15));
    assert_eq!(shown.urgency, pb::Urgency::Urgent as i32);

    // A minute is the least; zero minutes is refused.
    let zero = t
        .client
        .clone()
        .upsert_sla_rule(req(
            pb::UpsertSlaRuleRequest {
                rule: Some(pb::SlaRule {
                    respond_within: minutes(0),
                    ..rule.clone()
                }),
            },
            &supervisor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(zero.code(), tonic::Code::InvalidArgument);
    assert!(zero.message().contains("rule.respond_within.amount"));

    let id = dispatch_urgent(&h, &t, t0, true).await;
    let due = respond_due(&t, id).await;
    assert_eq!(due, t0 + Duration::minutes(15));
    // Another category keeps the urgent default: one clock hour.
    let other = dispatch_urgent(&h, &t, t0, false).await;
    assert_eq!(respond_due(&t, other).await, t0 + Duration::hours(1));

    // A minute before the deadline nothing is due; past it the respond clock fires.
    assert_eq!(
        firing::fire_due(&t.pool, due - Duration::minutes(1))
            .await
            .unwrap(),
        0
    );
    clock.set(due + Duration::seconds(1));
    let overdue = h.events(id, "overdue", 1).await;
    let Some(Body::Overdue(o)) = &overdue[0].body else {
        panic!("overdue body");
    };
    assert_eq!(o.deadline_kind, pb::DeadlineKind::Respond as i32);
    assert_eq!(o.deadline.as_ref().and_then(from_ts), Some(due));
    let escalated = h.events(id, "escalated", 1).await;
    let Some(Body::Escalated(e)) = &escalated[0].body else {
        panic!("escalated body");
    };
    assert_eq!(e.cause, pb::EscalationCause::Overdue as i32);
    assert_eq!(e.from_grid_code, GROUP);

    // The supervisor's overdue list holds the hazard, not the hour-long one.
    let listed = t
        .client
        .clone()
        .list_overdue(req(
            pb::ListOverdueRequest {
                kind: pb::DeadlineKind::Respond as i32,
                ..Default::default()
            },
            &supervisor(),
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = listed
        .tickets
        .iter()
        .map(|x| x.ticket_id.as_str())
        .collect();
    assert_eq!(ids, vec![id.to_string().as_str()]);
}
