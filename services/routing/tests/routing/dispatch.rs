//! Dispatch from `ticket.discovered`: grid resolution, rule lifting, the AB post chain, and
//! exactly-once handling.

use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use prost_types::Timestamp;

use crate::support::*;

#[tokio::test]
async fn grid_is_found_by_code_polygon_and_address_then_falls_back() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;

    // A code carried by the ticket wins; G2 has no posts and no chief: the parent's chief.
    let t1 = new_ticket_id();
    publish(&svc, &discovered(&t1, "neighbor_dispute", at_code("G2"))).await;
    let d = dispatched(&svc, &t1, 1).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("G2", s.chief_v1.as_str())
    );
    assert!(d.reason.contains("grid code G2"), "{}", d.reason);
    assert!(
        d.reason.contains("parent grid chief (幸福村)"),
        "{}",
        d.reason
    );
    assert_eq!(d.post, Post::Unspecified as i32);
    assert_eq!(d.trigger, DispatchTrigger::Discovered as i32);
    assert_eq!(d.attempt, 1);
    assert!(!d.fallback_desk);

    // The GPS point inside G1's boundary (which lies inside V1's): the deeper grid wins.
    let t2 = new_ticket_id();
    publish(
        &svc,
        &discovered(&t2, "neighbor_dispute", at_point(30.02, 120.02)),
    )
    .await;
    let d = dispatched(&svc, &t2, 1).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("G1", s.a_g1.as_str())
    );
    assert_eq!(d.post, Post::A as i32);
    assert_eq!(d.grid_level, GridLevel::Group as i32);
    let dl = d.deadlines.unwrap();
    assert!(dl.respond_by.unwrap().seconds < dl.dispose_by.unwrap().seconds);

    // Address text: 镇, then 村, then 组 — by name or alias.
    let t3 = new_ticket_id();
    publish(
        &svc,
        &discovered(&t3, "neighbor_dispute", at_address("城关镇幸福村4组12号")),
    )
    .await;
    assert_eq!(dispatched(&svc, &t3, 1).await.grid_code, "G2");
    let t4 = new_ticket_id();
    publish(
        &svc,
        &discovered(&t4, "neighbor_dispute", at_address("幸福三组村口")),
    )
    .await;
    assert_eq!(dispatched(&svc, &t4, 1).await.grid_code, "G1");

    // Nothing matches: the county's desk, and unroutable says so.
    let county_chief = worker(&mut svc, "S009", WorkerRole::GridChief, &[], "C").await;
    let t5 = new_ticket_id();
    publish(
        &svc,
        &discovered(&t5, "neighbor_dispute", at_address("人民路1号")),
    )
    .await;
    let d = dispatched(&svc, &t5, 1).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("C", county_chief.as_str())
    );
    assert!(d.fallback_desk);
    let u = wait_events(&svc, "unroutable", &t5, 1).await;
    let Some(Body::Unroutable(u)) = &u[0].body else {
        panic!()
    };
    assert_eq!(u.cause, UnroutableCause::NoGridMatch as i32);
    assert_eq!(u.fallback_grid_code, "C");

    // An unknown code below a known one: the nearest known ancestor's desk.
    let t6 = new_ticket_id();
    publish(&svc, &discovered(&t6, "neighbor_dispute", at_code("T1999"))).await;
    let d = dispatched(&svc, &t6, 1).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("T1", s.a_t1.as_str())
    );
    assert!(d.fallback_desk);
    // A town-only address for a group matter is a fallback too.
    let t7 = new_ticket_id();
    publish(
        &svc,
        &discovered(&t7, "neighbor_dispute", at_address("城关镇某处")),
    )
    .await;
    let d = dispatched(&svc, &t7, 1).await;
    assert_eq!(d.grid_code, "T1");
    assert!(d.fallback_desk);
    assert_eq!(wait_events(&svc, "unroutable", &t7, 1).await.len(), 1);
}

#[tokio::test]
async fn category_rule_lifts_the_grid() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    // 市政设施 is handled by the town, 环境卫生 by the village.
    let t1 = new_ticket_id();
    publish(&svc, &discovered(&t1, "municipal", at_point(30.02, 120.02))).await;
    let d = dispatched(&svc, &t1, 1).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("T1", s.a_t1.as_str())
    );
    assert!(
        d.reason.contains("lifted from 幸福村3组 to 城关镇"),
        "{}",
        d.reason
    );
    assert_eq!(d.grid_level, GridLevel::Town as i32);
    let t2 = new_ticket_id();
    publish(&svc, &discovered(&t2, "environment", at_code("G1"))).await;
    assert_eq!(dispatched(&svc, &t2, 1).await.grid_code, "V1");

    // A changed rule applies to the next ticket; its SLA class sets the deadlines.
    let rule = RoutingRule {
        category_code: "neighbor_dispute".into(),
        handling_level: GridLevel::Village as i32,
        sla_class: Urgency::Urgent as i32,
        updated_at: None,
    };
    svc.client
        .upsert_routing_rule(req(UpsertRoutingRuleRequest { rule: Some(rule) }, &admin()))
        .await
        .unwrap();
    let t3 = new_ticket_id();
    publish(&svc, &discovered(&t3, "neighbor_dispute", at_code("G1"))).await;
    let d = dispatched(&svc, &t3, 1).await;
    assert_eq!(d.grid_code, "V1");
    assert_eq!(d.sla_class, Urgency::Urgent as i32);
    let dl = d.deadlines.unwrap();
    // Urgent: respond within 1 clock hour, dispose within 24.
    let (r, x) = (
        dl.respond_by.unwrap().seconds,
        dl.dispose_by.unwrap().seconds,
    );
    assert_eq!(x - r, 23 * 3600);
}

#[tokio::test]
async fn ab_post_chain_follows_leave_and_capacity() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let now = chrono::Utc::now();
    let ts = |d: chrono::DateTime<chrono::Utc>| Timestamp {
        seconds: d.timestamp(),
        nanos: 0,
    };
    let until = now + chrono::Duration::days(3);
    svc.client
        .set_duty(req(
            SetDutyRequest {
                worker_id: s.a_g1.clone(),
                on_duty: true,
                leave_from: Some(ts(now - chrono::Duration::hours(1))),
                leave_until: Some(ts(until)),
                capacity: None,
                reason: "病假".into(),
            },
            &admin(),
        ))
        .await
        .unwrap();
    let t1 = new_ticket_id();
    publish(&svc, &discovered(&t1, "neighbor_dispute", at_code("G1"))).await;
    let d = dispatched(&svc, &t1, 1).await;
    assert_eq!(d.worker_id, s.b_g1);
    assert_eq!(d.post, Post::B as i32);
    let day = until
        .with_timezone(&gridloop_lifecycle::calendar::shanghai())
        .format("%m-%d")
        .to_string();
    assert!(
        d.reason
            .ends_with(&format!("A post on leave until {day}; B post chosen")),
        "{}",
        d.reason
    );

    // B now holds one task and may hold one: the chain goes on to the parent's chief.
    svc.client
        .set_duty(req(
            SetDutyRequest {
                worker_id: s.b_g1.clone(),
                on_duty: true,
                capacity: Some(1),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .unwrap();
    let t2 = new_ticket_id();
    publish(&svc, &discovered(&t2, "neighbor_dispute", at_code("G1"))).await;
    let d = dispatched(&svc, &t2, 1).await;
    assert_eq!(d.worker_id, s.chief_v1);
    assert!(
        d.reason.contains("B post at capacity (1/1)"),
        "{}",
        d.reason
    );
    assert!(
        d.reason
            .contains("no grid chief; parent grid chief (幸福村) chosen"),
        "{}",
        d.reason
    );

    // Back from leave: A takes the next one.
    svc.client
        .set_duty(req(
            SetDutyRequest {
                worker_id: s.a_g1.clone(),
                on_duty: true,
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .unwrap();
    let t3 = new_ticket_id();
    publish(&svc, &discovered(&t3, "neighbor_dispute", at_code("G1"))).await;
    assert_eq!(dispatched(&svc, &t3, 1).await.worker_id, s.a_g1);
}

#[tokio::test]
async fn a_redelivered_or_merged_discovery_dispatches_once() {
    let mut svc = spawn().await;
    seed(&mut svc).await;
    let t1 = new_ticket_id();
    let ev = discovered(&t1, "neighbor_dispute", at_code("G1"));
    publish(&svc, &ev).await;
    dispatched(&svc, &t1, 1).await;

    // The same event again under another message id (past the stream's dedup): the inbox
    // drops it. The same ticket under a new event id: the ticket is known, no new dispatch.
    use prost::Message;
    let msg = async_nats::jetstream::message::PublishMessage::build()
        .payload(ev.encode_to_vec().into())
        .message_id(format!("redelivery-{}", ev.event_id));
    svc.bus
        .js
        .send_publish(svc.bus.subject("discovered"), msg)
        .await
        .unwrap()
        .await
        .unwrap();
    publish(&svc, &discovered(&t1, "neighbor_dispute", at_code("G1"))).await;

    // A merged submission recorded before its (late) discovery is never dispatched.
    let merged_id = new_ticket_id();
    let merged = gridloop_platform::outbox::new_event(
        "intake",
        &merged_id,
        Body::Merged(TicketMerged {
            parent_ticket_id: t1.clone(),
            repeat_count: 1,
            ..Default::default()
        }),
    );
    publish(&svc, &merged).await;
    publish(
        &svc,
        &discovered(&merged_id, "neighbor_dispute", at_code("G1")),
    )
    .await;

    // Events are handled in order: once a later ticket is dispatched, all of the above were.
    let sentinel = new_ticket_id();
    publish(
        &svc,
        &discovered(&sentinel, "neighbor_dispute", at_code("G1")),
    )
    .await;
    dispatched(&svc, &sentinel, 1).await;
    assert_eq!(events_now(&svc, "dispatched", &t1).await.len(), 1);
    assert!(events_now(&svc, "dispatched", &merged_id).await.is_empty());
    assert_eq!(count(&svc, "tasks").await, 2);
}
