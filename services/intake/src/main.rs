//! The intake service binary: configuration from `GRIDLOOP_*`, then [`gridloop_intake::App`].

use anyhow::Context;
use gridloop_platform::{Config, grpc, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = Config::from_env("intake").context("reading configuration")?;
    let _telemetry = telemetry::init(&cfg.service, cfg.log_format).context("telemetry")?;
    let shutdown = grpc::shutdown_on_signal();
    gridloop_intake::App::build(cfg, shutdown)
        .await
        .context("starting intake")?
        .run()
        .await
        .context("serving intake")
}
