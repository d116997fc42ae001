//! 重复诉求: the same phone complains again about the same matter while the first ticket is
//! open; the second submission is merged into it and everyone counts the repeat.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;
use gridloop_system_tests::tokens::{operator, req};

#[tokio::test]
async fn repeat_complaint_from_the_same_phone_is_merged_into_the_open_ticket() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let phone = "13966667777";

    let first = sys
        .submit_app("APP-RP-1", phone, "environment", "城关镇和平村1组5号门口")
        .await;
    assert_eq!(first.outcome(), SubmitOutcome::Created);
    let parent = first.ticket_id.as_str();
    sys.expect_dispatch(parent, 1, V2, &c.a_v2).await;

    // The same citizen calls 12345 about it.
    let second = sys
        .submit_hotline("GD-RP-1", phone, G21, "environment")
        .await;
    assert_eq!(second.outcome(), SubmitOutcome::Merged);
    assert_eq!(
        second.ticket_id, parent,
        "the parent is the ticket to follow"
    );
    assert_eq!(second.repeat_count, 1);
    let merged = second.merged_ticket_id.as_str();
    assert!(!merged.is_empty() && merged != parent);
    sys.settle().await;

    // Tracker: the parent counts the repeat; the submission's own ticket is MERGED.
    let status = sys.loop_status(parent).await;
    assert_eq!(status.repeat_count, 1);
    assert_eq!(status.state(), LifecycleState::Reported);
    let m = sys.loop_status(merged).await;
    assert_eq!(m.state(), LifecycleState::Merged);
    assert_eq!(m.parent_ticket_id, parent);
    assert_eq!(sys.timeline_kinds(merged).await, ["merged"]);
    // Routing: nothing new to dispatch; the parent's task shows the repeat.
    assert_eq!(sys.kinds_on_stream(merged).await, ["merged"]);
    let task = sys.task(parent).await;
    assert_eq!((task.attempt, task.repeat_count), (1, 1));
    // Intake tells a caller who rings again.
    let got = sys
        .intake
        .clone()
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: parent.into(),
            },
            &operator(),
        ))
        .await
        .expect("ticket")
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(got.repeat_count, 1);

    // Reports: two received, one of them a merged repeat, one open ticket.
    let r = sys.totals(COUNTY).await;
    assert_eq!(
        (r.received, r.merged, r.open, r.dispatched),
        (2, 1, 1, 1),
        "{r:?}"
    );
    assert_eq!(r.closure_rate, Some(0.0));

    // Closing the parent closes the matter: the repeat is not an open ticket.
    sys.work_and_rate(
        &c.a_v2,
        parent,
        &gridloop_system_tests::tokens::service(),
        Rating::Satisfied,
    )
    .await;
    let r = sys.totals(COUNTY).await;
    assert_eq!((r.received, r.merged, r.closed, r.open), (2, 1, 1, 0));
    assert_eq!(r.closure_rate, Some(1.0));
    sys.assert_no_pii_on_stream().await;
}
