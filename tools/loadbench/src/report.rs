//! The pure parts: percentiles of measured latencies, Prometheus histograms and their
//! differences, and the results as a text or markdown table with every figure next to its
//! ratio to the baselines measured in the same run.

use std::collections::BTreeMap;
use std::fmt::Write;

/// The `q` quantile (0..=1) of `samples`, nearest rank; `None` when there are none.
pub fn percentile(samples: &mut [f64], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (q * samples.len() as f64).ceil() as usize;
    Some(samples[rank.clamp(1, samples.len()) - 1])
}

/// A cumulative histogram: `(upper bound, count ≤ bound)` in ascending order, `+Inf` last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram(pub Vec<(f64, f64)>);

impl Histogram {
    /// `<name>_seconds_bucket` (or `<name>_bucket`) samples of a Prometheus page, summed over
    /// every label set but `le`.
    pub fn from_prometheus(page: &str, name: &str) -> Histogram {
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for l in page.lines().filter(|l| !l.starts_with('#')) {
            let Some((metric, value)) = l.rsplit_once(' ') else {
                continue;
            };
            let base = metric.split('{').next().unwrap_or("");
            if base != format!("{name}_seconds_bucket") && base != format!("{name}_bucket") {
                continue;
            }
            let Some(le) = metric
                .split("le=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
            else {
                continue;
            };
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                match le.parse::<f64>() {
                    Ok(b) => b,
                    Err(_) => continue,
                }
            };
            let count: f64 = value.parse().unwrap_or(0.0);
            let e = by_le.entry(bound.to_bits()).or_insert((bound, 0.0));
            e.1 += count;
        }
        let mut v: Vec<(f64, f64)> = by_le.into_values().collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        Histogram(v)
    }

    /// What was recorded between `earlier` and `self`.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        Histogram(
            self.0
                .iter()
                .map(|&(b, c)| {
                    let before = earlier
                        .0
                        .iter()
                        .find(|(eb, _)| *eb == b)
                        .map_or(0.0, |e| e.1);
                    (b, (c - before).max(0.0))
                })
                .collect(),
        )
    }

    pub fn count(&self) -> f64 {
        self.0.last().map_or(0.0, |l| l.1)
    }

    /// The upper bound of the bucket holding the `q` quantile (what a bucketed histogram can
    /// say); `None` when empty.
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total <= 0.0 {
            return None;
        }
        self.0
            .iter()
            .find(|(_, c)| *c >= q * total)
            .map(|(b, _)| *b)
    }
}

/// The process name under which the benchmark's own CPU (the clients') is reported.
pub const CLIENTS: &str = "loadbench";

/// What kind of phase a row is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Raw JetStream publishes awaiting each ack.
    RawPublish,
    /// Raw single-row durable INSERTs.
    RawInsert,
    /// Tickets walked to 销号 (closed-loop or fixed-rate).
    Loop,
    /// Submissions only.
    Intake,
}

/// One phase's figures.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub kind: Kind,
    /// Completed units per second: loops, submissions, messages or rows.
    pub rate: f64,
    /// Offered tickets/s of a fixed-rate phase, and whether it kept up.
    pub offered: Option<(f64, bool)>,
    /// Milliseconds.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    /// Stream events per second during the phase.
    pub events_per_s: f64,
    /// CPU milliseconds per completed unit, by process.
    pub cpu_ms: BTreeMap<String, f64>,
    /// PostgreSQL per completed unit: committed and rolled-back transactions, statements.
    pub xacts: f64,
    pub rollbacks: f64,
    pub statements: f64,
    /// Statements per unit by service (with explicit transactions and rollbacks).
    pub by_service: BTreeMap<String, (f64, f64, f64)>,
    /// Highest consumer lag seen (events) and consumer delay p99 bound (ms), by service.
    pub lag: BTreeMap<String, (f64, Option<f64>)>,
    /// Mean disposal and rating attempts per loop.
    pub attempts: Option<(f64, f64)>,
    /// Walks or submissions that failed, by reason.
    pub failures: BTreeMap<String, u64>,
}

impl Row {
    pub fn new(name: impl Into<String>, kind: Kind, rate: f64) -> Row {
        Row {
            name: name.into(),
            kind,
            rate,
            offered: None,
            p50: None,
            p99: None,
            events_per_s: 0.0,
            cpu_ms: BTreeMap::new(),
            xacts: 0.0,
            rollbacks: 0.0,
            statements: 0.0,
            by_service: BTreeMap::new(),
            lag: BTreeMap::new(),
            attempts: None,
            failures: BTreeMap::new(),
        }
    }
}

fn num(x: f64) -> String {
    if x >= 100.0 {
        let s = format!("{:.0}", x);
        // Thousands separated, as the rest of the docs write them.
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn opt_ms(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| {
        if v.is_infinite() {
            "> 60 s".into()
        } else {
            num(v)
        }
    })
}

/// The ratio a row is judged by: loop events/s to raw publishes/s, intake submissions/s to
/// raw inserts/s.
pub fn ratio(row: &Row, raw_publish: Option<f64>, raw_insert: Option<f64>) -> Option<f64> {
    match row.kind {
        Kind::Loop => raw_publish
            .filter(|r| *r > 0.0)
            .map(|r| row.events_per_s / r),
        Kind::Intake => raw_insert.filter(|r| *r > 0.0).map(|r| row.rate / r),
        Kind::RawPublish | Kind::RawInsert => None,
    }
}

/// The results as markdown tables: the summary, CPU by process, statements by service and
/// consumer lag.
pub fn markdown(rows: &[Row]) -> String {
    let raw_publish = rows
        .iter()
        .find(|r| r.kind == Kind::RawPublish)
        .map(|r| r.rate);
    let raw_insert = rows
        .iter()
        .find(|r| r.kind == Kind::RawInsert)
        .map(|r| r.rate);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "| phase | done/s | end to end p50 / p99 ms | events/s | ratio to baseline | CPU ms/ticket (all but the clients) | PG xacts / rollbacks / statements per ticket | disposal / rating attempts |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let done = match r.offered {
            Some((offered, kept)) => format!(
                "{} of {} offered ({})",
                num(r.rate),
                num(offered),
                if kept { "keeps up" } else { "falls behind" }
            ),
            None => num(r.rate),
        };
        let is_raw = matches!(r.kind, Kind::RawPublish | Kind::RawInsert);
        // The system's CPU: every process but the clients driving it.
        let cpu: f64 = r
            .cpu_ms
            .iter()
            .filter(|(p, _)| p.as_str() != CLIENTS)
            .map(|(_, v)| v)
            .sum();
        let ratio = ratio(r, raw_publish, raw_insert).map_or("–".into(), |x| format!("{x:.3}×"));
        let _ = writeln!(
            o,
            "| {} | {done} | {} / {} | {} | {ratio} | {} | {} | {} |",
            r.name,
            opt_ms(r.p50),
            opt_ms(r.p99),
            if is_raw {
                "–".into()
            } else {
                num(r.events_per_s)
            },
            if is_raw { "–".into() } else { num(cpu) },
            if is_raw {
                "–".into()
            } else {
                format!(
                    "{} / {} / {}",
                    num(r.xacts),
                    num(r.rollbacks),
                    num(r.statements)
                )
            },
            r.attempts
                .map_or("–".into(), |(d, f)| format!("{} / {}", num(d), num(f))),
        );
    }
    let measured: Vec<&Row> = rows
        .iter()
        .filter(|r| !matches!(r.kind, Kind::RawPublish | Kind::RawInsert))
        .collect();
    let procs: Vec<String> = measured
        .iter()
        .flat_map(|r| r.cpu_ms.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let _ = writeln!(o, "\nCPU ms per completed ticket, by process:\n");
    let _ = writeln!(o, "| phase | {} |", procs.join(" | "));
    let _ = writeln!(o, "|---|{}", "---:|".repeat(procs.len()));
    for r in &measured {
        let cells: Vec<String> = procs
            .iter()
            .map(|p| r.cpu_ms.get(p).map_or("–".into(), |v| num(*v)))
            .collect();
        let _ = writeln!(o, "| {} | {} |", r.name, cells.join(" | "));
    }
    let services: Vec<String> = measured
        .iter()
        .flat_map(|r| r.by_service.keys().chain(r.lag.keys()).cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let _ = writeln!(
        o,
        "\nPostgreSQL statements / explicit transactions / rollbacks per completed ticket, by service (pg_stat_statements by role):\n"
    );
    let _ = writeln!(o, "| phase | {} |", services.join(" | "));
    let _ = writeln!(o, "|---|{}", "---:|".repeat(services.len()));
    for r in &measured {
        let cells: Vec<String> = services
            .iter()
            .map(|s| {
                r.by_service.get(s).map_or("–".into(), |(c, b, rb)| {
                    format!("{} / {} / {}", num(*c), num(*b), num(*rb))
                })
            })
            .collect();
        let _ = writeln!(o, "| {} | {} |", r.name, cells.join(" | "));
    }
    let _ = writeln!(
        o,
        "\nConsumer lag, by service: most events behind seen (sampled each second) / delay p99 ms (publication → handled, bucket bound):\n"
    );
    let _ = writeln!(o, "| phase | {} |", services.join(" | "));
    let _ = writeln!(o, "|---|{}", "---:|".repeat(services.len()));
    for r in &measured {
        let cells: Vec<String> = services
            .iter()
            .map(|s| {
                r.lag.get(s).map_or("–".into(), |(l, d)| {
                    format!("{} / {}", num(*l), opt_ms(*d))
                })
            })
            .collect();
        let _ = writeln!(o, "| {} | {} |", r.name, cells.join(" | "));
    }
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.failures.is_empty())
        .map(|r| format!("{}: {:?}", r.name, r.failures))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(o, "\nFailed walks or submissions: {}", failed.join("; "));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut v, 0.5), Some(50.0));
        assert_eq!(percentile(&mut v, 0.99), Some(99.0));
        assert_eq!(percentile(&mut v, 1.0), Some(100.0));
        assert_eq!(percentile(&mut [7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&mut [], 0.5), None);
    }

    #[test]
    fn histograms_are_read_summed_and_differenced() {
        let page = "# TYPE gridloop_consumer_delay_seconds histogram\n\
            gridloop_consumer_delay_seconds_bucket{svc=\"a\",le=\"0.1\"} 5\n\
            gridloop_consumer_delay_seconds_bucket{svc=\"a\",le=\"1\"} 8\n\
            gridloop_consumer_delay_seconds_bucket{svc=\"a\",le=\"+Inf\"} 10\n\
            gridloop_consumer_delay_seconds_bucket{svc=\"b\",le=\"0.1\"} 1\n\
            gridloop_consumer_delay_seconds_bucket{svc=\"b\",le=\"1\"} 1\n\
            gridloop_consumer_delay_seconds_bucket{svc=\"b\",le=\"+Inf\"} 1\n\
            gridloop_consumer_delay_seconds_count{svc=\"a\"} 10\n";
        let h = Histogram::from_prometheus(page, "gridloop_consumer_delay");
        assert_eq!(h.0, vec![(0.1, 6.0), (1.0, 9.0), (f64::INFINITY, 11.0)]);
        let earlier = Histogram(vec![(0.1, 6.0), (1.0, 6.0), (f64::INFINITY, 6.0)]);
        let d = h.since(&earlier);
        assert_eq!(d.count(), 5.0);
        assert_eq!(d.quantile_bound(0.5), Some(1.0));
        assert_eq!(d.quantile_bound(0.99), Some(f64::INFINITY));
        assert_eq!(Histogram::default().quantile_bound(0.99), None);
    }

    #[test]
    fn the_table_gives_ratios_to_the_baselines_of_the_same_run() {
        let mut loop_row = Row::new("16 clients", Kind::Loop, 40.0);
        loop_row.events_per_s = 240.0;
        loop_row.cpu_ms.insert("postgres".into(), 20.0);
        loop_row.cpu_ms.insert("routing".into(), 5.0);
        loop_row.cpu_ms.insert(CLIENTS.into(), 3.0);
        loop_row
            .by_service
            .insert("routing".into(), (54.0, 10.0, 2.0));
        let mut intake = Row::new("intake only", Kind::Intake, 500.0);
        intake.offered = None;
        let rows = vec![
            Row::new("raw publishes", Kind::RawPublish, 2400.0),
            Row::new("raw inserts", Kind::RawInsert, 10_000.0),
            loop_row,
            intake,
        ];
        let md = markdown(&rows);
        assert!(md.contains("| 16 clients | 40.0 |"), "{md}");
        assert!(md.contains("0.100×"), "{md}");
        assert!(md.contains("0.050×"), "{md}");
        assert!(md.contains("| 2,400 |"), "{md}");
        assert!(md.contains("| 0.100× | 25.0 |"), "{md}");
        assert!(md.contains("| 16 clients | 3.00 | 20.0 | 5.00 |"), "{md}");
        assert!(md.contains("54.0 / 10.0 / 2.00"), "{md}");
    }
}
