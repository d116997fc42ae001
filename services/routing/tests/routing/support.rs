//! Starts the real routing service on port 0 against a fresh database and stream, seeds a
//! small grid tree with workers, calls it over gRPC with minted tokens, and reads back the
//! events it published from the stream.

use std::future::Future;
use std::time::Duration;

use gridloop_platform::auth::Role;
use gridloop_platform::nats::Bus;
use gridloop_platform::outbox;
use gridloop_platform::testing::{self, TestEnv};
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use gridloop_routing::App;
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub struct Svc {
    pub env: TestEnv,
    pub client: RoutingServiceClient<Channel>,
    pub bus: Bus,
    shutdown: CancellationToken,
}

impl Drop for Svc {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn() -> Svc {
    let env = TestEnv::new().await;
    let cfg = env.config("routing");
    let shutdown = CancellationToken::new();
    let app = App::build(cfg.clone(), shutdown.clone())
        .await
        .expect("build");
    let port = app.port();
    tokio::spawn(app.run());
    let client = RoutingServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect");
    let bus = Bus::connect(&cfg).await.expect("nats");
    Svc {
        env,
        client,
        bus,
        shutdown,
    }
}

/// Tokens are the platform's test tokens, signed with the secret the test config verifies.
pub use gridloop_platform::testing::token;

pub fn worker_token(id: &str) -> String {
    token(Role::Worker, id, &[])
}

/// A RESOLVED disposal report of `ticket`, with one evidence photo.
pub fn resolved(ticket: &str) -> SubmitDisposalRequest {
    SubmitDisposalRequest {
        ticket_id: ticket.into(),
        disposal_type: DisposalType::Resolved as i32,
        result: "已上门协调，问题解决".into(),
        evidence_urls: vec!["https://img.example.cn/d/1.jpg".into()],
        disposed_at: None,
        unresolvable_reason: String::new(),
    }
}

pub fn admin() -> String {
    token(Role::Admin, "admin-1", &[])
}

pub fn req<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// A direct connection to the test database, in routing's schema (for counting rows).
pub async fn db(svc: &Svc) -> PgConnection {
    let mut c = PgConnection::connect(&svc.env.database_url).await.unwrap();
    sqlx::query("SET search_path TO routing")
        .execute(&mut c)
        .await
        .unwrap();
    c
}

pub async fn count(svc: &Svc, table: &str) -> i64 {
    let mut c = db(svc).await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut c)
        .await
        .unwrap()
}

pub fn grid(code: &str, name: &str, level: GridLevel, parent: &str) -> Grid {
    Grid {
        code: code.into(),
        name: name.into(),
        level: level as i32,
        parent_code: parent.into(),
        ..Default::default()
    }
}

pub fn square(lat0: f64, lng0: f64, side: f64) -> Polygon {
    let p = |lat, lng| GeoPoint { lat, lng };
    Polygon {
        points: vec![
            p(lat0, lng0),
            p(lat0, lng0 + side),
            p(lat0 + side, lng0 + side),
            p(lat0 + side, lng0),
        ],
    }
}

/// Worker ids of the seeded tree.
pub struct Seed {
    pub a_g1: String,
    pub b_g1: String,
    pub chief_v1: String,
    pub a_v1: String,
    pub a_t1: String,
    pub chief_t1: String,
}

/// 清河县 C → 城关镇 T1 → 幸福村 V1 (boundary) → 幸福村3组 G1 (boundary, alias 幸福三组), 幸福村4组 G2;
/// T1 → 和平村 V2. Workers: A and B posts at G1, A post at V1 and T1, chiefs of V1 and T1.
pub async fn seed(svc: &mut Svc) -> Seed {
    let mut v1 = grid("V1", "幸福村", GridLevel::Village, "T1");
    v1.boundary = Some(square(30.0, 120.0, 0.1));
    let mut g1 = grid("G1", "幸福村3组", GridLevel::Group, "V1");
    g1.boundary = Some(square(30.0, 120.0, 0.05));
    g1.aliases = vec!["幸福三组".into()];
    // Children first: the batch may come in any order.
    let grids = vec![
        g1,
        grid("G2", "幸福村4组", GridLevel::Group, "V1"),
        v1,
        grid("V2", "和平村", GridLevel::Village, "T1"),
        grid("T1", "城关镇", GridLevel::Town, "C"),
        grid("C", "清河县", GridLevel::County, ""),
    ];
    let out = svc
        .client
        .upsert_grid(req(UpsertGridRequest { grids }, &admin()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.created, 6);
    Seed {
        a_g1: worker(svc, "S001", WorkerRole::GridWorker, &[("G1", Post::A)], "").await,
        b_g1: worker(svc, "S002", WorkerRole::GridWorker, &[("G1", Post::B)], "").await,
        chief_v1: worker(svc, "S003", WorkerRole::GridChief, &[], "V1").await,
        a_v1: worker(svc, "S004", WorkerRole::GridWorker, &[("V1", Post::A)], "").await,
        a_t1: worker(svc, "S005", WorkerRole::GridWorker, &[("T1", Post::A)], "").await,
        chief_t1: worker(svc, "S006", WorkerRole::GridChief, &[], "T1").await,
    }
}

pub async fn worker(
    svc: &mut Svc,
    staff_no: &str,
    role: WorkerRole,
    posts: &[(&str, Post)],
    chief_of: &str,
) -> String {
    let r = UpsertWorkerRequest {
        staff_no: staff_no.into(),
        name: format!("网格员{staff_no}"),
        role: role as i32,
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
    };
    let w = svc
        .client
        .upsert_worker(req(r, &admin()))
        .await
        .unwrap()
        .into_inner();
    w.worker.unwrap().worker_id
}

pub fn new_ticket_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn discovered(ticket: &str, category: &str, location: Location) -> TicketEvent {
    outbox::new_event(
        "intake",
        ticket,
        Body::Discovered(TicketDiscovered {
            channel: gridloop_proto::v1::Channel::Hotline12345 as i32,
            external_id: format!("ext-{ticket}"),
            category: Some(Category {
                code: category.into(),
                name: category.into(),
            }),
            urgency: Urgency::General as i32,
            content: "楼上漏水".into(),
            contact: Some(MaskedContact {
                masked_phone: "139****0000".into(),
                citizen_key: "ck-1".into(),
            }),
            location: Some(location),
            ..Default::default()
        }),
    )
}

pub fn at_code(code: &str) -> Location {
    Location {
        grid_code: code.into(),
        ..Default::default()
    }
}

pub fn at_point(lat: f64, lng: f64) -> Location {
    Location {
        point: Some(GeoPoint { lat, lng }),
        ..Default::default()
    }
}

pub fn at_address(a: &str) -> Location {
    Location {
        address: a.into(),
        ..Default::default()
    }
}

pub async fn publish(svc: &Svc, ev: &TicketEvent) {
    testing::publish(&svc.bus, ev).await.expect("publish");
}

/// Every event of `kind` about `ticket` on the stream now.
pub async fn events_now(svc: &Svc, kind: &str, ticket: &str) -> Vec<TicketEvent> {
    testing::ticket_events(&svc.bus, kind, ticket).await
}

/// Waits (bounded) until `n` events of `kind` about `ticket` are on the stream; returns them.
pub async fn wait_events(svc: &Svc, kind: &str, ticket: &str, n: usize) -> Vec<TicketEvent> {
    testing::wait_for_events(&svc.bus, kind, ticket, n, Duration::from_secs(15)).await
}

pub async fn dispatched(svc: &Svc, ticket: &str, n: usize) -> TicketDispatched {
    let evs = wait_events(svc, "dispatched", ticket, n).await;
    match evs[n - 1].body.clone() {
        Some(Body::Dispatched(d)) => d,
        other => panic!("not a dispatch: {other:?}"),
    }
}

/// Waits (bounded, 15s) until `check` holds; delivery is asynchronous.
pub async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    gridloop_platform::testing::wait_for(what, Duration::from_secs(15), check).await;
}
