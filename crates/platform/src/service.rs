//! The shape every service shares: set up its schema and the stream, bind its gRPC port,
//! run its outbox relay and inbox consumers, serve, and on shutdown drain all of it.
//!
//! ```text
//! let mut host = Host::start(cfg, &MIGRATOR, shutdown).await?;
//! host.spawn_relay();
//! host.spawn_consumer(&VIEW, MyHandler { .. }); // VIEW: the kinds it consumes, its view
//! let port = host.port();
//! host.serve(routes, &[MY_SERVICE_NAME]).await?;
//! ```

use std::net::SocketAddr;

use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

use crate::auth::Authenticator;
use crate::inbox::{ConsumerOptions, Handler, Progress};
use crate::metrics::admin::Admin;
use crate::nats::Bus;
use crate::outbox::{Relay, RelayOptions};
use crate::{Config, Error, db, grpc, leader, metrics};

/// A service being started: its resources, its listener and its background loops.
pub struct Host {
    pub cfg: Config,
    pub pool: PgPool,
    pub bus: Bus,
    pub auth: Authenticator,
    pub shutdown: CancellationToken,
    listener: TcpListener,
    admin: Option<Admin>,
    tasks: JoinSet<()>,
    /// What the consumer has applied, for requests that wait for the view.
    pub progress: Progress,
}

impl Host {
    /// Migrates the service's schema, connects to NATS, ensures the stream and binds the gRPC
    /// listener (port 0 picks a free port; see [`Host::addr`]).
    pub async fn start(
        cfg: Config,
        migrator: &Migrator,
        shutdown: CancellationToken,
    ) -> Result<Self, Error> {
        let pool = db::setup(&cfg, migrator).await?;
        let bus = Bus::connect(&cfg).await?;
        bus.ensure_stream().await?;
        let listener = grpc::bind(cfg.grpc_addr).await?;
        let admin = Admin::bind(cfg.admin_addr).await?;
        let auth = Authenticator::new(cfg.jwt_secret.as_ref().map(|s| s.expose_secret()));
        if cfg.jwt_secret.is_none() {
            tracing::warn!("GRIDLOOP_JWT_SECRET is not set: every authenticated call is refused");
        }
        Ok(Self {
            cfg,
            pool,
            bus,
            auth,
            shutdown,
            listener,
            admin: Some(admin),
            tasks: JoinSet::new(),
            progress: Progress::default(),
        })
    }

    /// Where `/metrics` and `/healthz` are served.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(Admin::addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.cfg.grpc_addr)
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// Runs the outbox relay, and the sampling of its backlog, until shutdown.
    pub fn spawn_relay(&mut self) {
        let opts = RelayOptions {
            retention: self.cfg.outbox_retention,
            service: self.cfg.service.clone(),
            ..RelayOptions::default()
        };
        let relay = Relay::new(self.pool.clone(), self.bus.clone(), opts);
        self.tasks.spawn(relay.run(self.shutdown.clone()));
        self.tasks.spawn(metrics::sample_outbox(
            self.pool.clone(),
            self.cfg.service.clone(),
            self.shutdown.clone(),
        ));
    }

    /// Runs the service's consumer of the kinds its `spec` declares (the same declaration
    /// `verify` reads) until shutdown. Of several replicas, one consumes at a time (see
    /// [`crate::leader`]).
    pub fn spawn_consumer<H: Handler>(&mut self, spec: &crate::verify::Spec, handler: H) {
        let opts = ConsumerOptions {
            durable: self.cfg.service.clone(),
            kinds: spec.subject_kinds().into_iter().map(String::from).collect(),
            max_deliveries: self.cfg.max_deliveries,
            progress: self.progress.clone(),
        };
        self.tasks.spawn(leader::run(
            self.pool.clone(),
            self.bus.clone(),
            opts,
            handler,
            self.shutdown.clone(),
        ));
    }

    /// Runs any other loop of the service (timers, HTTP pages) under the same shutdown.
    pub fn spawn<F>(&mut self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Serves the service's one gRPC service behind the token check (see [`Host::serve`]).
    pub async fn serve_authenticated<S>(self, server: S) -> Result<(), Error>
    where
        S: NamedService,
        InterceptedService<S, Authenticator>: tower::Service<http::Request<tonic::body::Body>, Error = std::convert::Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        <InterceptedService<S, Authenticator> as tower::Service<
            http::Request<tonic::body::Body>,
        >>::Response: axum::response::IntoResponse,
        <InterceptedService<S, Authenticator> as tower::Service<
            http::Request<tonic::body::Body>,
        >>::Future: Send + 'static,
    {
        let routes = Routes::new(InterceptedService::new(server, self.auth.clone()));
        self.serve(routes, &[S::NAME]).await
    }

    /// Serves gRPC until shutdown, then waits for the relay and consumers to drain.
    pub async fn serve(mut self, routes: Routes, services: &[&str]) -> Result<(), Error> {
        if let Some(admin) = self.admin.take() {
            if let Some(addr) = admin.addr() {
                tracing::info!(%addr, "admin port: /metrics, /healthz");
            }
            self.tasks.spawn(admin.run(self.shutdown.clone()));
        }
        tracing::info!(service = %self.cfg.service, addr = %self.addr(), "serving");
        let served = grpc::serve(
            self.listener,
            routes,
            services,
            self.cfg.max_request_bytes,
            self.shutdown.clone(),
        )
        .await;
        // Whatever ended the server, the loops stop with it.
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        self.pool.close().await;
        served
    }
}
