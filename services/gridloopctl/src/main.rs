//! `gridloopctl`: gridloop's command-line client for every role — 12345 operators submit and
//! look up tickets, grid workers work their tasks and report disposals, supervisors keep the
//! grid tree, workers, duty roster and devices and close exempted tickets, leaders read
//! reports. It speaks gRPC to the five services (intake, routing, closure, tracker, reports).
//!
//! - Addresses: `GRIDLOOP_<SERVICE>_ADDR` (host:port or a URL), default the local stack's
//!   127.0.0.1:50051…50055.
//! - Credentials: `--token` or `GRIDLOOP_TOKEN`; or `--as ROLE[:SUB]` (with `--as-grid CODE`)
//!   mints a short-lived token on the spot when `GRIDLOOP_JWT_SECRET` is set (local stack).
//!   `gridloopctl token --role ROLE` prints one to export.
//! - Trace context: `TRACEPARENT` (W3C) makes every call of the command a child of that span,
//!   so an operator can tie a command to a trace (see `gridloop_client::trace`).
//! - Output: aligned tables; `--json` prints the response as JSON (and errors as JSON on
//!   stderr). Times in tables are China Standard Time; in JSON, RFC 3339 UTC.
//! - Exit codes: 0 ok; 1 other failure; 2 usage; 3 not found; 4 refused (invalid argument,
//!   failed precondition, permission, authentication, already exists); 5 unavailable.
//!
//! Phone numbers and names are printed only as the servers return them (masked).

// Printing to stdout is what this program is for; the workspace lint guards services.
#![allow(clippy::print_stdout)]

mod choices;
mod cli;
mod client;
mod closure;
mod dispose;
mod gridfile;
mod grids;
mod intake;
mod pager;
mod reports;
mod routing;
mod token;
mod tracker;

use std::process::ExitCode;

use gridloopctl::{enum_name, error, output, report_table, timefmt};

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::client::Ctx;
use crate::error::{CtlResult, exit};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; mistakes to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let json = cli.global.json;
    match run(cli).await {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            if json {
                eprintln!("{}", err.to_json());
            } else {
                eprintln!("error: {err}");
                if let Some(hint) = err.hint() {
                    eprintln!("hint: {hint}");
                }
            }
            ExitCode::from(err.exit_code())
        }
    }
}

async fn run(cli: Cli) -> CtlResult {
    let env = |k: &str| std::env::var(k).ok();
    let global = &cli.global;
    let ctx = || Ctx::new(global, env);
    match cli.command {
        Command::Token(args) => token::run(
            output::Out { json: global.json },
            &args,
            env("GRIDLOOP_JWT_SECRET").as_deref(),
        ),
        Command::Submit(s) => intake::submit(&ctx()?, s).await,
        Command::Ticket(t) => intake::ticket(&ctx()?, t).await,
        Command::Device(d) => intake::device(&ctx()?, d).await,
        Command::Grid(g) => grids::grid(&ctx()?, g).await,
        Command::Worker(w) => routing::worker(&ctx()?, w).await,
        Command::Task(t) => routing::task(&ctx()?, t).await,
        Command::Dispose(d) => dispose::dispose(&ctx()?, d).await,
        Command::Feedback(f) => closure::feedback(&ctx()?, f).await,
        Command::Callback(c) => closure::callback(&ctx()?, c).await,
        Command::Close(c) => closure::close(&ctx()?, c).await,
        Command::Timeline(t) => tracker::timeline(&ctx()?, t).await,
        Command::Overdue(o) => tracker::overdue(&ctx()?, o).await,
        Command::Report(r) => reports::report(&ctx()?, r).await,
    }
}

#[cfg(test)]
mod tests;
