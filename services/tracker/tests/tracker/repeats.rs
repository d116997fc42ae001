//! Repeat complaints escalate by the parent's repeat count: 2 → village, 3 → town,
//! 5 → county, each once.

use chrono::{Duration, Utc};
use gridloop_proto::v1 as pb;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn repeat_count_escalates_once_per_threshold() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let at = Utc::now() - Duration::minutes(30);
    let parent = Uuid::now_v7();
    h.publish("intake", parent, discovered(pb::Urgency::General), at)
        .await;
    let d = h
        .publish("routing", parent, dispatched(pb::Urgency::General), at)
        .await;
    applied(&t.pool, &d).await;

    let mut last = None;
    for n in 1..=5 {
        last = Some(
            h.publish("intake", Uuid::now_v7(), merged(parent, n), at)
                .await,
        );
    }
    // A redelivered merge (same count again, another event) escalates nothing new.
    let again = h
        .publish("intake", Uuid::now_v7(), merged(parent, 3), at)
        .await;
    applied(&t.pool, &last.unwrap()).await;
    applied(&t.pool, &again).await;

    let escalated = h.events(parent, "escalated", 3).await;
    let got: Vec<(i32, u32, i32)> = escalated
        .iter()
        .map(|e| match &e.body {
            Some(pb::ticket_event::Body::Escalated(x)) => (x.level, x.repeat_count, x.cause),
            _ => panic!("escalated body"),
        })
        .collect();
    let cause = pb::EscalationCause::RepeatComplaint as i32;
    assert_eq!(
        got,
        vec![
            (pb::GridLevel::Village as i32, 2, cause),
            (pb::GridLevel::Town as i32, 3, cause),
            (pb::GridLevel::County as i32, 5, cause),
        ]
    );
    let status = t
        .client
        .clone()
        .get_loop_status(req(
            pb::GetLoopStatusRequest {
                ticket_id: parent.to_string(),
            },
            &supervisor(),
        ))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(status.repeat_count, 6);
    assert_eq!(status.escalation_level, pb::GridLevel::County as i32);
    assert_eq!(status.state, pb::LifecycleState::Reported as i32);
    // Each merged submission is MERGED, and named in the parent's timeline.
    let merged_children: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickets WHERE parent_ticket_id = $1 AND loop_state->'state' ? 'merged'",
    )
    .bind(parent)
    .fetch_one(&t.pool)
    .await
    .unwrap();
    assert_eq!(merged_children, 6);
    assert_eq!(
        count(
            &t.pool,
            "SELECT count(*) FROM timeline WHERE ticket_id = $1 AND kind = 'merged'",
            parent
        )
        .await,
        6
    );
    assert_eq!(total(&t.pool, "violations").await, 0);
}
