//! Operations a service binary performs besides serving, so each binary is its own ops tool:
//!
//! - `migrate`: create the service's role and schema and apply its migrations, then exit;
//! - `replay --since <when>`: mark the outbox rows sent since `<when>` (RFC 3339, or an age
//!   such as `30m`, `6h`, `2d`) unsent, so the relay of the running service republishes them;
//!   consumers drop what they already applied, the stream what is inside its duplicate window;
//! - `dead-letters`: list the events this service could not apply, newest first;
//! - `healthcheck`: ask the running service's gRPC health endpoint; exit status says SERVING;
//! - `verify [--wait <seconds>]`: wait (30 s unless told) until the service has caught up with
//!   the stream, then compare its view of every ticket with the stream's replay through the
//!   lifecycle rules ([`crate::verify`]); prints every difference, exit status 0 only when
//!   there are none.
//!
//! No argument (or `serve`) serves.

// Printing the outcome is what these commands are for.
#![allow(clippy::print_stdout)]

use chrono::{DateTime, Duration, Utc};
use sqlx::migrate::Migrator;

use crate::{Config, Error, db, inbox, outbox, verify};

/// What the binary was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    Replay { since: DateTime<Utc> },
    DeadLetters,
    Healthcheck,
    Verify { wait: std::time::Duration },
}

const USAGE: &str = "usage: <service> [serve | migrate | replay --since <RFC 3339 time or age: 30m, 6h, 2d> | dead-letters | healthcheck | verify [--wait <seconds>]]";

/// Parses the arguments after the program name; `now` anchors ages like `6h`.
pub fn parse(mut args: impl Iterator<Item = String>, now: DateTime<Utc>) -> Result<Command, Error> {
    let usage = |why: &str| Error::Config(format!("{why}\n{USAGE}"));
    let cmd = match args.next().as_deref() {
        None | Some("serve") => Command::Serve,
        Some("migrate") => Command::Migrate,
        Some("dead-letters") => Command::DeadLetters,
        Some("healthcheck") => Command::Healthcheck,
        Some("verify") => {
            let mut wait = std::time::Duration::from_secs(30);
            if let Some(flag) = args.next() {
                if flag != "--wait" {
                    return Err(usage(&format!("unknown option {flag}")));
                }
                let secs = args
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| usage("--wait needs a number of seconds"))?;
                wait = std::time::Duration::from_secs(secs);
            }
            Command::Verify { wait }
        }
        Some("replay") => {
            let (Some(flag), Some(value)) = (args.next(), args.next()) else {
                return Err(usage("replay needs --since <when>"));
            };
            if flag != "--since" {
                return Err(usage(&format!("unknown option {flag}")));
            }
            let since = parse_since(&value, now)
                .ok_or_else(|| usage(&format!("--since: cannot read {value:?}")))?;
            Command::Replay { since }
        }
        Some(other) => return Err(usage(&format!("unknown command {other}"))),
    };
    match args.next() {
        Some(extra) => Err(usage(&format!("unexpected argument {extra}"))),
        None => Ok(cmd),
    }
}

fn parse_since(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    let (num, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: i64 = num.parse().ok().filter(|n| *n > 0)?;
    let age = match unit {
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return None,
    };
    Some(now - age)
}

/// Runs a command other than [`Command::Serve`]; `view` says how `verify` reads the
/// service's view.
pub async fn run(
    cmd: Command,
    cfg: &Config,
    migrator: &Migrator,
    view: &verify::Spec,
) -> Result<(), Error> {
    match cmd {
        Command::Serve => Err(Error::Config("serve is run by the service itself".into())),
        Command::Migrate => {
            db::setup(cfg, migrator).await?;
            println!("{}: schema and migrations are up to date", cfg.service);
            Ok(())
        }
        Command::Replay { since } => {
            let pool = db::setup(cfg, migrator).await?;
            let n = outbox::replay_since(&pool, since).await?;
            println!(
                "{}: {n} event(s) since {since} marked for republishing; the running service's relay sends them",
                cfg.service
            );
            Ok(())
        }
        Command::DeadLetters => {
            let pool = db::setup(cfg, migrator).await?;
            let letters = inbox::dead_letters(&pool, 100).await?;
            if letters.is_empty() {
                println!("{}: no dead letters", cfg.service);
            }
            for d in letters {
                println!(
                    "{}  seq {}  {}  event {}  after {} deliveries: {}",
                    d.failed_at, d.stream_seq, d.subject, d.event_id, d.deliveries, d.error
                );
            }
            Ok(())
        }
        Command::Healthcheck => healthcheck(cfg).await,
        Command::Verify { wait } => {
            let pool = db::setup(cfg, migrator).await?;
            let bus = crate::nats::Bus::connect(cfg).await?;
            verify::run(&cfg.service, &pool, &bus, view, wait).await
        }
    }
}

async fn healthcheck(cfg: &Config) -> Result<(), Error> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", cfg.grpc_addr))
        .map_err(|e| Error::Config(e.to_string()))?
        .connect_timeout(std::time::Duration::from_secs(3))
        .connect()
        .await?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|s| Error::Ops(format!("health check refused: {}", s.message())))?
        .into_inner()
        .status();
    if status == ServingStatus::Serving {
        println!("{}: serving on {}", cfg.service, cfg.grpc_addr);
        Ok(())
    } else {
        Err(Error::Ops(format!("{} is {status:?}", cfg.service)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> impl Iterator<Item = String> {
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_the_commands() {
        let now = Utc::now();
        assert_eq!(parse(args(&[]), now).unwrap(), Command::Serve);
        assert_eq!(parse(args(&["migrate"]), now).unwrap(), Command::Migrate);
        assert_eq!(
            parse(args(&["replay", "--since", "6h"]), now).unwrap(),
            Command::Replay {
                since: now - Duration::hours(6)
            }
        );
        let at = "2026-11-20T08:00:00+08:00";
        assert_eq!(
            parse(args(&["replay", "--since", at]), now).unwrap(),
            Command::Replay {
                since: DateTime::parse_from_rfc3339(at)
                    .unwrap()
                    .with_timezone(&Utc)
            }
        );
        assert_eq!(
            parse(args(&["verify"]), now).unwrap(),
            Command::Verify {
                wait: std::time::Duration::from_secs(30)
            }
        );
        assert_eq!(
            parse(args(&["verify", "--wait", "90"]), now).unwrap(),
            Command::Verify {
                wait: std::time::Duration::from_secs(90)
            }
        );
        for bad in [
            &["replay"][..],
            &["verify", "--wait"],
            &["verify", "--wait", "soon"],
            &["verify", "--since", "6h"],
            &["replay", "--until", "6h"],
            &["replay", "--since", "yesterday"],
            &["replay", "--since", "-3h"],
            &["migrate", "now"],
            &["dance"],
        ] {
            assert!(parse(args(bad), now).is_err(), "{bad:?}");
        }
    }
}
