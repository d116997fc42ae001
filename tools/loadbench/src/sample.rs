//! What is read at the start and end of a phase, and during it: CPU time of every process
//! (from `/proc`), PostgreSQL's counters (`pg_stat_database`, `pg_stat_statements` by role —
//! every service logs in as its own `gridloop_<service>` role, so statements are attributed
//! to services by user), the stream's last sequence, and each service's consumer lag and
//! delay from its Prometheus page.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use gridloop_harness::stack::{SERVICES, Stack};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::report::Histogram;

/// Clock ticks per second of `/proc/<pid>/stat`'s times (`getconf CLK_TCK`; 100 on Linux).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// One live process: its parent, its process group and its user + system clock ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcStat {
    pub pid: u32,
    pub ppid: u32,
    pub group: u32,
    pub ticks: u64,
}

/// Every live process.
pub fn processes() -> Vec<ProcStat> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(p) = parse_stat(pid, &stat) {
            out.push(p);
        }
    }
    out
}

/// One `/proc/<pid>/stat` line. The command name (field 2) may hold spaces and parentheses,
/// so fields are counted from its closing parenthesis.
pub fn parse_stat(pid: u32, stat: &str) -> Option<ProcStat> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) … utime(14) stime(15).
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(ProcStat {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        group: f.get(2)?.parse().ok()?,
        ticks: utime + stime,
    })
}

/// Ticks of process group `group` (a service and anything it forked).
pub fn group_ticks(all: &[ProcStat], group: u32) -> u64 {
    all.iter()
        .filter(|p| p.group == group)
        .map(|p| p.ticks)
        .sum()
}

/// Ticks of the postmaster and its children: every backend calls setsid(), so PostgreSQL is
/// found by parenthood, not by process group. A backend that exited during the phase takes
/// its ticks with it; the services' pools keep their connections, so few do.
pub fn family_ticks(all: &[ProcStat], parent: u32) -> u64 {
    all.iter()
        .filter(|p| p.pid == parent || p.ppid == parent)
        .map(|p| p.ticks)
        .sum()
}

/// One service's (role's) statements, transactions opened and rollbacks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Statements {
    pub calls: f64,
    pub begins: f64,
    pub rollbacks: f64,
}

/// Counters at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub at: Instant,
    /// Ticks by process name (a service, `postgres`, `nats-server`, `loadbench`).
    pub cpu: BTreeMap<String, u64>,
    pub xact_commit: f64,
    pub xact_rollback: f64,
    /// By service.
    pub statements: BTreeMap<String, Statements>,
    pub stream_seq: u64,
    /// Each service's `gridloop.consumer.delay` histogram.
    pub delay: BTreeMap<String, Histogram>,
}

/// Reads everything [`Snapshot`] holds.
pub async fn snapshot(
    stack: &Stack,
    paused: &[&str],
    db: &PgPool,
    js: &async_nats::jetstream::Context,
) -> anyhow::Result<Snapshot> {
    let all = processes();
    let mut cpu = BTreeMap::new();
    for (s, p) in SERVICES.iter().zip(&stack.services) {
        let ticks = p.group().map_or(0, |g| group_ticks(&all, g));
        cpu.insert(s.to_string(), ticks);
    }
    let pg = stack
        .postgres
        .target_pid()
        .map_or(0, |pm| family_ticks(&all, pm));
    cpu.insert("postgres".into(), pg);
    let nats = stack.nats.group().map_or(0, |g| group_ticks(&all, g));
    cpu.insert("nats-server".into(), nats);
    // The tool itself: its own process (it forks nothing but pgbench, which only the
    // baseline runs).
    let me = std::process::id();
    let own = all.iter().find(|p| p.pid == me).map_or(0, |p| p.ticks);
    cpu.insert(crate::report::CLIENTS.into(), own);
    let (xact_commit, xact_rollback): (f64, f64) = sqlx::query_as(
        "SELECT xact_commit::float8, xact_rollback::float8 FROM pg_stat_database \
         WHERE datname = current_database()",
    )
    .fetch_one(db)
    .await
    .context("pg_stat_database")?;
    let rows: Vec<(String, f64, f64, f64)> = sqlx::query_as(
        "SELECT r.rolname::text, sum(s.calls)::float8, \
                coalesce(sum(s.calls) FILTER (WHERE s.query ~* '^\\s*(begin|start transaction)'), 0)::float8, \
                coalesce(sum(s.calls) FILTER (WHERE s.query ~* '^\\s*rollback' \
                                                AND s.query !~* '^\\s*rollback\\s+to'), 0)::float8 \
         FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid \
         WHERE r.rolname LIKE 'gridloop\\_%' GROUP BY r.rolname",
    )
    .fetch_all(db)
    .await
    .context("pg_stat_statements")?;
    let statements = rows
        .into_iter()
        .map(|(role, calls, begins, rollbacks)| {
            let service = role.trim_start_matches("gridloop_").to_string();
            (
                service,
                Statements {
                    calls,
                    begins,
                    rollbacks,
                },
            )
        })
        .collect();
    let stream_seq = js
        .get_stream("TICKETS")
        .await
        .map_err(|e| anyhow::anyhow!("stream TICKETS: {e}"))?
        .info()
        .await
        .map_err(|e| anyhow::anyhow!("stream info: {e}"))?
        .state
        .last_sequence;
    let mut delay = BTreeMap::new();
    for s in SERVICES.iter().filter(|s| !paused.contains(s)) {
        let page = metrics_page(stack.admin_port(s)).await.unwrap_or_default();
        delay.insert(
            s.to_string(),
            Histogram::from_prometheus(&page, "gridloop_consumer_delay"),
        );
    }
    Ok(Snapshot {
        at: Instant::now(),
        cpu,
        xact_commit,
        xact_rollback,
        statements,
        stream_seq,
        delay,
    })
}

/// Each service's `gridloop_consumer_lag` gauge (events on the stream it has not read yet).
pub async fn lags(stack: &Stack) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for s in SERVICES {
        let page = metrics_page(stack.admin_port(s)).await.unwrap_or_default();
        out.insert(s.to_string(), gauge(&page, "gridloop_consumer_lag"));
    }
    out
}

/// The sum of a gauge over its label sets on a Prometheus text page.
pub fn gauge(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (metric, value) = l.rsplit_once(' ')?;
            let base = metric.split('{').next()?;
            (base == name).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// `GET /metrics` on a service's admin port: plain HTTP/1.1 over one connection, which is
/// all the page needs (the workspace has no HTTP client outside the services).
pub async fn metrics_page(port: u16) -> anyhow::Result<String> {
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        anyhow::Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    let text = tokio::time::timeout(Duration::from_secs(5), fetch).await??;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or(("", &text));
    if !head.starts_with("HTTP/1.1 200") {
        anyhow::bail!("admin :{port}: {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line =
            "4242 (tokio (rt) x) S 1 4200 4200 0 -1 4194560 10 0 0 0 37 5 0 0 20 0 9 0 1 0 0";
        let p = parse_stat(4242, line).unwrap();
        assert_eq!((p.ppid, p.group, p.ticks), (1, 4200, 42));
    }

    #[test]
    fn postgres_is_summed_by_parenthood_and_services_by_group() {
        let p = |pid, ppid, group, ticks| ProcStat {
            pid,
            ppid,
            group,
            ticks,
        };
        let all = [
            p(10, 1, 10, 5),
            p(11, 10, 11, 7),
            p(12, 10, 12, 1),
            p(20, 1, 20, 3),
            p(21, 20, 20, 4),
        ];
        assert_eq!(family_ticks(&all, 10), 13);
        assert_eq!(group_ticks(&all, 20), 7);
    }

    #[test]
    fn gauges_are_summed_over_label_sets() {
        let page = "# HELP x\ngridloop_consumer_lag{a=\"1\"} 3\ngridloop_consumer_lag{a=\"2\"} 4\n\
                    gridloop_consumer_lag_other 9\n";
        assert_eq!(gauge(page, "gridloop_consumer_lag"), 7.0);
    }
}
