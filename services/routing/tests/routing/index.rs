//! The in-memory grid index stays current: a grid or rule changed through the RPCs is used by
//! the next dispatch, and replicas see each other's changes.

use gridloop_platform::auth::Role;
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::*;
use gridloop_routing::App;
use tokio_util::sync::CancellationToken;

use crate::support::*;

#[tokio::test]
async fn a_grid_or_rule_upserted_through_the_rpc_is_used_by_the_next_dispatch() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;

    // 新华村 does not exist yet: the address only names the town, whose desk takes it.
    let t1 = new_ticket_id();
    publish(
        &svc,
        &discovered(&t1, "neighbor_dispute", at_address("城关镇新华村1组5号")),
    )
    .await;
    let d = dispatched(&svc, &t1, 1).await;
    assert_eq!(d.grid_code, "T1", "{}", d.reason);
    assert!(d.fallback_desk);

    let mut v3 = grid("V3", "新华村", GridLevel::Village, "T1");
    v3.aliases = vec!["新华".into()];
    let grids = vec![v3, grid("G3", "新华村1组", GridLevel::Group, "V3")];
    svc.client
        .upsert_grid(req(UpsertGridRequest { grids }, &admin()))
        .await
        .unwrap();
    let a_g3 = worker(
        &mut svc,
        "S010",
        WorkerRole::GridWorker,
        &[("G3", Post::A)],
        "",
    )
    .await;
    let a_v3 = worker(
        &mut svc,
        "S011",
        WorkerRole::GridWorker,
        &[("V3", Post::A)],
        "",
    )
    .await;

    let t2 = new_ticket_id();
    publish(
        &svc,
        &discovered(&t2, "neighbor_dispute", at_address("城关镇新华村1组5号")),
    )
    .await;
    let d = dispatched(&svc, &t2, 1).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("G3", a_g3.as_str()),
        "{}",
        d.reason
    );
    assert!(!d.fallback_desk);
    assert_ne!(d.worker_id, s.a_g1);

    // The rule now sends neighbour disputes to the village: the next one is lifted to V3.
    let rule = RoutingRule {
        category_code: "neighbor_dispute".into(),
        handling_level: GridLevel::Village as i32,
        sla_class: Urgency::General as i32,
        updated_at: None,
    };
    svc.client
        .upsert_routing_rule(req(UpsertRoutingRuleRequest { rule: Some(rule) }, &admin()))
        .await
        .unwrap();
    let t3 = new_ticket_id();
    publish(&svc, &discovered(&t3, "neighbor_dispute", at_code("G3"))).await;
    let d = dispatched(&svc, &t3, 1).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("V3", a_v3.as_str()),
        "{}",
        d.reason
    );
    assert!(
        d.reason.contains("lifted from 新华村1组 to 新华村"),
        "{}",
        d.reason
    );
}

#[tokio::test]
async fn two_replicas_see_each_others_grid_changes() {
    let mut svc = spawn().await;
    seed(&mut svc).await;
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let app = App::build(svc.env.config("routing"), stop).await.unwrap();
    let port = app.port();
    tokio::spawn(app.run());
    let mut other = RoutingServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();

    let t = new_ticket_id();
    publish(&svc, &discovered(&t, "neighbor_dispute", at_code("G1"))).await;
    dispatched(&svc, &t, 1).await;
    let sup = token(Role::Supervisor, "sup-1", &["T1"]);
    let to = |grid: &str| TransferTaskRequest {
        ticket_id: t.clone(),
        to_grid_code: grid.into(),
        reason: "辖区调整".into(),
    };
    // Both replicas dispatch once, so each holds a loaded, current index.
    svc.client.transfer_task(req(to("V2"), &sup)).await.unwrap();
    assert_eq!(dispatched(&svc, &t, 2).await.grid_code, "V2");
    other.transfer_task(req(to("G2"), &sup)).await.unwrap();
    assert_eq!(dispatched(&svc, &t, 3).await.grid_code, "G2");

    // A village created through the second replica: the first dispatches into it.
    let grids = vec![grid("V3", "新华村", GridLevel::Village, "T1")];
    other
        .upsert_grid(req(UpsertGridRequest { grids }, &admin()))
        .await
        .unwrap();
    let a_v3 = worker(
        &mut svc,
        "S010",
        WorkerRole::GridWorker,
        &[("V3", Post::A)],
        "",
    )
    .await;
    svc.client.transfer_task(req(to("V3"), &sup)).await.unwrap();
    let d = dispatched(&svc, &t, 4).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("V3", a_v3.as_str())
    );

    // A group created through the first: the second dispatches into it.
    let grids = vec![grid("G5", "新华村5组", GridLevel::Group, "V3")];
    svc.client
        .upsert_grid(req(UpsertGridRequest { grids }, &admin()))
        .await
        .unwrap();
    let a_g5 = worker(
        &mut svc,
        "S011",
        WorkerRole::GridWorker,
        &[("G5", Post::A)],
        "",
    )
    .await;
    other.transfer_task(req(to("G5"), &sup)).await.unwrap();
    let d = dispatched(&svc, &t, 5).await;
    assert_eq!(
        (d.grid_code.as_str(), d.worker_id.as_str()),
        ("G5", a_g5.as_str())
    );
}
