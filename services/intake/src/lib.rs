//! gridloop intake: where 发现 happens. Hotline desk systems (12345), one-key call gateways,
//! the citizen app backend (also the 书记信箱 mailbox and 网站留言 web form) and grid workers'
//! patrol reports submit tickets here over gRPC (`gridloop.v1.IntakeService`).
//!
//! Every accepted submission is committed with its `ticket.discovered` event — or, for a
//! repeat complaint (重复诉求) merged into an earlier open ticket, its `ticket.merged` event —
//! through the outbox in one transaction ([`submit`]); submissions arriving together share
//! one ([`writer`], group commit); the events are built in [`publish`]. Submissions are idempotent by (channel, external id).
//!
//! Intake also follows the loop ([`consume`]): it consumes every lifecycle event and keeps each
//! ticket's current state ([`loop_view`]), so GetTicket and FindTickets ([`tickets`]) answer a
//! caller truthfully and a repeat merges only into a ticket still open. A repeat merged into a
//! ticket whose write-off reached the stream first is filed as its own ticket ([`split`]).
//!
//! Intake is the only gridloop service that stores phone numbers and names. Events and
//! answers carry masked phones (`138****5678`) and the opaque citizen key, a keyed hash of
//! the phone ([`settings`]). Intake also keeps the one-key device registry ([`devices`]) and
//! the category catalogue ([`categories`]).

pub mod api;
pub mod categories;
pub mod consume;
pub mod devices;
pub mod domain;
pub mod history;
pub mod loop_facts;
pub mod loop_view;
pub mod plan;
pub mod publish;
pub mod requests;
pub mod settings;
pub mod split;
pub mod stored;
pub mod submit;
pub mod tickets;
pub mod writer;

use gridloop_lifecycle::Kind;
use gridloop_platform::Config;
use gridloop_platform::service::Host;
use gridloop_proto::v1::intake_service_server::IntakeServiceServer;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

pub use settings::IntakeSettings;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// How `intake verify` reads intake's view of the loop: every ticket it received.
pub const VIEW: gridloop_platform::verify::Spec = gridloop_platform::verify::Spec {
    kinds: &Kind::names(consume::CONSUMES),
    view: gridloop_platform::verify::View::LoopStates {
        query: "SELECT ticket_id::text, loop_state FROM ticket_loop",
        scope: gridloop_platform::verify::Scope::All,
    },
};

/// A started intake service: schema migrated, stream ensured, port bound.
pub struct App {
    host: Host,
    api: api::IntakeApi,
}

impl App {
    /// Starts intake with its own settings read from the environment.
    pub async fn build(
        cfg: Config,
        shutdown: CancellationToken,
    ) -> Result<App, gridloop_platform::Error> {
        let settings = IntakeSettings::from_env(&cfg)?;
        Self::build_with(cfg, settings, shutdown).await
    }

    /// Starts intake with explicit settings (tests set the repeat window this way).
    pub async fn build_with(
        cfg: Config,
        settings: IntakeSettings,
        shutdown: CancellationToken,
    ) -> Result<App, gridloop_platform::Error> {
        let host = Host::start(cfg, &MIGRATOR, shutdown).await?;
        let api = api::IntakeApi::new(host.pool.clone(), settings);
        Ok(App { host, api })
    }

    pub fn port(&self) -> u16 {
        self.host.port()
    }

    /// Relays the outbox, follows the loop and serves gRPC until shutdown.
    pub async fn run(self) -> Result<(), gridloop_platform::Error> {
        let App { mut host, api } = self;
        host.spawn_relay();
        host.spawn_consumer(&VIEW, consume::Follow);
        let server =
            IntakeServiceServer::new(api).max_decoding_message_size(host.cfg.max_request_bytes);
        host.serve_authenticated(server).await
    }
}
