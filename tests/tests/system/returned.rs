//! 退单: the group's worker sends the ticket back as not their grid; routing re-dispatches it
//! away from that grid, and the new holder closes the loop.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;
use gridloop_system_tests::tokens::{req, worker};

use crate::checks::{Closed, assert_closed_everywhere, row};

#[tokio::test]
async fn returned_ticket_is_redispatched_elsewhere_and_closes_there() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let sub = sys
        .submit_hotline("GD-RT-1", "13833334444", G11, "neighbor_dispute")
        .await;
    let t = sub.ticket_id.as_str();
    sys.expect_dispatch(t, 1, G11, &c.a_g11).await;

    let back = sys.return_task(&c.a_g11, t).await;
    assert_eq!(back.return_count, 1);
    assert_eq!(back.task.unwrap().state(), TaskState::Returned);
    // Not 幸福村1组 again: the village above it takes it.
    let task = sys.expect_dispatch(t, 2, V1, &c.a_v1).await;
    assert_ne!(task.worker_id, c.a_g11);
    // The returning worker no longer has it open.
    let open = sys
        .routing
        .clone()
        .list_my_tasks(req(ListMyTasksRequest::default(), &worker(&c.a_g11, &[])))
        .await
        .unwrap()
        .into_inner();
    assert!(open.tasks.iter().all(|x| x.ticket_id != t), "{open:?}");

    sys.accept(&c.a_v1, t).await;
    sys.settle().await;
    sys.dispose(&c.a_v1, t).await;
    sys.settle().await;
    sys.callback(t, Rating::Satisfied).await;

    assert_closed_everywhere(
        &sys,
        &Closed {
            ticket: t,
            channel: Channel::Hotline12345,
            grid: V1,
            worker: &c.a_v1,
            rating: Rating::Satisfied,
            rework: 0,
            kinds: &[
                "discovered",
                "dispatched",
                "returned",
                "dispatched",
                "accepted",
                "disposed",
                "feedback_recorded",
                "closed",
            ],
        },
    )
    .await;
    // It counts at the grid and worker that closed it, not at the group it left.
    assert_eq!(sys.totals(G11).await.received, 0);
    let by_worker = sys
        .report(TOWN, ReportDimension::Worker, GridLevel::Unspecified)
        .await;
    assert_eq!(row(&by_worker, &c.a_v1).map(|r| r.closed), Some(1));
    assert_eq!(row(&by_worker, &c.a_g11).map_or(0, |r| r.received), 0);
    sys.assert_no_pii_on_stream().await;
}
