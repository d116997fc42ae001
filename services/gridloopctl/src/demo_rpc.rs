//! The demo's connections: one channel per service, shared by every ticket in flight, and a
//! token minted for each call as whoever acts in it — the worker holding the task (`sub` =
//! worker id), a 12345 operator, the app backend or device gateway, a supervisor.

use std::future::Future;
use std::time::Duration;

use gridloop_client::connect;
use gridloop_client::token::{Claims, Role};
use gridloop_client::{Backoff, retry};
use gridloop_proto::v1::closure_service_client::ClosureServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::report_service_client::ReportServiceClient;
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::client::{Service, mint};
use crate::demo_county::COUNTY;
use crate::error::{CtlError, CtlResult};

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
    channels: Vec<(Service, Channel, String)>,
}

impl Rpc {
    pub fn new(secret: String) -> CtlResult<Rpc> {
        let mut channels = Vec::new();
        for s in Service::ALL {
            let addr = s.addr(|k| std::env::var(k).ok());
            let ch = s.channel(&addr, Duration::from_secs(30))?;
            channels.push((s, ch, addr));
        }
        Ok(Rpc { secret, channels })
    }

    fn ch(&self, s: Service) -> Channel {
        self.channels
            .iter()
            .find(|(x, _, _)| *x == s)
            .map(|(_, c, _)| c.clone())
            .expect("every service has a channel")
    }

    /// A status from `s` as a command error (names the service and its address).
    pub fn err(&self, s: Service, status: tonic::Status) -> CtlError {
        let addr = self
            .channels
            .iter()
            .find(|(x, _, _)| *x == s)
            .map(|(_, _, a)| a.clone())
            .unwrap_or_default();
        CtlError::Status {
            service: s.name(),
            addr,
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
        // The secret was checked when the demo started; minting cannot fail afterwards.
        mint(&self.secret, &Claims::new(role, sub, &grids, ttl)).unwrap_or_default()
    }

    /// `msg` with a bearer token for `who` and the current trace context.
    pub fn req<T>(&self, who: As<'_>, msg: T) -> tonic::Request<T> {
        connect::request(msg, &self.token(who, 3600))
    }

    pub fn intake(&self) -> IntakeServiceClient<Channel> {
        IntakeServiceClient::new(self.ch(Service::Intake))
    }
    pub fn routing(&self) -> RoutingServiceClient<Channel> {
        RoutingServiceClient::new(self.ch(Service::Routing))
    }
    pub fn closure(&self) -> ClosureServiceClient<Channel> {
        ClosureServiceClient::new(self.ch(Service::Closure))
    }
    pub fn tracker(&self) -> TrackerServiceClient<Channel> {
        TrackerServiceClient::new(self.ch(Service::Tracker))
    }
    pub fn reports(&self) -> ReportServiceClient<Channel> {
        ReportServiceClient::new(self.ch(Service::Reports))
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

/// Calls `f` until it succeeds, retrying statuses `again` accepts for up to `limit`.
pub async fn retry<T, F, Fut>(
    limit: Duration,
    again: fn(&tonic::Status) -> bool,
    f: F,
) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    retry::retry(Backoff::within(limit), again, f).await
}

/// One line for a failed step: what, the code and the server's message.
pub fn why(what: &str, s: &tonic::Status) -> String {
    format!("{what}: {:?}: {}", s.code(), s.message())
}
