//! Settings only intake has, and the keyed hashes it derives from them.
//!
//! - `GRIDLOOP_CITIZEN_KEY_SECRET`: key of the citizen-key HMAC. When unset it is derived from
//!   the platform's JWT secret with a domain-separation prefix, so the two never act as the
//!   same key. Neither set: intake refuses to start (citizen keys would be guessable).
//! - `GRIDLOOP_INTAKE_REPEAT_WINDOW_DAYS` (default 30): how long a ticket counts as open for
//!   repeat complaints (see [`crate::submit`]).
//! - `GRIDLOOP_INTAKE_ONE_KEY_CATEGORY` (default `other`): category of one-key calls, which
//!   carry no text to choose one from.

use chrono::Duration;
use gridloop_platform::{Config, Error};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Phone;

/// Derivation label for the default citizen-key secret.
const DERIVE_PREFIX: &str = "gridloop/intake/citizen-key/v1";

#[derive(Clone)]
pub struct IntakeSettings {
    pub keys: CitizenKeys,
    pub repeat_window: Duration,
    pub one_key_category: String,
}

impl IntakeSettings {
    pub fn from_env(cfg: &Config) -> Result<Self, Error> {
        Self::from_lookup(cfg, |k| std::env::var(k).ok())
    }

    pub fn from_lookup(cfg: &Config, get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let secret = get("GRIDLOOP_CITIZEN_KEY_SECRET").filter(|s| !s.is_empty());
        let keys = match (secret, cfg.jwt_secret.as_deref()) {
            (Some(s), _) => CitizenKeys::new(s.as_bytes()),
            (None, Some(jwt)) => CitizenKeys::derived_from(jwt),
            (None, None) => {
                return Err(Error::Config(
                    "neither GRIDLOOP_CITIZEN_KEY_SECRET nor GRIDLOOP_JWT_SECRET is set: \
                     citizen keys need a secret"
                        .into(),
                ));
            }
        };
        let days = match get("GRIDLOOP_INTAKE_REPEAT_WINDOW_DAYS") {
            Some(v) => v.parse::<u32>().ok().filter(|d| *d > 0).ok_or_else(|| {
                Error::Config(format!(
                    "GRIDLOOP_INTAKE_REPEAT_WINDOW_DAYS: not a positive number: {v}"
                ))
            })?,
            None => 30,
        };
        Ok(Self {
            keys,
            repeat_window: Duration::days(i64::from(days)),
            one_key_category: get("GRIDLOOP_INTAKE_ONE_KEY_CATEGORY")
                .unwrap_or_else(|| "other".into()),
        })
    }
}

/// Keyed hashes that stand for a person or household in events: equal for equal input, not
/// reversible without the secret (a phone number alone has too few digits to hide behind a
/// plain hash).
#[derive(Clone)]
pub struct CitizenKeys {
    key: Vec<u8>,
}

impl CitizenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: secret.to_vec(),
        }
    }

    /// The default key: HMAC(jwt secret, label), never the JWT secret itself.
    pub fn derived_from(jwt_secret: &str) -> Self {
        Self {
            key: hmac(jwt_secret.as_bytes(), DERIVE_PREFIX.as_bytes()),
        }
    }

    /// Hex HMAC-SHA256 of the normalised phone: the `citizen_key` of events and tokens.
    pub fn citizen_key(&self, phone: &Phone) -> String {
        hex(&hmac(
            &self.key,
            format!("phone:{}", phone.as_str()).as_bytes(),
        ))
    }

    /// The household key of a device, stable for the device's life.
    pub fn household_key(&self, device_id: &str) -> String {
        let h = hex(&hmac(
            &self.key,
            format!("household:{device_id}").as_bytes(),
        ));
        format!("hh-{}", &h[..32])
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_without_any_secret_and_derives_otherwise() {
        let mut cfg = Config::from_lookup("intake", |_| None).unwrap();
        assert!(IntakeSettings::from_lookup(&cfg, |_| None).is_err());
        cfg.jwt_secret = Some("jwt".into());
        let derived = IntakeSettings::from_lookup(&cfg, |_| None).unwrap();
        let phone = Phone::parse("p", "13812345678").unwrap();
        let k = derived.keys.citizen_key(&phone);
        assert_eq!(k.len(), 64);
        // Derived, not the JWT secret used directly.
        assert_ne!(k, CitizenKeys::new(b"jwt").citizen_key(&phone));
        let own = IntakeSettings::from_lookup(&cfg, |k| {
            (k == "GRIDLOOP_CITIZEN_KEY_SECRET").then(|| "own".to_string())
        })
        .unwrap();
        assert_ne!(own.keys.citizen_key(&phone), k);
        assert_eq!(derived.repeat_window, Duration::days(30));
    }
}
