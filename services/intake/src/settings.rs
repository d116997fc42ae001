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

use std::net::SocketAddr;

use chrono::Duration;
use clap::{Args, Parser};
use gridloop_platform::config::SharedArgs;
use gridloop_platform::ops::Command;
use gridloop_platform::{Config, Error, config};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::domain::Phone;

/// Derivation label for the default citizen-key secret.
const DERIVE_PREFIX: &str = "gridloop/intake/citizen-key/v1";

/// The intake binary's command line: the platform's settings, intake's addresses and its own.
#[derive(Parser, Debug)]
#[command(
    name = "gridloop-intake",
    version,
    about = "gridloop intake: tickets as received (发现)"
)]
pub struct Cli {
    #[command(flatten)]
    pub shared: SharedArgs,
    /// gRPC listen address.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_INTAKE_ADDR",
        default_value = "127.0.0.1:50051"
    )]
    pub addr: SocketAddr,
    /// Admin listen address: Prometheus text at /metrics, `ok` at /healthz.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_INTAKE_ADMIN_ADDR",
        default_value = "127.0.0.1:51051"
    )]
    pub admin_addr: SocketAddr,
    #[command(flatten)]
    pub intake: IntakeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    pub fn config(&self) -> Config {
        Config::new("intake", self.shared.clone(), self.addr, self.admin_addr)
    }
}

/// Intake's own settings, as flags and variables.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Intake")]
pub struct IntakeArgs {
    /// Key of the citizen-key HMAC; unset, derived from the JWT secret.
    #[arg(long, env = "GRIDLOOP_CITIZEN_KEY_SECRET", hide_env_values = true)]
    pub citizen_key_secret: Option<SecretString>,
    /// Days a ticket takes repeat complaints.
    #[arg(
        long,
        env = "GRIDLOOP_INTAKE_REPEAT_WINDOW_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub repeat_window_days: u32,
    /// Category of one-key calls.
    #[arg(
        long,
        env = "GRIDLOOP_INTAKE_ONE_KEY_CATEGORY",
        default_value = "other"
    )]
    pub one_key_category: String,
    /// Tasks recording submissions (group commit), 1 to 64.
    #[arg(
        long,
        env = "GRIDLOOP_INTAKE_WRITERS",
        default_value_t = 1,
        value_parser = clap::value_parser!(u8).range(1..=64)
    )]
    pub writers: u8,
}

#[derive(Clone)]
pub struct IntakeSettings {
    pub keys: CitizenKeys,
    pub repeat_window: Duration,
    pub one_key_category: String,
    pub writers: usize,
}

impl IntakeSettings {
    pub fn from_env(cfg: &Config) -> Result<Self, Error> {
        Self::resolve(cfg, config::from_env()?)
    }

    /// Same as [`IntakeSettings::from_env`] with `get` standing in for the environment.
    pub fn from_lookup(cfg: &Config, get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::resolve(cfg, config::from_lookup(get)?)
    }

    /// The settings from parsed arguments; the citizen keys need a secret of their own or the
    /// JWT secret to derive one from.
    pub fn resolve(cfg: &Config, args: IntakeArgs) -> Result<Self, Error> {
        let secret = args
            .citizen_key_secret
            .filter(|s| !s.expose_secret().is_empty());
        let keys = match (secret, cfg.jwt_secret.as_ref()) {
            (Some(s), _) => CitizenKeys::new(s.expose_secret().as_bytes()),
            (None, Some(jwt)) => CitizenKeys::derived_from(jwt.expose_secret()),
            (None, None) => {
                return Err(Error::Config(
                    "neither GRIDLOOP_CITIZEN_KEY_SECRET nor GRIDLOOP_JWT_SECRET is set: \
                     citizen keys need a secret"
                        .into(),
                ));
            }
        };
        Ok(Self {
            keys,
            repeat_window: Duration::days(i64::from(args.repeat_window_days)),
            one_key_category: args.one_key_category,
            writers: usize::from(args.writers),
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
        let mut cfg = Config::local("intake");
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
        for (key, bad) in [
            ("GRIDLOOP_INTAKE_REPEAT_WINDOW_DAYS", "0"),
            ("GRIDLOOP_INTAKE_WRITERS", "65"),
        ] {
            let refused = IntakeSettings::from_lookup(&cfg, |k| (k == key).then(|| bad.into()));
            assert!(matches!(refused, Err(Error::Config(m)) if m.contains(key)));
        }
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
