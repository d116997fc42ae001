//! gRPC clients of the five services, bearer tokens minted with the run's secret (as
//! `gridloopctl token` does), the retry rule for calls that meet a killed process, and the
//! grid tree seeded through routing's admin API.

use std::future::Future;
use std::time::Duration;

use gridloop_platform::auth::{Authenticator, Claims, Role};
use gridloop_proto::v1::closure_service_client::ClosureServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;
use gridloop_proto::v1::{
    Grid, GridLevel, Post, PostAssignment, UpsertGridRequest, UpsertWorkerRequest, WorkerRole,
};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::stack::Stack;

pub const COUNTY: &str = "341504";
pub const TOWN: &str = "341504100";
/// The group grids tickets are submitted to, each with an A and a B post.
pub const GROUPS: [&str; 4] = [
    "341504100201001",
    "341504100201002",
    "341504100202001",
    "341504100202002",
];

/// A client per service, over channels that reconnect by themselves after a restart.
#[derive(Clone)]
pub struct Clients {
    pub intake: IntakeServiceClient<Channel>,
    pub routing: RoutingServiceClient<Channel>,
    pub closure: ClosureServiceClient<Channel>,
    pub tracker: TrackerServiceClient<Channel>,
    auth: Authenticator,
}

fn channel(port: u16) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy())
}

impl Clients {
    pub fn new(stack: &Stack) -> anyhow::Result<Clients> {
        Ok(Clients {
            intake: IntakeServiceClient::new(channel(stack.port("intake"))?),
            routing: RoutingServiceClient::new(channel(stack.port("routing"))?),
            closure: ClosureServiceClient::new(channel(stack.port("closure"))?),
            tracker: TrackerServiceClient::new(channel(stack.port("tracker"))?),
            auth: Authenticator::new(Some(&stack.jwt_secret)),
        })
    }

    /// `msg` with a bearer token for `role` and subject `sub`, valid for three hours.
    pub fn req<T>(&self, msg: T, role: Role, sub: &str, grids: &[&str]) -> Request<T> {
        let now = chrono::Utc::now().timestamp();
        let token = self
            .auth
            .mint(&Claims {
                sub: sub.into(),
                role,
                grids: grids.iter().map(|g| g.to_string()).collect(),
                exp: now + 3 * 3600,
                iat: now,
            })
            .unwrap_or_default();
        let mut r = Request::new(msg);
        if let Ok(v) = format!("Bearer {token}").parse() {
            r.metadata_mut().insert("authorization", v);
        }
        r
    }

    pub fn admin<T>(&self, msg: T) -> Request<T> {
        self.req(msg, Role::Admin, "faults-admin", &[])
    }

    pub fn operator<T>(&self, msg: T) -> Request<T> {
        self.req(msg, Role::Operator, OPERATOR, &[])
    }

    pub fn worker<T>(&self, msg: T, worker_id: &str) -> Request<T> {
        self.req(msg, Role::Worker, worker_id, &[])
    }

    /// The citizen app's backend, rating on a citizen's behalf.
    pub fn app<T>(&self, msg: T) -> Request<T> {
        self.req(msg, Role::Service, "app-backend", &[])
    }
}

pub const OPERATOR: &str = "op-faults";

/// A failure caused by a process being down or restarting: the same call is made again.
pub fn transient(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled
    )
}

/// `call` until it succeeds or fails for a reason other than [`transient`], for at most
/// `limit`.
pub async fn retrying<T, F, Fut>(limit: Duration, mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let until = tokio::time::Instant::now() + limit;
    loop {
        match call().await {
            Err(s) if transient(&s) && tokio::time::Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            other => return other,
        }
    }
}

fn grid(code: &str, name: &str, level: GridLevel, parent: &str) -> Grid {
    Grid {
        code: code.into(),
        name: name.into(),
        level: level as i32,
        parent_code: parent.into(),
        ..Default::default()
    }
}

/// Imports a county with one town, two villages and four groups, an A and a B grid worker
/// on every group, and a chief per village and for the town (they take returned tickets).
pub async fn seed(c: &Clients) -> anyhow::Result<()> {
    let v1 = &GROUPS[0][..12];
    let v2 = &GROUPS[2][..12];
    let grids = vec![
        grid(COUNTY, "清河县", GridLevel::County, ""),
        grid(TOWN, "城关镇", GridLevel::Town, COUNTY),
        grid(v1, "幸福村", GridLevel::Village, TOWN),
        grid(v2, "和平村", GridLevel::Village, TOWN),
        grid(GROUPS[0], "幸福村1组", GridLevel::Group, v1),
        grid(GROUPS[1], "幸福村2组", GridLevel::Group, v1),
        grid(GROUPS[2], "和平村1组", GridLevel::Group, v2),
        grid(GROUPS[3], "和平村2组", GridLevel::Group, v2),
    ];
    let limit = Duration::from_secs(60);
    retrying(limit, || {
        let (mut routing, r) = (
            c.routing.clone(),
            c.admin(UpsertGridRequest {
                grids: grids.clone(),
            }),
        );
        async move { routing.upsert_grid(r).await }
    })
    .await?;

    let mut n = 0;
    let mut worker = |role: WorkerRole, posts: Vec<(&str, Post)>, chief_of: &str| {
        n += 1;
        UpsertWorkerRequest {
            staff_no: format!("F{n:03}"),
            name: format!("网格员F{n:03}"),
            role: role as i32,
            phone: format!("1390001{n:04}"),
            posts: posts
                .into_iter()
                .map(|(g, p)| PostAssignment {
                    grid_code: g.into(),
                    post: p as i32,
                })
                .collect(),
            chief_of_grid_code: chief_of.into(),
            capacity: 0,
        }
    };
    let mut requests = Vec::new();
    for g in GROUPS {
        requests.push(worker(WorkerRole::GridWorker, vec![(g, Post::A)], ""));
        requests.push(worker(WorkerRole::GridWorker, vec![(g, Post::B)], ""));
    }
    requests.push(worker(WorkerRole::GridWorker, vec![(v1, Post::A)], ""));
    requests.push(worker(WorkerRole::GridWorker, vec![(v2, Post::A)], ""));
    requests.push(worker(WorkerRole::GridWorker, vec![(TOWN, Post::A)], ""));
    requests.push(worker(WorkerRole::GridChief, vec![], v1));
    requests.push(worker(WorkerRole::GridChief, vec![], v2));
    requests.push(worker(WorkerRole::GridChief, vec![], TOWN));
    for r in requests {
        retrying(limit, || {
            let (mut routing, r) = (c.routing.clone(), c.admin(r.clone()));
            async move { routing.upsert_worker(r).await }
        })
        .await?;
    }
    Ok(())
}
