//! `gridloopctl token`: mints a bearer token for the local stack, signed with
//! `GRIDLOOP_JWT_SECRET` (the secret the local services verify with).

use gridloop_client::token::{Claims, Role};
use serde_json::json;

use crate::cli::{RoleArg, TokenArgs};
use crate::client::mint;
use crate::error::{CtlError, CtlResult};
use crate::output::Out;

impl RoleArg {
    pub fn role(self) -> Role {
        match self {
            Self::Operator => Role::Operator,
            Self::Worker => Role::Worker,
            Self::Supervisor => Role::Supervisor,
            Self::Leader => Role::Leader,
            Self::Admin => Role::Admin,
            Self::Service => Role::Service,
            Self::Citizen => Role::Citizen,
        }
    }
}

/// The signed token for `args`, with `secret` (from `GRIDLOOP_JWT_SECRET`).
pub fn token_for(args: &TokenArgs, secret: Option<&str>) -> CtlResult<(String, Claims)> {
    let secret = secret.filter(|s| !s.is_empty()).ok_or_else(|| {
        CtlError::usage("GRIDLOOP_JWT_SECRET is not set (local stack: `. .local/env`)")
    })?;
    let role = args.role.role();
    let sub = args
        .sub
        .clone()
        .unwrap_or_else(|| format!("ctl-{}", role.as_str()));
    let claims = Claims::new(role, &sub, &args.grids, args.ttl);
    Ok((mint(secret, &claims)?, claims))
}

/// Prints the token alone (for `export GRIDLOOP_TOKEN=$(gridloopctl token ...)`), or with its
/// claims as JSON.
pub fn run(out: Out, args: &TokenArgs, secret: Option<&str>) -> CtlResult {
    let (token, claims) = token_for(args, secret)?;
    let view = json!({"token": token, "claims": claims});
    out.emit(&view, || token.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use gridloop_platform::auth::Authenticator;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(line: &[&str]) -> TokenArgs {
        match Cli::try_parse_from(line).unwrap().command {
            Command::Token(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn minted_token_verifies_with_the_same_secret() {
        let a = args(&[
            "gridloopctl",
            "token",
            "--role",
            "supervisor",
            "--sub",
            "staff-7",
            "--grid",
            "3415",
            "--grid",
            "3416",
            "--ttl",
            "1h",
        ]);
        let (token, claims) = token_for(&a, Some("local-secret")).unwrap();
        let now = chrono::Utc::now().timestamp();
        let caller = Authenticator::new(Some("local-secret"))
            .verify(&token, now)
            .unwrap();
        assert_eq!(caller.role, Role::Supervisor);
        assert_eq!(caller.subject, "staff-7");
        assert_eq!(caller.grids, ["3415", "3416"]);
        assert!((claims.exp - now - 3600).abs() <= 5, "exp {}", claims.exp);
        // Another secret refuses it; it expires after its lifetime.
        assert!(
            Authenticator::new(Some("other"))
                .verify(&token, now)
                .is_err()
        );
        assert!(
            Authenticator::new(Some("local-secret"))
                .verify(&token, now + 3601)
                .is_err()
        );
    }

    #[test]
    fn defaults_and_missing_secret() {
        let a = args(&["gridloopctl", "token", "--role", "worker"]);
        assert_eq!(a.ttl, 8 * 3600);
        let (_, claims) = token_for(&a, Some("s")).unwrap();
        assert_eq!(claims.sub, "ctl-worker");
        assert!(claims.grids.is_empty());
        let err = token_for(&a, None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("GRIDLOOP_JWT_SECRET"));
    }
}
