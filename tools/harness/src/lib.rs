//! gridloop as separate processes, for the tools that drive the real binaries (the fault
//! test in `tools/faults`, the loop benchmark in `tools/loadbench`): a PostgreSQL cluster and
//! a nats-server of the run's own in a fresh directory, the five services started from their
//! binaries, and gRPC clients whose bearer tokens are minted with the run's secret.
//!
//! [`procs`] starts, kills, restarts and stops processes; [`stack`] builds the run's stack;
//! [`clients`] calls the services and seeds a grid tree; [`rng`] is the seeded generator;
//! [`say!`] prints a line of the run's log.

// Printing is what the log line is for.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::sync::OnceLock;

/// A line of the run's log: seconds since the start and the UTC time.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::line(format_args!($($arg)*))
    };
}

// After the macro, so the modules see it.
pub mod clients;
pub mod procs;
pub mod rng;
pub mod stack;

/// When the run started: the first call fixes it.
pub fn started() -> std::time::Instant {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

/// Prints one line of the run's log (see [`say!`]).
pub fn line(args: std::fmt::Arguments<'_>) {
    println!(
        "[{:>6.1}s {}] {args}",
        started().elapsed().as_secs_f64(),
        chrono::Utc::now().format("%H:%M:%S%.3fZ")
    );
}

/// The run's directory, once made: the tool keeps it (and names it) when the run fails.
pub static WORKDIR: OnceLock<PathBuf> = OnceLock::new();

/// The whole life of a tool's run: a runtime, `run` until it ends or Ctrl-C, every process it
/// started stopped (also on a panic), and the run's directory removed unless it failed or
/// `keep` is set. Success is `run` returning `Ok(true)`.
pub fn main<Fut>(keep: bool, run: Fut) -> std::process::ExitCode
where
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    started();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        procs::stop_all();
    }));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            say!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            r = run => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    say!("stopping every process started");
    procs::stop_all();
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    let passed = result.unwrap_or_else(|e| {
        say!("error: {e:#}");
        false
    });
    if let Some(dir) = WORKDIR.get() {
        if passed && !keep {
            let _ = std::fs::remove_dir_all(dir);
        } else {
            say!("data and logs kept in {}", dir.display());
        }
    }
    if passed {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
