//! 督办: a missed deadline fires once, even with two replicas, within a second; escalation
//! goes one level up per missed deadline; an extension moves the deadline.

use chrono::{DateTime, Duration, Utc};
use gridloop_proto::{from_ts, v1 as pb};
use gridloop_tracker::{ManualClock, firing};
use uuid::Uuid;

use crate::support::*;

async fn due_at(pool: &sqlx::PgPool, id: Uuid, kind: pb::DeadlineKind) -> DateTime<Utc> {
    poll("the clock to start", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar(
                "SELECT due_at FROM timers WHERE ticket_id = $1 AND kind = $2 \
                 AND cancelled_at IS NULL",
            )
            .bind(id)
            .bind(gridloop_tracker::timers::timer_kind::name(kind))
            .fetch_optional(&pool)
            .await
            .unwrap()
        }
    })
    .await
}

#[tokio::test]
async fn overdue_fires_once_with_two_trackers() {
    let h = Harness::new().await;
    // Monday 09:00: urgent tickets run on clock hours.
    let t0 = cst(2026, 11, 16, 9, 0);
    let clock = ManualClock::at(t0);
    let a = h.start_at(&clock).await;
    let b = h.start_at(&clock).await;
    // Teach the trackers the village above the group through another ticket's dispatch.
    let other = Uuid::now_v7();
    h.publish("intake", other, discovered(pb::Urgency::General), t0)
        .await;
    let o = h
        .publish(
            "routing",
            other,
            dispatched_to(VILLAGE, pb::GridLevel::Village, pb::Urgency::General, 1),
            t0,
        )
        .await;
    applied(&a.pool, &o).await;

    let id = Uuid::now_v7();
    h.publish("intake", id, discovered(pb::Urgency::Urgent), t0)
        .await;
    let d = h
        .publish("routing", id, dispatched(pb::Urgency::Urgent), t0)
        .await;
    applied(&a.pool, &d).await;
    let due = due_at(&a.pool, id, pb::DeadlineKind::Respond).await;
    assert_eq!(due, t0 + Duration::hours(1));

    // Past the deadline: both replicas' loops race, and so do eight more rounds run here.
    let later = due + Duration::seconds(1);
    clock.set(later);
    let rounds: Vec<_> = (0..8)
        .map(|_| {
            let pool = a.pool.clone();
            tokio::spawn(async move { firing::fire_due(&pool, later).await.unwrap() })
        })
        .collect();
    for r in rounds {
        r.await.unwrap();
    }
    wait_for("the respond timer to fire", || async {
        count(
            &b.pool,
            "SELECT count(*) FROM timers WHERE ticket_id = $1 AND fired_at IS NOT NULL",
            id,
        )
        .await
            == 1
    })
    .await;

    let overdue = h.events(id, "overdue", 1).await;
    let Some(pb::ticket_event::Body::Overdue(o)) = &overdue[0].body else {
        panic!("overdue body");
    };
    assert_eq!(o.deadline_kind, pb::DeadlineKind::Respond as i32);
    assert_eq!(o.deadline.as_ref().and_then(from_ts), Some(due));
    assert_eq!(o.grid_code, GROUP);
    assert_eq!(o.worker_id, WORKER);
    assert_eq!(o.state, pb::LifecycleState::Reported as i32);
    let escalated = h.events(id, "escalated", 1).await;
    let Some(pb::ticket_event::Body::Escalated(e)) = &escalated[0].body else {
        panic!("escalated body");
    };
    assert_eq!(e.level, pb::GridLevel::Village as i32);
    assert_eq!(e.grid_code, VILLAGE, "the known ancestor is named");
    assert_eq!(e.from_grid_code, GROUP);
    assert_eq!(e.cause, pb::EscalationCause::Overdue as i32);
    assert_eq!(e.escalation_step, 1);
    // Exactly once, wherever it was fired: one outbox row each in the shared schema.
    let rows = |kind: &'static str| {
        let pool = a.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM outbox WHERE ticket_id = $1 AND subject = $2",
            )
            .bind(id.to_string())
            .bind(kind)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(rows("overdue").await, 1);
    assert_eq!(rows("escalated").await, 1);
    // The tracker's own step is recorded as gridloop's, not as nobody's.
    applied(&a.pool, &overdue[0]).await;
    let role: String = sqlx::query_scalar(
        "SELECT actor_role FROM timeline WHERE ticket_id = $1 AND kind = 'overdue'",
    )
    .bind(id)
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert_eq!(role, "system");

    // The status says so, and ListOverdue lists it for the town's supervisor.
    let status = a
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
    assert!(status.overdue);
    assert_eq!(status.escalation_level, pb::GridLevel::Village as i32);
    assert_eq!(status.escalation_grid_code, VILLAGE);
    let listed = b
        .client
        .clone()
        .list_overdue(req(
            pb::ListOverdueRequest {
                kind: pb::DeadlineKind::Respond as i32,
                ..Default::default()
            },
            &supervisor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.tickets.len(), 1);
    assert_eq!(listed.tickets[0].ticket_id, id.to_string());
    let elsewhere = b
        .client
        .clone()
        .list_overdue(req(
            pb::ListOverdueRequest::default(),
            &token(
                gridloop_platform::auth::Role::Supervisor,
                "sup-wang",
                &["341504200"],
            ),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(elsewhere.tickets.is_empty());

    // The dispose deadline (24 h) passes too: one more level up, to the town.
    clock.set(t0 + Duration::hours(25));
    let escalated = h.events(id, "escalated", 2).await;
    let levels: Vec<i32> = escalated
        .iter()
        .map(|e| match &e.body {
            Some(pb::ticket_event::Body::Escalated(x)) => x.level,
            _ => 0,
        })
        .collect();
    assert!(levels.contains(&(pb::GridLevel::Town as i32)));
    assert_eq!(rows("overdue").await, 2);
}

#[tokio::test]
async fn fires_within_a_second_of_the_deadline_and_extension_rearms() {
    let h = Harness::new().await;
    let t = h.start_real().await;
    let id = Uuid::now_v7();
    // Dispatched so that the urgent 1 h respond clock runs out 1.5 s from now.
    let dispatched_at = Utc::now() - Duration::hours(1) + Duration::milliseconds(1500);
    h.publish("intake", id, discovered(pb::Urgency::Urgent), dispatched_at)
        .await;
    let d = h
        .publish(
            "routing",
            id,
            dispatched(pb::Urgency::Urgent),
            dispatched_at,
        )
        .await;
    applied(&t.pool, &d).await;
    let (due, at): (DateTime<Utc>, DateTime<Utc>) = poll("the respond timer to fire", || {
        let pool = t.pool.clone();
        async move {
            sqlx::query_as(
                "SELECT due_at, fired_at FROM timers WHERE ticket_id = $1 AND fired_at IS NOT NULL",
            )
            .bind(id)
            .fetch_optional(&pool)
            .await
            .unwrap()
        }
    })
    .await;
    assert!(at >= due);
    assert!(
        at - due < Duration::seconds(1),
        "fired {} ms after the deadline",
        (at - due).num_milliseconds()
    );

    // A supervisor extends the respond deadline: it is a new deadline and fires again.
    let new_due = Utc::now() + Duration::milliseconds(1200);
    let status = t
        .client
        .clone()
        .grant_extension(req(
            pb::GrantExtensionRequest {
                ticket_id: id.to_string(),
                kind: pb::DeadlineKind::Respond as i32,
                extension: Some(pb::grant_extension_request::Extension::NewDueAt(
                    gridloop_proto::ts(new_due),
                )),
                reason: "村里停电, 延后签收".into(),
            },
            &supervisor(),
        ))
        .await
        .expect("extension granted")
        .into_inner()
        .status
        .unwrap();
    let respond = status
        .deadlines
        .iter()
        .find(|d| d.kind == pb::DeadlineKind::Respond as i32)
        .unwrap();
    assert!(respond.extended);
    assert_eq!(respond.extension_reason, "村里停电, 延后签收");
    h.events(id, "overdue", 2).await;
}
