//! Deadlines on the working-day calendar: over a weekend, over National Day with its 调休
//! make-up Saturday; a transfer restarts the respond clock and keeps the dispose deadline.

use chrono::{DateTime, Utc};
use gridloop_proto::{from_ts, v1 as pb};
use uuid::Uuid;

use crate::support::*;

async fn deadlines(h: &Harness, t: &Instance, id: Uuid) -> (DateTime<Utc>, DateTime<Utc>) {
    let status = t
        .client
        .clone()
        .get_loop_status(req(
            pb::GetLoopStatusRequest {
                ticket_id: id.to_string(),
            },
            &supervisor(),
        ))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    let _ = h;
    let due = |k: pb::DeadlineKind| {
        status
            .deadlines
            .iter()
            .find(|d| d.kind == k as i32)
            .and_then(|d| d.due_at.as_ref())
            .and_then(from_ts)
            .expect("deadline")
    };
    (
        due(pb::DeadlineKind::Respond),
        due(pb::DeadlineKind::Dispose),
    )
}

async fn dispatch_general(h: &Harness, t: &Instance, at: DateTime<Utc>) -> Uuid {
    let id = Uuid::now_v7();
    h.publish("intake", id, discovered(pb::Urgency::General), at)
        .await;
    let d = h
        .publish("routing", id, dispatched(pb::Urgency::General), at)
        .await;
    applied(&t.pool, &d).await;
    id
}

#[tokio::test]
async fn general_deadlines_over_a_weekend_and_over_national_day() {
    let h = Harness::new().await;
    let t = h.start_real().await;

    // Friday 16:30: one working hour left that day, the next on Monday morning; three whole
    // working days from Monday.
    let id = dispatch_general(&h, &t, cst(2026, 11, 13, 16, 30)).await;
    let (respond, dispose) = deadlines(&h, &t, id).await;
    assert_eq!(respond, cst(2026, 11, 16, 9, 30));
    assert_eq!(dispose, cst(2026, 11, 18, 17, 30));

    // Wednesday 30 September 10:00, before National Day (1–7 October off): respond by noon;
    // the working days counted are Thursday 8, Friday 9 and the make-up Saturday 10 October.
    let id = dispatch_general(&h, &t, cst(2026, 9, 30, 10, 0)).await;
    let (respond, dispose) = deadlines(&h, &t, id).await;
    assert_eq!(respond, cst(2026, 9, 30, 12, 0));
    assert_eq!(dispose, cst(2026, 10, 10, 17, 30));
}

#[tokio::test]
async fn transfer_restarts_respond_and_keeps_dispose() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let id = dispatch_general(&h, &t, cst(2026, 11, 16, 9, 0)).await;
    let (respond1, dispose1) = deadlines(&h, &t, id).await;
    assert_eq!(respond1, cst(2026, 11, 16, 11, 0));
    h.publish(
        "routing",
        id,
        pb::ticket_event::Body::Transferred(pb::TicketTransferred {
            from_grid_code: GROUP.into(),
            to_grid_code: "341504100002001".into(),
            from_worker_id: WORKER.into(),
            transferred_by: Some(pb::Actor {
                id: WORKER.into(),
                role: pb::ActorRole::Worker as i32,
            }),
            reason: "不属本网格".into(),
        }),
        cst(2026, 11, 17, 15, 0),
    )
    .await;
    let d = h
        .publish(
            "routing",
            id,
            dispatched_to(
                "341504100002001",
                pb::GridLevel::Group,
                pb::Urgency::General,
                2,
            ),
            cst(2026, 11, 17, 15, 0),
        )
        .await;
    applied(&t.pool, &d).await;
    let (respond2, dispose2) = deadlines(&h, &t, id).await;
    assert_eq!(respond2, cst(2026, 11, 17, 17, 0));
    assert_eq!(dispose2, dispose1);
    // The superseded respond clock is kept, stopped; one live clock of each kind.
    let live = count(
        &t.pool,
        "SELECT count(*) FROM timers WHERE ticket_id = $1 AND met_at IS NULL AND cancelled_at IS NULL",
        id,
    )
    .await;
    assert_eq!(live, 2);
}

/// A dispatch while the respond clock still runs (a re-dispatch without a return, e.g. to the
/// chief after an escalation) replaces that clock: the old one stopped, one live clock of
/// each kind, the respond deadline counted from the new dispatch.
#[tokio::test]
async fn a_dispatch_over_a_live_respond_clock_replaces_it() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let id = dispatch_general(&h, &t, cst(2026, 11, 16, 9, 0)).await;
    let d = h
        .publish(
            "routing",
            id,
            dispatched_to(GROUP, pb::GridLevel::Group, pb::Urgency::General, 2),
            cst(2026, 11, 16, 10, 0),
        )
        .await;
    applied(&t.pool, &d).await;
    let (respond, _) = deadlines(&h, &t, id).await;
    assert_eq!(respond, cst(2026, 11, 16, 12, 0));
    let live = count(
        &t.pool,
        "SELECT count(*) FROM timers WHERE ticket_id = $1 AND met_at IS NULL AND cancelled_at IS NULL",
        id,
    )
    .await;
    assert_eq!(live, 2, "one live respond and one live dispose clock");
    let stopped = count(
        &t.pool,
        "SELECT count(*) FROM timers WHERE ticket_id = $1 AND kind = 'respond' AND cancelled_at IS NOT NULL",
        id,
    )
    .await;
    assert_eq!(stopped, 1, "the first respond clock is kept, stopped");
    let open = count(
        &t.pool,
        "SELECT count(*) FROM tickets WHERE ticket_id = $1 AND open",
        id,
    )
    .await;
    assert_eq!(open, 1, "a dispatched ticket is open for the gauge");
}
