//! The reports service binary: configuration from `GRIDLOOP_*`, then [`gridloop_reports::App`].

use gridloop_platform::{Config, grpc, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = Config::from_env("reports")?;
    let _telemetry = telemetry::init(&cfg.service, cfg.log_format)?;
    let shutdown = grpc::shutdown_on_signal();
    gridloop_reports::App::build(cfg, shutdown)
        .await?
        .run()
        .await?;
    Ok(())
}
