//! The loop's path: a full loop's timeline and status, and a restart mid-stream.

use chrono::{Duration, Utc};
use gridloop_proto::v1 as pb;
use uuid::Uuid;

use crate::support::*;

fn loop_events() -> Vec<pb::ticket_event::Body> {
    vec![
        discovered(pb::Urgency::General),
        dispatched(pb::Urgency::General),
        accepted(),
        disposed(),
        satisfied(),
        closed(),
    ]
}

const PRODUCERS: [&str; 6] = [
    "intake", "routing", "routing", "closure", "closure", "closure",
];

#[tokio::test]
async fn full_loop_timeline_and_status() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let id = Uuid::now_v7();
    let start = Utc::now() - Duration::hours(1);
    let mut sent = Vec::new();
    for (i, body) in loop_events().into_iter().enumerate() {
        let at = start + Duration::minutes(i as i64);
        sent.push(h.publish(PRODUCERS[i], id, body, at).await);
    }
    applied(&t.pool, sent.last().unwrap()).await;

    let tl = t
        .client
        .clone()
        .get_timeline(req(
            pb::GetTimelineRequest {
                ticket_id: id.to_string(),
                page_size: 4,
                page_token: String::new(),
            },
            &token(gridloop_platform::auth::Role::Operator, "op-07", &[]),
        ))
        .await
        .expect("timeline")
        .into_inner();
    assert_eq!(tl.entries.len(), 4);
    assert!(!tl.next_page_token.is_empty());
    let rest = t
        .client
        .clone()
        .get_timeline(req(
            pb::GetTimelineRequest {
                ticket_id: id.to_string(),
                page_size: 4,
                page_token: tl.next_page_token.clone(),
            },
            &supervisor(),
        ))
        .await
        .expect("timeline page 2")
        .into_inner();
    assert!(rest.next_page_token.is_empty());
    let entries: Vec<_> = tl.entries.into_iter().chain(rest.entries).collect();
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "discovered",
            "dispatched",
            "accepted",
            "disposed",
            "feedback_recorded",
            "closed"
        ]
    );
    use pb::LifecycleState as S;
    let steps: Vec<(i32, i32)> = entries.iter().map(|e| (e.from_state, e.to_state)).collect();
    assert_eq!(
        steps,
        vec![
            (S::Unspecified as i32, S::Discovered as i32),
            (S::Discovered as i32, S::Reported as i32),
            (S::Reported as i32, S::Reported as i32),
            (S::Reported as i32, S::Disposed as i32),
            (S::Disposed as i32, S::Feedback as i32),
            (S::Feedback as i32, S::Closed as i32),
        ]
    );
    for (e, s) in entries.iter().zip(&sent) {
        assert_eq!(e.event_id, s.event_id);
        // Stored to the microsecond, as PostgreSQL keeps time.
        let micros =
            |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos / 1000));
        assert_eq!(micros(&e.occurred_at), micros(&s.occurred_at));
        assert_eq!(e.producer, s.producer);
        assert!(!e.violation);
        assert!(!e.summary.is_empty());
        // Never a full phone number anywhere in the trail.
        let text = format!("{} {}", e.summary, e.actor.as_ref().unwrap().id);
        assert!(!text.contains("13812345678"));
    }
    assert_eq!(entries[1].grid_code, GROUP);
    assert_eq!(entries[2].actor.as_ref().unwrap().id, WORKER);
    assert_eq!(entries[0].actor.as_ref().unwrap().id, "op-07");

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
        .expect("status")
        .into_inner()
        .status
        .unwrap();
    assert_eq!(status.state, S::Closed as i32);
    assert!(!status.overdue);
    let kinds: Vec<i32> = status.deadlines.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        vec![
            pb::DeadlineKind::Respond as i32,
            pb::DeadlineKind::Dispose as i32,
            pb::DeadlineKind::Feedback as i32
        ]
    );
    assert!(status.deadlines.iter().all(|d| d.met_at.is_some()));
    // Closed: no clock runs any more.
    let live = count(
        &t.pool,
        "SELECT count(*) FROM timers WHERE ticket_id = $1 AND met_at IS NULL AND cancelled_at IS NULL",
        id,
    )
    .await;
    assert_eq!(live, 0);
    // …and the open-tickets gauge no longer counts it.
    let open = count(
        &t.pool,
        "SELECT count(*) FROM tickets WHERE ticket_id = $1 AND open",
        id,
    )
    .await;
    assert_eq!(open, 0);

    let unknown = t
        .client
        .clone()
        .get_timeline(req(
            pb::GetTimelineRequest {
                ticket_id: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            &supervisor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn restart_mid_stream_loses_and_doubles_nothing() {
    let h = Harness::new().await;
    let first = h.start_real().await;
    let id = Uuid::now_v7();
    let start = Utc::now() - Duration::hours(1);
    let mut sent = Vec::new();
    let mut bodies = loop_events().into_iter().enumerate();
    for (i, body) in bodies.by_ref().take(3) {
        sent.push(
            h.publish(PRODUCERS[i], id, body, start + Duration::minutes(i as i64))
                .await,
        );
    }
    applied(&first.pool, &sent[2]).await;
    first.stop().await;

    // While no tracker runs, the loop goes on.
    for (i, body) in bodies {
        sent.push(
            h.publish(PRODUCERS[i], id, body, start + Duration::minutes(i as i64))
                .await,
        );
    }
    let second = h.start_real().await;
    applied(&second.pool, sent.last().unwrap()).await;

    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM timeline WHERE ticket_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&second.pool)
            .await
            .unwrap();
    assert_eq!(
        kinds,
        [
            "discovered",
            "dispatched",
            "accepted",
            "disposed",
            "feedback_recorded",
            "closed"
        ]
    );
    assert_eq!(total(&second.pool, "violations").await, 0);
    let state: String =
        sqlx::query_scalar("SELECT loop_state->'state' #>> '{}' FROM tickets WHERE ticket_id = $1")
            .bind(id)
            .fetch_one(&second.pool)
            .await
            .unwrap_or_default();
    let status = second
        .client
        .clone()
        .get_loop_status(req(
            pb::GetLoopStatusRequest {
                ticket_id: id.to_string(),
            },
            &supervisor(),
        ))
        .await
        .expect("status")
        .into_inner()
        .status
        .unwrap();
    assert_eq!(status.state, pb::LifecycleState::Closed as i32, "{state}");
    // Each clock exists once: nothing was started twice.
    let timers = count(
        &second.pool,
        "SELECT count(*) FROM timers WHERE ticket_id = $1",
        id,
    )
    .await;
    assert_eq!(timers, 3);
}
