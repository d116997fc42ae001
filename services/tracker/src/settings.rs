//! The tracker's own settings, beyond the platform's [`gridloop_platform::Config`].

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser};
use gridloop_platform::config::SharedArgs;
use gridloop_platform::ops::Command;
use gridloop_platform::{Config, Error, config};
use gridloop_proto::v1::GridLevel;

/// The tracker binary's command line: the platform's settings, the tracker's addresses and its own.
#[derive(Parser, Debug)]
#[command(
    name = "gridloop-tracker",
    version,
    about = "gridloop tracker: the authoritative lifecycle, SLA clocks, escalations"
)]
pub struct Cli {
    #[command(flatten)]
    pub shared: SharedArgs,
    /// gRPC listen address.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_TRACKER_ADDR",
        default_value = "127.0.0.1:50054"
    )]
    pub addr: SocketAddr,
    /// Admin listen address: Prometheus text at /metrics, `ok` at /healthz.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_TRACKER_ADMIN_ADDR",
        default_value = "127.0.0.1:51054"
    )]
    pub admin_addr: SocketAddr,
    #[command(flatten)]
    pub tracker: TrackerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    pub fn config(&self) -> Config {
        Config::new("tracker", self.shared.clone(), self.addr, self.admin_addr)
    }
}

/// The tracker's own settings, as flags and variables.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Tracker")]
pub struct TrackerArgs {
    /// Repeat count → level that takes over supervision (`count:level,…`).
    #[arg(
        long,
        env = "GRIDLOOP_TRACKER_REPEAT_ESCALATION",
        default_value = "2:village,3:town,5:county",
        value_parser = Thresholds::parse
    )]
    pub repeat_escalation: Thresholds,
}

/// Repeat-escalation thresholds, ascending by count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thresholds(pub Vec<(u32, GridLevel)>);

impl Thresholds {
    fn parse(raw: &str) -> Result<Thresholds, String> {
        parse_thresholds(raw)
            .map(Thresholds)
            .map_err(|why| format!("{why}: {raw}"))
    }
}

impl From<TrackerArgs> for Settings {
    fn from(a: TrackerArgs) -> Self {
        Settings {
            repeat_thresholds: a.repeat_escalation.0,
            ..Settings::default()
        }
    }
}

/// Repeat-complaint escalation thresholds and the timer loop's cadence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Repeat count → level that takes over supervision, ascending by count
    /// (`GRIDLOOP_TRACKER_REPEAT_ESCALATION`, default `2:village,3:town,5:county`).
    pub repeat_thresholds: Vec<(u32, GridLevel)>,
    /// Longest sleep of the timer loop between looks at the timers table (default 500 ms).
    pub timer_tick: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            repeat_thresholds: vec![
                (2, GridLevel::Village),
                (3, GridLevel::Town),
                (5, GridLevel::County),
            ],
            timer_tick: Duration::from_millis(500),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, Error> {
        config::from_env::<TrackerArgs>().map(Settings::from)
    }

    /// Same as [`Settings::from_env`] with `get` standing in for the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        config::from_lookup::<TrackerArgs>(get).map(Settings::from)
    }
}

fn parse_thresholds(raw: &str) -> Result<Vec<(u32, GridLevel)>, &'static str> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (n, level) = part.split_once(':').ok_or("expected count:level")?;
        let n: u32 = n.trim().parse().map_err(|_| "count is not a number")?;
        if n == 0 {
            return Err("count must be at least 1");
        }
        let level = match level.trim().to_ascii_lowercase().as_str() {
            "county" => GridLevel::County,
            "town" => GridLevel::Town,
            "village" => GridLevel::Village,
            "group" => GridLevel::Group,
            _ => return Err("level is not county, town, village or group"),
        };
        out.push((n, level));
    }
    out.sort_by_key(|(n, _)| *n);
    if out.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err("a count appears twice");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let d = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(d, Settings::default());
        let s = Settings::from_lookup(|_| Some("4:town, 1:village".into())).unwrap();
        assert_eq!(
            s.repeat_thresholds,
            vec![(1, GridLevel::Village), (4, GridLevel::Town)]
        );
        assert!(Settings::from_lookup(|_| Some("2:city".into())).is_err());
        assert!(Settings::from_lookup(|_| Some("0:town".into())).is_err());
        assert!(Settings::from_lookup(|_| Some("2:town,2:county".into())).is_err());
    }
}
