//! The reports service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_reports::settings::Cli`]),
//! then [`gridloop_reports::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_platform::ops::{self, Command};
use gridloop_platform::{config, grpc, telemetry};
use gridloop_reports::settings::Cli;

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
            &gridloop_reports::MIGRATOR,
            &gridloop_reports::VIEW,
        )
        .await?);
    }
    let shutdown = grpc::shutdown_on_signal();
    gridloop_reports::App::build_with(cfg, cli.reports.into(), shutdown)
        .await
        .context("starting reports")?
        .run()
        .await
        .context("serving reports")
}
