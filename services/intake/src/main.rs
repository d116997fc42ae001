//! The intake service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_intake::settings::Cli`]),
//! then [`gridloop_intake::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_intake::settings::Cli;
use gridloop_platform::config;
use gridloop_platform::ops;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse();
    let cfg = cli.config();
    let Some(serving) = ops::start(
        &cfg,
        cli.command,
        &gridloop_intake::MIGRATOR,
        &gridloop_intake::VIEW,
    )
    .await?
    else {
        return Ok(());
    };
    let settings = gridloop_intake::IntakeSettings::resolve(&cfg, cli.intake)?;
    gridloop_intake::App::build_with(cfg, settings, serving.shutdown.clone())
        .await
        .context("starting intake")?
        .run()
        .await
        .context("serving intake")
}
