//! The closure service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_closure::settings::Cli`]),
//! then [`gridloop_closure::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_closure::settings::Cli;
use gridloop_platform::ops::{self, Command};
use gridloop_platform::{config, grpc, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse();
    let cfg = cli.config();
    let _telemetry = telemetry::install(cfg.telemetry()).context("telemetry")?;
    let command = cli.command.unwrap_or_default();
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
    gridloop_closure::App::build_with(cfg, cli.closure.into(), shutdown)
        .await
        .context("starting closure")?
        .run()
        .await
        .context("serving closure")
}
