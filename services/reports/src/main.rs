//! The reports service binary: configuration from flags and `GRIDLOOP_*` ([`gridloop_reports::settings::Cli`]),
//! then [`gridloop_reports::App`], or one of the operations subcommands of [`gridloop_platform::ops`]
//! (`migrate`, `replay --since`, …).

use anyhow::Context;
use gridloop_platform::config;
use gridloop_platform::ops;
use gridloop_reports::settings::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse();
    let cfg = cli.config();
    let Some(serving) = ops::start(
        &cfg,
        cli.command,
        &gridloop_reports::MIGRATOR,
        &gridloop_reports::VIEW,
    )
    .await?
    else {
        return Ok(());
    };
    gridloop_reports::App::build_with(cfg, cli.reports.into(), serving.shutdown.clone())
        .await
        .context("starting reports")?
        .run()
        .await
        .context("serving reports")
}
