//! 转办: the holder moves the ticket to another village's group; routing dispatches it within
//! the named grid, where it is closed.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;

use crate::checks::{Closed, assert_closed_everywhere, row};

#[tokio::test]
async fn transferred_ticket_is_dispatched_in_the_named_grid_and_closes_there() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let sub = sys
        .submit_hotline("GD-TR-1", "13844445555", G11, "neighbor_dispute")
        .await;
    let t = sub.ticket_id.as_str();
    sys.expect_dispatch(t, 1, G11, &c.a_g11).await;
    sys.accept(&c.a_g11, t).await;
    sys.settle().await;

    let moved = sys.transfer(&c.a_g11, t, G21).await;
    assert_eq!(moved.task.unwrap().state(), TaskState::Transferred);
    sys.expect_dispatch(t, 2, G21, &c.a_g21).await;
    // The status follows the ticket to its new grid.
    let status = sys.loop_status(t).await;
    assert_eq!(
        (
            status.grid_code.as_str(),
            status.worker_id.as_str(),
            status.accepted
        ),
        (G21, c.a_g21.as_str(), false)
    );

    // The old holder can no longer dispose it.
    let err = sys
        .routing
        .clone()
        .submit_disposal(gridloop_system_tests::tokens::req(
            SubmitDisposalRequest {
                ticket_id: t.into(),
                disposal_type: DisposalType::Resolved as i32,
                result: "已处理".into(),
                evidence_urls: vec![gridloop_system_tests::steps::EVIDENCE.into()],
                disposed_at: Some(gridloop_proto::ts(chrono::Utc::now())),
                unresolvable_reason: String::new(),
            },
            &gridloop_system_tests::tokens::worker(&c.a_g11, &[]),
        ))
        .await
        .unwrap_err();
    // Routing decides the disposal on the task the transfer retired: refused at once,
    // naming the task's state.
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("TRANSFERRED"), "{err}");

    sys.accept(&c.a_g21, t).await;
    sys.settle().await;
    sys.dispose(&c.a_g21, t).await;
    sys.settle().await;
    sys.callback(t, Rating::Satisfied).await;

    assert_closed_everywhere(
        &sys,
        &Closed {
            ticket: t,
            channel: Channel::Hotline12345,
            grid: G21,
            worker: &c.a_g21,
            rating: Rating::Satisfied,
            rework: 0,
            kinds: &[
                "discovered",
                "dispatched",
                "accepted",
                "transferred",
                "dispatched",
                "accepted",
                "disposed",
                "feedback_recorded",
                "closed",
            ],
        },
    )
    .await;
    let by_village = sys
        .report(TOWN, ReportDimension::Grid, GridLevel::Village)
        .await;
    assert_eq!(
        row(&by_village, V2).map(|r| (r.received, r.closed)),
        Some((1, 1))
    );
    assert_eq!(row(&by_village, V1).map_or(0, |r| r.received), 0);
    sys.assert_no_pii_on_stream().await;
}
