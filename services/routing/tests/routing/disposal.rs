//! 处置 taken by routing, on the same view and under the same lock as 签收, 退单 and 转办:
//! the races between them end with exactly one winner, and the loser is refused naming the
//! state it lost to, with nothing written.

use gridloop_platform::auth::Role;
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use tonic::Code;

use crate::support::*;

/// A ticket found at G1, dispatched to its A post (returned as the worker id).
async fn dispatched_ticket(svc: &mut Svc, s: &Seed) -> String {
    let t = new_ticket_id();
    publish(svc, &discovered(&t, "neighbor_dispute", at_code("G1"))).await;
    assert_eq!(dispatched(svc, &t, 1).await.worker_id, s.a_g1);
    t
}

async fn accept(svc: &mut Svc, t: &str, who: &str) {
    let r = AcceptTaskRequest {
        ticket_id: t.into(),
    };
    svc.client
        .accept_task(req(r, &worker_token(who)))
        .await
        .unwrap();
}

fn return_req(t: &str) -> ReturnTaskRequest {
    ReturnTaskRequest {
        ticket_id: t.into(),
        reason: ReturnReason::NotMyGrid as i32,
        reason_text: String::new(),
    }
}

async fn task_of(svc: &mut Svc, t: &str, who: &str) -> Task {
    let r = GetTaskRequest {
        ticket_id: t.into(),
    };
    svc.client
        .get_task(req(r, &worker_token(who)))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap()
}

/// Rows that any step writes: outbox events, tasks, disposals.
async fn written(svc: &Svc) -> (i64, i64, i64) {
    (
        count(svc, "outbox").await,
        count(svc, "tasks").await,
        count(svc, "disposals").await,
    )
}

fn refused_naming(err: &tonic::Status, state: &str) {
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains(state),
        "{state} not in {}",
        err.message()
    );
}

#[tokio::test]
async fn a_disposal_right_after_accept_succeeds_at_once_and_is_published() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let t = dispatched_ticket(&mut svc, &s).await;

    // Before 签收 the task is not the worker's to dispose.
    let err = svc
        .client
        .submit_disposal(req(resolved(&t), &worker_token(&s.a_g1)))
        .await
        .unwrap_err();
    refused_naming(&err, "REPORTED");
    // Another worker's task is not theirs.
    let err = svc
        .client
        .submit_disposal(req(resolved(&t), &worker_token(&s.b_g1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    accept(&mut svc, &t, &s.a_g1).await;
    let out = svc
        .client
        .submit_disposal(req(resolved(&t), &worker_token(&s.a_g1)))
        .await
        .expect("the first attempt succeeds")
        .into_inner();
    assert_eq!(out.state, LifecycleState::Disposed as i32);
    assert_eq!(out.task.unwrap().state, TaskState::Disposed as i32);
    let d = out.disposal.unwrap();
    assert_eq!(
        (
            d.ticket_id.as_str(),
            d.worker_id.as_str(),
            d.grid_code.as_str(),
            d.rework_count
        ),
        (t.as_str(), s.a_g1.as_str(), "G1", 0)
    );

    let evs = wait_events(&svc, "disposed", &t, 1).await;
    assert_eq!(evs[0].producer, "routing");
    let Some(Body::Disposed(e)) = &evs[0].body else {
        panic!("disposed body")
    };
    assert_eq!(
        (e.disposal_id.as_str(), e.worker_id.as_str()),
        (d.disposal_id.as_str(), s.a_g1.as_str())
    );
    assert_eq!(e.evidence_urls, d.evidence_urls);

    // The app resending the same report gets the same disposal back; a different one is
    // a second disposal, refused.
    let before = written(&svc).await;
    let again = svc
        .client
        .submit_disposal(req(resolved(&t), &worker_token(&s.a_g1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.disposal.unwrap().disposal_id, d.disposal_id);
    let mut other = resolved(&t);
    other.result = "又处理了一次".into();
    let err = svc
        .client
        .submit_disposal(req(other, &worker_token(&s.a_g1)))
        .await
        .unwrap_err();
    refused_naming(&err, "DISPOSED");
    assert_eq!(written(&svc).await, before);
}

#[tokio::test]
async fn a_return_right_after_the_disposal_is_refused_naming_disposed() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let t = dispatched_ticket(&mut svc, &s).await;
    accept(&mut svc, &t, &s.a_g1).await;
    svc.client
        .submit_disposal(req(resolved(&t), &worker_token(&s.a_g1)))
        .await
        .unwrap();

    let before = written(&svc).await;
    let err = svc
        .client
        .return_task(req(return_req(&t), &worker_token(&s.a_g1)))
        .await
        .unwrap_err();
    refused_naming(&err, "DISPOSED");
    assert_eq!(written(&svc).await, before, "nothing written");
    let task = task_of(&mut svc, &t, &s.a_g1).await;
    assert_eq!((task.state, task.attempt), (TaskState::Disposed as i32, 1));
    assert!(events_now(&svc, "returned", &t).await.is_empty());
    assert_eq!(events_now(&svc, "dispatched", &t).await.len(), 1);
}

#[tokio::test]
async fn a_disposal_right_after_the_workers_own_transfer_is_refused() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let t = dispatched_ticket(&mut svc, &s).await;
    accept(&mut svc, &t, &s.a_g1).await;
    let tr = TransferTaskRequest {
        ticket_id: t.clone(),
        to_grid_code: "V2".into(),
        reason: "属和平村".into(),
    };
    svc.client
        .transfer_task(req(tr, &worker_token(&s.a_g1)))
        .await
        .unwrap();

    let before = written(&svc).await;
    let err = svc
        .client
        .submit_disposal(req(resolved(&t), &worker_token(&s.a_g1)))
        .await
        .unwrap_err();
    refused_naming(&err, "TRANSFERRED");
    assert_eq!(written(&svc).await, before, "nothing written");
    assert!(events_now(&svc, "disposed", &t).await.is_empty());
    // The new holder (T1's chief, V2 has no posts) signs and disposes.
    accept(&mut svc, &t, &s.chief_t1).await;
    svc.client
        .submit_disposal(req(resolved(&t), &worker_token(&s.chief_t1)))
        .await
        .expect("the new holder disposes");
}

#[tokio::test]
async fn a_return_and_a_disposal_sent_together_have_exactly_one_winner() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    for round in 0..6 {
        let t = dispatched_ticket(&mut svc, &s).await;
        accept(&mut svc, &t, &s.a_g1).await;
        let (mut c1, mut c2) = (svc.client.clone(), svc.client.clone());
        let tok = worker_token(&s.a_g1);
        let (ret, disp) = tokio::join!(
            c1.return_task(req(return_req(&t), &tok)),
            c2.submit_disposal(req(resolved(&t), &tok)),
        );
        match (ret, disp) {
            (Ok(_), Err(e)) => {
                refused_naming(&e, "RETURNED");
                let n: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM disposals WHERE ticket_id = $1::uuid")
                        .bind(&t)
                        .fetch_one(&mut db(&svc).await)
                        .await
                        .unwrap();
                assert_eq!(n, 0, "round {round}: the refused disposal wrote nothing");
                assert!(events_now(&svc, "disposed", &t).await.is_empty());
            }
            (Err(e), Ok(_)) => {
                refused_naming(&e, "DISPOSED");
                assert!(events_now(&svc, "returned", &t).await.is_empty());
                let task = task_of(&mut svc, &t, &s.a_g1).await;
                assert_eq!(task.state, TaskState::Disposed as i32);
            }
            (r, d) => panic!("round {round}: not exactly one winner: {r:?} / {d:?}"),
        }
    }
}

#[tokio::test]
async fn bad_reports_are_refused_naming_the_field_with_nothing_written() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let t = dispatched_ticket(&mut svc, &s).await;
    accept(&mut svc, &t, &s.a_g1).await;
    let before = written(&svc).await;
    let tok = worker_token(&s.a_g1);

    let mut nul = resolved(&t);
    nul.result = "已处理\0完毕".into();
    let mut no_evidence = resolved(&t);
    no_evidence.evidence_urls.clear();
    let mut nul_reason = resolved(&t);
    nul_reason.disposal_type = DisposalType::Unresolvable as i32;
    nul_reason.evidence_urls.clear();
    nul_reason.unresolvable_reason = "\0".into();
    let mut no_reason = nul_reason.clone();
    no_reason.unresolvable_reason = " ".into();
    let mut future = resolved(&t);
    future.disposed_at = Some(gridloop_proto::ts(
        chrono::Utc::now() + chrono::Duration::days(1),
    ));
    let mut bad_id = resolved(&t);
    bad_id.ticket_id = "T-123".into();
    for (r, field) in [
        (nul, "result"),
        (no_evidence, "evidence_urls"),
        (nul_reason, "unresolvable_reason"),
        (no_reason, "unresolvable_reason"),
        (future, "disposed_at"),
        (bad_id, "ticket_id"),
    ] {
        let err = svc.client.submit_disposal(req(r, &tok)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            err.message().contains(field),
            "{field} not in {}",
            err.message()
        );
    }
    let err = svc
        .client
        .submit_disposal(req(resolved(&t), &token(Role::Citizen, "ck-1", &[])))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(written(&svc).await, before, "nothing written");
    let task = task_of(&mut svc, &t, &s.a_g1).await;
    assert_eq!(task.state, TaskState::Accepted as i32);
}
