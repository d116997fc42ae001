//! A caller who complains again after the write-off (销号): the complaint is a new ticket,
//! dispatched like any other — also when intake merged it before it had seen the write-off.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;
use gridloop_system_tests::settle::eventually;
use gridloop_system_tests::tokens::{operator, req};
use sqlx::Connection;

async fn intake_ticket(sys: &System, ticket: &str) -> GetTicketResponse {
    sys.intake
        .clone()
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: ticket.into(),
            },
            &operator(),
        ))
        .await
        .expect("intake's ticket")
        .into_inner()
}

/// Works `ticket` at `grid` by `worker` to a satisfied write-off.
async fn close(sys: &System, ticket: &str, worker: &str) {
    sys.accept(worker, ticket).await;
    sys.settle().await;
    sys.dispose(worker, ticket).await;
    sys.settle().await;
    let cb = sys.callback(ticket, Rating::Satisfied).await;
    assert_eq!(cb.state(), LifecycleState::Closed);
    sys.settle().await;
}

#[tokio::test]
async fn a_repeat_after_the_write_off_is_dispatched_as_a_new_ticket() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let phone = "13812340001";

    let first = sys
        .submit_hotline("GD-AC-1", phone, G11, "neighbor_dispute")
        .await;
    let t1 = first.ticket_id.as_str();
    sys.expect_dispatch(t1, 1, G11, &c.a_g11).await;
    close(&sys, t1, &c.a_g11).await;
    // Intake tells a caller who rings again that it was written off, where and when.
    let got = intake_ticket(&sys, t1).await.ticket.unwrap();
    assert_eq!(got.state(), LifecycleState::Closed);
    assert_eq!(
        (got.grid_code.as_str(), got.worker_id.as_str()),
        (G11, c.a_g11.as_str())
    );
    assert!(got.closed_at.is_some());

    let again = sys
        .submit_hotline("GD-AC-2", phone, G11, "neighbor_dispute")
        .await;
    assert_eq!(again.outcome(), SubmitOutcome::Created);
    let t2 = again.ticket_id.as_str();
    assert_ne!(t2, t1);
    sys.expect_dispatch(t2, 1, G11, &c.a_g11).await;
    assert_eq!(sys.loop_status(t2).await.state(), LifecycleState::Reported);
    let got = intake_ticket(&sys, t2).await.ticket.unwrap();
    assert_eq!(got.state(), LifecycleState::Reported);
    assert_eq!(got.grid_code, G11);

    // The same for a household's one-key call button.
    sys.register_device("YJ-AC-1", "13611110001", G12).await;
    let press = sys.press("YJ-AC-1", "press-1").await;
    let p1 = press.ticket_id.as_str();
    sys.expect_dispatch(p1, 1, V1, &c.a_v1).await;
    close(&sys, p1, &c.a_v1).await;
    let again = sys.press("YJ-AC-1", "press-2").await;
    assert_eq!(again.outcome(), SubmitOutcome::Created);
    assert_ne!(again.ticket_id, p1);
    sys.expect_dispatch(&again.ticket_id, 1, V1, &c.a_v1).await;
    sys.assert_no_pii_on_stream().await;
}

/// The race, made deterministic: intake's view is held back (its row of the parent locked)
/// while closure writes the parent off, so intake merges the repeat into what it still sees
/// as open, and the merge lands on the stream after the write-off.
#[tokio::test]
async fn a_repeat_merged_into_a_ticket_being_closed_is_dispatched_on_its_own() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let phone = "13812340002";

    let first = sys
        .submit_hotline("GD-RACE-1", phone, G11, "neighbor_dispute")
        .await;
    let p = first.ticket_id.clone();
    sys.expect_dispatch(&p, 1, G11, &c.a_g11).await;
    sys.accept(&c.a_g11, &p).await;
    sys.settle().await;
    sys.dispose(&c.a_g11, &p).await;
    sys.settle().await;

    let mut hold = sqlx::PgConnection::connect(&sys.env.database_url)
        .await
        .unwrap();
    let mut held = hold.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM intake.ticket_loop WHERE ticket_id = $1::uuid FOR UPDATE")
        .bind(&p)
        .execute(&mut *held)
        .await
        .unwrap();
    let cb = sys.callback(&p, Rating::Satisfied).await;
    assert_eq!(cb.state(), LifecycleState::Closed);
    eventually("the tracker to see the write-off", || async {
        match sys.loop_status(&p).await.state() {
            LifecycleState::Closed => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    let repeat = sys
        .submit_hotline("GD-RACE-2", phone, G11, "neighbor_dispute")
        .await;
    assert_eq!(repeat.outcome(), SubmitOutcome::Merged);
    let child = repeat.merged_ticket_id.clone();
    eventually("the merge on the stream", || async {
        let kinds = sys.kinds_on_stream(&child).await;
        if kinds.iter().any(|k| k == "merged") {
            Ok(())
        } else {
            Err(format!("{kinds:?}"))
        }
    })
    .await;
    held.rollback().await.unwrap();

    // Filed as its own ticket, linked to the closed one, and dispatched like a new one.
    sys.expect_dispatch(&child, 1, G11, &c.a_g11).await;
    assert_eq!(
        sys.kinds_on_stream(&child).await,
        ["merged", "discovered", "dispatched"]
    );
    let status = sys.loop_status(&child).await;
    assert_eq!(status.state(), LifecycleState::Reported);
    assert!(status.parent_ticket_id.is_empty());
    assert_eq!(
        sys.loop_status(&p).await.repeat_count,
        0,
        "the closed parent does not count it"
    );
    assert_eq!(sys.task(&p).await.repeat_count, 0);
    let got = intake_ticket(&sys, &child).await;
    let t = got.ticket.unwrap();
    assert_eq!(t.state(), LifecycleState::Reported);
    assert_eq!(t.split_from_ticket_id, p);
    assert_eq!(t.grid_code, G11);
    // Reports: two received tickets, neither a merged repeat; one closed, one open.
    let r = sys.totals(COUNTY).await;
    assert_eq!(
        (r.received, r.merged, r.closed, r.open),
        (2, 0, 1, 1),
        "{r:?}"
    );
    sys.assert_no_pii_on_stream().await;
}
