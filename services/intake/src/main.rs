//! The intake service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_intake::settings::Cli`]),
//! then [`gridloop_intake::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_intake::settings::Cli;
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
            &gridloop_intake::MIGRATOR,
            &gridloop_intake::VIEW,
        )
        .await?);
    }
    let shutdown = grpc::shutdown_on_signal();
    let settings = gridloop_intake::IntakeSettings::resolve(&cfg, cli.intake)?;
    gridloop_intake::App::build_with(cfg, settings, shutdown)
        .await
        .context("starting intake")?
        .run()
        .await
        .context("serving intake")
}
