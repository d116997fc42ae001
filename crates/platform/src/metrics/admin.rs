//! The admin port: `GET /metrics` (Prometheus text of [`super::render`]) and `GET /healthz`,
//! on its own listener so a scraper never competes with callers for the gRPC port and the page
//! can be kept off the network callers reach.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Error;

/// The admin listener, bound before the service starts serving (port 0 picks a free one).
pub struct Admin {
    listener: TcpListener,
}

impl Admin {
    pub async fn bind(addr: SocketAddr) -> Result<Self, Error> {
        Ok(Self {
            listener: TcpListener::bind(addr).await?,
        })
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok\n" }));
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "admin port stopped");
        }
    }
}

async fn metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        super::render(),
    )
}
