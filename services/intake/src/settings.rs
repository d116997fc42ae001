//! Settings only intake has, and the keyed hashes it derives from them.
//!
//! - `GRIDLOOP_CITIZEN_KEY_SECRET`: key of the citizen-key HMAC. When unset it is derived from
//!   the platform's JWT secret with a domain-separation prefix, so the two never act as the
//!   same key. Neither set: intake refuses to start (citizen keys would be guessable).
//! - `GRIDLOOP_INTAKE_REPEAT_WINDOW_DAYS` (default 30): how long a ticket counts as open for
//!   repeat complaints (see [`crate::submit`]).
//! - `GRIDLOOP_INTAKE_ONE_KEY_CATEGORY` (default `other`): category of one-key calls, which
//!   carry no text to choose one from.
//! - `GRIDLOOP_INTAKE_WRITERS` (default 1): tasks recording submissions, each in its own
//!   transaction with whatever has queued up (see [`crate::writer`]); each holds one of the
//!   pool's `GRIDLOOP_DB_MAX_CONNECTIONS` connections while it writes. One writer's batches
//!   grow with the load (a batch's fixed cost — round trips, commit — is most of its cost);
//!   more writers mean smaller batches, which paid off only with cores to spare: on two cores
//!   one writer recorded the most per second (docs/benchmarks.md).

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
    pub writers: usize,
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
        let writers = match get("GRIDLOOP_INTAKE_WRITERS") {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "GRIDLOOP_INTAKE_WRITERS: not a number from 1 to 64: {v}"
                    ))
                })?,
            None => 1,
        };
        Ok(Self {
            keys,
            repeat_window: Duration::days(i64::from(days)),
            one_key_category: get("GRIDLOOP_INTAKE_ONE_KEY_CATEGORY")
                .unwrap_or_else(|| "other".into()),
            writers,
        })
    }
}

/// Keyed hashes that stand for a person or household in events: equal for equal input, not
/// reversible without the secret (a phone number alone has too few digits to hide behind a
/// plain hash).
#[derive(Clone)]
pub struct CitizenKeys {
    /// The HMAC with its key already absorbed; cloned per hash (saves re-keying each time).
    mac: Hmac<Sha256>,
}

impl CitizenKeys {
    pub fn new(secret: &[u8]) -> Self {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        Self {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(secret)
                .expect("hmac accepts any key length"),
        }
    }

    /// The default key: HMAC(jwt secret, label), never the JWT secret itself.
    pub fn derived_from(jwt_secret: &str) -> Self {
        Self::new(&Self::new(jwt_secret.as_bytes()).hash(&[DERIVE_PREFIX.as_bytes()]))
    }

    /// Hex HMAC-SHA256 of the normalised phone: the `citizen_key` of events and tokens.
    pub fn citizen_key(&self, phone: &Phone) -> String {
        hex(&self.hash(&[b"phone:", phone.as_str().as_bytes()]))
    }

    /// The household key of a device, stable for the device's life.
    pub fn household_key(&self, device_id: &str) -> String {
        let h = hex(&self.hash(&[b"household:", device_id.as_bytes()]));
        format!("hh-{}", &h[..32])
    }

    fn hash(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
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
        assert_eq!(derived.writers, 1);
    }

    /// Keys already stored and published must not change: HMAC-SHA256 test values computed
    /// independently (Python's `hmac`).
    #[test]
    fn keys_are_plain_hmac_sha256() {
        let phone = Phone::parse("p", "13812345678").unwrap();
        let keys = CitizenKeys::new(b"k");
        assert_eq!(
            keys.citizen_key(&phone),
            "eb2ee25f0b40d74e443ed477f67a2101b110d211f2711f097b002595423d3b82"
        );
        assert_eq!(
            keys.household_key("DEV-1"),
            "hh-2566341896c65b25313ab1487d9fb186"
        );
        assert_eq!(
            CitizenKeys::derived_from("jwt").citizen_key(&phone),
            "61190e3b1be805ae4ca8579862aa89e53f887f526885af197a103526132ac342"
        );
    }
}
