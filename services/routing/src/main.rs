//! The routing service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_routing::settings::Cli`]),
//! then [`gridloop_routing::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_platform::ops::{self, Command};
use gridloop_platform::{config, grpc, telemetry};
use gridloop_routing::settings::Cli;

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
            &gridloop_routing::MIGRATOR,
            &gridloop_routing::VIEW,
        )
        .await?);
    }
    let shutdown = grpc::shutdown_on_signal();
    gridloop_routing::App::build(cfg, shutdown)
        .await
        .context("starting routing")?
        .run()
        .await
        .context("serving routing")
}
