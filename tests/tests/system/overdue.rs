//! 督办: nobody signs for a ticket; once the tracker's clock passes the respond deadline it
//! fires `overdue` and escalates one level up, and routing gives the village chief a 督办
//! task.

use chrono::Duration;
use gridloop_proto::from_ts;
use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;
use gridloop_system_tests::settle::eventually;
use gridloop_system_tests::tokens::{req, worker};

#[tokio::test]
async fn unaccepted_ticket_goes_overdue_and_the_village_chief_supervises_it() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let sub = sys
        .submit_hotline("GD-OD-1", "13855556666", G11, "neighbor_dispute")
        .await;
    let t = sub.ticket_id.as_str();
    sys.expect_dispatch(t, 1, G11, &c.a_g11).await;

    let status = sys.loop_status(t).await;
    assert!(!status.overdue);
    let respond = status
        .deadlines
        .iter()
        .find(|d| d.kind() == DeadlineKind::Respond)
        .expect("a respond clock");
    let due = from_ts(respond.due_at.as_ref().unwrap()).unwrap();
    assert!(due > sys.started_at, "the deadline lies ahead");

    // Nothing fires before the deadline...
    sys.clock.set(due - Duration::minutes(1));
    sys.settle().await;
    assert!(!sys.timeline_kinds(t).await.iter().any(|k| k == "overdue"));
    // ...and once it has passed, 督办 and 层级上报 follow.
    sys.clock.set(due + Duration::minutes(1));
    let timeline = sys.wait_timeline(t, "escalated").await;
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["discovered", "dispatched", "overdue", "escalated"]);
    let overdue = &timeline[2];
    assert_eq!(overdue.producer, "tracker");
    assert!(!overdue.violation);
    assert_eq!(
        overdue.to_state(),
        LifecycleState::Reported,
        "overdue does not move the loop"
    );
    sys.settle().await;

    let status = sys.loop_status(t).await;
    assert!(status.overdue);
    assert_eq!(status.escalation_level(), GridLevel::Village);
    let on_stream = sys.all_events().await;
    let escalated = on_stream
        .iter()
        .find_map(|p| match &p.event.body {
            Some(ticket_event::Body::Escalated(e)) if p.event.ticket_id == t => Some(e.clone()),
            _ => None,
        })
        .expect("an escalated event");
    assert_eq!(escalated.cause(), EscalationCause::Overdue);
    assert_eq!(escalated.deadline_kind(), DeadlineKind::Respond);
    assert_eq!(escalated.from_grid_code, G11);

    // Routing: a 督办 task for 幸福村's chief, nobody else's.
    let supervise = |who: String| {
        let mut routing = sys.routing.clone();
        async move {
            routing
                .list_my_tasks(req(
                    ListMyTasksRequest {
                        kind: TaskKind::Supervise as i32,
                        ..Default::default()
                    },
                    &worker(&who, &[]),
                ))
                .await
                .expect("task list")
                .into_inner()
                .tasks
        }
    };
    let tasks = eventually("a 督办 task for the village chief", || async {
        let tasks = supervise(c.chief_v1.clone()).await;
        if tasks.iter().any(|x| x.ticket_id == t) {
            Ok(tasks)
        } else {
            Err(format!("{tasks:?}"))
        }
    })
    .await;
    let task = tasks.iter().find(|x| x.ticket_id == t).unwrap();
    assert_eq!(task.kind(), TaskKind::Supervise);
    assert!(
        task.supervision_note.contains("签收超期"),
        "{}",
        task.supervision_note
    );
    assert!(supervise(c.chief_v2.clone()).await.is_empty());
    assert!(supervise(c.chief_town.clone()).await.is_empty());

    // The tracker lists it as overdue for the town, and the report counts it.
    let overdue_list = sys
        .tracker
        .clone()
        .list_overdue(req(
            ListOverdueRequest {
                grid_code: TOWN.into(),
                ..Default::default()
            },
            &gridloop_system_tests::tokens::supervisor(),
        ))
        .await
        .expect("overdue list")
        .into_inner();
    assert!(overdue_list.tickets.iter().any(|o| o.ticket_id == t));
    let r = sys.totals(TOWN).await;
    assert_eq!((r.received, r.open, r.open_overdue), (1, 1, 1));
    sys.assert_no_pii_on_stream().await;
}
