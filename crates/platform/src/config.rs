//! Configuration, declared once with clap: [`SharedArgs`] holds what every service shares and is
//! flattened into each service's own `Parser` (its `settings.rs`), beside the service's listen
//! addresses and its own settings. Every setting is a `--flag` and a `GRIDLOOP_*` environment
//! variable; defaults match the local stack (`deploy/local/stack.sh`), so a service started with
//! nothing set talks to it. `--help` lists them all with their variables.
//!
//! Secrets (the JWT secret, and the database URL, which may carry a password) are
//! [`SecretString`]s: `Debug` prints them redacted and `--help` never shows their values.

use std::net::SocketAddr;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue};
use clap::{Args, Command, FromArgMatches, Parser};
use secrecy::{ExposeSecret, SecretString};

use crate::Error;
use crate::telemetry;

/// The settings every service shares, as flags and `GRIDLOOP_*` variables.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Platform")]
pub struct SharedArgs {
    /// Administrative PostgreSQL connection (must name the user): creates the service's role
    /// and schema and runs migrations.
    #[arg(
        long,
        env = "GRIDLOOP_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:55432/postgres",
        hide_env_values = true
    )]
    pub database_url: SecretString,
    /// Connections in the service's own pool.
    #[arg(long, env = "GRIDLOOP_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    #[arg(
        long,
        env = "GRIDLOOP_NATS_URL",
        default_value = "nats://127.0.0.1:54222"
    )]
    pub nats_url: String,
    /// JetStream stream holding every ticket event.
    #[arg(long, env = "GRIDLOOP_STREAM", default_value = "TICKETS")]
    pub stream: String,
    /// Subject prefix: events go to `<prefix>.<kind>`.
    #[arg(long, env = "GRIDLOOP_SUBJECT_PREFIX", default_value = "tickets")]
    pub subject_prefix: String,
    /// Replicas of the stream: 1 on one machine, 3 on a 3-node JetStream cluster (at most 5).
    #[arg(long, env = "GRIDLOOP_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: u64,
    /// HS256 secret for bearer tokens; unset or empty, every authenticated call is refused.
    #[arg(long, env = "GRIDLOOP_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,
    /// Largest gRPC request body accepted, in bytes.
    #[arg(long, env = "GRIDLOOP_MAX_REQUEST_BYTES", default_value_t = 1 << 20)]
    pub max_request_bytes: u64,
    /// Days sent outbox rows are kept for `replay --since`.
    #[arg(long, env = "GRIDLOOP_OUTBOX_RETENTION_DAYS", default_value_t = 7)]
    pub outbox_retention_days: u64,
    /// Failed attempts (with the database up) after which a consumed event is dead-lettered.
    #[arg(long, env = "GRIDLOOP_MAX_DELIVERIES", default_value_t = 5)]
    pub max_deliveries: u32,
    /// `json` for machine-read logs; anything else is plain text.
    #[arg(long, env = "GRIDLOOP_LOG_FORMAT", default_value = "plain", value_parser = log_format)]
    pub log_format: LogFormat,
    /// Send traces and metrics over OTLP/gRPC to this collector; unset, nothing is exported.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// Settings every service shares, resolved. Build with [`Config::new`] from a service's parsed
/// command line, [`Config::local`] for the local stack's defaults, or construct directly in tests.
#[derive(Clone, Debug)]
pub struct Config {
    /// The service's name: its schema, its database role, its durable consumer.
    pub service: String,
    /// Administrative connection (creates the service's role and schema, runs migrations).
    pub database_url: SecretString,
    /// Maximum connections of the service's own pool.
    pub db_max_connections: u32,
    pub nats_url: String,
    /// JetStream stream holding every ticket event.
    pub stream: String,
    /// Subject prefix: events go to `<prefix>.<kind>`.
    pub subject_prefix: String,
    /// Replicas of the stream: 1 on one machine, 3 on a 3-node JetStream cluster.
    pub stream_replicas: usize,
    /// HS256 secret for bearer tokens. `None` refuses every authenticated call.
    pub jwt_secret: Option<SecretString>,
    /// gRPC listen address.
    pub grpc_addr: SocketAddr,
    /// Admin listen address: `/metrics` (Prometheus text) and `/healthz`.
    pub admin_addr: SocketAddr,
    /// Largest gRPC request body accepted, in bytes.
    pub max_request_bytes: usize,
    /// How long sent outbox rows are kept for `replay`.
    pub outbox_retention: Duration,
    /// Failed attempts (with the database healthy) after which an event is dead-lettered.
    pub max_deliveries: i64,
    /// `json` for machine-read logs, anything else for plain text.
    pub log_format: LogFormat,
    /// OTLP/gRPC collector for traces and metrics; `None` exports nothing.
    pub otlp_endpoint: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Plain,
    Json,
}

/// Anything but `json` is plain, as it always was: a typo must not stop a service.
fn log_format(s: &str) -> Result<LogFormat, std::convert::Infallible> {
    Ok(if s == "json" {
        LogFormat::Json
    } else {
        LogFormat::Plain
    })
}

/// The local-stack port of each service's gRPC server (DESIGN.md, "Ports of the local stack");
/// the admin port is 1000 above it.
pub fn default_port(service: &str) -> u16 {
    match service {
        "intake" => 50051,
        "routing" => 50052,
        "closure" => 50053,
        "tracker" => 50054,
        "reports" => 50055,
        _ => 50050,
    }
}

impl Config {
    /// The service's configuration from the shared settings and its listen addresses.
    pub fn new(
        service: &str,
        shared: SharedArgs,
        grpc_addr: SocketAddr,
        admin_addr: SocketAddr,
    ) -> Self {
        Self {
            service: service.to_owned(),
            database_url: shared.database_url,
            db_max_connections: shared.db_max_connections,
            nats_url: shared.nats_url,
            stream: shared.stream,
            subject_prefix: shared.subject_prefix,
            stream_replicas: shared.stream_replicas.clamp(1, 5) as usize,
            jwt_secret: shared.jwt_secret.filter(|s| !s.expose_secret().is_empty()),
            grpc_addr,
            admin_addr,
            max_request_bytes: usize::try_from(shared.max_request_bytes).unwrap_or(usize::MAX),
            outbox_retention: Duration::from_secs(
                shared.outbox_retention_days.saturating_mul(86_400),
            ),
            max_deliveries: i64::from(shared.max_deliveries),
            log_format: shared.log_format,
            otlp_endpoint: shared.otlp_endpoint.filter(|e| !e.trim().is_empty()),
        }
    }

    /// The defaults of the local stack, whatever the environment says: the base tests adjust.
    pub fn local(service: &str) -> Self {
        let shared = from_lookup::<SharedArgs>(|_| None).expect("the defaults parse");
        let port = default_port(service);
        Self::new(
            service,
            shared,
            SocketAddr::from(([127, 0, 0, 1], port)),
            SocketAddr::from(([127, 0, 0, 1], port + 1000)),
        )
    }

    /// The subject an event kind is published on.
    pub fn subject(&self, kind: &str) -> String {
        format!("{}.{kind}", self.subject_prefix)
    }

    /// How this service reports: its log format and collector.
    pub fn telemetry(&self) -> telemetry::Options {
        telemetry::Options {
            service: self.service.clone(),
            format: self.log_format,
            otlp_endpoint: self.otlp_endpoint.clone(),
            metrics_interval: Duration::from_secs(15),
        }
    }
}

/// Parses a service's command line and environment; on an error prints it, naming the
/// environment variable of the value at fault, and exits (status 2; `--help` exits 0).
pub fn parse<P: Parser>() -> P {
    match P::try_parse() {
        Ok(p) => p,
        Err(e) if e.get(ContextKind::InvalidArg).is_some() => {
            // Services are configured by environment far more often than by flags; clap's
            // message names only the flag.
            eprintln!("error: {}", explain(&P::command(), &e));
            std::process::exit(2)
        }
        Err(e) => e.exit(),
    }
}

/// Parses `A` from the process environment alone, ignoring the command line: how a service
/// started in-process (a test, a benchmark) reads its own settings.
pub fn from_env<A: Args + FromArgMatches>() -> Result<A, Error> {
    let cmd = A::augment_args(Command::new("settings").no_binary_name(true));
    cmd.clone()
        .try_get_matches_from(std::iter::empty::<String>())
        .and_then(|m| A::from_arg_matches(&m))
        .map_err(|e| Error::Config(explain(&cmd, &e)))
}

/// Parses `A` with `get` standing in for the environment (the process's own is not read), so
/// parsing is testable without touching it.
pub fn from_lookup<A: Args + FromArgMatches>(
    get: impl Fn(&str) -> Option<String>,
) -> Result<A, Error> {
    let cmd = A::augment_args(Command::new("settings").no_binary_name(true));
    // What the lookup holds goes in as flags; what clap captured from the process environment
    // is dropped.
    let argv: Vec<String> = cmd
        .get_arguments()
        .filter_map(|arg| {
            let value = get(arg.get_env()?.to_str()?)?;
            Some(format!("--{}={value}", arg.get_long()?))
        })
        .collect();
    cmd.clone()
        .mut_args(|a| a.env(None::<&str>))
        .try_get_matches_from(argv)
        .and_then(|m| A::from_arg_matches(&m))
        .map_err(|e| Error::Config(explain(&cmd, &e)))
}

/// clap's message, first line, with the environment variable of the argument at fault.
fn explain(cmd: &Command, e: &clap::Error) -> String {
    let rendered = e.to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    let Some(ContextValue::String(flag)) = e.get(ContextKind::InvalidArg) else {
        return message;
    };
    let long = flag
        .trim_start_matches("--")
        .split([' ', '='])
        .next()
        .unwrap_or_default();
    let var = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .and_then(|v| v.to_str());
    match var {
        Some(var) => format!("{var}: {message}"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_match_the_local_stack() {
        let c = Config::local("routing");
        assert_eq!(c.grpc_addr.port(), 50052);
        assert_eq!(c.admin_addr.port(), 51052);
        assert_eq!(c.nats_url, "nats://127.0.0.1:54222");
        assert_eq!(c.stream, "TICKETS");
        assert_eq!(c.subject("dispatched"), "tickets.dispatched");
        assert_eq!(c.max_deliveries, 5);
        assert_eq!(c.outbox_retention, Duration::from_secs(7 * 86_400));
        assert!(c.jwt_secret.is_none());
    }

    #[test]
    fn reads_overrides_and_rejects_garbage() {
        let env: HashMap<&str, &str> = [
            ("GRIDLOOP_SUBJECT_PREFIX", "t1.tickets"),
            ("GRIDLOOP_LOG_FORMAT", "json"),
            ("GRIDLOOP_STREAM_REPLICAS", "9"),
            ("GRIDLOOP_JWT_SECRET", ""),
        ]
        .into();
        let shared = from_lookup::<SharedArgs>(|k| env.get(k).map(|v| v.to_string())).unwrap();
        let c = Config::new(
            "intake",
            shared,
            ([0, 0, 0, 0], 7000).into(),
            ([0, 0, 0, 0], 0).into(),
        );
        assert_eq!(c.grpc_addr.port(), 7000);
        assert_eq!(c.subject("merged"), "t1.tickets.merged");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.stream_replicas, 5);
        assert!(c.jwt_secret.is_none(), "an empty secret is no secret");

        let bad = from_lookup::<SharedArgs>(|k| {
            (k == "GRIDLOOP_MAX_DELIVERIES").then(|| "many".to_string())
        });
        assert!(matches!(bad, Err(Error::Config(m)) if m.contains("GRIDLOOP_MAX_DELIVERIES")));
    }

    #[test]
    fn the_process_environment_parses_the_same_way() {
        // Whatever the test's environment sets (the local stack's `.local/env`, or nothing),
        // it is valid; the command line of the test binary is not read.
        let shared = from_env::<SharedArgs>().unwrap();
        assert!(shared.db_max_connections > 0);
    }

    #[test]
    fn secrets_never_show() {
        let shared = from_lookup::<SharedArgs>(|k| match k {
            "GRIDLOOP_JWT_SECRET" => Some("s3cr3t-jwt".into()),
            "GRIDLOOP_DATABASE_URL" => Some("postgres://u:hunter2@db/x".into()),
            _ => None,
        })
        .unwrap();
        let c = Config::new(
            "intake",
            shared,
            ([127, 0, 0, 1], 0).into(),
            ([127, 0, 0, 1], 0).into(),
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cr3t-jwt") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert_eq!(
            c.jwt_secret.as_ref().map(|s| s.expose_secret()),
            Some("s3cr3t-jwt")
        );
    }
}
