//! An event the rules reject is recorded, published as a violation and not applied.

use chrono::{Duration, Utc};
use gridloop_platform::auth::Role;
use gridloop_proto::v1 as pb;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn rejected_event_is_recorded_not_applied_and_published() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let id = Uuid::now_v7();
    let at = Utc::now() - Duration::minutes(10);
    let d = h
        .publish("intake", id, discovered(pb::Urgency::General), at)
        .await;
    applied(&t.pool, &d).await;
    // A disposal of a ticket nobody was dispatched to, straight onto the stream.
    let bad = h
        .publish("closure", id, disposed(), at + Duration::minutes(1))
        .await;
    applied(&t.pool, &bad).await;

    let published = h.events(id, "violation", 1).await;
    let Some(pb::ticket_event::Body::Violation(v)) = &published[0].body else {
        panic!("violation body");
    };
    assert_eq!(v.rejected_event_id, bad.event_id);
    assert_eq!(v.attempted, "disposed");
    assert_eq!(v.from_state, pb::LifecycleState::Discovered as i32);
    assert_eq!(v.rejected_producer, "closure");
    assert!(v.reason.contains("DISCOVERED"), "{}", v.reason);

    // Not applied: still DISCOVERED, no disposal clock touched.
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
    assert_eq!(status.state, pb::LifecycleState::Discovered as i32);

    // Recorded: listed, and marked in the timeline. The violation event came back to the
    // tracker and went to the timeline only.
    let own = h.events(id, "violation", 1).await.remove(0);
    applied(&t.pool, &own).await;
    let list = t
        .client
        .clone()
        .list_violations(req(pb::ListViolationsRequest::default(), &supervisor()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.violations.len(), 1);
    assert_eq!(list.violations[0].event_id, bad.event_id);
    assert_eq!(list.violations[0].ticket_id, id.to_string());
    let tl = t
        .client
        .clone()
        .get_timeline(req(
            pb::GetTimelineRequest {
                ticket_id: id.to_string(),
                ..Default::default()
            },
            &supervisor(),
        ))
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<(&str, bool)> = tl
        .entries
        .iter()
        .map(|e| (e.kind.as_str(), e.violation))
        .collect();
    assert_eq!(
        kinds,
        [
            ("discovered", false),
            ("disposed", true),
            ("violation", false)
        ]
    );
    assert_eq!(
        tl.entries[1].to_state,
        pb::LifecycleState::Discovered as i32
    );
    assert_eq!(total(&t.pool, "violations").await, 1);

    // An event for a ticket never discovered is a violation too.
    let stray = Uuid::now_v7();
    let e = h.publish("routing", stray, accepted(), at).await;
    applied(&t.pool, &e).await;
    assert_eq!(
        count(
            &t.pool,
            "SELECT count(*) FROM violations WHERE ticket_id = $1",
            stray
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &t.pool,
            "SELECT count(*) FROM tickets WHERE ticket_id = $1",
            stray
        )
        .await,
        0
    );

    // Range filter: nothing recorded before an hour ago; a worker may not list.
    let old = t
        .client
        .clone()
        .list_violations(req(
            pb::ListViolationsRequest {
                range: Some(pb::TimeRange {
                    start: None,
                    end: Some(gridloop_proto::ts(Utc::now() - Duration::hours(1))),
                }),
                ..Default::default()
            },
            &supervisor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(old.violations.is_empty());
    let denied = t
        .client
        .clone()
        .list_violations(req(
            pb::ListViolationsRequest::default(),
            &token(Role::Worker, WORKER, &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
}
