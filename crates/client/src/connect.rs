//! Connections to the five services. Each address comes from `GRIDLOOP_<SERVICE>_ADDR` (with
//! or without a scheme), the local stack's port by default. Channels are lazy: a service that
//! is down shows up as `UNAVAILABLE` from the call itself, not as a separate connect error.
//! Every channel is [`Traced`]: each call is a CLIENT span and carries its trace context, with
//! `TRACEPARENT` (read where the addresses are) as the parent of calls made outside any trace.

use std::time::Duration;

use gridloop_proto::v1::closure_service_client::ClosureServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::report_service_client::ReportServiceClient;
use gridloop_proto::v1::routing_service_client::RoutingServiceClient;
use gridloop_proto::v1::tracker_service_client::TrackerServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tower::Layer as _;

use crate::trace::{self, ClientSpans};

/// A channel whose calls are CLIENT spans (see [`crate::trace`]).
pub type Traced = trace::Traced<Channel>;

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
    pub const ALL: [Service; 5] = [
        Service::Intake,
        Service::Routing,
        Service::Closure,
        Service::Tracker,
        Service::Reports,
    ];

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

    /// The variable that overrides this service's address.
    pub fn addr_var(self) -> String {
        format!("GRIDLOOP_{}_ADDR", self.name().to_ascii_uppercase())
    }

    /// `http://host:port` from `GRIDLOOP_<SERVICE>_ADDR` as `get` reads it.
    pub fn addr(self, get: impl Fn(&str) -> Option<String>) -> String {
        let raw = get(&self.addr_var())
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| format!("127.0.0.1:{}", self.default_port()));
        let raw = raw.trim();
        if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        }
    }

    /// A lazy channel to this service at `addr` (see [`Service::addr`]), without spans.
    pub fn channel(self, addr: &str, timeout: Duration) -> Result<Channel, ConnectError> {
        let endpoint = Endpoint::from_shared(addr.to_string()).map_err(|_| ConnectError::Addr {
            var: self.addr_var(),
            addr: addr.to_string(),
        })?;
        Ok(endpoint
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .connect_lazy())
    }
}

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnectError {
    #[error("{var}=`{addr}` is not an address (expected host:port)")]
    Addr { var: String, addr: String },
    #[error("the token has characters a header cannot carry")]
    Token,
}

/// `authorization: Bearer <token>` as metadata.
pub fn bearer(token: &str) -> Result<AsciiMetadataValue, ConnectError> {
    MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| ConnectError::Token)
}

/// `msg` with `token` as its bearer: for callers that act as a different identity per call
/// over one shared channel ([`Channels`]; the channel adds the trace context). A token that
/// cannot be a header is left off, and the service answers `UNAUTHENTICATED`.
pub fn request<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Ok(b) = bearer(token) {
        req.metadata_mut().insert("authorization", b);
    }
    req
}

/// Adds the bearer token, if any, to every call (the [`Traced`] channel under it adds the
/// trace context, from the call's own span).
#[derive(Clone, Debug, Default)]
pub struct Attach {
    bearer: Option<AsciiMetadataValue>,
}

impl Attach {
    /// Attaches `token` as the bearer of every call.
    pub fn bearer(token: &str) -> Result<Attach, ConnectError> {
        Ok(Attach {
            bearer: Some(bearer(token)?),
        })
    }
}

impl tonic::service::Interceptor for Attach {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(b) = &self.bearer {
            req.metadata_mut().insert("authorization", b.clone());
        }
        Ok(req)
    }
}

/// A traced channel that carries [`Attach`]'s metadata.
pub type Attached = InterceptedService<Traced, Attach>;

/// A typed client of one service and where it calls, for error messages.
pub struct Connection<C> {
    pub client: C,
    pub service: Service,
    pub addr: String,
}

/// Builds typed clients whose calls carry the same [`Attach`].
pub struct Connector<G> {
    attach: Attach,
    timeout: Duration,
    get: G,
}

/// A [`Connector`] that reads addresses from the process environment.
pub type EnvConnector = Connector<fn(&str) -> Option<String>>;

impl EnvConnector {
    /// Addresses from the process environment; calls time out after 60 s.
    pub fn from_env(attach: Attach) -> Self {
        Connector::new(attach, |k| std::env::var(k).ok())
    }
}

impl<G: Fn(&str) -> Option<String>> Connector<G> {
    /// Addresses read with `get`.
    pub fn new(attach: Attach, get: G) -> Self {
        Connector {
            attach,
            timeout: Duration::from_secs(60),
            get,
        }
    }

    /// Per-call timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn connect<C>(
        &self,
        service: Service,
        typed: impl FnOnce(Attached) -> C,
    ) -> Result<Connection<C>, ConnectError> {
        let addr = service.addr(&self.get);
        let channel = service.channel(&addr, self.timeout)?;
        let spans = ClientSpans {
            parent: trace::parent_from(&self.get),
        };
        Ok(Connection {
            client: typed(InterceptedService::new(
                spans.layer(channel),
                self.attach.clone(),
            )),
            service,
            addr,
        })
    }

    pub fn intake(&self) -> Result<Connection<IntakeServiceClient<Attached>>, ConnectError> {
        self.connect(Service::Intake, IntakeServiceClient::new)
    }

    pub fn routing(&self) -> Result<Connection<RoutingServiceClient<Attached>>, ConnectError> {
        self.connect(Service::Routing, RoutingServiceClient::new)
    }

    pub fn closure(&self) -> Result<Connection<ClosureServiceClient<Attached>>, ConnectError> {
        self.connect(Service::Closure, ClosureServiceClient::new)
    }

    pub fn tracker(&self) -> Result<Connection<TrackerServiceClient<Attached>>, ConnectError> {
        self.connect(Service::Tracker, TrackerServiceClient::new)
    }

    pub fn reports(&self) -> Result<Connection<ReportServiceClient<Attached>>, ConnectError> {
        self.connect(Service::Reports, ReportServiceClient::new)
    }
}

/// One lazy channel per service, shared by every call: for callers that act as a different
/// identity per call (each request carries its own token, see [`request`]) and make many calls
/// at once, where a channel per call would open a connection per call.
#[derive(Clone, Debug)]
pub struct Channels {
    channels: Vec<(Service, Traced, String)>,
}

impl Channels {
    /// Channels to the addresses `get` reads (see [`Service::addr`]); calls time out after
    /// `timeout`.
    pub fn new(
        get: impl Fn(&str) -> Option<String>,
        timeout: Duration,
    ) -> Result<Channels, ConnectError> {
        let spans = ClientSpans {
            parent: trace::parent_from(&get),
        };
        let mut channels = Vec::with_capacity(Service::ALL.len());
        for s in Service::ALL {
            let addr = s.addr(&get);
            channels.push((s, spans.layer(s.channel(&addr, timeout)?), addr));
        }
        Ok(Channels { channels })
    }

    /// Channels to the addresses in the process environment.
    pub fn from_env(timeout: Duration) -> Result<Channels, ConnectError> {
        Channels::new(|k| std::env::var(k).ok(), timeout)
    }

    fn entry(&self, s: Service) -> &(Service, Traced, String) {
        self.channels
            .iter()
            .find(|(x, _, _)| *x == s)
            .expect("a channel for every service")
    }

    /// The channel to `s`.
    pub fn channel(&self, s: Service) -> Traced {
        self.entry(s).1.clone()
    }

    /// Where `s` is called, for error messages.
    pub fn addr(&self, s: Service) -> &str {
        &self.entry(s).2
    }

    pub fn intake(&self) -> IntakeServiceClient<Traced> {
        IntakeServiceClient::new(self.channel(Service::Intake))
    }

    pub fn routing(&self) -> RoutingServiceClient<Traced> {
        RoutingServiceClient::new(self.channel(Service::Routing))
    }

    pub fn closure(&self) -> ClosureServiceClient<Traced> {
        ClosureServiceClient::new(self.channel(Service::Closure))
    }

    pub fn tracker(&self) -> TrackerServiceClient<Traced> {
        TrackerServiceClient::new(self.channel(Service::Tracker))
    }

    pub fn reports(&self) -> ReportServiceClient<Traced> {
        ReportServiceClient::new(self.channel(Service::Reports))
    }
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

    #[tokio::test]
    async fn shared_channels_know_their_addresses() {
        let get = |k: &str| (k == "GRIDLOOP_CLOSURE_ADDR").then(|| "10.0.0.3:7003".to_string());
        let ch = Channels::new(get, Duration::from_secs(1)).unwrap();
        assert_eq!(ch.addr(Service::Closure), "http://10.0.0.3:7003");
        assert_eq!(ch.addr(Service::Intake), "http://127.0.0.1:50051");
        let bad = |_: &str| Some("not an address".to_string());
        assert!(Channels::new(bad, Duration::from_secs(1)).is_err());
    }

    #[tokio::test]
    async fn traceparent_is_read_with_the_addresses() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let get = |k: &str| (k == "TRACEPARENT").then(|| parent.to_string());
        let ch = Channels::new(get, Duration::from_secs(1)).unwrap();
        let sc = ch.channel(Service::Routing).parent().cloned().unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let none = Channels::new(|_| None, Duration::from_secs(1)).unwrap();
        assert!(none.channel(Service::Routing).parent().is_none());
    }

    #[tokio::test]
    async fn bad_address_and_token_are_errors() {
        let bad = |_: &str| Some("not an address".to_string());
        let err = Connector::new(Attach::default(), bad)
            .intake()
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("GRIDLOOP_INTAKE_ADDR="));
        assert_eq!(Attach::bearer("a\nb").err(), Some(ConnectError::Token));
        let req = request((), "t0k");
        assert_eq!(req.metadata().get("authorization").unwrap(), "Bearer t0k");
        assert!(
            request((), "a\nb")
                .metadata()
                .get("authorization")
                .is_none()
        );
    }
}
