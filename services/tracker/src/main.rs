//! The tracker service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_tracker::settings::Cli`]),
//! then [`gridloop_tracker::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_platform::config;
use gridloop_platform::ops;
use gridloop_tracker::settings::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse();
    let cfg = cli.config();
    let Some(serving) = ops::start(
        &cfg,
        cli.command,
        &gridloop_tracker::MIGRATOR,
        &gridloop_tracker::VIEW,
    )
    .await?
    else {
        return Ok(());
    };
    gridloop_tracker::App::build_with(
        cfg,
        cli.tracker.into(),
        std::sync::Arc::new(gridloop_tracker::clock::SystemClock),
        serving.shutdown.clone(),
    )
    .await
    .context("starting tracker")?
    .run()
    .await
    .context("serving tracker")
}
