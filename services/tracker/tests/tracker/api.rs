//! SLA rules over gRPC, roles, and bad input refused with nothing written.

use chrono::{Duration, Utc};
use gridloop_platform::auth::Role;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;
use gridloop_proto::{from_ts, v1 as pb};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::support::*;

fn limit(amount: u32, unit: pb::TimeUnit) -> Option<pb::TimeLimit> {
    Some(pb::TimeLimit {
        amount,
        unit: unit as i32,
    })
}

#[tokio::test]
async fn sla_rules_are_data_and_drive_deadlines() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let admin = token(Role::Admin, "admin-1", &[]);
    let listed = t
        .client
        .clone()
        .list_sla_rules(req(
            pb::ListSlaRulesRequest::default(),
            &token(Role::Operator, "op-07", &[]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.rules.len(), 3, "seeded defaults");
    let general = listed
        .rules
        .iter()
        .find(|r| r.urgency == pb::Urgency::General as i32)
        .unwrap();
    assert_eq!(general.respond_within, limit(2, pb::TimeUnit::WorkingHours));
    assert_eq!(general.dispose_within, limit(3, pb::TimeUnit::WorkingDays));

    // environment × general: respond within 4 calendar hours.
    let rule = pb::SlaRule {
        category_code: "environment".into(),
        urgency: pb::Urgency::General as i32,
        respond_within: limit(4, pb::TimeUnit::CalendarHours),
        dispose_within: limit(5, pb::TimeUnit::WorkingDays),
        feedback_within: limit(2, pb::TimeUnit::WorkingDays),
        updated_at: None,
    };
    let stored = t
        .client
        .clone()
        .upsert_sla_rule(req(
            pb::UpsertSlaRuleRequest {
                rule: Some(rule.clone()),
            },
            &admin,
        ))
        .await
        .expect("rule stored")
        .into_inner()
        .rule
        .unwrap();
    assert_eq!(stored.respond_within, rule.respond_within);
    let page = t
        .client
        .clone()
        .list_sla_rules(req(
            pb::ListSlaRulesRequest {
                category_code: "environment".into(),
                page_size: 2,
                page_token: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.rules.len(), 2);
    let rest = t
        .client
        .clone()
        .list_sla_rules(req(
            pb::ListSlaRulesRequest {
                category_code: "environment".into(),
                page_size: 2,
                page_token: page.next_page_token.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.rules.len(), 2, "3 defaults + 1 for the category");
    assert!(rest.next_page_token.is_empty());

    let id = Uuid::now_v7();
    let at = cst(2026, 11, 14, 10, 0); // a Saturday: calendar hours run anyway
    h.publish("intake", id, discovered(pb::Urgency::General), at)
        .await;
    let d = h
        .publish("routing", id, dispatched(pb::Urgency::General), at)
        .await;
    applied(&t.pool, &d).await;
    let status = t
        .client
        .clone()
        .get_loop_status(req(
            pb::GetLoopStatusRequest {
                ticket_id: id.to_string(),
            },
            &token(Role::Worker, WORKER, &[]),
        ))
        .await
        .expect("the holding worker may read")
        .into_inner()
        .status
        .unwrap();
    let respond = status
        .deadlines
        .iter()
        .find(|d| d.kind == pb::DeadlineKind::Respond as i32)
        .unwrap();
    assert_eq!(
        respond.due_at.as_ref().and_then(from_ts),
        Some(at + Duration::hours(4))
    );
    let other_worker = t
        .client
        .clone()
        .get_loop_status(req(
            pb::GetLoopStatusRequest {
                ticket_id: id.to_string(),
            },
            &token(Role::Worker, "w-other", &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(other_worker.code(), tonic::Code::PermissionDenied);
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_written() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let admin = token(Role::Admin, "admin-1", &[]);
    let before = total(&t.pool, "sla_rules").await;
    let good = pb::SlaRule {
        category_code: "municipal".into(),
        urgency: pb::Urgency::Complex as i32,
        respond_within: limit(2, pb::TimeUnit::WorkingHours),
        dispose_within: limit(15, pb::TimeUnit::WorkingDays),
        feedback_within: limit(2, pb::TimeUnit::WorkingDays),
        updated_at: None,
    };
    let cases = [
        (
            pb::SlaRule {
                urgency: 0,
                ..good.clone()
            },
            "rule.urgency",
        ),
        (
            pb::SlaRule {
                dispose_within: limit(0, pb::TimeUnit::WorkingDays),
                ..good.clone()
            },
            "rule.dispose_within.amount",
        ),
        (
            pb::SlaRule {
                respond_within: limit(2, pb::TimeUnit::Unspecified),
                ..good.clone()
            },
            "rule.respond_within.unit",
        ),
        (
            pb::SlaRule {
                feedback_within: None,
                ..good.clone()
            },
            "rule.feedback_within",
        ),
        (
            pb::SlaRule {
                category_code: "bad code; drop".into(),
                ..good.clone()
            },
            "category_code",
        ),
    ];
    for (rule, field) in cases {
        let err = t
            .client
            .clone()
            .upsert_sla_rule(req(pb::UpsertSlaRuleRequest { rule: Some(rule) }, &admin))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}");
        assert!(err.message().contains(field), "{field}: {}", err.message());
    }
    let denied = t
        .client
        .clone()
        .upsert_sla_rule(req(
            pb::UpsertSlaRuleRequest { rule: Some(good) },
            &token(Role::Worker, WORKER, &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert_eq!(total(&t.pool, "sla_rules").await, before);

    // Extensions: a reason is required, the new time must be later, a ticket outside the
    // supervisor's grids is refused; nothing is written.
    let id = Uuid::now_v7();
    let at = Utc::now() - Duration::minutes(5);
    h.publish("intake", id, discovered(pb::Urgency::General), at)
        .await;
    let d = h
        .publish("routing", id, dispatched(pb::Urgency::General), at)
        .await;
    applied(&t.pool, &d).await;
    let ext = |reason: &str, due: chrono::DateTime<Utc>| pb::GrantExtensionRequest {
        ticket_id: id.to_string(),
        kind: pb::DeadlineKind::Dispose as i32,
        extension: Some(pb::grant_extension_request::Extension::NewDueAt(
            gridloop_proto::ts(due),
        )),
        reason: reason.into(),
    };
    let far = Utc::now() + Duration::days(60);
    let err = t
        .client
        .clone()
        .grant_extension(req(ext("  ", far), &supervisor()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("reason"));
    let err = t
        .client
        .clone()
        .grant_extension(req(ext("天气原因", at), &supervisor()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("new_due_at"));
    let err = t
        .client
        .clone()
        .grant_extension(req(
            ext("天气原因", far),
            &token(Role::Supervisor, "sup-wang", &["341504200"]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err = t
        .client
        .clone()
        .grant_extension(req(
            pb::GrantExtensionRequest {
                ticket_id: "not-a-uuid".into(),
                ..ext("天气原因", far)
            },
            &supervisor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("ticket_id"));
    assert_eq!(total(&t.pool, "extensions").await, 0);
    let extended: i64 = count(
        &t.pool,
        "SELECT count(*) FROM timers WHERE ticket_id = $1 AND extended",
        id,
    )
    .await;
    assert_eq!(extended, 0);

    // Extend by three working days: granted.
    let status = t
        .client
        .clone()
        .grant_extension(req(
            pb::GrantExtensionRequest {
                extension: Some(pb::grant_extension_request::Extension::ExtendBy(
                    pb::TimeLimit {
                        amount: 3,
                        unit: pb::TimeUnit::WorkingDays as i32,
                    },
                )),
                ..ext("需协调市政部门", far)
            },
            &supervisor(),
        ))
        .await
        .expect("granted")
        .into_inner()
        .status
        .unwrap();
    assert!(
        status
            .deadlines
            .iter()
            .any(|d| d.kind == pb::DeadlineKind::Dispose as i32 && d.extended)
    );
    assert_eq!(total(&t.pool, "extensions").await, 1);
}

/// A ticket's timeline (first page) as `bearer` asks for it.
async fn timeline_as(
    client: &TrackerServiceClient<Channel>,
    ticket: Uuid,
    bearer: &str,
) -> Result<pb::GetTimelineResponse, tonic::Status> {
    let msg = pb::GetTimelineRequest {
        ticket_id: ticket.to_string(),
        ..Default::default()
    };
    let reply = client.clone().get_timeline(req(msg, bearer)).await?;
    Ok(reply.into_inner())
}

/// A ticket's loop status as `bearer` asks for it.
async fn status_as(
    client: &TrackerServiceClient<Channel>,
    ticket: Uuid,
    bearer: &str,
) -> Result<pb::GetLoopStatusResponse, tonic::Status> {
    let msg = pb::GetLoopStatusRequest {
        ticket_id: ticket.to_string(),
    };
    let reply = client.clone().get_loop_status(req(msg, bearer)).await?;
    Ok(reply.into_inner())
}

/// Supervisors and leaders read only the tickets of their own grids; operators (the county's
/// 12345 centre) and admins read any.
#[tokio::test]
async fn timelines_and_status_are_read_within_the_callers_grids() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let id = Uuid::now_v7();
    let at = Utc::now();
    h.publish("intake", id, discovered(pb::Urgency::General), at)
        .await;
    let d = h
        .publish("routing", id, dispatched(pb::Urgency::General), at)
        .await;
    applied(&t.pool, &d).await;
    // A repeat merged into it before any dispatch of its own: it belongs to its parent's grid.
    let repeat = Uuid::now_v7();
    let m = h.publish("intake", repeat, merged(id, 1), at).await;
    applied(&t.pool, &m).await;

    let other_town = token(Role::Supervisor, "sup-wang", &["341504200"]);
    let other_leader = token(Role::Leader, "leader-zhao", &["341504200"]);
    for (bearer, ticket) in [
        (&other_town, id),
        (&other_leader, id),
        (&other_town, repeat),
    ] {
        let err = timeline_as(&t.client, ticket, bearer).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
        let err = status_as(&t.client, ticket, bearer).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    }
    status_as(&t.client, repeat, &supervisor())
        .await
        .expect("the parent's town reads the repeat");

    let own_town = supervisor();
    let operator = token(Role::Operator, "op-07", &[]);
    let admin = token(Role::Admin, "admin-1", &[]);
    for bearer in [&own_town, &operator, &admin] {
        let timeline = timeline_as(&t.client, id, bearer).await.expect("in scope");
        // discovered, dispatched, and the repeat recorded on it.
        assert_eq!(timeline.entries.len(), 3, "{:?}", timeline.entries);
        status_as(&t.client, id, bearer).await.expect("in scope");
    }
}
