//! Support for gridloop's whole-system tests: all five services — intake, routing, closure,
//! tracker and reports — started in-process for one test against the local PostgreSQL and
//! NATS JetStream, sharing one fresh database (each service migrates its own schema in it) and
//! one fresh stream and subject prefix ([`System::start`]).
//!
//! - [`System`] holds a typed gRPC client per service and mints bearer tokens per role
//!   ([`tokens`]); the tracker runs on a [`ManualClock`] so a test moves time past a deadline
//!   instead of waiting hours.
//! - [`county`] seeds a small county through routing's RPCs: a town, two villages, three groups,
//!   grid workers on A/B posts and chiefs.
//! - [`steps`] are the loop's steps as the real callers make them (submit, accept, return,
//!   transfer, dispose, rate, call back); [`reads`] are the reads that check them (timeline,
//!   loop status, closure's view, ledger, report).
//! - [`settle`]: [`System::settle`] waits, bounded, until every outbox is drained and every
//!   consumer has acknowledged everything on the stream, so a test asserts on a quiet system
//!   instead of sleeping; [`settle::eventually`] polls one condition with a clear timeout
//!   message.
//! - [`stream`] reads every event of the test's stream, for the no-phone-number check.
//! - [`verify`] compares each service's view of every ticket with the stream's replay.

pub mod county;
pub mod reads;
pub mod settle;
pub mod steps;
pub mod stream;
pub mod tokens;
pub mod verify;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use gridloop_client::connect::Traced;
use gridloop_intake::IntakeSettings;
use gridloop_intake::domain::Phone;
use gridloop_platform::testing::TestEnv;
use gridloop_proto::v1::closure_service_client::ClosureServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::report_service_client::ReportServiceClient;
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;
pub use gridloop_tracker::ManualClock;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// The five services of one test, running, with a client for each.
pub struct System {
    pub env: TestEnv,
    pub intake: IntakeServiceClient<Traced>,
    /// A channel to intake, for calls no typed client makes (an unknown method).
    pub intake_channel: Traced,
    pub routing: RoutingServiceClient<Traced>,
    pub closure: ClosureServiceClient<Traced>,
    pub tracker: TrackerServiceClient<Traced>,
    pub reports: ReportServiceClient<Traced>,
    /// Address of the reports' HTML page.
    pub report_page: SocketAddr,
    /// The tracker's clock; starts at the wall-clock time of the start and stands still.
    pub clock: ManualClock,
    /// When the system started (wall clock).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// An administrative pool on the test database (reads outboxes for [`System::settle`]).
    pub db: PgPool,
    /// JetStream on the test's NATS (reads the stream).
    pub bus: gridloop_platform::nats::Bus,
    intake_settings: IntakeSettings,
    /// Every phone number and name handed to a service in this test, for the PII check.
    secrets: Arc<Mutex<Vec<String>>>,
    shutdown: CancellationToken,
}

impl Drop for System {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl System {
    /// Starts intake, routing, closure, tracker and reports on port 0 over a fresh database
    /// and stream, and connects a client to each.
    pub async fn start() -> System {
        let env = TestEnv::new().await;
        let shutdown = CancellationToken::new();
        let started_at = chrono::Utc::now();
        let clock = ManualClock::at(started_at);

        // One after the other: each migrates its schema and ensures the shared stream.
        let cfg = env.config("intake");
        let intake_settings = IntakeSettings::from_lookup(&cfg, |_| None).expect("intake settings");
        let intake =
            gridloop_intake::App::build_with(cfg, intake_settings.clone(), shutdown.clone())
                .await
                .expect("intake starts");
        let routing = gridloop_routing::App::build(env.config("routing"), shutdown.clone())
            .await
            .expect("routing starts");
        let closure = gridloop_closure::App::build_with(
            env.config("closure"),
            gridloop_closure::Settings::default(),
            shutdown.clone(),
        )
        .await
        .expect("closure starts");
        let tracker = gridloop_tracker::App::build_with(
            env.config("tracker"),
            gridloop_tracker::Settings::default(),
            Arc::new(clock.clone()),
            shutdown.clone(),
        )
        .await
        .expect("tracker starts");
        let reports = gridloop_reports::App::build_with(
            env.config("reports"),
            gridloop_reports::Settings {
                http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            },
            shutdown.clone(),
        )
        .await
        .expect("reports starts");

        let ports = [
            intake.port(),
            routing.port(),
            closure.port(),
            tracker.port(),
            reports.port(),
        ];
        let report_page = reports.http_addr();
        tokio::spawn(intake.run());
        tokio::spawn(routing.run());
        tokio::spawn(closure.run());
        tokio::spawn(tracker.run());
        tokio::spawn(reports.run());

        let db = PgPool::connect(&env.database_url)
            .await
            .expect("connect to the test database");
        let bus = gridloop_platform::nats::Bus::connect(&env.config("system"))
            .await
            .expect("connect to NATS");
        System {
            intake: IntakeServiceClient::new(channel(ports[0]).await),
            intake_channel: channel(ports[0]).await,
            routing: RoutingServiceClient::new(channel(ports[1]).await),
            closure: ClosureServiceClient::new(channel(ports[2]).await),
            tracker: TrackerServiceClient::new(channel(ports[3]).await),
            reports: ReportServiceClient::new(channel(ports[4]).await),
            report_page,
            clock,
            started_at,
            db,
            bus,
            env,
            intake_settings,
            secrets: Arc::new(Mutex::new(Vec::new())),
            shutdown,
        }
    }

    /// The opaque citizen key intake derives for `phone` (a citizen token's `sub`).
    pub fn citizen_key(&self, phone: &str) -> String {
        let phone = Phone::parse("phone", phone).expect("a valid phone number");
        self.intake_settings.keys.citizen_key(&phone)
    }

    /// Remembers a phone number or name given to a service: no event may carry it.
    pub fn remember_secret(&self, s: &str) {
        self.secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(s.to_owned());
    }

    /// The phone numbers and names given to services so far.
    pub fn secrets(&self) -> Vec<String> {
        self.secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A channel to the service on `port` whose calls are CLIENT spans, as every caller's are.
async fn channel(port: u16) -> Traced {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to a service");
    Traced::new(channel, None)
}
