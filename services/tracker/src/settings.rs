//! The tracker's own settings, beyond the platform's [`gridloop_platform::Config`].

use std::time::Duration;

use gridloop_platform::Error;
use gridloop_proto::v1::GridLevel;

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
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut s = Settings::default();
        const KEY: &str = "GRIDLOOP_TRACKER_REPEAT_ESCALATION";
        if let Some(raw) = get(KEY) {
            s.repeat_thresholds = parse_thresholds(&raw)
                .map_err(|why| Error::Config(format!("{KEY}: {why}: {raw}")))?;
        }
        Ok(s)
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
        assert_eq!(d.repeat_thresholds[0], (2, GridLevel::Village));
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
