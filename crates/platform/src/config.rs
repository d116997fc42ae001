//! Configuration from `GRIDLOOP_*` environment variables. Defaults match the local stack
//! (`deploy/local/stack.sh`), so a service started with nothing set talks to it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::Error;

/// Settings every service shares. Build with [`Config::from_env`] or construct directly in tests.
#[derive(Clone, Debug)]
pub struct Config {
    /// The service's name: its schema, its database role, its durable consumer.
    pub service: String,
    /// Administrative connection (creates the service's role and schema, runs migrations).
    pub database_url: String,
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
    pub jwt_secret: Option<String>,
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Plain,
    Json,
}

/// The local-stack port of each service's gRPC server (DESIGN.md, "Ports of the local stack").
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
    /// Reads the environment. `service` selects `GRIDLOOP_<SERVICE>_ADDR`.
    pub fn from_env(service: &str) -> Result<Self, Error> {
        Self::from_lookup(service, |k| std::env::var(k).ok())
    }

    /// Same as [`Config::from_env`] over any key lookup, so parsing is testable without
    /// touching the process environment.
    pub fn from_lookup(service: &str, get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let addr_key = format!("GRIDLOOP_{}_ADDR", service.to_ascii_uppercase());
        let grpc_addr = match get(&addr_key) {
            Some(v) => v
                .parse()
                .map_err(|_| Error::Config(format!("{addr_key}: not a socket address: {v}")))?,
            None => SocketAddr::from(([127, 0, 0, 1], default_port(service))),
        };
        let admin_key = format!("GRIDLOOP_{}_ADMIN_ADDR", service.to_ascii_uppercase());
        let admin_addr = match get(&admin_key) {
            Some(v) => v
                .parse()
                .map_err(|_| Error::Config(format!("{admin_key}: not a socket address: {v}")))?,
            None => SocketAddr::from(([127, 0, 0, 1], default_port(service) + 1000)),
        };
        let num = |key: &str, default: u64| -> Result<u64, Error> {
            match get(key) {
                Some(v) => v
                    .parse()
                    .map_err(|_| Error::Config(format!("{key}: not a number: {v}"))),
                None => Ok(default),
            }
        };
        Ok(Self {
            service: service.to_owned(),
            database_url: get("GRIDLOOP_DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:55432/postgres".into()),
            db_max_connections: num("GRIDLOOP_DB_MAX_CONNECTIONS", 16)? as u32,
            nats_url: get("GRIDLOOP_NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:54222".into()),
            stream: get("GRIDLOOP_STREAM").unwrap_or_else(|| "TICKETS".into()),
            subject_prefix: get("GRIDLOOP_SUBJECT_PREFIX").unwrap_or_else(|| "tickets".into()),
            stream_replicas: num("GRIDLOOP_STREAM_REPLICAS", 1)?.clamp(1, 5) as usize,
            jwt_secret: get("GRIDLOOP_JWT_SECRET").filter(|s| !s.is_empty()),
            grpc_addr,
            admin_addr,
            max_request_bytes: num("GRIDLOOP_MAX_REQUEST_BYTES", 1 << 20)? as usize,
            outbox_retention: Duration::from_secs(
                num("GRIDLOOP_OUTBOX_RETENTION_DAYS", 7)? * 86_400,
            ),
            max_deliveries: num("GRIDLOOP_MAX_DELIVERIES", 5)? as i64,
            log_format: match get("GRIDLOOP_LOG_FORMAT").as_deref() {
                Some("json") => LogFormat::Json,
                _ => LogFormat::Plain,
            },
        })
    }

    /// The subject an event kind is published on.
    pub fn subject(&self, kind: &str) -> String {
        format!("{}.{kind}", self.subject_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_match_the_local_stack() {
        let c = Config::from_lookup("routing", |_| None).unwrap();
        assert_eq!(c.grpc_addr.port(), 50052);
        assert_eq!(c.nats_url, "nats://127.0.0.1:54222");
        assert_eq!(c.stream, "TICKETS");
        assert_eq!(c.subject("dispatched"), "tickets.dispatched");
        assert!(c.jwt_secret.is_none());
    }

    #[test]
    fn reads_overrides_and_rejects_garbage() {
        let env: HashMap<&str, &str> = [
            ("GRIDLOOP_INTAKE_ADDR", "0.0.0.0:7000"),
            ("GRIDLOOP_SUBJECT_PREFIX", "t1.tickets"),
            ("GRIDLOOP_LOG_FORMAT", "json"),
        ]
        .into();
        let c = Config::from_lookup("intake", |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.grpc_addr.port(), 7000);
        assert_eq!(c.subject("merged"), "t1.tickets.merged");
        assert_eq!(c.log_format, LogFormat::Json);

        let bad = Config::from_lookup("intake", |k| {
            (k == "GRIDLOOP_MAX_DELIVERIES").then(|| "many".to_string())
        });
        assert!(matches!(bad, Err(Error::Config(m)) if m.contains("GRIDLOOP_MAX_DELIVERIES")));
    }
}
