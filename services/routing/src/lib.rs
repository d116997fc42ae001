//! gridloop's routing service: where 上报 happens.
//!
//! It keeps the grid tree (county → town → village → group, with names, aliases and
//! boundaries), the grid workers and their AB posts (AB岗), the duty roster and the routing
//! rules (which level handles a category, and its SLA class). Every `ticket.discovered` is
//! dispatched inside the inbox transaction that records it: the grid is found from the code,
//! the GPS point or the address, lifted to the rule's level, and the worker is picked along
//! A post → B post → grid chief → parent chief; `ticket.dispatched` (and `ticket.unroutable`
//! when a 兜底 desk takes it) go out through the outbox. Grid workers' mobile backends then
//! work their tasks here: 签收, 退单 (re-dispatched elsewhere; the town's desk after three),
//! 转办 and 处置. Reopened tickets go back to their worker, escalations become 督办 tasks for a
//! chief.
//!
//! Where each step of the holding worker's task is decided, and on which view: all four —
//! 签收 (`AcceptTask`), 退单 (`ReturnTask`), 转办 (`TransferTask`) and 处置
//! (`SubmitDisposal`) — here, in [`api`], each in one transaction that locks the ticket's row
//! in `tickets`, requires the caller's task to still stand, and checks the step with the
//! lifecycle rules against routing's `LoopState` of the ticket. That view is current for the
//! task because no other service changes the task: what routing learns from events
//! (discovery, merge, escalation, and feedback, reopen and closing, which need the disposal
//! first) never changes who holds a standing task or which of its steps may come next. A step that loses a race waits for the lock, sees
//! the winner's state and is refused with FAILED_PRECONDITION naming it; nothing is written.
//! Closure, the tracker and the reports follow the outcome from `ticket.disposed` and the
//! other task events, in stream order.
//!
//! A ticket nobody along the chain could take waits at its grid; [`waiting`] dispatches it
//! when a worker who can serve that grid comes back.
//!
//! Modules: [`api`] (gRPC edge), [`dispatch`] / [`decide`] / [`resolve`] / [`pick`] (the decision) over
//! [`index`] (the grid tree and rules in memory, kept current through `grid_version`),
//! [`consume`] (consumer), and the stores [`grids`], [`workers`], [`rules`], [`tickets`],
//! [`disposal`].

pub mod api;
pub mod consume;
pub mod decide;
pub mod dispatch;
pub mod disposal;
pub mod domain;
pub mod geo;
pub mod grids;
pub mod index;
pub mod pick;
pub mod resolve;
pub mod rules;
pub mod settings;
pub mod tickets;
pub mod waiting;
pub mod workers;

use std::sync::Arc;

use gridloop_lifecycle::{Calendar, Kind};
use gridloop_platform::service::Host;
use gridloop_platform::{Config, Error};
use gridloop_proto::v1::routing_service_server::RoutingServiceServer;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// How `routing verify` reads routing's view: every discovered or merged ticket.
pub const VIEW: gridloop_platform::verify::Spec = gridloop_platform::verify::Spec {
    kinds: &Kind::names(consume::CONSUMES),
    view: gridloop_platform::verify::View::LoopStates {
        query: "SELECT ticket_id::text, loop_state FROM tickets",
        scope: gridloop_platform::verify::Scope::All,
    },
};

/// The routing service, started and ready to run.
pub struct App {
    host: Host,
    cal: Arc<Calendar>,
    index: Arc<index::Index>,
}

impl App {
    /// Migrates the schema, connects to NATS and binds the gRPC port.
    pub async fn build(cfg: Config, shutdown: CancellationToken) -> Result<App, Error> {
        let host = Host::start(cfg, &MIGRATOR, shutdown).await?;
        let index = index::Index::load(&mut *host.pool.acquire().await?).await?;
        Ok(App {
            host,
            cal: Arc::new(Calendar::china_default()),
            index: Arc::new(index),
        })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    /// Runs the relay, the consumer and the gRPC server until shutdown.
    pub async fn run(self) -> Result<(), Error> {
        let App {
            mut host,
            cal,
            index,
        } = self;
        host.spawn_relay();
        host.spawn_consumer(&VIEW, consume::Events::new(cal.clone(), index.clone()));
        let api = api::Api {
            pool: host.pool.clone(),
            cal,
            index,
        };
        let server =
            RoutingServiceServer::new(api).max_decoding_message_size(host.cfg.max_request_bytes);
        host.serve_authenticated(server).await
    }
}
