//! A running reports service per test, tokens, and publishing events onto its stream.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use gridloop_platform::auth::Role;
use gridloop_platform::nats::Bus;
use gridloop_platform::testing::{self, TestEnv};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::report_service_client::ReportServiceClient;
use gridloop_reports::{App, Settings};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;

pub struct Harness {
    _env: TestEnv,
    pub pool: PgPool,
    pub bus: Bus,
    pub client: ReportServiceClient<Channel>,
    pub http: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub async fn start() -> Harness {
    let env = TestEnv::new().await;
    let cfg = env.config("reports");
    let bus = Bus::connect(&cfg).await.expect("nats");
    let stop = CancellationToken::new();
    let settings = Settings {
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let app = App::build_with(cfg, settings, stop.clone())
        .await
        .expect("build reports");
    let port = app.port();
    let http = app.http_addr();
    let pool = app.pool().clone();
    tokio::spawn(app.run());
    let client = ReportServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect");
    Harness {
        _env: env,
        pool,
        bus,
        client,
        http,
        stop,
    }
}

/// Tokens are the platform's test tokens, signed with the secret the test config verifies.
pub use gridloop_platform::testing::token;

pub fn leader() -> String {
    token(Role::Leader, "leader-1", &[])
}

pub fn req<T>(msg: T, token: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    r
}

/// Waits (bounded, 60s) until `check` holds; delivery is asynchronous.
pub async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    gridloop_platform::testing::wait_for(what, Duration::from_secs(60), check).await;
}

/// Publishes the events in order and waits until the service has applied all of them.
pub async fn feed(h: &Harness, events: &[pb::TicketEvent]) {
    for e in events {
        testing::publish(&h.bus, e).await.expect("publish");
    }
    let pool = h.pool.clone();
    let want = events.len() as i64;
    wait_for("the inbox to hold every event", || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
                .fetch_one(&pool)
                .await
                .unwrap_or(0);
            n >= want
        }
    })
    .await;
}

pub async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .expect("count")
}
