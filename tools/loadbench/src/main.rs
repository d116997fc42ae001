//! gridloop's benchmark of the whole loop (`make bench`): the five release service binaries
//! against a PostgreSQL (`synchronous_commit = on`, `pg_stat_statements` loaded) and a
//! JetStream (`sync_interval: always`) of the run's own, started by `gridloop-harness` as the
//! fault test starts them.
//!
//! Phases, in order: the two raw baselines (JetStream publishes awaiting each ack, single-row
//! durable INSERTs); closed-loop clients (4, 16, 32) each walking one hotline ticket after
//! another from submission to 销号; fixed offered rates (50 and 100 tickets/s, open loop);
//! intake alone (32 clients submitting). Per phase: completions/s, end-to-end p50/p99, CPU
//! milliseconds per completed ticket for every process, PostgreSQL transactions, rollbacks and
//! statements per ticket (by service), consumer lag — printed as markdown tables, every
//! throughput also as a ratio to the baselines of the same run (loop events/s ÷ raw
//! publishes/s; intake submissions/s ÷ raw inserts/s). See docs/benchmarks.md.
//!
//! [`walk`] takes one ticket through the loop, [`phases`] runs and measures the phases,
//! [`baseline`] the raw figures, [`sample`] reads the counters, [`report`] builds the tables.

// Printing is what this program is for: its output is the benchmark's report.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use clap::Parser;

#[macro_use]
extern crate gridloop_harness;

mod baseline;
mod phases;
mod report;
mod sample;
mod settings;
mod top;
mod walk;

use gridloop_harness::{clients, procs, stack};
use settings::Settings;

fn main() -> ExitCode {
    let settings = Settings::parse();
    gridloop_harness::main(settings.keep, async { run(&settings).await.map(|()| true) })
}

async fn run(settings: &Settings) -> anyhow::Result<()> {
    let phase = settings.phase();
    say!(
        "loop benchmark: {} s phases; closed loop {:?} clients, offered {:?}/s, intake {} clients",
        phase.as_secs(),
        settings.clients,
        settings.rates,
        settings.intake_clients
    );
    procs::supervise();
    let stack = stack::Stack::start(&settings.stack()?).await?;
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&stack.database_url())
        .await?;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&db)
        .await?;
    let c = clients::Clients::new(&stack)?;
    clients::seed(&c).await?;
    say!("seeded the grid tree and its workers");
    let events = walk::Events::watch(&stack.nats_url()).await?;
    let js = async_nats::jetstream::new(async_nats::connect(stack.nats_url()).await?);

    let mut rows = vec![
        baseline::publishes(&stack.nats_url(), settings.baseline_writers, phase).await?,
        baseline::inserts(
            &settings.pg_bin,
            stack.pg_port,
            &stack.database_url(),
            settings.baseline_writers,
            phase,
        )
        .await?,
    ];
    let bench = phases::Bench {
        stack,
        clients: c,
        events,
        db,
        js,
        ticks_per_s: sample::clock_ticks(),
        phase,
        top_statements: settings.top_statements,
        paused: Default::default(),
    };
    // One warm-up walk, so the first phase does not pay for connections and caches.
    if let Err(e) = walk::walk(&bench.clients, &bench.events).await {
        anyhow::bail!("the warm-up walk failed: {e}");
    }
    for &n in &settings.clients {
        rows.push(bench.closed(n).await?);
        bench.drain().await;
    }
    for &r in &settings.rates {
        rows.push(bench.offered(r).await?);
        bench.drain().await;
    }
    // Last: the backlog it leaves downstream is nobody's load.
    rows.push(bench.intake(settings.intake_clients).await?);
    for &r in &settings.intake_rates {
        rows.push(bench.intake_offered(r).await?);
    }

    let table = report::markdown(&rows);
    println!("\n== results ({} s phases) ==\n\n{table}", phase.as_secs());
    if let Some(path) = &settings.markdown {
        std::fs::write(path, &table)?;
        say!("table written to {}", path.display());
    }
    Ok(())
}
