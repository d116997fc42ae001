//! gridloop's tracker service: the closed loop's authority. It consumes every event on the
//! `TICKETS` stream and replays it through the `lifecycle` rules, so it knows where every
//! ticket stands, how long each step took and who must be chased.
//!
//! - **Timeline** ([`consume`]): every event, applied or not, with time, kind, producer, actor
//!   (ids only; digit runs that could be a phone number are masked), grid and a one-line
//!   summary — the append-only audit trail.
//! - **Violations**: an event the rules reject is recorded and published as
//!   `ticket.violation`, never applied. `overdue`, `escalated` and `violation` (including the
//!   tracker's own, which come back on the stream) are informational: timeline only.
//! - **SLA clocks** ([`timers`]): respond, dispose and feedback deadlines from SLA rules by
//!   category × urgency (data in `sla_rules`, seeded, managed over gRPC), on the working-day
//!   calendar (`Calendar::china_default`: holidays and 调休).
//! - **督办 and escalation** ([`firing`], [`escalate`]): a deadline that passes while its
//!   clock runs fires `ticket.overdue` and `ticket.escalated` one grid level up, exactly once
//!   even with several replicas; repeat complaints escalate at configured counts.
//!
//! Replicas: one consumes the stream at a time (order matters to the verdicts; the platform's
//! `leader` module elects it), every replica serves gRPC and fires timers.
//!
//! Time is read from an injectable [`Clock`], so tests move it past a deadline.

mod api;
pub mod clock;
pub mod consume;
mod domain;
mod error;
pub mod escalate;
mod extension;
pub mod firing;
mod gauges;
mod queries;
pub mod settings;
mod sla;
mod store;
pub mod timers;
mod translate;

use std::sync::Arc;

use gridloop_lifecycle::{Calendar, Kind};
use gridloop_platform::service::Host;
use gridloop_platform::{Config, Error};
use gridloop_proto::v1::tracker_service_server::TrackerServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

pub use clock::{Clock, ManualClock, SystemClock};
pub use settings::Settings;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The tracker consumes every event kind.
pub const CONSUMES: [Kind; 14] = Kind::ALL;

/// How `tracker verify` reads the tracker's view: every ticket, from every event.
pub const VIEW: gridloop_platform::verify::Spec = gridloop_platform::verify::Spec {
    kinds: &Kind::names(CONSUMES),
    view: gridloop_platform::verify::View::LoopStates {
        query: "SELECT ticket_id::text, loop_state FROM tickets",
        scope: gridloop_platform::verify::Scope::All,
    },
};

/// A tracker service ready to run.
pub struct App {
    host: Host,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

impl App {
    /// Builds the service on the system clock with settings from the environment
    /// (`GRIDLOOP_TRACKER_*`, see [`Settings`]).
    pub async fn build(cfg: Config, shutdown: CancellationToken) -> Result<App, Error> {
        Self::build_with(cfg, Settings::from_env()?, Arc::new(SystemClock), shutdown).await
    }

    /// Builds the service with explicit settings and clock (tests use a [`ManualClock`]).
    pub async fn build_with(
        cfg: Config,
        settings: Settings,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<App, Error> {
        let host = Host::start(cfg, &MIGRATOR, shutdown).await?;
        Ok(App {
            host,
            settings,
            clock,
        })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    /// The service's own pool (role `gridloop_tracker`).
    pub fn pool(&self) -> &PgPool {
        &self.host.pool
    }

    /// Runs the relay, the consumer of every event, the timer loop and the gRPC server until
    /// shutdown.
    pub async fn run(self) -> Result<(), Error> {
        let App {
            mut host,
            settings,
            clock,
        } = self;
        let calendar = Arc::new(Calendar::china_default());
        let wake = Arc::new(firing::Wake::default());
        host.spawn_relay();
        host.spawn(gauges::run(
            host.pool.clone(),
            clock.clone(),
            host.shutdown.clone(),
        ));
        host.spawn(firing::run(
            host.pool.clone(),
            clock.clone(),
            wake.clone(),
            settings.timer_tick,
            host.shutdown.clone(),
        ));
        // Every kind; the platform lets one replica consume at a time, so verdicts see the
        // stream's order.
        host.spawn_consumer(
            &VIEW,
            consume::Tracker {
                clock: clock.clone(),
                settings,
                calendar: calendar.clone(),
                wake: wake.clone(),
                grids: Default::default(),
            },
        );
        let svc = api::Api {
            pool: host.pool.clone(),
            clock,
            calendar,
            wake,
        };
        let server =
            TrackerServiceServer::new(svc).max_decoding_message_size(host.cfg.max_request_bytes);
        host.serve_authenticated(server).await
    }
}
