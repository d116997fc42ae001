//! Bearer tokens: a JWT signed with HS256 over the claims `sub`, `role`, `grids` (the grid
//! codes the caller's scope covers), `exp` and `iat`. The platform's interceptor verifies with
//! [`verify`]; [`mint`] is for the local stack and tests, where the secret is known.
//!
//! Only HS256 is accepted: the algorithm in the token's header is checked, never trusted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Who is calling, as far as gridloop cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 12345 hotline operator (or the operators' desk system).
    Operator,
    /// Grid worker's mobile backend, acting for that worker.
    Worker,
    /// Grid office / supervisor.
    Supervisor,
    /// Leader reading reports.
    Leader,
    Admin,
    /// Another system: device gateway, app backend.
    Service,
    Citizen,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Worker => "worker",
            Role::Supervisor => "supervisor",
            Role::Leader => "leader",
            Role::Admin => "admin",
            Role::Service => "service",
            Role::Citizen => "citizen",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// Token claims.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default)]
    pub grids: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

impl Claims {
    /// Claims for `role` and `sub` over `grids`, issued now and valid for `ttl_secs`.
    pub fn new(role: Role, sub: &str, grids: &[String], ttl_secs: i64) -> Claims {
        let now = unix_now();
        Claims {
            sub: sub.to_string(),
            role,
            grids: grids.to_vec(),
            exp: now + ttl_secs,
            iat: now,
        }
    }
}

/// Seconds since the Unix epoch by the system clock.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Why a token could not be read or was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported token algorithm")]
    Algorithm,
    #[error("bad token signature")]
    Signature,
    #[error("token expired")]
    Expired,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length")
}

/// A token for `claims`, signed with `secret`.
pub fn mint(secret: &[u8], claims: &Claims) -> Result<String, TokenError> {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = B64.encode(serde_json::to_vec(claims).map_err(|_| TokenError::Malformed)?);
    let signing_input = format!("{header}.{body}");
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    let sig = B64.encode(mac.finalize().into_bytes());
    Ok(format!("{signing_input}.{sig}"))
}

/// The claims of `token` after checking its algorithm, its signature with `secret`, and its
/// expiry at `now` (Unix seconds).
pub fn verify(secret: &[u8], token: &str, now: i64) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(b), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = decode_json(h)?;
    if header.alg != "HS256" {
        return Err(TokenError::Algorithm);
    }
    let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
    let mut mac = mac(secret);
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(b.as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
    let claims: Claims = decode_json(b)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = B64.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "op-7".into(),
            role: Role::Operator,
            grids: vec!["341504100".into()],
            exp,
            iat: 0,
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let t = mint(b"s3cret", &claims(2_000)).unwrap();
        let c = verify(b"s3cret", &t, 1_000).unwrap();
        assert_eq!((c.sub.as_str(), c.role), ("op-7", Role::Operator));
        assert_eq!(c.grids, ["341504100"]);
        assert_eq!(
            verify(b"s3cret", &t, 2_000).err(),
            Some(TokenError::Expired)
        );
        assert_eq!(
            verify(b"other", &t, 1_000).err(),
            Some(TokenError::Signature)
        );
        assert_eq!(
            verify(b"s3cret", "a.b", 1_000).err(),
            Some(TokenError::Malformed)
        );
        let none = format!(
            "{}.{}.",
            B64.encode(br#"{"alg":"none"}"#),
            t.split('.').nth(1).unwrap()
        );
        assert_eq!(
            verify(b"s3cret", &none, 1_000).err(),
            Some(TokenError::Algorithm)
        );
    }

    #[test]
    fn the_wire_format_stays_put() {
        // Tokens already handed out must keep verifying: header, claim order and encoding.
        let t = mint(b"k", &claims(2_000)).unwrap();
        let mut parts = t.split('.');
        assert_eq!(parts.next(), Some("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"));
        let body = B64.decode(parts.next().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"sub":"op-7","role":"operator","grids":["341504100"],"exp":2000,"iat":0}"#
        );
    }

    #[test]
    fn fresh_claims_expire_after_their_lifetime() {
        let c = Claims::new(Role::Leader, "l-1", &[], 600);
        assert_eq!(c.exp - c.iat, 600);
        assert!((c.iat - unix_now()).abs() <= 5);
        assert_eq!(Role::parse("leader"), Some(Role::Leader));
        assert_eq!(Role::parse("boss"), None);
    }
}
