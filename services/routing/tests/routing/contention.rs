//! Many tickets on two workers at once: 退单 both ways, 转办, 签收 and new discoveries race
//! for the same worker rows. Every call must end in success or a proper refusal (never
//! INTERNAL, which a deadlock would surface as), and the open-task counts on the workers'
//! rows must match the tasks table afterwards.

use futures::future::join_all;
use gridloop_platform::auth::Role;
use gridloop_proto::v1::*;
use tonic::Code;

use crate::support::*;

const TICKETS: usize = 20;

fn worker_token(id: &str) -> String {
    token(Role::Worker, id, &[])
}

/// The outcome of one racing call: Ok, or a refusal that is not INTERNAL/UNKNOWN.
fn settled(what: &str, r: Result<(), tonic::Status>) {
    if let Err(s) = r {
        assert!(
            !matches!(s.code(), Code::Internal | Code::Unknown | Code::Unavailable),
            "{what}: {:?} {}",
            s.code(),
            s.message()
        );
    }
}

#[tokio::test]
async fn returns_transfers_accepts_and_dispatches_racing_on_two_workers_all_settle() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    // G1's A post (a_g1) gets every ticket found at G1; its return goes to V1's A post
    // (a_v1), whose return or transfer back to G1 goes to a_g1 again: two workers, locked
    // in both directions.
    let tickets: Vec<String> = (0..TICKETS).map(|_| new_ticket_id()).collect();
    for t in &tickets {
        publish(&svc, &discovered(t, "neighbor_dispute", at_code("G1"))).await;
    }
    for t in &tickets {
        assert_eq!(dispatched(&svc, t, 1).await.worker_id, s.a_g1);
    }
    // Half of them go to a_v1 first, so the race below has tickets on both sides.
    let (at_v1, at_g1) = tickets.split_at(TICKETS / 2);
    for t in at_v1 {
        let r = ReturnTaskRequest {
            ticket_id: t.clone(),
            reason: ReturnReason::NotMyGrid as i32,
            reason_text: String::new(),
        };
        svc.client
            .return_task(req(r, &worker_token(&s.a_g1)))
            .await
            .unwrap();
        assert_eq!(dispatched(&svc, t, 2).await.worker_id, s.a_v1);
    }

    let fresh: Vec<String> = (0..TICKETS).map(|_| new_ticket_id()).collect();
    let mut calls = Vec::new();
    for (i, t) in at_g1.iter().enumerate() {
        // a_g1 → a_v1, with an accept of the same ticket racing it.
        let mut c = svc.client.clone();
        let (ticket, who) = (t.clone(), s.a_g1.clone());
        calls.push(tokio::spawn(async move {
            let r = ReturnTaskRequest {
                ticket_id: ticket,
                reason: ReturnReason::NotMyGrid as i32,
                reason_text: String::new(),
            };
            let out = c.return_task(req(r, &worker_token(&who))).await.map(|_| ());
            settled(&format!("return {i} by a_g1"), out);
        }));
        let mut c = svc.client.clone();
        let (t, who) = (t.clone(), s.a_g1.clone());
        calls.push(tokio::spawn(async move {
            let r = AcceptTaskRequest { ticket_id: t };
            let out = c.accept_task(req(r, &worker_token(&who))).await.map(|_| ());
            settled(&format!("accept {i} by a_g1"), out);
        }));
    }
    for (i, t) in at_v1.iter().enumerate() {
        // a_v1 → a_g1: every other one by 退单, the rest by 转办 back to G1.
        let mut c = svc.client.clone();
        let (t, who) = (t.clone(), s.a_v1.clone());
        calls.push(tokio::spawn(async move {
            let out = if i % 2 == 0 {
                let r = ReturnTaskRequest {
                    ticket_id: t,
                    reason: ReturnReason::NotMyGrid as i32,
                    reason_text: String::new(),
                };
                c.return_task(req(r, &worker_token(&who))).await.map(|_| ())
            } else {
                let r = TransferTaskRequest {
                    ticket_id: t,
                    to_grid_code: "G1".into(),
                    reason: "属三组".into(),
                };
                c.transfer_task(req(r, &worker_token(&who)))
                    .await
                    .map(|_| ())
            };
            settled(&format!("return/transfer {i} by a_v1"), out);
        }));
    }
    // New tickets dispatched to a_g1 by the consumer meanwhile.
    for t in &fresh {
        publish(&svc, &discovered(t, "neighbor_dispute", at_code("G1"))).await;
    }
    for c in join_all(calls).await {
        c.expect("call task panicked");
    }
    for t in &fresh {
        assert_eq!(dispatched(&svc, t, 1).await.worker_id, s.a_g1);
    }

    let mut db = db(&svc).await;
    // Every ticket has exactly one standing HANDLE task: none lost, none doubled.
    let standing: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT k.ticket_id, count(t.id) FROM tickets k \
         LEFT JOIN tasks t ON t.ticket_id = k.ticket_id AND t.kind = 'handle' AND t.current \
         GROUP BY k.ticket_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(standing.len(), 2 * TICKETS);
    assert!(standing.iter().all(|(_, n)| *n == 1), "{standing:?}");
    // The counters on the workers' rows agree with the tasks table.
    let drift: Vec<(uuid::Uuid, i32, i64)> = sqlx::query_as(
        "SELECT w.worker_id, w.open_tasks, (SELECT count(*) FROM tasks t \
           WHERE t.worker_id = w.worker_id AND t.kind = 'handle' AND t.current AND t.state IN ('pending_accept', 'accepted')) \
         FROM workers w",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(
        drift
            .iter()
            .all(|(_, kept, real)| i64::from(*kept) == *real),
        "{drift:?}"
    );
    let total: i64 = drift.iter().map(|d| d.2).sum();
    assert_eq!(total, 2 * TICKETS as i64);
    // Nothing was dead-lettered by the consumer either.
    assert_eq!(count(&svc, "dead_letters").await, 0);
}
