//! The run's knobs, from flags or `GRIDLOOP_BENCH_*` variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Measure gridloop's whole loop on an isolated stack, next to raw JetStream and PostgreSQL.
#[derive(Clone, Debug, Parser)]
#[command(name = "gridloop-loadbench", version)]
pub struct Settings {
    /// Seconds each phase is measured for (baselines included).
    #[arg(long, env = "GRIDLOOP_BENCH_PHASE_SECS", default_value_t = 30)]
    pub phase_secs: u64,

    /// Short phases (8 s each) for trying the tool out; overrides --phase-secs.
    #[arg(long, default_value_t = false)]
    pub quick: bool,

    /// Closed-loop client counts, one phase each.
    #[arg(long, value_delimiter = ',', default_values_t = [4, 16, 32])]
    pub clients: Vec<u32>,

    /// Offered rates (tickets/s) of the open-loop phases, one phase each.
    #[arg(long, value_delimiter = ',', default_values_t = [50, 100])]
    pub rates: Vec<u32>,

    /// Clients of the intake-alone phase (submit, nothing else; the other services paused).
    #[arg(long, default_value_t = 32)]
    pub intake_clients: u32,

    /// Offered rates (submissions/s) of the open-loop intake-alone phases, one phase each.
    #[arg(long, value_delimiter = ',', default_values_t = [1000])]
    pub intake_rates: Vec<u32>,

    /// Publishers / connections of the raw baselines.
    #[arg(long, default_value_t = 16)]
    pub baseline_writers: u32,

    /// Write the results table as markdown to this file too.
    #[arg(long, env = "GRIDLOOP_BENCH_MARKDOWN")]
    pub markdown: Option<PathBuf>,

    /// Directory holding PostgreSQL's `initdb`, `postgres` and `pgbench`
    /// (`deploy/local/stack.sh paths`).
    #[arg(long, env = "GRIDLOOP_BENCH_PG_BIN")]
    pub pg_bin: PathBuf,

    /// The nats-server binary, version 2.10 or newer (`deploy/local/stack.sh paths`).
    #[arg(long, env = "GRIDLOOP_BENCH_NATS_SERVER")]
    pub nats_server: PathBuf,

    /// Directory holding the release service binaries; defaults to this program's own.
    #[arg(long, env = "GRIDLOOP_BENCH_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,

    /// After every closed-loop and offered-rate phase, list the N statements it called most
    /// (per ticket, with mean time), by service; 0 lists none.
    #[arg(long, env = "GRIDLOOP_BENCH_TOP_STATEMENTS", default_value_t = 0)]
    pub top_statements: u32,

    /// Keep the run's directory (data and logs) afterwards.
    #[arg(long, env = "GRIDLOOP_BENCH_KEEP", default_value_t = false)]
    pub keep: bool,
}

impl Settings {
    /// How long each phase is measured.
    pub fn phase(&self) -> Duration {
        Duration::from_secs(if self.quick {
            8
        } else {
            self.phase_secs.max(1)
        })
    }

    /// The stack: durable PostgreSQL with `pg_stat_statements` loaded, JetStream syncing
    /// every write (the harness's NATS configuration), admin ports to scrape.
    pub fn stack(&self) -> anyhow::Result<gridloop_harness::stack::Options> {
        let bin_dir = match &self.bin_dir {
            Some(d) => d.clone(),
            None => std::env::current_exe()?
                .parent()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        Ok(gridloop_harness::stack::Options {
            name: "loadbench".into(),
            pg_bin: self.pg_bin.clone(),
            nats_server: self.nats_server.clone(),
            bin_dir,
            pg_settings: vec![
                "shared_preload_libraries=pg_stat_statements".into(),
                "pg_stat_statements.max=10000".into(),
                // BEGIN, COMMIT and ROLLBACK are counted: they are how transactions per
                // service are told apart.
                "pg_stat_statements.track_utility=on".into(),
            ],
            admin_ports: true,
        })
    }
}
