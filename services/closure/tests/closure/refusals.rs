//! Every step out of order, by the wrong person, or with bad input is refused, and nothing is
//! written (table counts and the ticket rows are unchanged). The disposal's own refusals are
//! routing's, which takes it; they are tested there.

use gridloop_platform::auth::Role;
use gridloop_proto::v1 as pb;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::support::*;

/// Runs `call`, expects `code` with `needle` in the message, and checks nothing was written.
async fn refused<F, Fut, T>(h: &Harness, code: Code, needle: &str, call: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
    T: std::fmt::Debug,
{
    let before = h.counts().await;
    let status = call().await.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(needle),
        "{needle:?} not in {:?}",
        status.message()
    );
    assert_eq!(h.counts().await, before, "nothing written");
}

#[tokio::test]
async fn steps_out_of_order_are_refused_naming_the_state() {
    let h = start().await;
    let c = || h.client.clone();

    refused(&h, Code::NotFound, "not found", || async {
        c().submit_feedback(req(
            rating(Uuid::now_v7(), pb::Rating::Satisfied),
            &citizen(CITIZEN),
        ))
        .await
    })
    .await;

    let id = Uuid::now_v7();
    h.feed(id, dispatched(WORKER, 1, chrono::Utc::now())).await;
    h.feed(id, accepted(WORKER, 1)).await;
    // Feedback before disposal, by the citizen and by a callback.
    refused(&h, Code::FailedPrecondition, "REPORTED", || async {
        c().submit_feedback(req(rating(id, pb::Rating::Satisfied), &citizen(CITIZEN)))
            .await
    })
    .await;
    refused(&h, Code::FailedPrecondition, "REPORTED", || async {
        c().record_callback(req(unreached(id, chrono::Utc::now()), &operator()))
            .await
    })
    .await;
    // Closing before anything.
    refused(&h, Code::FailedPrecondition, "REPORTED", || async {
        c().close_ticket(req(
            exemption(id, pb::ExemptionKind::CitizenUnreachable),
            &supervisor(),
        ))
        .await
    })
    .await;

    h.dispose(id).await;
    // Another citizen's rating.
    refused(&h, Code::PermissionDenied, "DISPOSED", || async {
        c().submit_feedback(req(
            rating(id, pb::Rating::Satisfied),
            &citizen("ck-someone-else"),
        ))
        .await
    })
    .await;
    // Close without feedback or a valid exemption.
    refused(&h, Code::FailedPrecondition, "DISPOSED", || async {
        c().close_ticket(req(
            exemption(id, pb::ExemptionKind::CitizenUnreachable),
            &supervisor(),
        ))
        .await
    })
    .await;
    // UNRESOLVABLE confirmed for a RESOLVED disposal.
    c().record_callback(req(unreached(id, chrono::Utc::now()), &operator()))
        .await
        .unwrap();
    refused(&h, Code::FailedPrecondition, "FEEDBACK", || async {
        c().close_ticket(req(
            exemption(id, pb::ExemptionKind::UnresolvableConfirmed),
            &supervisor(),
        ))
        .await
    })
    .await;

    // Closed is final.
    c().submit_feedback(req(rating(id, pb::Rating::Satisfied), &citizen(CITIZEN)))
        .await
        .unwrap();
    refused(&h, Code::FailedPrecondition, "CLOSED", || async {
        c().submit_feedback(req(rating(id, pb::Rating::Dissatisfied), &citizen(CITIZEN)))
            .await
    })
    .await;
    refused(&h, Code::FailedPrecondition, "CLOSED", || async {
        c().close_ticket(req(
            exemption(id, pb::ExemptionKind::CitizenUnreachable),
            &supervisor(),
        ))
        .await
    })
    .await;
}

#[tokio::test]
async fn unresolvable_disposal_can_be_exempted_by_a_supervisor() {
    let h = start().await;
    let id = h.accepted_ticket().await;
    let pb::ticket_event::Body::Disposed(mut d) = disposed(WORKER, 0) else {
        unreachable!("a disposal body")
    };
    d.disposal_type = pb::DisposalType::Unresolvable as i32;
    d.evidence_urls.clear();
    d.unresolvable_reason = "涉及历史遗留土地问题，超出村级职权".into();
    h.feed(id, pb::ticket_event::Body::Disposed(d)).await;
    // Without any feedback the write-off is refused ...
    refused(&h, Code::FailedPrecondition, "DISPOSED", || async {
        h.client
            .clone()
            .close_ticket(req(
                exemption(id, pb::ExemptionKind::UnresolvableConfirmed),
                &supervisor(),
            ))
            .await
    })
    .await;
    // ... after a callback outcome the supervisor confirms it.
    h.client
        .clone()
        .record_callback(req(unreached(id, chrono::Utc::now()), &operator()))
        .await
        .unwrap();
    let entry = h
        .client
        .clone()
        .close_ticket(req(
            exemption(id, pb::ExemptionKind::UnresolvableConfirmed),
            &supervisor(),
        ))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert!(
        matches!(entry.basis, Some(pb::ledger_entry::Basis::Exemption(ref e))
        if e.kind == pb::ExemptionKind::UnresolvableConfirmed as i32)
    );
}

#[tokio::test]
async fn wrong_roles_and_bad_input_are_refused_with_nothing_written() {
    let h = start().await;
    let c = || h.client.clone();
    let id = h.accepted_ticket().await;

    refused(&h, Code::PermissionDenied, "role worker", || async {
        c().close_ticket(req(
            exemption(id, pb::ExemptionKind::CitizenUnreachable),
            &worker(WORKER),
        ))
        .await
    })
    .await;
    refused(&h, Code::PermissionDenied, "role operator", || async {
        c().submit_feedback(req(rating(id, pb::Rating::Satisfied), &operator()))
            .await
    })
    .await;
    refused(&h, Code::PermissionDenied, "role citizen", || async {
        c().get_ledger(req(pb::GetLedgerRequest::default(), &citizen(CITIZEN)))
            .await
    })
    .await;

    // Bad disposals are refused by routing, which takes them (routing's tests).
    let mut bad_id = rating(id, pb::Rating::Satisfied);
    bad_id.ticket_id = "T-123".into();
    refused(&h, Code::InvalidArgument, "ticket_id", || async {
        c().submit_feedback(req(bad_id, &citizen(CITIZEN))).await
    })
    .await;
    refused(&h, Code::InvalidArgument, "rating", || async {
        c().submit_feedback(req(rating(id, pb::Rating::Unspecified), &citizen(CITIZEN)))
            .await
    })
    .await;
    let mut reached_unrated = unreached(id, chrono::Utc::now());
    reached_unrated.reached = true;
    refused(&h, Code::InvalidArgument, "rating", || async {
        c().record_callback(req(reached_unrated, &operator())).await
    })
    .await;
    let mut no_reason = exemption(id, pb::ExemptionKind::CitizenUnreachable);
    no_reason.reason = " ".into();
    refused(&h, Code::InvalidArgument, "reason", || async {
        c().close_ticket(req(no_reason, &supervisor())).await
    })
    .await;
    let mut no_kind = exemption(id, pb::ExemptionKind::CitizenUnreachable);
    no_kind.kind = 0;
    refused(&h, Code::InvalidArgument, "kind", || async {
        c().close_ticket(req(no_kind, &supervisor())).await
    })
    .await;
    refused(&h, Code::InvalidArgument, "page_token", || async {
        let r = pb::GetLedgerRequest {
            page_token: "garbage".into(),
            ..Default::default()
        };
        c().get_ledger(req(r, &token(Role::Leader, "leader-1", &[TOWN])))
            .await
    })
    .await;
}

#[tokio::test]
async fn returned_and_transferred_tickets_wait_for_a_new_dispatch() {
    let h = start().await;
    let c = || h.client.clone();
    let id = h.accepted_ticket().await;

    h.feed(
        id,
        pb::ticket_event::Body::Returned(pb::TicketReturned {
            worker_id: WORKER.into(),
            grid_code: GRID.into(),
            reason: pb::ReturnReason::NotMyGrid as i32,
            reason_text: String::new(),
            return_count: 1,
        }),
    )
    .await;
    // The worker who returned it no longer holds it.
    let view = h.view(id).await;
    assert_eq!(view.state, pb::LifecycleState::Reported as i32);
    assert_eq!(view.worker_id, "");

    h.feed(id, dispatched("w-wang", 2, chrono::Utc::now()))
        .await;
    h.feed(
        id,
        pb::ticket_event::Body::Transferred(pb::TicketTransferred {
            from_grid_code: GRID.into(),
            to_grid_code: "341504100002".into(),
            from_worker_id: "w-wang".into(),
            transferred_by: None,
            reason: "属邻村".into(),
        }),
    )
    .await;
    let view = h.view(id).await;
    assert_eq!(view.state, pb::LifecycleState::Reported as i32);
    assert_eq!(view.grid_code, "341504100002");
    assert_eq!(view.worker_id, "");
    refused(&h, Code::FailedPrecondition, "REPORTED", || async {
        c().submit_feedback(req(rating(id, pb::Rating::Satisfied), &citizen(CITIZEN)))
            .await
    })
    .await;
}
