//! The demo's connections: one channel per service, shared by every ticket in flight, and a
//! token minted for each call as whoever acts in it — the worker holding the task (`sub` =
//! worker id), a 12345 operator, the app backend or device gateway, a supervisor.

use std::time::Duration;

use gridloop_client::connect::Traced;
use gridloop_client::token::{self, Claims, Role};
use gridloop_client::{Channels, Service, connect};
use gridloop_proto::v1::closure_service_client::ClosureServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::report_service_client::ReportServiceClient;
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;
use gridloopctl::error::{CtlError, CtlResult};
use tonic::Code;

use crate::county::COUNTY;

/// Who makes a call.
#[derive(Clone, Copy, Debug)]
pub enum As<'a> {
    Admin,
    Supervisor,
    Leader,
    Operator(&'a str),
    Service(&'a str),
    Worker(&'a str),
    /// A worker whose token names the grid they act in (patrol reports).
    WorkerIn(&'a str, &'a str),
}

pub struct Rpc {
    secret: String,
    channels: Channels,
}

impl Rpc {
    pub fn new(secret: String) -> CtlResult<Rpc> {
        Ok(Rpc {
            secret,
            channels: Channels::from_env(Duration::from_secs(30))?,
        })
    }

    /// A status from `s` as a command error (names the service and its address).
    pub fn err(&self, s: Service, status: tonic::Status) -> CtlError {
        CtlError::Status {
            service: s.name(),
            addr: self.channels.addr(s).to_string(),
            status,
        }
    }

    pub fn token(&self, who: As<'_>, ttl: i64) -> String {
        let county = vec![COUNTY.0.to_string()];
        let (role, sub, grids) = match who {
            As::Admin => (Role::Admin, "demo-admin", vec![]),
            As::Supervisor => (Role::Supervisor, "staff-sy-001", county),
            As::Leader => (Role::Leader, "leader-yeji", county),
            As::Operator(s) => (Role::Operator, s, vec![]),
            As::Service(s) => (Role::Service, s, vec![]),
            As::Worker(s) => (Role::Worker, s, vec![]),
            As::WorkerIn(s, g) => (Role::Worker, s, vec![g.to_string()]),
        };
        // Signing cannot fail: the claims always serialise and HMAC takes any key.
        token::mint(self.secret.as_bytes(), &Claims::new(role, sub, &grids, ttl))
            .unwrap_or_default()
    }

    /// `msg` with a bearer token for `who` (the channel adds the trace context).
    pub fn req<T>(&self, who: As<'_>, msg: T) -> tonic::Request<T> {
        connect::request(msg, &self.token(who, 3600))
    }

    pub fn intake(&self) -> IntakeServiceClient<Traced> {
        self.channels.intake()
    }
    pub fn routing(&self) -> RoutingServiceClient<Traced> {
        self.channels.routing()
    }
    pub fn closure(&self) -> ClosureServiceClient<Traced> {
        self.channels.closure()
    }
    pub fn tracker(&self) -> TrackerServiceClient<Traced> {
        self.channels.tracker()
    }
    pub fn reports(&self) -> ReportServiceClient<Traced> {
        self.channels.reports()
    }
}

/// Statuses that mean "not yet": a service has not read the event that makes the step
/// possible (closure not yet told of the acceptance, routing not yet of the reopening), or is
/// briefly unavailable.
pub fn lagging(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        Code::FailedPrecondition | Code::NotFound | Code::Unavailable | Code::PermissionDenied
    )
}

/// One line for a failed step: what, the code and the server's message.
pub fn why(what: &str, s: &tonic::Status) -> String {
    format!("{what}: {:?}: {}", s.code(), s.message())
}
