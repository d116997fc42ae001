//! Supervisors write only inside their subtrees; routing rules are county-wide policy.

use gridloop_platform::auth::Role;
use gridloop_proto::v1::*;
use tonic::Code;

use crate::support::*;

fn denied(err: tonic::Status, grid: &str) {
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    assert!(
        err.message().contains(&format!("grid {grid} ")),
        "{}",
        err.message()
    );
}

fn person(staff_no: &str, posts: &[(&str, Post)], chief_of: &str) -> UpsertWorkerRequest {
    UpsertWorkerRequest {
        staff_no: staff_no.into(),
        name: "网格员".into(),
        role: if chief_of.is_empty() {
            WorkerRole::GridWorker
        } else {
            WorkerRole::GridChief
        } as i32,
        phone: "13812345678".into(),
        posts: posts
            .iter()
            .map(|(g, p)| PostAssignment {
                grid_code: g.to_string(),
                post: *p as i32,
            })
            .collect(),
        chief_of_grid_code: chief_of.into(),
        capacity: 0,
    }
}

#[tokio::test]
async fn a_supervisor_writes_grids_and_workers_only_inside_their_subtree() {
    let mut svc = spawn().await;
    let s = seed(&mut svc).await;
    let sup = token(Role::Supervisor, "staff-9", &["V1"]);
    let grids_before = count(&svc, "grids").await;

    // Inside V1: a new group.
    let g3 = grid("G3", "幸福村5组", GridLevel::Group, "V1");
    svc.client
        .upsert_grid(req(UpsertGridRequest { grids: vec![g3] }, &sup))
        .await
        .unwrap();
    assert_eq!(count(&svc, "grids").await, grids_before + 1);

    // A group under V2, renaming V1 (its parent T1 is outside), renaming V2: refused, nothing written.
    let cases = [
        (grid("G4", "和平村1组", GridLevel::Group, "V2"), "G4"),
        (grid("V1", "幸福新村", GridLevel::Village, "T1"), "T1"),
        (grid("V2", "和平新村", GridLevel::Village, "T1"), "V2"),
    ];
    for (g, named) in cases {
        let err = svc
            .client
            .upsert_grid(req(UpsertGridRequest { grids: vec![g] }, &sup))
            .await
            .unwrap_err();
        denied(err, named);
    }
    assert_eq!(count(&svc, "grids").await, grids_before + 1);
    let mut c = db(&svc).await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM grids WHERE code IN ('V1', 'V2') ORDER BY code")
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert_eq!(names, ["幸福村", "和平村"]);

    // Workers: posts inside pass; a post or chief grid outside, or taking over S005 (T1), do not.
    let workers_before = count(&svc, "workers").await;
    svc.client
        .upsert_worker(req(person("S100", &[("G3", Post::A)], ""), &sup))
        .await
        .unwrap();
    assert_eq!(count(&svc, "workers").await, workers_before + 1);
    let cases = [
        (
            person("S101", &[("G1", Post::B), ("V2", Post::A)], ""),
            "V2",
        ),
        (person("S102", &[], "T1"), "T1"),
        (person("S005", &[("G3", Post::B)], ""), "T1"),
    ];
    for (w, named) in cases {
        let err = svc.client.upsert_worker(req(w, &sup)).await.unwrap_err();
        denied(err, named);
    }
    assert_eq!(count(&svc, "workers").await, workers_before + 1);
    let posts: Vec<String> = sqlx::query_scalar(
        "SELECT p.grid_code FROM posts p JOIN workers w USING (worker_id) WHERE w.staff_no = 'S005'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(posts, ["T1"]);

    // Duty: G1's A post is theirs, T1's is not.
    let off = |id: &str| SetDutyRequest {
        worker_id: id.into(),
        on_duty: false,
        reason: "请假".into(),
        ..Default::default()
    };
    svc.client.set_duty(req(off(&s.a_g1), &sup)).await.unwrap();
    let err = svc
        .client
        .set_duty(req(off(&s.a_t1), &sup))
        .await
        .unwrap_err();
    denied(err, "T1");
    let on: bool = sqlx::query_scalar("SELECT on_duty FROM workers WHERE worker_id = $1::uuid")
        .bind(&s.a_t1)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert!(on, "a refused SetDuty wrote nothing");

    // An admin is unrestricted.
    svc.client
        .set_duty(req(off(&s.a_t1), &admin()))
        .await
        .unwrap();
}

#[tokio::test]
async fn routing_rules_need_an_admin_or_a_supervisor_of_the_county() {
    let mut svc = spawn().await;
    seed(&mut svc).await;
    let rule = |level: GridLevel| UpsertRoutingRuleRequest {
        rule: Some(RoutingRule {
            category_code: "municipal".into(),
            handling_level: level as i32,
            sla_class: Urgency::General as i32,
            ..Default::default()
        }),
    };
    assert_eq!(level(&svc).await, "town");

    let town = token(Role::Supervisor, "staff-9", &["T1"]);
    let err = svc
        .client
        .upsert_routing_rule(req(rule(GridLevel::Village), &town))
        .await
        .unwrap_err();
    denied(err, "C");
    assert_eq!(level(&svc).await, "town");

    let county = token(Role::Supervisor, "staff-8", &["C"]);
    svc.client
        .upsert_routing_rule(req(rule(GridLevel::Village), &county))
        .await
        .unwrap();
    assert_eq!(level(&svc).await, "village");
    svc.client
        .upsert_routing_rule(req(rule(GridLevel::Town), &admin()))
        .await
        .unwrap();
    assert_eq!(level(&svc).await, "town");
}

async fn level(svc: &Svc) -> String {
    let mut c = db(svc).await;
    sqlx::query_scalar("SELECT handling_level FROM routing_rules WHERE category_code = 'municipal'")
        .fetch_one(&mut c)
        .await
        .unwrap()
}
