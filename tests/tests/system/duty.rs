//! AB岗: with the A post off duty, the B post of the group takes the ticket and closes it.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;
use gridloop_system_tests::tokens::{admin, req};

use crate::checks::{Closed, assert_closed_everywhere};

#[tokio::test]
async fn b_post_takes_the_ticket_while_a_is_off_duty() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let off = sys
        .routing
        .clone()
        .set_duty(req(
            SetDutyRequest {
                worker_id: c.a_g11.clone(),
                on_duty: false,
                reason: "病假".into(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect("duty change")
        .into_inner();
    assert!(!off.worker.unwrap().on_duty);

    let sub = sys
        .submit_hotline("GD-AB-1", "13877778888", G11, "neighbor_dispute")
        .await;
    let t = sub.ticket_id.as_str();
    let task = sys.expect_dispatch(t, 1, G11, &c.b_g11).await;
    assert_eq!(task.post(), Post::B);

    sys.accept(&c.b_g11, t).await;
    sys.settle().await;
    sys.dispose(&c.b_g11, t).await;
    sys.settle().await;
    sys.callback(t, Rating::Satisfied).await;
    assert_closed_everywhere(
        &sys,
        &Closed {
            ticket: t,
            channel: Channel::Hotline12345,
            grid: G11,
            worker: &c.b_g11,
            rating: Rating::Satisfied,
            rework: 0,
            kinds: &[
                "discovered",
                "dispatched",
                "accepted",
                "disposed",
                "feedback_recorded",
                "closed",
            ],
        },
    )
    .await;
    sys.assert_no_pii_on_stream().await;
}
