//! (channel, external id) is the idempotency key: a retry, or fifty at once, is one ticket.

use std::collections::HashSet;

use gridloop_proto::v1::*;

use crate::support::*;

#[tokio::test]
async fn a_retry_replays_the_first_answer() {
    let mut h = start().await;
    let first = h
        .client
        .submit_hotline_ticket(req(
            hotline("GD-7", "13812345678", "environment"),
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    // The retry may differ (a desk system re-sending after editing); the first answer stands.
    let mut again = hotline("GD-7", "13812345678", "environment");
    again.content = "重发".into();
    let second = h
        .client
        .submit_hotline_ticket(req(again, &operator()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.outcome(), SubmitOutcome::Created);
    assert_eq!(second.outcome(), SubmitOutcome::Replayed);
    assert_eq!(second.ticket_id, first.ticket_id);
    // The same external id in another channel is another submission.
    let app = h
        .client
        .submit_app_ticket(req(
            app_ticket("GD-7", "13812345678", "municipal"),
            &service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.outcome(), SubmitOutcome::Created);
    assert_eq!(h.count("tickets").await, 2);
    assert_eq!(h.published("discovered").await.len(), 2);
}

#[tokio::test]
async fn fifty_concurrent_identical_submissions_make_one_ticket() {
    let h = start().await;
    let requests = (0..50)
        .map(|_| hotline("GD-50", "13812345678", "environment"))
        .collect();
    let answers = accepted_at_once(&h, requests).await;
    let ids: HashSet<&str> = answers.iter().map(|a| a.ticket_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "every call answers with the same ticket");
    let created = with_outcome(&answers, SubmitOutcome::Created);
    let replayed = with_outcome(&answers, SubmitOutcome::Replayed);
    assert_eq!((created, replayed), (1, 49));
    assert_eq!(h.count("tickets").await, 1);
    let events = h.published("discovered").await;
    assert_eq!(events.len(), 1, "published exactly once");
    assert!(ids.contains(events[0].ticket_id.as_str()));
    assert!(h.published("merged").await.is_empty());
}
