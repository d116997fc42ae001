//! Closure's own settings, beyond the platform's [`gridloop_platform::Config`].

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser};
use gridloop_lifecycle::Rules;
use gridloop_platform::config::SharedArgs;
use gridloop_platform::ops::Command;
use gridloop_platform::{Config, Error, config};

/// The closure binary's command line: the platform's settings, closure's addresses and its own.
#[derive(Parser, Debug)]
#[command(
    name = "gridloop-closure",
    version,
    about = "gridloop closure: feedback and the 销号 ledger"
)]
pub struct Cli {
    #[command(flatten)]
    pub shared: SharedArgs,
    /// gRPC listen address.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_CLOSURE_ADDR",
        default_value = "127.0.0.1:50053"
    )]
    pub addr: SocketAddr,
    /// Admin listen address: Prometheus text at /metrics, `ok` at /healthz.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_CLOSURE_ADMIN_ADDR",
        default_value = "127.0.0.1:51053"
    )]
    pub admin_addr: SocketAddr,
    #[command(flatten)]
    pub closure: ClosureArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    pub fn config(&self) -> Config {
        Config::new("closure", self.shared.clone(), self.addr, self.admin_addr)
    }
}

/// Closure's own settings, as flags and variables.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Closure")]
pub struct ClosureArgs {
    /// Minimum seconds between two unreached callback attempts that count.
    #[arg(long, env = "GRIDLOOP_CLOSURE_CALLBACK_INTERVAL_SECS", default_value_t = 2 * 3600)]
    pub callback_interval_secs: u64,
    /// Unreached attempts after which a supervisor may exempt the ticket.
    #[arg(
        long,
        env = "GRIDLOOP_CLOSURE_CALLBACKS_BEFORE_EXEMPTION",
        default_value_t = Rules::default().callbacks_before_exemption,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub callbacks_before_exemption: u32,
    /// Milliseconds a rating of a ticket whose disposal closure has not applied yet waits for
    /// it before it is refused (the disposal comes from routing's stream).
    #[arg(long, env = "GRIDLOOP_CLOSURE_VIEW_WAIT_MS", default_value_t = 1000)]
    pub view_wait_ms: u64,
}

impl From<ClosureArgs> for Settings {
    fn from(a: ClosureArgs) -> Self {
        Settings {
            callback_interval: Duration::from_secs(a.callback_interval_secs),
            callbacks_before_exemption: a.callbacks_before_exemption,
            view_wait: Duration::from_millis(a.view_wait_ms),
        }
    }
}

/// How callbacks (回访) count towards a CITIZEN_UNREACHABLE exemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Minimum time between two unreached callback attempts that count
    /// (`GRIDLOOP_CLOSURE_CALLBACK_INTERVAL_SECS`, default 2 hours).
    pub callback_interval: Duration,
    /// Unreached attempts after which a supervisor may exempt the ticket
    /// (`GRIDLOOP_CLOSURE_CALLBACKS_BEFORE_EXEMPTION`, default 3).
    pub callbacks_before_exemption: u32,
    /// How long a rating waits for a disposal closure has not applied yet
    /// (`GRIDLOOP_CLOSURE_VIEW_WAIT_MS`, default 1 s).
    pub view_wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            callback_interval: Duration::from_secs(2 * 3600),
            callbacks_before_exemption: Rules::default().callbacks_before_exemption,
            view_wait: Duration::from_secs(1),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, Error> {
        config::from_env::<ClosureArgs>().map(Settings::from)
    }

    /// Same as [`Settings::from_env`] with `get` standing in for the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        config::from_lookup::<ClosureArgs>(get).map(Settings::from)
    }

    /// The lifecycle rules with the configured exemption threshold.
    pub fn rules(&self) -> Rules {
        Rules {
            callbacks_before_exemption: self.callbacks_before_exemption,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let d = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(d.callback_interval, Duration::from_secs(7200));
        assert_eq!(d.callbacks_before_exemption, 3);
        assert_eq!(d.view_wait, Duration::from_secs(1));
        let s = Settings::from_lookup(|k| match k {
            "GRIDLOOP_CLOSURE_CALLBACK_INTERVAL_SECS" => Some("0".into()),
            "GRIDLOOP_CLOSURE_CALLBACKS_BEFORE_EXEMPTION" => Some("5".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.callback_interval, Duration::ZERO);
        assert_eq!(s.rules().callbacks_before_exemption, 5);
        assert!(Settings::from_lookup(|_| Some("soon".into())).is_err());
        assert!(
            Settings::from_lookup(
                |k| (k == "GRIDLOOP_CLOSURE_CALLBACKS_BEFORE_EXEMPTION").then(|| "0".into())
            )
            .is_err()
        );
    }
}
