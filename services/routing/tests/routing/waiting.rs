//! A ticket nobody could take waits; a worker coming back (SetDuty) or upserted with posts
//! takes the waiting tickets of the grids they serve, oldest first.

use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;

use crate::support::*;

async fn duty(svc: &mut Svc, id: &str, on: bool, capacity: Option<u32>) {
    svc.client
        .set_duty(req(
            SetDutyRequest {
                worker_id: id.into(),
                on_duty: on,
                capacity,
                reason: if on { "" } else { "外出" }.into(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .unwrap();
}

/// Waits for the ticket's `unroutable` and checks nobody was found.
async fn unroutable(svc: &Svc, ticket: &str) {
    let evs = wait_events(svc, "unroutable", ticket, 1).await;
    match &evs[0].body {
        Some(Body::Unroutable(u)) => assert_eq!(u.cause, UnroutableCause::NoWorker as i32),
        other => panic!("not unroutable: {other:?}"),
    }
}

async fn tasks_of(svc: &Svc, ticket: &str) -> i64 {
    let mut c = db(svc).await;
    sqlx::query_scalar("SELECT count(*) FROM tasks WHERE ticket_id = $1::uuid")
        .bind(ticket)
        .fetch_one(&mut c)
        .await
        .unwrap()
}

#[tokio::test]
async fn waiting_tickets_go_to_the_worker_who_comes_back_oldest_first() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    // Nobody along G1's chain (A, B, chief of V1, chief of T1) nor V2's (chief of T1).
    for w in [&s.a_g1, &s.b_g1, &s.chief_v1, &s.chief_t1] {
        duty(&mut svc, w, false, None).await;
    }
    let (t1, t2, t3) = (new_ticket_id(), new_ticket_id(), new_ticket_id());
    publish(&svc, &discovered(&t1, "neighbor_dispute", at_code("G1"))).await;
    unroutable(&svc, &t1).await;
    publish(&svc, &discovered(&t2, "neighbor_dispute", at_code("G1"))).await;
    unroutable(&svc, &t2).await;
    publish(&svc, &discovered(&t3, "environment", at_code("V2"))).await;
    unroutable(&svc, &t3).await;
    assert!(events_now(&svc, "dispatched", &t1).await.is_empty());

    // G1's B post is back and may hold one: the oldest (t1) is theirs in the SetDuty itself.
    duty(&mut svc, &s.b_g1, true, Some(1)).await;
    assert_eq!(tasks_of(&svc, &t1).await, 1);
    assert_eq!(tasks_of(&svc, &t2).await, 0, "B is full; t2 keeps waiting");
    assert_eq!(tasks_of(&svc, &t3).await, 0, "B does not serve V2");
    let d = dispatched(&svc, &t1, 1).await;
    assert_eq!(d.worker_id, s.b_g1);
    assert_eq!(d.trigger, DispatchTrigger::Discovered as i32);
    assert!(
        d.reason
            .contains("waited at 幸福村3组 until someone was available"),
        "{}",
        d.reason
    );
    // Still waiting, quietly: no second `unroutable` for t2.
    assert_eq!(events_now(&svc, "unroutable", &t2).await.len(), 1);

    // A new A post at G1 takes t2 when upserted.
    let a2 = worker(
        &mut svc,
        "S010",
        WorkerRole::GridWorker,
        &[("G1", Post::A)],
        "",
    )
    .await;
    assert_eq!(tasks_of(&svc, &t2).await, 1);
    assert_eq!(dispatched(&svc, &t2, 1).await.worker_id, a2);
    assert_eq!(tasks_of(&svc, &t3).await, 0);

    // The chief of T1 comes back: V2 lies below T1, so t3 is theirs.
    duty(&mut svc, &s.chief_t1, true, None).await;
    assert_eq!(dispatched(&svc, &t3, 1).await.worker_id, s.chief_t1);

    let mut c = db(&svc).await;
    let waiting: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tickets WHERE waiting_grid IS NOT NULL")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(waiting, 0);
    // Each was dispatched once.
    for t in [&t1, &t2, &t3] {
        assert_eq!(events_now(&svc, "dispatched", t).await.len(), 1);
    }
}
