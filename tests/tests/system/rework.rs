//! 返工: a dissatisfied callback reopens the ticket, routing gives it back to the same worker,
//! who signs again and disposes again; a basically-satisfied rating then closes it.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;

use crate::checks::{Closed, assert_closed_everywhere};

#[tokio::test]
async fn dissatisfied_feedback_reworks_with_the_same_worker_then_closes() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let sub = sys
        .submit_hotline("GD-RW-1", "13822223333", G11, "neighbor_dispute")
        .await;
    let t = sub.ticket_id.as_str();
    sys.expect_dispatch(t, 1, G11, &c.a_g11).await;
    sys.accept(&c.a_g11, t).await;
    sys.settle().await;
    sys.dispose(&c.a_g11, t).await;
    sys.settle().await;

    let cb = sys.callback(t, Rating::Dissatisfied).await;
    assert_eq!(cb.state(), LifecycleState::Reported, "reopened, not closed");
    assert_eq!(cb.rework_count, 1);
    // Back to the worker whose disposal was rejected, as a new attempt to sign for.
    let task = sys.expect_dispatch(t, 2, G11, &c.a_g11).await;
    assert_eq!(task.rework_count, 1);
    assert_eq!(sys.loop_status(t).await.state(), LifecycleState::Reported);
    assert!(
        sys.ledger_entries(t).await.is_empty(),
        "not written off yet"
    );

    sys.accept(&c.a_g11, t).await;
    sys.settle().await;
    let again = sys.dispose(&c.a_g11, t).await;
    assert_eq!(again.disposal.unwrap().rework_count, 1);
    sys.settle().await;
    let cb = sys.callback(t, Rating::BasicallySatisfied).await;
    assert_eq!(cb.state(), LifecycleState::Closed);

    assert_closed_everywhere(
        &sys,
        &Closed {
            ticket: t,
            channel: Channel::Hotline12345,
            grid: G11,
            worker: &c.a_g11,
            rating: Rating::BasicallySatisfied,
            rework: 1,
            kinds: &[
                "discovered",
                "dispatched",
                "accepted",
                "disposed",
                "feedback_recorded",
                "reopened",
                "dispatched",
                "accepted",
                "disposed",
                "feedback_recorded",
                "closed",
            ],
        },
    )
    .await;
    // Both ratings count; the ticket counts once as reworked.
    let r = sys.totals(TOWN).await;
    assert_eq!(
        (r.rated, r.dissatisfied, r.basically_satisfied, r.satisfied),
        (2, 1, 1, 0)
    );
    assert_eq!((r.disposed, r.reworked), (1, 1));
    assert_eq!(r.rework_rate, Some(1.0));
    assert_eq!(r.satisfaction_rate, Some(0.5));
    let view = sys.closure_of(t).await;
    assert_eq!((view.disposals.len(), view.feedback.len()), (2, 2));
    sys.assert_no_pii_on_stream().await;
}
