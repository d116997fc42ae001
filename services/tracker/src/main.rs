//! The tracker service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_tracker::settings::Cli`]),
//! then [`gridloop_tracker::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_platform::ops::{self, Command};
use gridloop_platform::{config, grpc, telemetry};
use gridloop_tracker::settings::Cli;

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
            &gridloop_tracker::MIGRATOR,
            &gridloop_tracker::VIEW,
        )
        .await?);
    }
    let shutdown = grpc::shutdown_on_signal();
    gridloop_tracker::App::build_with(
        cfg,
        cli.tracker.into(),
        std::sync::Arc::new(gridloop_tracker::clock::SystemClock),
        shutdown,
    )
    .await
    .context("starting tracker")?
    .run()
    .await
    .context("serving tracker")
}
