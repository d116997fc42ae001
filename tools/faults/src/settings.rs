//! The run's knobs, from flags or `GRIDLOOP_FAULTS_*` variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Kill the gridloop services, NATS and PostgreSQL under load, then count what went wrong.
#[derive(Clone, Debug, Parser)]
#[command(name = "gridloop-faults", version)]
pub struct Settings {
    /// How long tickets are submitted and SIGKILLs fired, in seconds.
    #[arg(long, env = "GRIDLOOP_FAULTS_DURATION_SECS", default_value_t = 270)]
    pub duration_secs: u64,

    /// Hotline tickets submitted per second.
    #[arg(long, env = "GRIDLOOP_FAULTS_RATE", default_value_t = 20)]
    pub rate: u32,

    /// SIGKILLs spread over the five services, nats-server and the postmaster.
    #[arg(long, env = "GRIDLOOP_FAULTS_KILLS", default_value_t = 21)]
    pub kills: u32,

    /// Seed of the kill schedule and of the choice of walked tickets; random when not given.
    #[arg(long, env = "GRIDLOOP_FAULTS_SEED")]
    pub seed: Option<u64>,

    /// Percentage of acknowledged tickets walked through the whole loop.
    #[arg(long, env = "GRIDLOOP_FAULTS_WALK_PERCENT", default_value_t = 40)]
    pub walk_percent: u32,

    /// Percentage of walked tickets returned (退单) once before they are accepted.
    #[arg(long, env = "GRIDLOOP_FAULTS_RETURN_PERCENT", default_value_t = 5)]
    pub return_percent: u32,

    /// Percentage of walked tickets first rated DISSATISFIED (返工), then reworked.
    #[arg(long, env = "GRIDLOOP_FAULTS_REWORK_PERCENT", default_value_t = 5)]
    pub rework_percent: u32,

    /// Bound on the wait for every service to catch up after the load, in seconds.
    #[arg(long, env = "GRIDLOOP_FAULTS_SETTLE_SECS", default_value_t = 120)]
    pub settle_secs: u64,

    /// Directory holding PostgreSQL's `initdb` and `postgres` (`deploy/local/stack.sh paths`).
    #[arg(long, env = "GRIDLOOP_FAULTS_PG_BIN")]
    pub pg_bin: PathBuf,

    /// The nats-server binary, version 2.10 or newer (`deploy/local/stack.sh paths`).
    #[arg(long, env = "GRIDLOOP_FAULTS_NATS_SERVER")]
    pub nats_server: PathBuf,

    /// Directory holding the service binaries; defaults to this program's own directory.
    #[arg(long, env = "GRIDLOOP_FAULTS_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,

    /// Keep the temporary directory (data and logs) even when the run passes.
    #[arg(long, env = "GRIDLOOP_FAULTS_KEEP", default_value_t = false)]
    pub keep: bool,
}

impl Settings {
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.duration_secs)
    }

    pub fn settle(&self) -> Duration {
        Duration::from_secs(self.settle_secs)
    }

    /// The stack this run asks for.
    pub fn stack(&self) -> anyhow::Result<gridloop_harness::stack::Options> {
        Ok(gridloop_harness::stack::Options {
            name: "faults".into(),
            pg_bin: self.pg_bin.clone(),
            nats_server: self.nats_server.clone(),
            bin_dir: self.bin_dir()?,
            pg_settings: Vec::new(),
            admin_ports: false,
        })
    }

    /// The service binaries' directory.
    pub fn bin_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.bin_dir {
            return Ok(d.clone());
        }
        let exe = std::env::current_exe()?;
        Ok(exe
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")))
    }
}
