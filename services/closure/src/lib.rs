//! gridloop's closure service: where the loop is closed. Once a grid worker's disposal (处置)
//! is recorded, the citizen rates it (好差评) or a 12345 operator calls back (回访), and the
//! ticket is written off (销号) in an append-only ledger (台账).
//!
//! The disposal itself is a step of the worker's task and is decided by routing
//! (`RoutingService.SubmitDisposal`), on the same view and under the same lock as 签收, 退单
//! and 转办, so no race between them can be decided twice. Closure keeps its own view of each
//! ticket — who holds it, whether they accepted it, the dispose deadline, the citizen key and
//! the disposals — built from routing's `dispatched`, `accepted`, `returned`, `transferred`
//! and `disposed` events ([`consume`]). Every step, consumed or requested, is checked with the
//! `lifecycle` rules against that view before anything is written; a step out of order is
//! refused and leaves no trace. Each accepted step writes its rows and its events
//! (`feedback_recorded`, `closed`, `reopened`) to the outbox in one transaction.
//!
//! A satisfied or basically-satisfied rating closes the ticket at once (feedback, ledger entry
//! and both events together); a dissatisfied one reopens it for rework (返工). A supervisor
//! closes by an audited exemption: the citizen unreachable after the configured number of
//! unreached callbacks, or an UNRESOLVABLE disposal confirmed.
//!
//! Scope: a supervisor's or leader's token lists grid codes (`grids`, their subtree roots).
//! Grid codes are administrative codes in which a child extends its parent's code, so a
//! subtree is a code prefix: `GetLedger`, `GetClosure` and `CloseTicket` admit a grid when its
//! code starts with one of the caller's roots.
//!
//! The ledger cannot be changed by the service's own database role: its migration revokes
//! UPDATE, DELETE and TRUNCATE and a trigger refuses them as well.

mod api;
pub mod consume;
mod convert;
mod domain;
mod error;
mod flow;
mod ledger;
pub mod settings;
mod store;
mod stored;
mod writeoff;

use gridloop_lifecycle::Kind;
use gridloop_platform::service::Host;
use gridloop_platform::{Config, Error};
use gridloop_proto::v1::closure_service_server::ClosureServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

pub use settings::Settings;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The event kinds closure consumes to keep its view of each ticket.
pub const CONSUMES: [Kind; 5] = [
    Kind::Dispatched,
    Kind::Accepted,
    Kind::Returned,
    Kind::Transferred,
    Kind::Disposed,
];

/// How `closure verify` reads closure's view: a ticket enters it with its first dispatch.
pub const VIEW: gridloop_platform::verify::Spec = gridloop_platform::verify::Spec {
    kinds: &Kind::names(CONSUMES),
    view: gridloop_platform::verify::View::LoopStates {
        query: "SELECT ticket_id::text, loop_state FROM tickets",
        scope: gridloop_platform::verify::Scope::Dispatched,
    },
};

/// A closure service ready to run.
pub struct App {
    host: Host,
    settings: Settings,
}

impl App {
    /// Builds the service with its own settings read from the environment
    /// (`GRIDLOOP_CLOSURE_*`, see [`Settings`]).
    pub async fn build(cfg: Config, shutdown: CancellationToken) -> Result<App, Error> {
        let settings = Settings::from_env()?;
        Self::build_with(cfg, settings, shutdown).await
    }

    /// Builds the service with explicit closure settings (tests shorten the callback interval).
    pub async fn build_with(
        cfg: Config,
        settings: Settings,
        shutdown: CancellationToken,
    ) -> Result<App, Error> {
        let host = Host::start(cfg, &MIGRATOR, shutdown).await?;
        Ok(App { host, settings })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    /// The service's own pool (role `gridloop_closure`).
    pub fn pool(&self) -> &PgPool {
        &self.host.pool
    }

    /// Runs the relay, the consumer and the gRPC server until shutdown.
    pub async fn run(self) -> Result<(), Error> {
        let App { mut host, settings } = self;
        host.spawn_relay();
        host.spawn_consumer(&VIEW, consume::View);
        let svc = api::Closure::new(host.pool.clone(), settings, host.progress.clone());
        let server =
            ClosureServiceServer::new(svc).max_decoding_message_size(host.cfg.max_request_bytes);
        host.serve_authenticated(server).await
    }
}
