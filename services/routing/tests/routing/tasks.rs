//! Grid workers' tasks: 签收, 退单 with re-dispatch and the return limit, 转办, order and
//! permission checks, rework and 督办.

use gridloop_platform::auth::Role;
use gridloop_platform::outbox;
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use tonic::Code;

use crate::support::*;

async fn ret(svc: &mut Svc, ticket: &str, who: &str) -> Result<ReturnTaskResponse, tonic::Status> {
    let r = ReturnTaskRequest {
        ticket_id: ticket.into(),
        reason: ReturnReason::NotMyGrid as i32,
        reason_text: String::new(),
    };
    svc.client
        .return_task(req(r, &worker_token(who)))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn accept_is_checked_for_owner_and_order() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let t = new_ticket_id();
    publish(&svc, &discovered(&t, "neighbor_dispute", at_code("G1"))).await;
    dispatched(&svc, &t, 1).await;

    // Not yours.
    let err = svc
        .client
        .accept_task(req(
            AcceptTaskRequest {
                ticket_id: t.clone(),
            },
            &worker_token(&s.b_g1),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // The worker's list shows it, pending.
    let list = svc
        .client
        .list_my_tasks(req(ListMyTasksRequest::default(), &worker_token(&s.a_g1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.tasks.len(), 1);
    assert_eq!(list.tasks[0].state, TaskState::PendingAccept as i32);
    assert_eq!(
        list.tasks[0].contact.as_ref().unwrap().masked_phone,
        "139****0000"
    );

    let acc = svc
        .client
        .accept_task(req(
            AcceptTaskRequest {
                ticket_id: t.clone(),
            },
            &worker_token(&s.a_g1),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acc.task.unwrap().state, TaskState::Accepted as i32);
    // Accepting again is a no-op: one accepted event.
    svc.client
        .accept_task(req(
            AcceptTaskRequest {
                ticket_id: t.clone(),
            },
            &worker_token(&s.a_g1),
        ))
        .await
        .unwrap();
    let evs = wait_events(&svc, "accepted", &t, 1).await;
    let Some(Body::Accepted(a)) = &evs[0].body else {
        panic!()
    };
    assert_eq!(
        (
            a.worker_id.as_str(),
            a.grid_code.as_str(),
            a.attempt,
            a.on_time
        ),
        (s.a_g1.as_str(), "G1", 1, true)
    );

    // The worker disposes; a return after it is out of order.
    svc.client
        .submit_disposal(req(resolved(&t), &worker_token(&s.a_g1)))
        .await
        .unwrap();
    let err = ret(&mut svc, &t, &s.a_g1).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("DISPOSED"), "{}", err.message());
    assert!(events_now(&svc, "returned", &t).await.is_empty());

    // Unknown ticket.
    let err = svc
        .client
        .accept_task(req(
            AcceptTaskRequest {
                ticket_id: new_ticket_id(),
            },
            &worker_token(&s.a_g1),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn returns_redispatch_elsewhere_and_the_third_goes_to_the_town_desk() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let t = new_ticket_id();
    publish(&svc, &discovered(&t, "neighbor_dispute", at_code("G1"))).await;
    let first = dispatched(&svc, &t, 1).await;
    assert_eq!(first.worker_id, s.a_g1);

    // A reason is required; nothing is written without one.
    let bad = ReturnTaskRequest {
        ticket_id: t.clone(),
        reason: ReturnReason::Other as i32,
        reason_text: " ".into(),
    };
    let err = svc
        .client
        .return_task(req(bad, &worker_token(&s.a_g1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("reason_text"));

    // 1st return: re-dispatched, not to G1: its parent's desk.
    let r = ret(&mut svc, &t, &s.a_g1).await.unwrap();
    assert_eq!(r.return_count, 1);
    assert_eq!(r.task.unwrap().state, TaskState::Returned as i32);
    let d = dispatched(&svc, &t, 2).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("V1", s.a_v1.as_str())
    );
    assert_eq!(d.trigger, DispatchTrigger::Returned as i32);
    assert_eq!(d.attempt, 2);
    assert_eq!(
        d.deadlines.unwrap().dispose_by,
        first.deadlines.unwrap().dispose_by
    );
    let evs = wait_events(&svc, "returned", &t, 1).await;
    let Some(Body::Returned(rv)) = &evs[0].body else {
        panic!()
    };
    assert_eq!((rv.grid_code.as_str(), rv.return_count), ("G1", 1));

    // The returned task no longer stands for its worker.
    let err = svc
        .client
        .accept_task(req(
            AcceptTaskRequest {
                ticket_id: t.clone(),
            },
            &worker_token(&s.a_g1),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("RETURNED"), "{}", err.message());

    // 2nd return from V1: resolved again to G1, but not to the worker of V1.
    assert_eq!(ret(&mut svc, &t, &s.a_v1).await.unwrap().return_count, 2);
    let d = dispatched(&svc, &t, 3).await;
    assert_eq!(d.grid_code, "G1");
    // 3rd return: the town's 兜底 desk, and unroutable says why.
    let who = d.worker_id.clone();
    assert_eq!(ret(&mut svc, &t, &who).await.unwrap().return_count, 3);
    let d = dispatched(&svc, &t, 4).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("T1", s.a_t1.as_str())
    );
    assert!(d.fallback_desk);
    let u = wait_events(&svc, "unroutable", &t, 1).await;
    let Some(Body::Unroutable(u)) = &u[0].body else {
        panic!()
    };
    assert_eq!(u.cause, UnroutableCause::ReturnLimit as i32);
    assert_eq!(u.fallback_grid_code, "T1");
}

#[tokio::test]
async fn transfer_dispatches_within_the_named_grid() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let t = new_ticket_id();
    publish(&svc, &discovered(&t, "neighbor_dispute", at_code("G1"))).await;
    dispatched(&svc, &t, 1).await;

    // A supervisor of another subtree may not; a bad grid is refused.
    let other = token(Role::Supervisor, "sup-9", &["V2"]);
    let tr = |grid: &str| TransferTaskRequest {
        ticket_id: t.clone(),
        to_grid_code: grid.into(),
        reason: "属和平村".into(),
    };
    let err = svc
        .client
        .transfer_task(req(tr("V2"), &other))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = svc
        .client
        .transfer_task(req(tr("NOPE"), &worker_token(&s.a_g1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("to_grid_code"));

    // The holder transfers to V2 (no posts there): the parent chain finds T1's chief.
    let out = svc
        .client
        .transfer_task(req(tr("V2"), &worker_token(&s.a_g1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.task.unwrap().state, TaskState::Transferred as i32);
    let evs = wait_events(&svc, "transferred", &t, 1).await;
    let Some(Body::Transferred(x)) = &evs[0].body else {
        panic!()
    };
    assert_eq!(
        (x.from_grid_code.as_str(), x.to_grid_code.as_str()),
        ("G1", "V2")
    );
    assert_eq!(
        x.transferred_by.as_ref().unwrap().role,
        ActorRole::Worker as i32
    );
    let d = dispatched(&svc, &t, 2).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("V2", s.chief_t1.as_str())
    );
    assert_eq!(d.trigger, DispatchTrigger::Transferred as i32);

    // A supervisor of the town moves it on to G2.
    let sup = token(Role::Supervisor, "sup-1", &["T1"]);
    svc.client.transfer_task(req(tr("G2"), &sup)).await.unwrap();
    assert_eq!(dispatched(&svc, &t, 3).await.grid_code, "G2");
}

#[tokio::test]
async fn escalation_is_a_supervision_task_of_the_chief_and_rework_returns_to_the_worker() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let t = new_ticket_id();
    publish(&svc, &discovered(&t, "neighbor_dispute", at_code("G1"))).await;
    dispatched(&svc, &t, 1).await;

    let esc = outbox::new_event(
        "tracker",
        &t,
        Body::Escalated(TicketEscalated {
            level: GridLevel::Village as i32,
            grid_code: "V1".into(),
            cause: EscalationCause::Overdue as i32,
            deadline_kind: DeadlineKind::Respond as i32,
            from_grid_code: "G1".into(),
            escalation_step: 1,
            ..Default::default()
        }),
    );
    publish(&svc, &esc).await;
    let chief = worker_token(&s.chief_v1);
    let list_supervise = |c: &mut Svc| {
        let r = ListMyTasksRequest {
            kind: TaskKind::Supervise as i32,
            ..Default::default()
        };
        let mut client = c.client.clone();
        let chief = chief.clone();
        async move {
            client
                .list_my_tasks(req(r, &chief))
                .await
                .unwrap()
                .into_inner()
                .tasks
        }
    };
    wait_for("supervision task", || {
        let f = list_supervise(&mut svc);
        async move { !f.await.is_empty() }
    })
    .await;
    let tasks = list_supervise(&mut svc).await;
    assert_eq!(tasks[0].ticket_id, t);
    assert_eq!(tasks[0].kind, TaskKind::Supervise as i32);
    assert!(
        tasks[0].supervision_note.contains("签收超期"),
        "{}",
        tasks[0].supervision_note
    );

    // Rework: accepted, disposed, rated dissatisfied, reopened → back to the same worker.
    svc.client
        .accept_task(req(
            AcceptTaskRequest {
                ticket_id: t.clone(),
            },
            &worker_token(&s.a_g1),
        ))
        .await
        .unwrap();
    svc.client
        .submit_disposal(req(resolved(&t), &worker_token(&s.a_g1)))
        .await
        .unwrap();
    for body in [
        Body::FeedbackRecorded(TicketFeedbackRecorded {
            rating: Rating::Dissatisfied as i32,
            reached: true,
            ..Default::default()
        }),
        Body::Reopened(TicketReopened {
            rework_count: 1,
            worker_id: s.a_g1.clone(),
            grid_code: "G1".into(),
            comment: "没修好".into(),
        }),
    ] {
        publish(&svc, &outbox::new_event("closure", &t, body)).await;
    }
    let d = dispatched(&svc, &t, 2).await;
    assert_eq!(d.worker_id, s.a_g1);
    assert_eq!(d.trigger, DispatchTrigger::Reopened as i32);
    assert_eq!(d.rework_count, 1);
    assert!(d.reason.starts_with("rework"), "{}", d.reason);
}
