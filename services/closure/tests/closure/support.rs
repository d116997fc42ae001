//! A running closure service per test, tokens, routing's events, the stream and table counts.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gridloop_closure::{App, Settings};
use gridloop_platform::auth::Role;
use gridloop_platform::nats::Bus;
use gridloop_platform::outbox::new_event;
use gridloop_platform::testing::{self, TestEnv};
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::closure_service_client::ClosureServiceClient;
use pb::ticket_event::Body;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;
use uuid::Uuid;

pub const GRID: &str = "341504100001";
pub const TOWN: &str = "341504100";
pub const WORKER: &str = "w-zhang";
pub const CITIZEN: &str = "ck-citizen-1";

pub struct Harness {
    pub env: TestEnv,
    pub pool: PgPool,
    pub bus: Bus,
    pub client: ClosureServiceClient<Channel>,
    stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Settings of the tests: no minimum interval between callbacks unless a test says so.
pub fn quick() -> Settings {
    Settings {
        callback_interval: Duration::ZERO,
        callbacks_before_exemption: 3,
        ..Settings::default()
    }
}

pub async fn start() -> Harness {
    start_with(quick()).await
}

pub async fn start_with(settings: Settings) -> Harness {
    let env = TestEnv::new().await;
    let cfg = env.config("closure");
    let bus = Bus::connect(&cfg).await.expect("nats");
    let stop = CancellationToken::new();
    let app = App::build_with(cfg, settings, stop.clone())
        .await
        .expect("closure starts");
    let port = app.port();
    let pool = app.pool().clone();
    tokio::spawn(app.run());
    let client = ClosureServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect to closure");
    Harness {
        env,
        pool,
        bus,
        client,
        stop,
    }
}

/// Tokens are the platform's test tokens, signed with the secret the test config verifies.
pub use gridloop_platform::testing::token;

pub fn worker(sub: &str) -> String {
    token(Role::Worker, sub, &[])
}
pub fn citizen(key: &str) -> String {
    token(Role::Citizen, key, &[])
}
pub fn operator() -> String {
    token(Role::Operator, "op-12345-07", &[])
}
pub fn supervisor() -> String {
    token(Role::Supervisor, "sup-li", &[TOWN])
}

pub fn req<T>(msg: T, bearer: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {bearer}").parse().expect("header"),
    );
    r
}

/// A dispatch as routing sends it.
pub fn dispatched(worker: &str, attempt: u32, dispose_by: DateTime<Utc>) -> Body {
    Body::Dispatched(pb::TicketDispatched {
        grid_code: GRID.into(),
        grid_level: pb::GridLevel::Group as i32,
        grid_name: "幸福村3组".into(),
        worker_id: worker.into(),
        post: pb::Post::A as i32,
        worker_role: pb::WorkerRole::GridWorker as i32,
        reason: "A post on duty".into(),
        sla_class: pb::Urgency::General as i32,
        deadlines: Some(pb::Deadlines {
            respond_by: Some(ts(Utc::now() + chrono::Duration::hours(2))),
            dispose_by: Some(ts(dispose_by)),
        }),
        attempt,
        trigger: if attempt == 1 {
            pb::DispatchTrigger::Discovered as i32
        } else {
            pb::DispatchTrigger::Reopened as i32
        },
        fallback_desk: false,
        category: Some(pb::Category {
            code: "environment".into(),
            name: "环境卫生".into(),
        }),
        channel: pb::Channel::App as i32,
        citizen_key: CITIZEN.into(),
        rework_count: attempt.saturating_sub(1),
    })
}

pub fn accepted(worker: &str, attempt: u32) -> Body {
    Body::Accepted(pb::TicketAccepted {
        worker_id: worker.into(),
        grid_code: GRID.into(),
        attempt,
        on_time: true,
    })
}

impl Harness {
    /// Publishes routing's event and waits until closure has taken it in.
    pub async fn feed(&self, ticket: Uuid, body: Body) -> pb::TicketEvent {
        let event = new_event("routing", &ticket.to_string(), body);
        self.feed_event(&event).await;
        event
    }

    pub async fn feed_event(&self, event: &pb::TicketEvent) {
        testing::publish(&self.bus, event).await.expect("publish");
        self.wait_applied(&event.event_id).await;
    }

    pub async fn wait_applied(&self, event_id: &str) {
        let id = Uuid::parse_str(event_id).expect("event id");
        wait_for("event in closure's inbox", || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM inbox WHERE event_id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .unwrap()
                == 1
        })
        .await;
    }

    /// A ticket dispatched to and accepted by `WORKER`, due in three days.
    pub async fn accepted_ticket(&self) -> Uuid {
        self.accepted_ticket_due(Utc::now() + chrono::Duration::days(3))
            .await
    }

    pub async fn accepted_ticket_due(&self, dispose_by: DateTime<Utc>) -> Uuid {
        let id = Uuid::now_v7();
        self.feed(id, dispatched(WORKER, 1, dispose_by)).await;
        self.feed(id, accepted(WORKER, 1)).await;
        id
    }

    /// A RESOLVED first disposal by `WORKER`, as routing publishes it, taken in by closure.
    pub async fn dispose(&self, id: Uuid) -> pb::TicketEvent {
        self.feed(id, disposed(WORKER, 0)).await
    }

    /// Closure's whole record of the ticket, as a supervisor reads it.
    pub async fn view(&self, id: Uuid) -> pb::GetClosureResponse {
        self.client
            .clone()
            .get_closure(req(
                pb::GetClosureRequest {
                    ticket_id: id.to_string(),
                },
                &supervisor(),
            ))
            .await
            .expect("closure view")
            .into_inner()
    }

    pub async fn counts(&self) -> Counts {
        let n = |table: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {table}"
            )))
            .fetch_one(&self.pool)
            .await
            .unwrap()
        };
        Counts {
            tickets: sqlx::query_scalar(
                "SELECT loop_state::text || updated_at::text FROM tickets ORDER BY ticket_id",
            )
            .fetch_all(&self.pool)
            .await
            .unwrap(),
            disposals: n("disposals").await,
            feedback: n("feedback").await,
            ledger: n("ledger").await,
            outbox: n("outbox").await,
        }
    }

    /// Waits until the stream holds `n` events of `kind` for `ticket`, and returns them.
    pub async fn events(&self, ticket: Uuid, kind: &str, n: usize) -> Vec<pb::TicketEvent> {
        let found = testing::wait_for_events(
            &self.bus,
            kind,
            &ticket.to_string(),
            n,
            Duration::from_secs(15),
        )
        .await;
        assert_eq!(found.len(), n, "exactly {n} {kind} event(s)");
        found
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Counts {
    pub tickets: Vec<String>,
    pub disposals: i64,
    pub feedback: i64,
    pub ledger: i64,
    pub outbox: i64,
}

/// A RESOLVED disposal as routing decides and publishes it.
pub fn disposed(worker: &str, rework_count: u32) -> Body {
    Body::Disposed(pb::TicketDisposed {
        worker_id: worker.into(),
        grid_code: GRID.into(),
        disposal_type: pb::DisposalType::Resolved as i32,
        result: "垃圾已清运，现场已清理".into(),
        evidence_urls: vec!["https://img.example.cn/d/1.jpg".into()],
        disposed_at: Some(ts(Utc::now())),
        unresolvable_reason: String::new(),
        rework_count,
        disposal_id: Uuid::now_v7().to_string(),
    })
}

pub fn rating(id: Uuid, r: pb::Rating) -> pb::SubmitFeedbackRequest {
    pb::SubmitFeedbackRequest {
        ticket_id: id.to_string(),
        rating: r as i32,
        comment: String::new(),
    }
}

pub fn unreached(id: Uuid, at: DateTime<Utc>) -> pb::RecordCallbackRequest {
    pb::RecordCallbackRequest {
        ticket_id: id.to_string(),
        reached: false,
        rating: 0,
        notes: "无人接听".into(),
        called_at: Some(ts(at)),
    }
}

pub fn exemption(id: Uuid, kind: pb::ExemptionKind) -> pb::CloseTicketRequest {
    pb::CloseTicketRequest {
        ticket_id: id.to_string(),
        kind: kind as i32,
        reason: "三次回访未接通，经核实后免于回访".into(),
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
