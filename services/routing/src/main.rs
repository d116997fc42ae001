//! The routing service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_routing::settings::Cli`]),
//! then [`gridloop_routing::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_platform::config;
use gridloop_platform::ops;
use gridloop_routing::settings::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse();
    let cfg = cli.config();
    let Some(serving) = ops::start(
        &cfg,
        cli.command,
        &gridloop_routing::MIGRATOR,
        &gridloop_routing::VIEW,
    )
    .await?
    else {
        return Ok(());
    };
    gridloop_routing::App::build(cfg, serving.shutdown.clone())
        .await
        .context("starting routing")?
        .run()
        .await
        .context("serving routing")
}
