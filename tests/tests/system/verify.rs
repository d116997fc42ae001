//! `verify`: after a quiet run every service's view equals the stream's replay, and a view
//! that disagrees is reported.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;
use gridloop_system_tests::tokens::service;
use gridloop_system_tests::verify::VIEWS;

#[tokio::test]
async fn every_view_agrees_with_the_stream_and_a_diverged_one_is_reported() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let closed = sys
        .submit_hotline("GD-VF-1", "13822224444", G11, "neighbor_dispute")
        .await;
    let open = sys
        .submit_hotline("GD-VF-2", "13822225555", G11, "neighbor_dispute")
        .await;
    let repeat = sys
        .submit_hotline("GD-VF-3", "13822225555", G11, "neighbor_dispute")
        .await;
    assert_eq!(repeat.outcome(), SubmitOutcome::Merged);
    let t = closed.ticket_id.as_str();
    sys.expect_dispatch(t, 1, G11, &c.a_g11).await;
    let fb = sys
        .work_and_rate(&c.a_g11, t, &service(), Rating::Satisfied)
        .await;
    assert_eq!(fb.state(), LifecycleState::Closed);
    sys.expect_dispatch(&open.ticket_id, 1, G11, &c.a_g11).await;
    sys.accept(&c.a_g11, &open.ticket_id).await;
    sys.settle().await;

    for (name, _) in VIEWS {
        if let Err(e) = sys.verify(name).await {
            panic!("{name} disagrees with the stream: {e}");
        }
    }

    // A view that lost the acceptance of the open ticket no longer agrees.
    sqlx::query(
        "UPDATE closure.tickets SET loop_state = jsonb_set(loop_state, \
           '{state,reported,dispatched,accepted}', 'false') WHERE ticket_id = $1::uuid",
    )
    .bind(&open.ticket_id)
    .execute(&sys.db)
    .await
    .unwrap();
    let err = sys
        .verify("closure")
        .await
        .expect_err("closure now differs");
    assert!(
        err.to_string().contains("1 ticket(s) differ"),
        "unexpected verdict: {err}"
    );
    sys.verify("routing").await.expect("routing still agrees");
}
