//! The phases: closed-loop clients, fixed (open-loop) offered rates, intake alone. Each is
//! measured between two [`Snapshot`]s taken at its start and end; the consumer lag is sampled
//! every second in between. Walks still under way at the end are let finish (a fixed-rate
//! phase's count towards its latency and its keeping up, a closed-loop phase's do not);
//! [`Bench::drain`] lets the services catch up before the next phase starts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridloop_harness::clients::Clients;
use gridloop_harness::stack::Stack;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::report::{Kind, Row, percentile};
use crate::sample::{self, Snapshot};
use crate::walk::{self, Done, Events};

/// What the phases share.
pub struct Bench {
    pub stack: Stack,
    pub clients: Clients,
    pub events: Arc<Events>,
    pub db: PgPool,
    pub js: async_nats::jetstream::Context,
    pub ticks_per_s: f64,
    pub phase: Duration,
    /// Statements to list after each loop phase (`--top-statements`).
    pub top_statements: u32,
    /// Services stopped (SIGSTOP) for the phase under way: their pages are not read.
    pub paused: Mutex<Vec<&'static str>>,
}

/// What the load of one phase produced.
#[derive(Default)]
struct Outcomes {
    /// Milliseconds of every walk or submission counted.
    latencies: Vec<f64>,
    /// Completed inside the measured window.
    in_window: u64,
    dispose_attempts: u64,
    rate_attempts: u64,
    walks: u64,
    failures: BTreeMap<String, u64>,
}

type Shared = Arc<Mutex<Outcomes>>;

fn record(o: &Shared, r: Result<Done, String>, end: Instant, count_late: bool) {
    let mut o = o.lock().unwrap_or_else(|e| e.into_inner());
    match r {
        Ok(d) => {
            let in_window = Instant::now() <= end;
            if in_window {
                o.in_window += 1;
            }
            if in_window || count_late {
                o.latencies.push(d.latency.as_secs_f64() * 1000.0);
                o.dispose_attempts += u64::from(d.dispose_attempts);
                o.rate_attempts += u64::from(d.rate_attempts);
                o.walks += 1;
            }
        }
        Err(e) => *o.failures.entry(e).or_default() += 1,
    }
}

/// Counts one submission; `count_late` counts the latency of one that ended after the window.
fn record_submission(
    o: &Shared,
    r: Result<String, String>,
    start: Instant,
    end: Instant,
    count_late: bool,
) {
    let mut o = o.lock().unwrap_or_else(|e| e.into_inner());
    match r {
        Ok(_) => {
            let in_window = Instant::now() <= end;
            o.in_window += u64::from(in_window);
            if in_window || count_late {
                o.latencies.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        Err(e) => *o.failures.entry(e).or_default() += 1,
    }
}

/// Starts one `job` every 1/`rate` s until `end`, whatever the system does, counting them in
/// `offered`. Missed ticks are made up at once: the offered rate does not bend to the system.
async fn open_loop<F, Fut>(rate: u32, end: Instant, offered: &Mutex<u64>, mut job: F) -> JoinSet<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut set = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while Instant::now() < end {
        tick.tick().await;
        *offered.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        set.spawn(job());
        while set.try_join_next().is_some() {}
    }
    set
}

/// Samples every service's consumer lag each second; the highest seen, when stopped.
fn lag_sampler(
    stack: &Stack,
    paused: &[&str],
) -> (
    tokio::task::JoinHandle<()>,
    Arc<Mutex<BTreeMap<String, f64>>>,
) {
    let max = Arc::new(Mutex::new(BTreeMap::new()));
    let ports: Vec<(String, u16)> = gridloop_harness::stack::SERVICES
        .iter()
        .filter(|s| !paused.contains(s))
        .map(|s| (s.to_string(), stack.admin_port(s)))
        .collect();
    let m = max.clone();
    let task = tokio::spawn(async move {
        loop {
            for (s, port) in &ports {
                let page = sample::metrics_page(*port).await.unwrap_or_default();
                let lag = sample::gauge(&page, "gridloop_consumer_lag");
                let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
                let e = m.entry(s.clone()).or_insert(0.0);
                *e = f64::max(*e, lag);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    (task, max)
}

impl Bench {
    async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        sample::snapshot(&self.stack, &self.paused(), &self.db, &self.js).await
    }

    fn paused(&self) -> Vec<&'static str> {
        self.paused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops (`STOP`) or resumes (`CONT`) every service but intake.
    fn signal_others(&self, signal: &str) {
        let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        paused.clear();
        for (s, p) in gridloop_harness::stack::SERVICES
            .iter()
            .zip(&self.stack.services)
        {
            if *s != "intake"
                && let Some(pid) = p.target_pid()
            {
                gridloop_harness::procs::signal(pid, signal);
                if signal == "STOP" {
                    paused.push(s);
                }
            }
        }
    }

    /// Closed loop: `n` clients, each walking one ticket after another.
    pub async fn closed(&self, n: u32) -> anyhow::Result<Row> {
        let name = format!("{n} clients, closed loop");
        self.measured(&name, Kind::Loop, |end, o| async move {
            let mut set = JoinSet::new();
            for _ in 0..n {
                let (c, ev, o) = (self.clients.clone(), self.events.clone(), o.clone());
                set.spawn(async move {
                    while Instant::now() < end {
                        let r = walk::walk(&c, &ev).await;
                        let failed = r.is_err();
                        record(&o, r, end, false);
                        if failed {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                });
            }
            set
        })
        .await
    }

    /// Open loop: a new ticket every 1/`rate` s whatever the system does, each walked by a
    /// client of its own.
    pub async fn offered(&self, rate: u32) -> anyhow::Result<Row> {
        let name = format!("{rate} tickets/s offered");
        let offered = Mutex::new(0u64);
        let row = self
            .measured(&name, Kind::Loop, |end, o| {
                open_loop(rate, end, &offered, move || {
                    let (c, ev, o) = (self.clients.clone(), self.events.clone(), o.clone());
                    async move {
                        let r = walk::walk(&c, &ev).await;
                        record(&o, r, end, true);
                    }
                })
            })
            .await?;
        Ok(self.kept_up(row, &offered))
    }

    /// Whether an open-loop phase kept up: nearly every one offered completed inside the
    /// window, and the rest (the last second's) within the grace the walks get afterwards,
    /// none failed.
    fn kept_up(&self, mut row: Row, offered: &Mutex<u64>) -> Row {
        let offered = *offered.lock().unwrap_or_else(|e| e.into_inner()) as f64;
        let per_s = offered / self.phase.as_secs_f64();
        let kept = row.rate >= 0.9 * per_s && row.failures.is_empty();
        row.offered = Some((per_s, kept));
        row
    }

    /// Intake alone: `n` clients submitting one hotline ticket after another, the other
    /// services stopped (SIGSTOP) meanwhile, so that the phase measures intake's own path —
    /// the submission committed and published — not the dispatching of what it takes in.
    pub async fn intake(&self, n: u32) -> anyhow::Result<Row> {
        let name = format!("intake alone (the others paused), {n} clients");
        self.signal_others("STOP");
        let row = self.intake_load(&name, n).await;
        self.signal_others("CONT");
        row
    }

    /// Intake alone at a fixed offered rate (open loop), for its latency under a steady load.
    pub async fn intake_offered(&self, rate: u32) -> anyhow::Result<Row> {
        let name = format!("intake alone (the others paused), {rate} submissions/s offered");
        self.signal_others("STOP");
        let offered = Mutex::new(0u64);
        let row = self
            .measured(&name, Kind::Intake, |end, o| {
                open_loop(rate, end, &offered, move || {
                    let (c, o) = (self.clients.clone(), o.clone());
                    async move {
                        let start = Instant::now();
                        let r = walk::submit(&c).await;
                        record_submission(&o, r, start, end, true);
                    }
                })
            })
            .await;
        self.signal_others("CONT");
        Ok(self.kept_up(row?, &offered))
    }

    async fn intake_load(&self, name: &str, n: u32) -> anyhow::Result<Row> {
        self.measured(name, Kind::Intake, |end, o| async move {
            let mut set = JoinSet::new();
            for _ in 0..n {
                let (c, o) = (self.clients.clone(), o.clone());
                set.spawn(async move {
                    while Instant::now() < end {
                        let start = Instant::now();
                        let r = walk::submit(&c).await;
                        record_submission(&o, r, start, end, false);
                    }
                });
            }
            set
        })
        .await
    }

    /// Runs `load` for one phase between two snapshots and turns what it did into a row.
    async fn measured<F, Fut>(&self, name: &str, kind: Kind, load: F) -> anyhow::Result<Row>
    where
        F: FnOnce(Instant, Shared) -> Fut,
        Fut: Future<Output = JoinSet<()>>,
    {
        say!("phase: {name}, {} s", self.phase.as_secs());
        let outcomes: Shared = Arc::default();
        let listed = self.top_statements > 0 && matches!(kind, Kind::Loop);
        let scans_before = if listed {
            crate::top::reset(&self.db).await?;
            Some(crate::top::scans(&self.db).await?)
        } else {
            None
        };
        let before = self.snapshot().await?;
        let (sampler, lag) = lag_sampler(&self.stack, &self.paused());
        let end = Instant::now() + self.phase;
        let mut set = load(end, outcomes.clone()).await;
        tokio::time::sleep_until(end).await;
        let after = self.snapshot().await?;
        sampler.abort();
        // Walks under way finish (bounded: each waits at most a minute per event).
        let _ = tokio::time::timeout(Duration::from_secs(90), async {
            while set.join_next().await.is_some() {}
        })
        .await;
        set.abort_all();
        let o = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|e| e.into_inner()));
        let lag = lag.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let done = o.in_window as f64;
        let row = self.row(name, kind, &before, &after, o, &lag);
        if listed {
            let table = crate::top::table(&self.db, self.top_statements, done).await?;
            println!("\nstatements of {name}:\n\n{table}");
            if let Some(before) = &scans_before {
                let after = crate::top::scans(&self.db).await?;
                let scans = crate::top::scans_table(before, &after, done);
                println!("\ntables read whole (sequential scans) during {name}:\n\n{scans}");
            }
        }
        say!(
            "  {:.1}/s, p50 {} ms, p99 {} ms, {} failed",
            row.rate,
            row.p50.map_or("–".into(), |v| format!("{v:.0}")),
            row.p99.map_or("–".into(), |v| format!("{v:.0}")),
            row.failures.values().sum::<u64>()
        );
        Ok(row)
    }

    fn row(
        &self,
        name: &str,
        kind: Kind,
        before: &Snapshot,
        after: &Snapshot,
        mut o: Outcomes,
        lag: &BTreeMap<String, f64>,
    ) -> Row {
        let secs = (after.at - before.at).as_secs_f64().max(1e-3);
        let done = o.in_window.max(1) as f64;
        let mut row = Row::new(name, kind, o.in_window as f64 / secs);
        row.p50 = percentile(&mut o.latencies, 0.50);
        row.p99 = percentile(&mut o.latencies, 0.99);
        row.events_per_s = after.stream_seq.saturating_sub(before.stream_seq) as f64 / secs;
        for (p, t) in &after.cpu {
            let d = t.saturating_sub(before.cpu.get(p).copied().unwrap_or(0)) as f64;
            row.cpu_ms
                .insert(p.clone(), d / self.ticks_per_s * 1000.0 / done);
        }
        let commits = after.xact_commit - before.xact_commit;
        let rollbacks = after.xact_rollback - before.xact_rollback;
        row.xacts = (commits + rollbacks) / done;
        row.rollbacks = rollbacks / done;
        for (s, a) in &after.statements {
            let b = before.statements.get(s).copied().unwrap_or_default();
            let calls = (a.calls - b.calls) / done;
            row.statements += calls;
            row.by_service.insert(
                s.clone(),
                (
                    calls,
                    (a.begins - b.begins) / done,
                    (a.rollbacks - b.rollbacks) / done,
                ),
            );
        }
        for (s, h) in &after.delay {
            let d = before
                .delay
                .get(s)
                .map(|e| h.since(e))
                .unwrap_or_else(|| h.clone());
            let p99 = d.quantile_bound(0.99).map(|b| b * 1000.0);
            row.lag
                .insert(s.clone(), (lag.get(s).copied().unwrap_or(0.0), p99));
        }
        if o.walks > 0 {
            row.attempts = Some((
                o.dispose_attempts as f64 / o.walks as f64,
                o.rate_attempts as f64 / o.walks as f64,
            ));
        }
        row.failures = o.failures;
        row
    }

    /// Waits (at most a minute) until every consumer has read the whole stream and the stream
    /// has stopped growing, so one phase's backlog is not the next one's load.
    pub async fn drain(&self) {
        let start = Instant::now();
        let mut last = u64::MAX;
        while start.elapsed() < Duration::from_secs(60) {
            let seq = self.snapshot().await.map(|s| s.stream_seq).unwrap_or(0);
            let lags = sample::lags(&self.stack).await;
            if seq == last && lags.values().all(|l| *l == 0.0) {
                say!("  drained in {:.1} s", start.elapsed().as_secs_f64());
                self.events.clear();
                return;
            }
            last = seq;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        say!("  not drained after 60 s; going on");
        self.events.clear();
    }
}
