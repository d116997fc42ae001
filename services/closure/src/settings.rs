//! Closure's own settings, beyond the platform's [`gridloop_platform::Config`].

use std::time::Duration;

use gridloop_lifecycle::Rules;
use gridloop_platform::Error;

/// How callbacks (回访) count towards a CITIZEN_UNREACHABLE exemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Minimum time between two unreached callback attempts that count
    /// (`GRIDLOOP_CLOSURE_CALLBACK_INTERVAL_SECS`, default 2 hours).
    pub callback_interval: Duration,
    /// Unreached attempts after which a supervisor may exempt the ticket
    /// (`GRIDLOOP_CLOSURE_CALLBACKS_BEFORE_EXEMPTION`, default 3).
    pub callbacks_before_exemption: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            callback_interval: Duration::from_secs(2 * 3600),
            callbacks_before_exemption: Rules::default().callbacks_before_exemption,
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let defaults = Settings::default();
        let num = |key: &str| -> Result<Option<u64>, Error> {
            get(key)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| Error::Config(format!("{key}: not a number: {v}")))
                })
                .transpose()
        };
        let callbacks = match num("GRIDLOOP_CLOSURE_CALLBACKS_BEFORE_EXEMPTION")? {
            Some(0) => {
                return Err(Error::Config(
                    "GRIDLOOP_CLOSURE_CALLBACKS_BEFORE_EXEMPTION: must be at least 1".into(),
                ));
            }
            Some(n) => u32::try_from(n).map_err(|_| {
                Error::Config("GRIDLOOP_CLOSURE_CALLBACKS_BEFORE_EXEMPTION: too large".into())
            })?,
            None => defaults.callbacks_before_exemption,
        };
        Ok(Settings {
            callback_interval: num("GRIDLOOP_CLOSURE_CALLBACK_INTERVAL_SECS")?
                .map(Duration::from_secs)
                .unwrap_or(defaults.callback_interval),
            callbacks_before_exemption: callbacks,
        })
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
