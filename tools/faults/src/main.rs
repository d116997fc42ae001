//! gridloop's fault test (`make test-faults`): the five real service binaries, PostgreSQL and
//! nats-server as separate processes in a temporary directory of their own; hotline tickets
//! submitted at a steady rate with retries under the same call id; tickets walked through
//! the loop by workers and citizens; SIGKILLs spread over every process, each restarted after
//! 1–5 s. Afterwards it waits for every service to catch up and prints how many acknowledged
//! tickets were lost, duplicated or stuck, and how many differences each service's `verify`
//! found. Exit status 0 only when all four are 0. See docs/reliability.md, "Fault test".
//!
//! One module per concern: [`procs`] (start, kill, restart, clean up) and [`stack`] (the
//! run's own PostgreSQL, NATS and services), both from `gridloop-harness`; [`chaos`] (the
//! kill schedule), [`load`] (submissions), [`walk`] (the loop's steps), [`checks`] and
//! [`verify`] (the counts).

// Printing is what this program is for: its output is the test's report.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::time::Instant;

#[macro_use]
extern crate gridloop_harness;

mod chaos;
mod checks;
mod load;
mod settings;
mod tally;
mod verify;
mod walk;

// The processes, the stack and the clients are shared with the loop benchmark.
use gridloop_harness::{clients, procs, rng, stack};
use settings::Settings;

fn main() -> ExitCode {
    let settings = Settings::parse();
    gridloop_harness::main(settings.keep, run(&settings))
}

async fn run(settings: &Settings) -> anyhow::Result<bool> {
    let seed = settings.seed.unwrap_or_else(rng::Rng::fresh_seed);
    say!(
        "fault test: seed {seed} (repeat with --seed {seed}), {} s of load at {}/s, {} kills, \
         {}% walked ({}% returned, {}% reworked)",
        settings.duration_secs,
        settings.rate,
        settings.kills,
        settings.walk_percent,
        settings.return_percent,
        settings.rework_percent
    );
    procs::supervise();
    let stack = stack::Stack::start(&settings.stack()?).await?;
    let c = clients::Clients::new(&stack)?;
    clients::seed(&c).await?;
    say!("seeded the grid tree and its workers");

    let targets = stack.all();
    let schedule = chaos::plan(
        seed,
        settings.kills,
        targets.len(),
        settings.duration().as_secs_f64(),
    );
    let book = Arc::new(load::Book::default());
    let start = Instant::now();
    let give_up = start + settings.duration() + Duration::from_secs(60);
    let walk_deadline = start + settings.duration() + Duration::from_secs(90);
    say!("load and kills start");
    let chaos = tokio::spawn(chaos::run(schedule, targets.clone(), start));
    let progress = tokio::spawn(report_progress(book.clone()));
    load::run(
        c.clone(),
        book.clone(),
        settings,
        seed,
        give_up,
        walk_deadline,
    )
    .await;
    progress.abort();
    let kills = chaos.await.unwrap_or(0);
    say!("load stopped, walks ended; making sure every process is up");
    for p in &targets {
        p.revive();
    }
    for port in [stack.pg_port, stack.nats_port]
        .into_iter()
        .chain(stack.ports.iter().copied())
    {
        procs::wait_port(port, Duration::from_secs(30)).await;
    }
    match checks::settle(&stack, settings.settle()).await {
        Ok(took) => say!("every service caught up ({:.1} s)", took.as_secs_f64()),
        Err(last) => say!(
            "NOT caught up after {} s; last seen: {last}",
            settings.settle_secs
        ),
    }
    let counts = checks::count(&stack, &c, &book.acked()).await;
    let verdicts = verify::all(&stack).await;
    Ok(summary(
        seed,
        kills,
        &counts,
        &verdicts,
        &book.tally,
        &targets,
    ))
}

async fn report_progress(book: Arc<load::Book>) {
    loop {
        tokio::time::sleep(Duration::from_secs(15)).await;
        let t = &book.tally;
        say!(
            "progress: {} acknowledged, {} walks started, {} completed",
            t.get("submit.acknowledged"),
            t.get("walk.started"),
            t.get("walk.completed")
        );
    }
}

/// Prints the result; true when the run passed.
fn summary(
    seed: u64,
    kills: u32,
    n: &checks::Counts,
    verdicts: &[(&str, verify::Verdict)],
    tally: &tally::Tally,
    procs: &[Arc<procs::Proc>],
) -> bool {
    println!("\n== details ==");
    for l in tally
        .lines("submit.")
        .into_iter()
        .chain(tally.lines("walk."))
    {
        println!("  {l}");
    }
    let mut states: Vec<_> = n.states.iter().collect();
    states.sort();
    println!("  tracker states of acknowledged tickets: {states:?}");
    println!(
        "  tickets on the stream never acknowledged to the caller: {}",
        n.unacknowledged_on_stream
    );
    let crashes: Vec<String> = procs
        .iter()
        .filter(|p| p.crashes() > 0)
        .map(|p| format!("{} {}", p.spec.name, p.crashes()))
        .collect();
    println!("  restarts after exiting by itself: {crashes:?}");
    for e in &n.examples {
        println!("  example: {e}");
    }

    let unavailable: Vec<&str> = verdicts
        .iter()
        .filter(|(_, v)| *v == verify::Verdict::Unavailable)
        .map(|(s, _)| *s)
        .collect();
    let diverged: u64 = verdicts
        .iter()
        .map(|(_, v)| match v {
            verify::Verdict::Ran { differences, .. } => *differences,
            _ => 0,
        })
        .sum();
    let verify_clean = verdicts.iter().all(|(_, v)| {
        matches!(
            v,
            verify::Verdict::Ran {
                differences: 0,
                success: true,
                ..
            }
        )
    });
    println!("\n== fault test result (seed {seed}) ==");
    println!("  acknowledged  {}", n.acknowledged);
    println!("  kills         {kills}");
    println!("  lost          {}", n.lost);
    println!("  duplicated    {}", n.duplicated);
    println!(
        "  stuck         {}  (not dispatched {}, walked but not CLOSED {}, walks unfinished {} of {})",
        n.stuck(),
        n.not_dispatched,
        n.walked_not_closed,
        n.walks_unfinished,
        n.walks
    );
    let per_service: Vec<String> = verdicts
        .iter()
        .map(|(s, v)| format!("{s}: {}", verify::describe(v)))
        .collect();
    if unavailable.len() == verdicts.len() {
        println!("  diverged      unknown: verify is not available in any service binary");
    } else {
        println!("  diverged      {diverged}");
    }
    for l in per_service {
        println!("    {l}");
    }
    let passed = n.lost == 0 && n.duplicated == 0 && n.stuck() == 0 && verify_clean;
    println!("  RESULT: {}", if passed { "PASS" } else { "FAIL" });
    passed
}
