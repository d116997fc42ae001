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

/// User + system clock ticks of every live process, summed by process group.
pub fn cpu_by_group() -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((group, ticks)) = parse_stat(&stat) {
            *out.entry(group).or_default() += ticks;
        }
    }
    out
}

/// The process group and utime + stime of one `/proc/<pid>/stat` line. The command name (field
/// 2) may hold spaces and parentheses, so fields are counted from its closing parenthesis.
pub fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) … utime(14) stime(15).
    let group = f.get(2)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((group, utime + stime))
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
    db: &PgPool,
    js: &async_nats::jetstream::Context,
) -> anyhow::Result<Snapshot> {
    let groups = cpu_by_group();
    let mut cpu = BTreeMap::new();
    let mut named: Vec<(String, Option<u32>)> = SERVICES
        .iter()
        .zip(&stack.services)
        .map(|(s, p)| (s.to_string(), p.group()))
        .collect();
    named.push(("postgres".into(), stack.postgres.group()));
    named.push(("nats-server".into(), stack.nats.group()));
    named.push(("loadbench".into(), Some(std::process::id())));
    for (name, group) in named {
        // The tool itself was started from a shell: its group is the shell's job, so its own
        // pid is read instead (it forks nothing but pgbench, which the baseline measures).
        let ticks = if name == "loadbench" {
            std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|s| parse_stat(&s))
                .map(|(_, t)| t)
        } else {
            group.and_then(|g| groups.get(&g).copied())
        };
        cpu.insert(name, ticks.unwrap_or(0));
    }
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
    for s in SERVICES {
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
        assert_eq!(parse_stat(line), Some((4200, 42)));
    }

    #[test]
    fn gauges_are_summed_over_label_sets() {
        let page = "# HELP x\ngridloop_consumer_lag{a=\"1\"} 3\ngridloop_consumer_lag{a=\"2\"} 4\n\
                    gridloop_consumer_lag_other 9\n";
        assert_eq!(gauge(page, "gridloop_consumer_lag"), 7.0);
    }
}
