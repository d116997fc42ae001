//! Running trackers, tokens, other services' events, the stream and table counts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use gridloop_platform::auth::Role;
use gridloop_platform::nats::Bus;
use gridloop_platform::outbox::new_event;
use gridloop_platform::testing::{self, TestEnv};
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;
use gridloop_tracker::{App, Clock, ManualClock, Settings, SystemClock};
use pb::ticket_event::Body;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;
use uuid::Uuid;

pub const TOWN: &str = "341504100";
pub const VILLAGE: &str = "341504100001";
pub const GROUP: &str = "341504100001003";
pub const WORKER: &str = "w-zhang";

/// One running tracker.
pub struct Instance {
    pub pool: PgPool,
    pub client: TrackerServiceClient<Channel>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), gridloop_platform::Error>>,
}

impl Instance {
    /// Stops it and waits until it has drained.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("join").expect("tracker ran");
    }
}

pub struct Harness {
    pub env: TestEnv,
    pub bus: Bus,
}

impl Harness {
    pub async fn new() -> Harness {
        let env = TestEnv::new().await;
        let bus = Bus::connect(&env.config("tracker")).await.expect("nats");
        Harness { env, bus }
    }

    pub async fn start(&self, clock: Arc<dyn Clock>) -> Instance {
        let stop = CancellationToken::new();
        let app = App::build_with(
            self.env.config("tracker"),
            Settings::default(),
            clock,
            stop.clone(),
        )
        .await
        .expect("tracker starts");
        let port = app.port();
        let pool = app.pool().clone();
        let task = tokio::spawn(app.run());
        let client = TrackerServiceClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .expect("connect to tracker");
        Instance {
            pool,
            client,
            stop,
            task,
        }
    }

    pub async fn start_real(&self) -> Instance {
        self.start(Arc::new(SystemClock)).await
    }

    pub async fn start_at(&self, clock: &ManualClock) -> Instance {
        self.start(Arc::new(clock.clone())).await
    }

    /// Publishes an event of another service as of `at`, and returns it.
    pub async fn publish(
        &self,
        producer: &str,
        ticket: Uuid,
        body: Body,
        at: DateTime<Utc>,
    ) -> pb::TicketEvent {
        let mut event = new_event(producer, &ticket.to_string(), body);
        event.occurred_at = Some(ts(at));
        testing::publish(&self.bus, &event).await.expect("publish");
        event
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

/// Waits until the tracker has taken `event` in (its inbox holds it).
pub async fn applied(pool: &PgPool, event: &pb::TicketEvent) {
    let id = Uuid::parse_str(&event.event_id).unwrap();
    wait_for("event in the tracker's inbox", || async {
        count(pool, "SELECT count(*) FROM inbox WHERE event_id = $1", id).await == 1
    })
    .await;
}

pub async fn count(pool: &PgPool, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn total(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A local (Asia/Shanghai) time.
pub fn cst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    let local = NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap();
    gridloop_lifecycle::calendar::shanghai()
        .from_local_datetime(&local)
        .unwrap()
        .with_timezone(&Utc)
}

/// Tokens are the platform's test tokens, signed with the secret the test config verifies.
pub use gridloop_platform::testing::token;

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

pub fn discovered(urgency: pb::Urgency) -> Body {
    Body::Discovered(pb::TicketDiscovered {
        channel: pb::Channel::Hotline12345 as i32,
        external_id: format!("12345-{}", Uuid::now_v7().simple()),
        category: Some(pb::Category {
            code: "environment".into(),
            name: "环境卫生".into(),
        }),
        urgency: urgency as i32,
        content: "垃圾堆积".into(),
        contact: Some(pb::MaskedContact {
            masked_phone: "138****5678".into(),
            citizen_key: "ck-1".into(),
        }),
        location: Some(pb::Location {
            point: None,
            address: "城关镇幸福村3组".into(),
            grid_code: GROUP.into(),
        }),
        submitted_by: Some(pb::Actor {
            id: "op-07".into(),
            role: pb::ActorRole::Operator as i32,
        }),
        ..Default::default()
    })
}

pub fn dispatched_to(grid: &str, level: pb::GridLevel, urgency: pb::Urgency, attempt: u32) -> Body {
    Body::Dispatched(pb::TicketDispatched {
        grid_code: grid.into(),
        grid_level: level as i32,
        grid_name: "幸福村3组".into(),
        worker_id: WORKER.into(),
        post: pb::Post::A as i32,
        worker_role: pb::WorkerRole::GridWorker as i32,
        reason: "A post on duty".into(),
        sla_class: urgency as i32,
        attempt,
        category: Some(pb::Category {
            code: "environment".into(),
            name: "环境卫生".into(),
        }),
        channel: pb::Channel::Hotline12345 as i32,
        ..Default::default()
    })
}

pub fn dispatched(urgency: pb::Urgency) -> Body {
    dispatched_to(GROUP, pb::GridLevel::Group, urgency, 1)
}

pub fn accepted() -> Body {
    Body::Accepted(pb::TicketAccepted {
        worker_id: WORKER.into(),
        grid_code: GROUP.into(),
        attempt: 1,
        on_time: true,
    })
}

pub fn disposed() -> Body {
    Body::Disposed(pb::TicketDisposed {
        worker_id: WORKER.into(),
        grid_code: GROUP.into(),
        disposal_type: pb::DisposalType::Resolved as i32,
        result: "已清运".into(),
        evidence_urls: vec!["https://img.example.cn/1.jpg".into()],
        ..Default::default()
    })
}

pub fn satisfied() -> Body {
    Body::FeedbackRecorded(pb::TicketFeedbackRecorded {
        rating: pb::Rating::Satisfied as i32,
        source: pb::FeedbackSource::Citizen as i32,
        reached: true,
        recorded_by: Some(pb::Actor {
            id: "ck-1".into(),
            role: pb::ActorRole::Citizen as i32,
        }),
        ..Default::default()
    })
}

pub fn closed() -> Body {
    Body::Closed(pb::TicketClosed {
        basis: Some(pb::ticket_closed::Basis::Rating(
            pb::Rating::Satisfied as i32,
        )),
        grid_code: GROUP.into(),
        worker_id: WORKER.into(),
        on_time: true,
        ..Default::default()
    })
}

pub fn merged(parent: Uuid, repeat_count: u32) -> Body {
    Body::Merged(pb::TicketMerged {
        parent_ticket_id: parent.to_string(),
        repeat_count,
        channel: pb::Channel::Hotline12345 as i32,
        category: Some(pb::Category {
            code: "environment".into(),
            name: "环境卫生".into(),
        }),
        urgency: pb::Urgency::General as i32,
        contact: Some(pb::MaskedContact {
            masked_phone: "138****5678".into(),
            citizen_key: "ck-1".into(),
        }),
        ..Default::default()
    })
}

/// Waits (bounded, 15s) until `check` holds; delivery is asynchronous.
pub async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    gridloop_platform::testing::wait_for(what, Duration::from_secs(15), check).await;
}

/// Waits (bounded) until `f` yields a value, and returns it.
pub async fn poll<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
