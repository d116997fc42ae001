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
//! No argument (or `serve`) serves. [`Command`] is a clap subcommand every service's command
//! line carries (`<service> --help`, `<service> replay --help`).

// Printing the outcome is what these commands are for.
#![allow(clippy::print_stdout)]

use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use sqlx::migrate::Migrator;

use crate::{Config, Error, db, inbox, outbox, verify};

/// What the binary was asked to do: the subcommand of every service's command line (none
/// means [`Command::Serve`]).
#[derive(Subcommand, Clone, Debug, PartialEq, Eq, Default)]
pub enum Command {
    /// Serve gRPC, relay the outbox, consume events (also what no command does).
    #[default]
    Serve,
    /// Create the service's role and schema and apply its migrations, then exit.
    Migrate,
    /// Mark the events sent since a time unsent, so the running service's relay republishes them.
    Replay {
        /// An RFC 3339 time, or an age: 30m, 6h, 2d.
        #[arg(long, value_parser = Since::parse)]
        since: Since,
    },
    /// List the events this service could not apply, newest first.
    DeadLetters,
    /// Ask the running service's gRPC health endpoint; exit status 0 when serving.
    Healthcheck,
    /// Once caught up, compare the service's view of every ticket with the stream's replay.
    Verify {
        /// Seconds to wait for the service to catch up.
        #[arg(long, default_value = "30", value_parser = seconds)]
        wait: std::time::Duration,
    },
}

/// Where `replay --since` starts: a time, or an age counted back from when the command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    At(DateTime<Utc>),
    Ago(Duration),
}

impl Since {
    fn parse(value: &str) -> Result<Since, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(value) {
            return Ok(Since::At(t.with_timezone(&Utc)));
        }
        let cannot = || format!("cannot read {value:?}: an RFC 3339 time or an age (30m, 6h, 2d)");
        let (num, unit) = value.split_at(value.len().checked_sub(1).ok_or_else(cannot)?);
        let n: i64 = num.parse().ok().filter(|n| *n > 0).ok_or_else(cannot)?;
        Ok(Since::Ago(match unit {
            "m" => Duration::minutes(n),
            "h" => Duration::hours(n),
            "d" => Duration::days(n),
            _ => return Err(cannot()),
        }))
    }

    /// The time this stands for; `now` anchors ages.
    pub fn at(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Since::At(t) => t,
            Since::Ago(age) => now - age,
        }
    }
}

fn seconds(value: &str) -> Result<std::time::Duration, String> {
    value
        .parse::<u64>()
        .map(std::time::Duration::from_secs)
        .map_err(|_| format!("not a number of seconds: {value:?}"))
}

/// What a service binary serves with: the signal that starts its drain, and its telemetry,
/// flushed when this is dropped at exit.
pub struct Serving {
    pub shutdown: tokio_util::sync::CancellationToken,
    _telemetry: crate::telemetry::TelemetryGuard,
}

/// The start every service binary shares: telemetry installed, then the operations
/// subcommand `command` run to its end (`None`), or what to serve with (no subcommand, or
/// `serve`).
pub async fn start(
    cfg: &Config,
    command: Option<Command>,
    migrator: &Migrator,
    view: &verify::Spec,
) -> Result<Option<Serving>, Error> {
    let telemetry = crate::telemetry::install(cfg.telemetry())?;
    match command.unwrap_or_default() {
        Command::Serve => Ok(Some(Serving {
            shutdown: crate::grpc::shutdown_on_signal(),
            _telemetry: telemetry,
        })),
        command => run(command, cfg, migrator, view).await.map(|()| None),
    }
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
            let since = since.at(crate::clock::now());
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
    use clap::Parser;

    use super::*;

    /// The subcommand as a service's command line holds it.
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: Option<Command>,
    }

    fn parse(v: &[&str]) -> Result<Command, clap::Error> {
        let argv = std::iter::once("svc").chain(v.iter().copied());
        Cli::try_parse_from(argv).map(|c| c.command.unwrap_or_default())
    }

    #[test]
    fn parses_the_commands() {
        let now = Utc::now();
        assert_eq!(parse(&[]).unwrap(), Command::Serve);
        assert_eq!(parse(&["serve"]).unwrap(), Command::Serve);
        assert_eq!(parse(&["migrate"]).unwrap(), Command::Migrate);
        assert_eq!(parse(&["dead-letters"]).unwrap(), Command::DeadLetters);
        assert_eq!(parse(&["healthcheck"]).unwrap(), Command::Healthcheck);
        let Command::Replay { since } = parse(&["replay", "--since", "6h"]).unwrap() else {
            panic!("replay");
        };
        assert_eq!(since.at(now), now - Duration::hours(6));
        let at = "2026-11-20T08:00:00+08:00";
        let Command::Replay { since } = parse(&["replay", "--since", at]).unwrap() else {
            panic!("replay");
        };
        assert_eq!(
            since.at(now),
            DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc)
        );
        assert_eq!(
            parse(&["verify"]).unwrap(),
            Command::Verify {
                wait: std::time::Duration::from_secs(30)
            }
        );
        assert_eq!(
            parse(&["verify", "--wait", "90"]).unwrap(),
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
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
