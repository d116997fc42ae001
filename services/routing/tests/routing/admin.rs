//! Grid tree, workers and rules: validation, masking, subtrees.

use gridloop_platform::auth::Role;
use gridloop_proto::v1::*;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let mut svc = spawn().await;
    seed(&mut svc).await;
    let (grids_before, workers_before) = (count(&svc, "grids").await, count(&svc, "workers").await);

    // A valid grid and one one level too deep for its parent: the whole batch is refused.
    let batch = vec![
        grid("V9", "新村", GridLevel::Village, "T1"),
        grid("G9", "新村1组", GridLevel::Group, "T1"),
    ];
    let err = svc
        .client
        .upsert_grid(req(UpsertGridRequest { grids: batch }, &admin()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("grids[1].parent_code"),
        "{}",
        err.message()
    );
    let mut bad = grid("V8", "坏村", GridLevel::Village, "T1");
    bad.boundary = Some(Polygon {
        points: vec![GeoPoint { lat: 1.0, lng: 1.0 }],
    });
    let err = svc
        .client
        .upsert_grid(req(UpsertGridRequest { grids: vec![bad] }, &admin()))
        .await
        .unwrap_err();
    assert!(
        err.message().contains("grids[0].boundary"),
        "{}",
        err.message()
    );

    let w = UpsertWorkerRequest {
        staff_no: "S100".into(),
        name: "张三".into(),
        role: WorkerRole::GridWorker as i32,
        phone: "12ab".into(),
        ..Default::default()
    };
    let err = svc
        .client
        .upsert_worker(req(w, &admin()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("phone"));
    // Workers may not manage the tree.
    let err = svc
        .client
        .upsert_grid(req(
            UpsertGridRequest {
                grids: vec![grid("V7", "七村", GridLevel::Village, "T1")],
            },
            &token(Role::Worker, "w", &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    assert_eq!(count(&svc, "grids").await, grids_before);
    assert_eq!(count(&svc, "workers").await, workers_before);
}

#[tokio::test]
async fn phones_are_masked_and_subtrees_listed_in_order() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let sup = token(Role::Supervisor, "sup-1", &["V1"]);
    let ws = svc
        .client
        .list_workers(req(ListWorkersRequest::default(), &sup))
        .await
        .unwrap()
        .into_inner()
        .workers;
    let ids: Vec<&str> = ws.iter().map(|w| w.worker_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            s.a_g1.as_str(),
            s.b_g1.as_str(),
            s.chief_v1.as_str(),
            s.a_v1.as_str()
        ]
    );
    assert!(ws.iter().all(|w| w.masked_phone == "138****5678"));

    let g = svc
        .client
        .get_grid(req(GetGridRequest { code: "G1".into() }, &sup))
        .await
        .unwrap()
        .into_inner();
    let anc: Vec<&str> = g.ancestors.iter().map(|a| a.code.as_str()).collect();
    assert_eq!(anc, vec!["C", "T1", "V1"]);
    assert_eq!(g.post_holders.len(), 2);
    assert_eq!(g.grid.unwrap().boundary.unwrap().points.len(), 4);

    let page1 = svc
        .client
        .list_grids(req(
            ListGridsRequest {
                root_code: "T1".into(),
                page_size: 3,
                ..Default::default()
            },
            &sup,
        ))
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<&str> = page1.grids.iter().map(|g| g.code.as_str()).collect();
    assert_eq!(codes, vec!["T1", "V1", "G1"]);
    let page2 = svc
        .client
        .list_grids(req(
            ListGridsRequest {
                root_code: "T1".into(),
                page_size: 3,
                page_token: page1.next_page_token,
                ..Default::default()
            },
            &sup,
        ))
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<&str> = page2.grids.iter().map(|g| g.code.as_str()).collect();
    assert_eq!(codes, vec!["G2", "V2"]);
    assert!(page2.next_page_token.is_empty());

    let rules = svc
        .client
        .list_routing_rules(req(ListRoutingRulesRequest::default(), &sup))
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert_eq!(rules.len(), 9);
    let municipal = rules
        .iter()
        .find(|r| r.category_code == "municipal")
        .unwrap();
    assert_eq!(municipal.handling_level, GridLevel::Town as i32);
}
