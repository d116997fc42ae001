//! 回访: unreached callbacks, the minimum interval between them, and the exemption.

use std::time::Duration;

use chrono::Utc;
use gridloop_closure::Settings;
use gridloop_proto::v1 as pb;
use pb::ticket_event::Body;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn three_unreached_callbacks_then_a_supervisor_exemption_closes() {
    let h = start().await;
    let id = h.accepted_ticket().await;
    h.dispose(id).await;
    let close = |sup: String| {
        let mut c = h.client.clone();
        async move {
            c.close_ticket(req(
                exemption(id, pb::ExemptionKind::CitizenUnreachable),
                &sup,
            ))
            .await
        }
    };

    let too_early = close(supervisor()).await.unwrap_err();
    assert_eq!(too_early.code(), Code::FailedPrecondition);
    assert!(
        too_early.message().contains("DISPOSED"),
        "{}",
        too_early.message()
    );

    for attempt in 1..=3u32 {
        let r = h
            .client
            .clone()
            .record_callback(req(unreached(id, Utc::now()), &operator()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.unreached_attempts, attempt);
        assert_eq!(r.state, pb::LifecycleState::Feedback as i32);
        assert_eq!(r.exemption_eligible, attempt == 3);
        assert_eq!(r.next_attempt_not_before.is_some(), attempt < 3);
        if attempt == 2 {
            let before = h.counts().await;
            let refused = close(supervisor()).await.unwrap_err();
            assert_eq!(refused.code(), Code::FailedPrecondition);
            assert!(
                refused.message().contains("2 of 3"),
                "{}",
                refused.message()
            );
            assert_eq!(h.counts().await, before);
        }
    }

    // A supervisor of another town may not write it off.
    let stranger = close(token(
        gridloop_platform::auth::Role::Supervisor,
        "sup-x",
        &["341599"],
    ))
    .await
    .unwrap_err();
    assert_eq!(stranger.code(), Code::PermissionDenied);

    let entry = close(supervisor())
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    let Some(pb::ledger_entry::Basis::Exemption(ex)) = &entry.basis else {
        panic!("exemption basis")
    };
    assert_eq!(ex.kind, pb::ExemptionKind::CitizenUnreachable as i32);
    assert_eq!(ex.approved_by.as_ref().unwrap().id, "sup-li");
    assert!(!ex.reason.is_empty());

    let fbs = h.events(id, "feedback_recorded", 3).await;
    let attempts: Vec<(u32, bool)> = fbs
        .iter()
        .map(|e| match &e.body {
            Some(Body::FeedbackRecorded(f)) => (f.unreached_attempts, f.exemption_eligible),
            _ => panic!("feedback body"),
        })
        .collect();
    assert_eq!(attempts, vec![(1, false), (2, false), (3, true)]);
    let closed = &h.events(id, "closed", 1).await[0];
    let Some(Body::Closed(closed)) = &closed.body else {
        panic!("closed body")
    };
    assert_eq!(closed.ledger_entry_id, entry.entry_id);
    assert!(matches!(
        closed.basis,
        Some(pb::ticket_closed::Basis::Exemption(_))
    ));
}

#[tokio::test]
async fn unreached_callbacks_closer_than_the_interval_are_refused() {
    let h = start_with(Settings {
        callback_interval: Duration::from_secs(2 * 3600),
        callbacks_before_exemption: 3,
        ..Settings::default()
    })
    .await;
    let id = h.accepted_ticket().await;
    h.dispose(id).await;
    let first = Utc::now() - chrono::Duration::hours(3);
    let r = h
        .client
        .clone()
        .record_callback(req(unreached(id, first), &operator()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.next_attempt_not_before
            .and_then(|t| gridloop_proto::from_ts(&t)),
        Some(first + chrono::Duration::hours(2))
            .map(|t| gridloop_proto::from_ts(&gridloop_proto::ts(t)).unwrap())
    );

    let before = h.counts().await;
    let soon = h
        .client
        .clone()
        .record_callback(req(
            unreached(id, first + chrono::Duration::minutes(30)),
            &operator(),
        ))
        .await
        .unwrap_err();
    assert_eq!(soon.code(), Code::FailedPrecondition);
    assert!(soon.message().contains("FEEDBACK"), "{}", soon.message());
    assert_eq!(h.counts().await, before);

    let later = h
        .client
        .clone()
        .record_callback(req(unreached(id, Utc::now()), &operator()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(later.unreached_attempts, 2);
}

#[tokio::test]
async fn a_reached_callback_with_a_rating_closes_like_feedback() {
    let h = start().await;
    let id = h.accepted_ticket().await;
    h.dispose(id).await;
    h.client
        .clone()
        .record_callback(req(unreached(id, Utc::now()), &operator()))
        .await
        .unwrap();
    let reached = pb::RecordCallbackRequest {
        ticket_id: id.to_string(),
        reached: true,
        rating: pb::Rating::Satisfied as i32,
        notes: "群众表示满意".into(),
        called_at: None,
    };
    let r = h
        .client
        .clone()
        .record_callback(req(reached, &operator()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.state, pb::LifecycleState::Closed as i32);
    let fb = r.feedback.unwrap();
    assert_eq!(fb.source, pb::FeedbackSource::Callback as i32);
    assert_eq!(h.counts().await.ledger, 1);
    h.events(id, "closed", 1).await;
}
