//! gRPC scaffolding every service uses: a server with health (tonic-health) and reflection
//! (tonic-reflection) next to the service's own routes, a span and a latency measurement per
//! call that continue the caller's trace ([`telemetry::rpc`]), and graceful shutdown on the
//! shared cancellation token.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::{Error, telemetry};

/// Binds the listener first, so callers (and tests on port 0) learn the real address before
/// the server runs.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    Ok(TcpListener::bind(addr).await?)
}

/// Serves `routes` plus health and reflection on `listener` until `shutdown` is cancelled,
/// then stops accepting calls and lets the calls in flight finish.
///
/// `services` are the fully qualified names reported as SERVING by the health service
/// (e.g. `gridloop.v1.IntakeService`); the overall status ("") follows them.
/// `max_request_bytes` bounds what the call spans read of a request to find its ticket.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    services: &[&str],
    max_request_bytes: usize,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in services.iter().copied().chain([""]) {
        reporter
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(gridloop_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Config(format!("reflection: {e}")))?;

    let drain = shutdown.clone();
    let names: Vec<String> = services.iter().map(|s| s.to_string()).collect();
    let stopping = async move {
        drain.cancelled().await;
        // Load balancers stop sending new calls before the listener goes away.
        for name in names.iter().map(String::as_str).chain([""]) {
            reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    };

    Server::builder()
        .layer(telemetry::rpc::RpcLayer { max_request_bytes })
        .timeout(Duration::from_secs(30))
        .concurrency_limit_per_connection(256)
        .add_routes(routes)
        .add_service(health)
        .add_service(reflection)
        // Without TCP_NODELAY a small response waits on Nagle and the peer's delayed ACK:
        // tens of milliseconds on every unary call.
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            stopping,
        )
        .await?;
    Ok(())
}

/// A token cancelled on SIGTERM or Ctrl-C: the one shutdown signal every loop of a service
/// (gRPC server, outbox relay, consumers, timers) watches.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot watch SIGTERM; Ctrl-C only");
                        let _ = ctrl_c.await;
                        trigger.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    token
}
