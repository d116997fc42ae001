//! Reports' own settings, beyond the platform's [`gridloop_platform::Config`].

use std::net::SocketAddr;

use clap::{Args, Parser};
use gridloop_platform::config::SharedArgs;
use gridloop_platform::ops::Command;
use gridloop_platform::{Config, Error, config};

/// The reports binary's command line: the platform's settings, reports' addresses and its own.
#[derive(Parser, Debug)]
#[command(
    name = "gridloop-reports",
    version,
    about = "gridloop reports: aggregates, the report page and CSV"
)]
pub struct Cli {
    #[command(flatten)]
    pub shared: SharedArgs,
    /// gRPC listen address.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_REPORTS_ADDR",
        default_value = "127.0.0.1:50055"
    )]
    pub addr: SocketAddr,
    /// Admin listen address: Prometheus text at /metrics, `ok` at /healthz.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_REPORTS_ADMIN_ADDR",
        default_value = "127.0.0.1:51055"
    )]
    pub admin_addr: SocketAddr,
    #[command(flatten)]
    pub reports: ReportsArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    pub fn config(&self) -> Config {
        Config::new("reports", self.shared.clone(), self.addr, self.admin_addr)
    }
}

/// Reports' own settings, as flags and variables.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Reports")]
pub struct ReportsArgs {
    /// Where the HTML report page listens (port 0 picks a free port).
    #[arg(
        long,
        env = "GRIDLOOP_REPORTS_HTTP_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub http_addr: SocketAddr,
}

impl From<ReportsArgs> for Settings {
    fn from(a: ReportsArgs) -> Self {
        Settings {
            http_addr: a.http_addr,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Where the HTML report page listens (`GRIDLOOP_REPORTS_HTTP_ADDR`, default
    /// 127.0.0.1:8080; port 0 picks a free port).
    pub http_addr: SocketAddr,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, Error> {
        config::from_env::<ReportsArgs>().map(Settings::from)
    }

    /// Same as [`Settings::from_env`] with `get` standing in for the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        config::from_lookup::<ReportsArgs>(get).map(Settings::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(
            Settings::from_lookup(|_| None).unwrap(),
            Settings::default()
        );
        let s = Settings::from_lookup(|_| Some("0.0.0.0:0".into())).unwrap();
        assert_eq!(s.http_addr.port(), 0);
        let bad = Settings::from_lookup(|_| Some("here".into()));
        assert!(matches!(bad, Err(Error::Config(m)) if m.contains("GRIDLOOP_REPORTS_HTTP_ADDR")));
    }
}
