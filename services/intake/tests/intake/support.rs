//! The real intake service on port 0 over a fresh database and stream, a gRPC client, tokens,
//! and readers for what it wrote (tables) and published (the stream).

use std::time::Duration;

use gridloop_intake::domain::Phone;
use gridloop_intake::{App, IntakeSettings};
use gridloop_platform::auth::Role;
use gridloop_platform::nats::Bus;
use gridloop_platform::testing::{self, TestEnv};
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::*;
use prost::Message;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub struct Harness {
    pub env: TestEnv,
    pub client: IntakeServiceClient<Channel>,
    pub db: PgPool,
    pub settings: IntakeSettings,
    stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub async fn start() -> Harness {
    let env = TestEnv::new().await;
    let cfg = env.config("intake");
    let settings = IntakeSettings::from_lookup(&cfg, |_| None).expect("settings");
    let stop = CancellationToken::new();
    let app = App::build_with(cfg, settings.clone(), stop.clone())
        .await
        .expect("intake starts");
    let port = app.port();
    tokio::spawn(app.run());
    let client = IntakeServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect");
    let db = PgPool::connect(&env.database_url).await.expect("test db");
    Harness {
        env,
        client,
        db,
        settings,
        stop,
    }
}

/// Tokens are the platform's test tokens, signed with the secret the test config verifies.
pub use gridloop_platform::testing::token;

pub fn operator() -> String {
    token(Role::Operator, "op-1", &[])
}

pub fn admin() -> String {
    token(Role::Admin, "admin-1", &[])
}

pub fn service() -> String {
    token(Role::Service, "gateway", &[])
}

/// `msg` with a bearer token.
pub fn req<T>(msg: T, tok: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {tok}").parse().unwrap());
    r
}

pub fn now_ts() -> prost_types::Timestamp {
    gridloop_proto::ts(chrono::Utc::now())
}

pub fn hotline(external_id: &str, phone: &str, category: &str) -> SubmitHotlineTicketRequest {
    SubmitHotlineTicketRequest {
        external_id: external_id.into(),
        operator_id: "op-1".into(),
        caller_phone: phone.into(),
        caller_name: Some("张三华".into()),
        address: "城关镇幸福村3组12号".into(),
        grid_code: "341504100201".into(),
        category_code: category.into(),
        urgency: Urgency::Unspecified as i32,
        content: "楼上邻居深夜噪音扰民".into(),
        recording_url: "https://rec.example.cn/12345/a.mp3".into(),
        received_at: Some(now_ts()),
    }
}

pub fn app_ticket(id: &str, phone: &str, category: &str) -> SubmitAppTicketRequest {
    SubmitAppTicketRequest {
        channel: Channel_::App as i32,
        submission_id: id.into(),
        citizen_phone: phone.into(),
        citizen_name: None,
        content: "路灯不亮已经一周".into(),
        category_code: category.into(),
        photo_urls: vec!["https://img.example.cn/1.jpg".into()],
        point: Some(GeoPoint {
            lat: 31.2,
            lng: 117.1,
        }),
        address: String::new(),
        submitted_at: Some(now_ts()),
    }
}

pub use gridloop_proto::v1::Channel as Channel_;

impl Harness {
    pub fn citizen_key(&self, phone: &str) -> String {
        self.settings
            .keys
            .citizen_key(&Phone::parse("p", phone).unwrap())
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = match table {
            "tickets" => "SELECT count(*) FROM intake.tickets",
            "outbox" => "SELECT count(*) FROM intake.outbox",
            "devices" => "SELECT count(*) FROM intake.devices",
            _ => panic!("unknown table {table}"),
        };
        sqlx::query_scalar(sql).fetch_one(&self.db).await.unwrap()
    }

    /// Every event of `kind` intake published, once its outbox is drained.
    pub async fn published(&self, kind: &str) -> Vec<TicketEvent> {
        let db = self.db.clone();
        wait_for("the outbox to drain", Duration::from_secs(10), || {
            let db = db.clone();
            async move {
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM intake.outbox WHERE sent_at IS NULL",
                )
                .fetch_one(&db)
                .await
                .unwrap()
                    == 0
            }
        })
        .await;
        let bus = Bus::connect(&self.env.config("intake"))
            .await
            .expect("connect to NATS");
        testing::stream_events(&bus, Some(kind))
            .await
            .into_iter()
            .map(|m| m.event)
            .collect()
    }
}

pub use gridloop_platform::testing::wait_for;

/// Submits every request as an operator's hotline ticket at the same moment, each from its own
/// task and connection stream; the answers in request order.
pub async fn submit_at_once(
    h: &Harness,
    requests: Vec<SubmitHotlineTicketRequest>,
) -> Vec<Result<SubmitTicketResponse, Status>> {
    let calls = requests.into_iter().map(|msg| {
        let mut client = h.client.clone();
        tokio::spawn(async move {
            client
                .submit_hotline_ticket(req(msg, &operator()))
                .await
                .map(|r| r.into_inner())
        })
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("call task"))
        .collect()
}

/// [`submit_at_once`] where every call must be accepted.
pub async fn accepted_at_once(
    h: &Harness,
    requests: Vec<SubmitHotlineTicketRequest>,
) -> Vec<SubmitTicketResponse> {
    submit_at_once(h, requests)
        .await
        .into_iter()
        .map(|r| r.expect("accepted"))
        .collect()
}

/// How many of `answers` came out as `outcome`.
pub fn with_outcome(answers: &[SubmitTicketResponse], outcome: SubmitOutcome) -> usize {
    answers.iter().filter(|a| a.outcome() == outcome).count()
}

/// Asserts `INVALID_ARGUMENT` naming `field` (in the message and the BadRequest details).
pub fn assert_invalid(status: &Status, field: &str) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
    let bad = status
        .get_details_bad_request()
        .expect("bad request details");
    assert_eq!(bad.field_violations[0].field, field, "{status:?}");
    assert!(status.message().contains(field));
}

/// No phone number in clear anywhere in the event: neither in its fields nor its bytes.
pub fn assert_no_phone(event: &TicketEvent, phone_digits: &str) {
    let debug = format!("{event:?}");
    assert!(!debug.contains(phone_digits), "phone leaked: {debug}");
    let bytes = event.encode_to_vec();
    assert!(
        !bytes
            .windows(phone_digits.len())
            .any(|w| w == phone_digits.as_bytes()),
        "phone leaked in the encoded event"
    );
}
