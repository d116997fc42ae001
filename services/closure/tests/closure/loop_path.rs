//! The loop's own path: routing's disposal taken in from the stream → satisfied → closed, and
//! the rework round.

use chrono::Utc;
use gridloop_proto::v1 as pb;
use pb::ticket_event::Body;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn a_disposed_event_puts_the_ticket_in_disposed_and_feedback_closes_it() {
    let h = start().await;
    let id = h.accepted_ticket().await;
    // Before routing's disposal reaches closure, feedback is out of order.
    let early = h
        .client
        .clone()
        .submit_feedback(req(rating(id, pb::Rating::Satisfied), &citizen(CITIZEN)))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(early.message().contains("REPORTED"), "{}", early.message());

    let ev = h.dispose(id).await;
    let Some(Body::Disposed(sent)) = &ev.body else {
        panic!("disposed body")
    };
    let view = h.view(id).await;
    assert_eq!(view.state, pb::LifecycleState::Disposed as i32);
    let d = &view.disposals[0];
    assert_eq!(
        (
            d.disposal_id.as_str(),
            d.worker_id.as_str(),
            d.grid_code.as_str(),
            d.rework_count
        ),
        (sent.disposal_id.as_str(), WORKER, GRID, 0)
    );
    assert_eq!(d.evidence_urls, sent.evidence_urls);

    let fb = h
        .client
        .clone()
        .submit_feedback(req(rating(id, pb::Rating::Satisfied), &citizen(CITIZEN)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fb.state, pb::LifecycleState::Closed as i32);
    assert_eq!(fb.feedback.unwrap().recorded_by.unwrap().id, CITIZEN);

    let ev = &h.events(id, "feedback_recorded", 1).await[0];
    let Some(Body::FeedbackRecorded(body)) = &ev.body else {
        panic!("feedback body")
    };
    assert_eq!(body.rating, pb::Rating::Satisfied as i32);
    assert!(body.reached);
    let closed = &h.events(id, "closed", 1).await[0];
    let Some(Body::Closed(closed)) = &closed.body else {
        panic!("closed body")
    };
    assert!(closed.on_time);
    assert_eq!(closed.rework_count, 0);
    assert_eq!(
        closed.basis,
        Some(pb::ticket_closed::Basis::Rating(
            pb::Rating::Satisfied as i32
        ))
    );

    let view = h.view(id).await;
    assert_eq!(view.state, pb::LifecycleState::Closed as i32);
    assert_eq!(view.disposals.len(), 1);
    assert_eq!(view.feedback.len(), 1);
    let entry = view.ledger_entry.expect("ledger entry");
    assert_eq!(entry.entry_id, closed.ledger_entry_id);
    assert_eq!(
        (entry.worker_id.as_str(), entry.grid_code.as_str()),
        (WORKER, GRID)
    );
    assert!(entry.on_time);
    assert_eq!(entry.category.unwrap().code, "environment");
    assert_eq!(entry.channel, pb::Channel::App as i32);

    // Another worker may not read it; the disposing worker may.
    let other = h
        .client
        .clone()
        .get_closure(req(
            pb::GetClosureRequest {
                ticket_id: id.to_string(),
            },
            &worker("w-other"),
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    h.client
        .clone()
        .get_closure(req(
            pb::GetClosureRequest {
                ticket_id: id.to_string(),
            },
            &worker(WORKER),
        ))
        .await
        .expect("the disposing worker reads the closure");
}

/// A citizen who rates the moment the worker disposes is ahead of closure's view, which takes
/// the disposal from routing's stream: the rating waits for the view instead of being refused,
/// and is decided once.
#[tokio::test]
async fn a_rating_ahead_of_the_disposal_waits_for_it_and_closes_the_ticket() {
    let h = start().await;
    let id = h.accepted_ticket().await;
    let mut client = h.client.clone();
    let rating_call = tokio::spawn(async move {
        client
            .submit_feedback(req(rating(id, pb::Rating::Satisfied), &citizen(CITIZEN)))
            .await
    });
    // The rating is in and waiting (closure's view is still REPORTED) when the disposal comes.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(
        !rating_call.is_finished(),
        "the rating must wait for the disposal"
    );
    h.dispose(id).await;
    let answer = rating_call.await.expect("call").expect("rating accepted");
    assert_eq!(answer.into_inner().state, pb::LifecycleState::Closed as i32);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM feedback WHERE ticket_id = $1")
        .bind(id)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "one feedback row: the rating was decided once");
}

#[tokio::test]
async fn dissatisfied_reopens_and_the_rework_closes_with_count_one() {
    let h = start().await;
    // Already overdue: the write-off will not be on time.
    let id = h
        .accepted_ticket_due(Utc::now() - chrono::Duration::hours(1))
        .await;
    h.dispose(id).await;

    let fb = h
        .client
        .clone()
        .submit_feedback(req(rating(id, pb::Rating::Dissatisfied), &citizen(CITIZEN)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fb.state, pb::LifecycleState::Reported as i32);
    assert_eq!(fb.rework_count, 1);
    let reopened = &h.events(id, "reopened", 1).await[0];
    let Some(Body::Reopened(reopened)) = &reopened.body else {
        panic!("reopened body")
    };
    assert_eq!(
        (reopened.rework_count, reopened.worker_id.as_str()),
        (1, WORKER)
    );
    h.events(id, "feedback_recorded", 1).await;
    assert_eq!(h.counts().await.ledger, 0);

    // Routing gives it back (dispatched, trigger REOPENED), the worker signs again and
    // disposes again.
    h.feed(
        id,
        dispatched(WORKER, 2, Utc::now() + chrono::Duration::days(9)),
    )
    .await;
    h.feed(id, accepted(WORKER, 2)).await;
    h.feed(id, disposed(WORKER, 1)).await;
    let view = h.view(id).await;
    assert_eq!(view.state, pb::LifecycleState::Disposed as i32);
    assert_eq!(view.disposals[1].rework_count, 1);

    let fb = h
        .client
        .clone()
        .submit_feedback(req(
            rating(id, pb::Rating::BasicallySatisfied),
            &gridloop_platform_token_service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fb.state, pb::LifecycleState::Closed as i32);

    let closed = &h.events(id, "closed", 1).await[0];
    let Some(Body::Closed(closed)) = &closed.body else {
        panic!("closed body")
    };
    assert_eq!(closed.rework_count, 1);
    // dispose_by is the first dispatch's, which had passed.
    assert!(!closed.on_time);
    assert_eq!(
        closed.basis,
        Some(pb::ticket_closed::Basis::Rating(
            pb::Rating::BasicallySatisfied as i32
        ))
    );
    let c = h.counts().await;
    assert_eq!((c.disposals, c.feedback, c.ledger), (2, 2, 1));
    h.events(id, "disposed", 2).await;
    h.events(id, "feedback_recorded", 2).await;
}

fn gridloop_platform_token_service() -> String {
    token(gridloop_platform::auth::Role::Service, "app-backend", &[])
}
