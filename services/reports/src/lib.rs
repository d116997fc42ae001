//! gridloop's reports service: what leaders read. Closure (办结率), on-time (按时办结率),
//! response (响应率), satisfaction (满意率) and rework (返工率) rates and handling times, by
//! grid subtree, worker, category and channel, for any day, week, month, quarter, year or
//! custom range (Asia/Shanghai); trends; rankings with a minimum sample; CSV export; and an
//! HTML page with server-drawn SVG charts.
//!
//! Built incrementally from the event stream ([`consume`]): every event updates a small fact
//! row of its ticket and moves the ticket's contribution between aggregate rows keyed by
//! received day × holding grid × category × channel × worker, in the inbox transaction.
//! Queries roll those rows up at query time ([`query`]); per-ticket rows are never scanned.
//! Handling times go into a histogram of 0.1-working-hour buckets beside the aggregates, so
//! the p90 of any roll-up is exact at that resolution.
//!
//! Every count is over the tickets received in the period (by their Asia/Shanghai received
//! date), at the grid and worker holding them now (at closing for closed tickets). Grid
//! subtrees are code prefixes (administrative codes: county 6 characters, town 9, village 12,
//! group longer); see [`domain`].

mod api;
pub mod consume;
mod csv;
pub mod domain;
pub mod facts;
pub mod indicators;
pub mod query;
pub mod report;
pub mod settings;
mod store;
mod stored;
mod svg;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use gridloop_lifecycle::Kind;
use gridloop_lifecycle::calendar::Calendar;
use gridloop_platform::service::Host;
use gridloop_platform::{Config, Error};
use gridloop_proto::v1::report_service_server::ReportServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use settings::Settings;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Reports consume every event kind.
pub const CONSUMES: [Kind; 14] = Kind::ALL;

/// How `reports verify` reads the facts kept per ticket: dispatched, merged, closed.
pub const VIEW: gridloop_platform::verify::Spec = gridloop_platform::verify::Spec {
    kinds: &Kind::names(CONSUMES),
    view: gridloop_platform::verify::View::Facts {
        query: "SELECT ticket_id::text, dispatched, merged, closed FROM facts \
                WHERE received_at IS NOT NULL",
    },
};

/// A reports service ready to run.
pub struct App {
    host: Host,
    http: TcpListener,
}

impl App {
    /// Builds the service with its settings read from the environment
    /// (`GRIDLOOP_REPORTS_HTTP_ADDR`, see [`Settings`]).
    pub async fn build(cfg: Config, shutdown: CancellationToken) -> Result<App, Error> {
        Self::build_with(cfg, Settings::from_env()?, shutdown).await
    }

    /// Builds the service with explicit settings (tests put the page on port 0).
    pub async fn build_with(
        cfg: Config,
        settings: Settings,
        shutdown: CancellationToken,
    ) -> Result<App, Error> {
        let host = Host::start(cfg, &MIGRATOR, shutdown).await?;
        let http = TcpListener::bind(settings.http_addr).await?;
        Ok(App { host, http })
    }

    /// The gRPC port.
    pub fn port(&self) -> u16 {
        self.host.port()
    }

    /// Address of the HTML report page.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The service's own pool (role `gridloop_reports`).
    pub fn pool(&self) -> &PgPool {
        &self.host.pool
    }

    /// Runs the consumer, the HTML page and the gRPC server until shutdown.
    pub async fn run(self) -> Result<(), Error> {
        let App { mut host, http } = self;
        // Reports publishes nothing; the relay still drains the (empty) outbox like every
        // service's, so the shape stays the same.
        host.spawn_relay();
        let calendar = Arc::new(Calendar::china_default());
        host.spawn_consumer(&VIEW, consume::Aggregator::new(calendar));
        let page = web::router(web::Web {
            pool: host.pool.clone(),
            auth: host.auth.clone(),
        });
        let stop = host.shutdown.clone();
        host.spawn(async move {
            tracing::info!(addr = ?http.local_addr().ok(), "report page serving");
            let served = axum::serve(http, page)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "report page stopped");
            }
        });
        let svc = api::Reports::new(host.pool.clone());
        let server =
            ReportServiceServer::new(svc).max_decoding_message_size(host.cfg.max_request_bytes);
        host.serve_authenticated(server).await
    }
}
