//! Connections and credentials. Each service's address comes from `GRIDLOOP_<SERVICE>_ADDR`
//! (the local stack's ports by default). The bearer token comes from `--token` /
//! `GRIDLOOP_TOKEN`, or is minted on the spot for `--as ROLE[:SUB]` when `GRIDLOOP_JWT_SECRET`
//! is set — a convenience for the local stack, where the secret is known.

use std::time::Duration;

use gridloop_platform::auth::{Authenticator, Claims, Role};
use gridloop_proto::v1::closure_service_client::ClosureServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::report_service_client::ReportServiceClient;
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::cli::Global;
use crate::error::{CtlError, CtlResult};
use crate::output::Out;

/// Lifetime of a token minted for `--as`: long enough for one command.
const AS_TTL_SECS: i64 = 600;

/// One of the five services and its local-stack port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Intake,
    Routing,
    Closure,
    Tracker,
    Reports,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Self::Intake => "intake",
            Self::Routing => "routing",
            Self::Closure => "closure",
            Self::Tracker => "tracker",
            Self::Reports => "reports",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Intake => 50051,
            Self::Routing => 50052,
            Self::Closure => 50053,
            Self::Tracker => 50054,
            Self::Reports => 50055,
        }
    }

    /// `http://host:port` from `GRIDLOOP_<SERVICE>_ADDR` (with or without a scheme).
    pub fn addr(self, get: impl Fn(&str) -> Option<String>) -> String {
        let key = format!("GRIDLOOP_{}_ADDR", self.name().to_ascii_uppercase());
        let raw = get(&key)
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| format!("127.0.0.1:{}", self.default_port()));
        let raw = raw.trim();
        if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        }
    }
}

/// Adds the bearer token to every call.
#[derive(Clone)]
pub struct Bearer(AsciiMetadataValue);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

type Svc = InterceptedService<Channel, Bearer>;

/// A client of one service, with what an error message needs to say where it called.
pub struct Conn<C> {
    pub client: C,
    service: Service,
    addr: String,
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
                let claims = claims(role, &sub, &global.as_grids, AS_TTL_SECS);
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

    fn channel(&self, service: Service) -> CtlResult<(Svc, String)> {
        let token = self.token.as_deref().ok_or_else(|| {
            CtlError::usage(
                "no token: pass --token or set GRIDLOOP_TOKEN, or use --as ROLE[:SUB] with \
                 GRIDLOOP_JWT_SECRET set (mint one with `gridloopctl token --role ROLE`)",
            )
        })?;
        let value: AsciiMetadataValue = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| CtlError::usage("the token has characters a header cannot carry"))?;
        let addr = service.addr(|k| std::env::var(k).ok());
        let endpoint = Endpoint::from_shared(addr.clone())
            .map_err(|_| {
                CtlError::usage(format!(
                    "GRIDLOOP_{}_ADDR=`{addr}` is not an address (expected host:port)",
                    service.name().to_ascii_uppercase()
                ))
            })?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60));
        // Lazy: a service that is down shows up as UNAVAILABLE from the call itself, with
        // the same error path (and exit code) as any other status.
        let channel = endpoint.connect_lazy();
        Ok((InterceptedService::new(channel, Bearer(value)), addr))
    }

    pub fn intake(&self) -> CtlResult<Conn<IntakeServiceClient<Svc>>> {
        let (ch, addr) = self.channel(Service::Intake)?;
        Ok(Conn {
            client: IntakeServiceClient::new(ch),
            service: Service::Intake,
            addr,
        })
    }

    pub fn routing(&self) -> CtlResult<Conn<RoutingServiceClient<Svc>>> {
        let (ch, addr) = self.channel(Service::Routing)?;
        Ok(Conn {
            client: RoutingServiceClient::new(ch),
            service: Service::Routing,
            addr,
        })
    }

    pub fn closure(&self) -> CtlResult<Conn<ClosureServiceClient<Svc>>> {
        let (ch, addr) = self.channel(Service::Closure)?;
        Ok(Conn {
            client: ClosureServiceClient::new(ch),
            service: Service::Closure,
            addr,
        })
    }

    pub fn tracker(&self) -> CtlResult<Conn<TrackerServiceClient<Svc>>> {
        let (ch, addr) = self.channel(Service::Tracker)?;
        Ok(Conn {
            client: TrackerServiceClient::new(ch),
            service: Service::Tracker,
            addr,
        })
    }

    pub fn reports(&self) -> CtlResult<Conn<ReportServiceClient<Svc>>> {
        let (ch, addr) = self.channel(Service::Reports)?;
        Ok(Conn {
            client: ReportServiceClient::new(ch),
            service: Service::Reports,
            addr,
        })
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

/// Claims for `role` and `sub`, valid for `ttl_secs` from now.
pub fn claims(role: Role, sub: &str, grids: &[String], ttl_secs: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.to_string(),
        role,
        grids: grids.to_vec(),
        exp: now + ttl_secs,
        iat: now,
    }
}

/// A token signed with `secret`.
pub fn mint(secret: &str, claims: &Claims) -> CtlResult<String> {
    Authenticator::new(Some(secret))
        .mint(claims)
        .map_err(|e| CtlError::usage(format!("cannot mint a token: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_from_env_or_defaults() {
        assert_eq!(Service::Intake.addr(|_| None), "http://127.0.0.1:50051");
        assert_eq!(Service::Reports.addr(|_| None), "http://127.0.0.1:50055");
        let get = |k: &str| (k == "GRIDLOOP_ROUTING_ADDR").then(|| "10.0.0.2:7000".to_string());
        assert_eq!(Service::Routing.addr(get), "http://10.0.0.2:7000");
        let https = |_: &str| Some("https://gl.example.cn".to_string());
        assert_eq!(Service::Tracker.addr(https), "https://gl.example.cn");
    }

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
