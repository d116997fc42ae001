//! The closure service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_closure::settings::Cli`]),
//! then [`gridloop_closure::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_closure::settings::Cli;
use gridloop_platform::config;
use gridloop_platform::ops;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse();
    let cfg = cli.config();
    let Some(serving) = ops::start(
        &cfg,
        cli.command,
        &gridloop_closure::MIGRATOR,
        &gridloop_closure::VIEW,
    )
    .await?
    else {
        return Ok(());
    };
    gridloop_closure::App::build_with(cfg, cli.closure.into(), serving.shutdown.clone())
        .await
        .context("starting closure")?
        .run()
        .await
        .context("serving closure")
}
