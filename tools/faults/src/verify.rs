//! Runs each service binary's `verify` subcommand, which replays the stream through the
//! lifecycle rules and compares the service's own view with it. Its last line is
//! `verify: <service>: <N> tickets checked, <D> differences`; it exits 0 only when D = 0 and
//! its view has caught up.

use std::time::Duration;

use crate::stack::{SERVICES, Stack};

/// What one service's `verify` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The binary has no `verify` subcommand yet.
    Unavailable,
    /// It ran: tickets checked, differences, and whether it exited 0.
    Ran {
        checked: u64,
        differences: u64,
        success: bool,
    },
    /// It could not be run, timed out, or printed no summary line.
    Failed(String),
}

/// Runs every service's `verify`; saves each output to `verify-<service>.log`.
pub async fn all(stack: &Stack) -> Vec<(&'static str, Verdict)> {
    let mut out = Vec::new();
    for s in SERVICES {
        let v = one(stack, s).await;
        say!("verify {s}: {}", describe(&v));
        out.push((s, v));
    }
    out
}

pub fn describe(v: &Verdict) -> String {
    match v {
        Verdict::Unavailable => "NOT AVAILABLE (the binary has no verify subcommand)".into(),
        Verdict::Ran {
            checked,
            differences,
            success,
        } => format!(
            "{checked} tickets checked, {differences} differences{}",
            if *success { "" } else { ", exit status not 0" }
        ),
        Verdict::Failed(why) => format!("FAILED: {why}"),
    }
}

async fn one(stack: &Stack, service: &str) -> Verdict {
    let run = tokio::process::Command::new(stack.binary(service))
        .arg("verify")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(stack.env(service))
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(Duration::from_secs(180), run).await {
        Err(_) => return Verdict::Failed("no answer within 180 s".into()),
        Ok(Err(e)) => return Verdict::Failed(format!("cannot run: {e}")),
        Ok(Ok(o)) => o,
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::write(stack.dir.join(format!("verify-{service}.log")), &text);
    parse(&text, out.status.success())
}

/// Reads the summary line (or the "unknown command" refusal) from `verify`'s output.
pub fn parse(text: &str, success: bool) -> Verdict {
    if !success && text.contains("unknown command") {
        return Verdict::Unavailable;
    }
    let summary = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("verify:") && l.contains("differences"));
    let Some(line) = summary else {
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        return Verdict::Failed(format!(
            "no summary line; output ends: {}",
            tail.join(" | ")
        ));
    };
    let number_before = |word: &str| -> Option<u64> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words.iter().position(|w| w.trim_end_matches(',') == word)?;
        words.get(i.checked_sub(1)?)?.parse().ok()
    };
    match (number_before("tickets"), number_before("differences")) {
        (Some(checked), Some(differences)) => Verdict::Ran {
            checked,
            differences,
            success,
        },
        _ => Verdict::Failed(format!("cannot read the summary line {line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_line_and_the_missing_subcommand() {
        let out = "ticket 1: state REPORTED, stream says CLOSED\n\
                   verify: tracker: 5012 tickets checked, 3 differences\n";
        assert_eq!(
            parse(out, false),
            Verdict::Ran {
                checked: 5012,
                differences: 3,
                success: false
            }
        );
        let old = "Error: configuration: unknown command verify\nusage: <service> [serve | …]";
        assert_eq!(parse(old, false), Verdict::Unavailable);
        assert!(matches!(parse("panicked", false), Verdict::Failed(_)));
    }
}
