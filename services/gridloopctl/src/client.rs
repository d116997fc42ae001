//! Connections and credentials. Each service's address comes from `GRIDLOOP_<SERVICE>_ADDR`
//! (the local stack's ports by default). The bearer token comes from `--token` /
//! `GRIDLOOP_TOKEN`, or is minted on the spot for `--as ROLE[:SUB]` when `GRIDLOOP_JWT_SECRET`
//! is set — a convenience for the local stack, where the secret is known.

use gridloop_client::connect::{Attached, Connection, EnvConnector};
use gridloop_client::token::{self, Claims, Role};
use gridloop_proto::v1::closure_service_client::ClosureServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::report_service_client::ReportServiceClient;
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;

use crate::cli::Global;
use crate::error::{CtlError, CtlResult};
use crate::output::Out;

pub use gridloop_client::Service;

/// Lifetime of a token minted for `--as`: long enough for one command.
const AS_TTL_SECS: i64 = 600;

/// A client of one service, with what an error message needs to say where it called.
pub struct Conn<C> {
    pub client: C,
    service: Service,
    addr: String,
}

impl<C> From<Connection<C>> for Conn<C> {
    fn from(c: Connection<C>) -> Self {
        Conn {
            client: c.client,
            service: c.service,
            addr: c.addr,
        }
    }
}

impl<C> Conn<C> {
    /// A status from this service as a command error.
    pub fn err(&self, status: tonic::Status) -> CtlError {
        CtlError::Status {
            service: self.service.name(),
            addr: self.addr.clone(),
            status,
        }
    }
}

/// What every command runs with: output mode and credentials.
pub struct Ctx {
    pub out: Out,
    token: Option<String>,
    /// The subject of a token minted for `--as`, used as a default (e.g. the operator id).
    pub subject: Option<String>,
}

impl Ctx {
    pub fn new(global: &Global, get: impl Fn(&str) -> Option<String>) -> CtlResult<Ctx> {
        let out = Out { json: global.json };
        let (token, subject) = match (&global.token, &global.act_as) {
            (_, Some(spec)) => {
                let (role, sub) = parse_as(spec)?;
                let secret = get("GRIDLOOP_JWT_SECRET")
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        CtlError::usage(
                            "--as needs GRIDLOOP_JWT_SECRET (local stack: `. .local/env`); \
                         elsewhere pass --token",
                        )
                    })?;
                let claims = Claims::new(role, &sub, &global.as_grids, AS_TTL_SECS);
                (Some(mint(&secret, &claims)?), Some(sub))
            }
            (Some(t), None) => (Some(t.trim().to_string()), None),
            (None, None) => (None, None),
        };
        Ok(Ctx {
            out,
            token,
            subject,
        })
    }

    /// Typed clients whose calls carry the token and the current trace context.
    fn connector(&self) -> CtlResult<EnvConnector> {
        let token = self.token.as_deref().ok_or_else(|| {
            CtlError::usage(
                "no token: pass --token or set GRIDLOOP_TOKEN, or use --as ROLE[:SUB] with \
                 GRIDLOOP_JWT_SECRET set (mint one with `gridloopctl token --role ROLE`)",
            )
        })?;
        Ok(EnvConnector::from_env(gridloop_client::Attach::bearer(
            token,
        )?))
    }

    pub fn intake(&self) -> CtlResult<Conn<IntakeServiceClient<Attached>>> {
        Ok(self.connector()?.intake()?.into())
    }

    pub fn routing(&self) -> CtlResult<Conn<RoutingServiceClient<Attached>>> {
        Ok(self.connector()?.routing()?.into())
    }

    pub fn closure(&self) -> CtlResult<Conn<ClosureServiceClient<Attached>>> {
        Ok(self.connector()?.closure()?.into())
    }

    pub fn tracker(&self) -> CtlResult<Conn<TrackerServiceClient<Attached>>> {
        Ok(self.connector()?.tracker()?.into())
    }

    pub fn reports(&self) -> CtlResult<Conn<ReportServiceClient<Attached>>> {
        Ok(self.connector()?.reports()?.into())
    }
}

/// `ROLE[:SUB]`; the subject defaults to `ctl-<role>`.
pub fn parse_as(spec: &str) -> CtlResult<(Role, String)> {
    let (role, sub) = match spec.split_once(':') {
        Some((r, s)) => (r, s.to_string()),
        None => (spec, String::new()),
    };
    let role = Role::parse(role.trim()).ok_or_else(|| {
        CtlError::usage(format!(
            "--as `{spec}`: unknown role `{role}` (operator, worker, supervisor, leader, admin, \
             service, citizen)"
        ))
    })?;
    let sub = if sub.trim().is_empty() {
        format!("ctl-{}", role.as_str())
    } else {
        sub
    };
    Ok((role, sub))
}

/// A token signed with `secret`.
pub fn mint(secret: &str, claims: &Claims) -> CtlResult<String> {
    token::mint(secret.as_bytes(), claims)
        .map_err(|e| CtlError::usage(format!("cannot mint a token: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_specs() {
        assert_eq!(
            parse_as("worker:w-1").unwrap(),
            (Role::Worker, "w-1".into())
        );
        assert_eq!(
            parse_as("leader").unwrap(),
            (Role::Leader, "ctl-leader".into())
        );
        let err = parse_as("boss:x").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("unknown role `boss`"));
    }

    #[test]
    fn as_without_secret_is_a_usage_error() {
        let global = Global {
            json: false,
            token: None,
            act_as: Some("operator".into()),
            as_grids: vec![],
        };
        let err = Ctx::new(&global, |_| None).err().unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("GRIDLOOP_JWT_SECRET"));
        let ctx = Ctx::new(&global, |_| Some("s".into())).unwrap();
        assert_eq!(ctx.subject.as_deref(), Some("ctl-operator"));
        assert!(ctx.token.is_some());
    }

    #[test]
    fn no_token_is_a_usage_error() {
        let global = Global {
            json: false,
            token: None,
            act_as: None,
            as_grids: vec![],
        };
        let ctx = Ctx::new(&global, |_| None).unwrap();
        let err = ctx.intake().err().unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("GRIDLOOP_TOKEN"));
    }
}
