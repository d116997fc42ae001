//! The closure service binary: configuration from `GRIDLOOP_*`, then [`gridloop_closure::App`], or one of
//! the operations subcommands of [`gridloop_platform::ops`] (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_platform::ops::{self, Command};
use gridloop_platform::{Config, grpc, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = Config::from_env("closure").context("reading configuration")?;
    let command = ops::parse(std::env::args().skip(1), chrono::Utc::now())?;
    let _telemetry = telemetry::init(&cfg.service, cfg.log_format).context("telemetry")?;
    if command != Command::Serve {
        return Ok(ops::run(
            command,
            &cfg,
            &gridloop_closure::MIGRATOR,
            &gridloop_closure::VIEW,
        )
        .await?);
    }
    let shutdown = grpc::shutdown_on_signal();
    gridloop_closure::App::build(cfg, shutdown)
        .await
        .context("starting closure")?
        .run()
        .await
        .context("serving closure")
}
