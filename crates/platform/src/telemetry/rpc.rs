//! A SERVER span and a latency measurement per gRPC call, as OpenTelemetry's RPC conventions
//! name them: span `gridloop.v1.IntakeService/GetTicket`, `rpc.system = grpc`, `rpc.service`,
//! `rpc.method`, `rpc.grpc.status_code`, a child of the caller's trace context; and the
//! `rpc.server.call.duration` histogram with the same attributes.
//!
//! The status comes from the response headers (a failed unary call is "trailers-only") or,
//! for a call that streams, from the trailers at the end of its body; the span and the
//! measurement end there, so a stream is measured to its last message. Following the
//! conventions, a server span is marked ERROR only for codes that are the server's fault
//! (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS); a refused
//! request keeps its code in `rpc.grpc.status_code` and `error.type`, and the caller's CLIENT
//! span is the one marked failed.
//!
//! A call about a ticket gets the ticket on its span (see [`super::spans`]): read from the
//! request for every method whose request has a `ticket_id` (the list is generated from the
//! protos), or marked by the handler for calls that create one.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;

use gridloop_client::trace::{Watched, code_name, split};
use http_body_util::BodyExt as _;
use opentelemetry::KeyValue;
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::{Instrument as _, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{propagate, spans};
use crate::metrics;

/// The call being served on this task, for [`mark_call`].
struct Call {
    span: Span,
    ticket: Mutex<Option<String>>,
}

tokio::task_local! {
    static CALL: Call;
}

/// Puts `ticket_id` on the span of the call served on this task, unless it already has one.
/// False outside a call.
pub(crate) fn mark_call(ticket_id: &str) -> bool {
    CALL.try_with(|call| {
        let mut marked = call.ticket.lock().unwrap_or_else(|e| e.into_inner());
        if marked.is_none() {
            spans::on_ticket(&call.span, ticket_id);
            *marked = Some(ticket_id.to_owned());
        }
    })
    .is_ok()
}

/// The layer the gRPC server wraps every call in (see [`crate::grpc::serve`]).
#[derive(Clone, Copy, Debug)]
pub struct RpcLayer {
    /// Largest request read to find its ticket (the server's own limit).
    pub max_request_bytes: usize,
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;
    fn layer(&self, inner: S) -> RpcService<S> {
        RpcService {
            inner,
            max_request_bytes: self.max_request_bytes,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RpcService<S> {
    inner: S,
    max_request_bytes: usize,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<http::Request<Body>> for RpcService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // The clone that was made ready serves this call; the fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let max = self.max_request_bytes;
        Box::pin(async move {
            let path = req.uri().path().to_owned();
            let (service, method) = split(&path);
            let span = tracing::info_span!(
                "rpc",
                otel.name = %path.trim_start_matches('/'),
                otel.kind = "server",
                rpc.system = "grpc",
                rpc.service = %service,
                rpc.method = %method,
            );
            propagate::set_parent_from_http(&span, req.headers());
            let attrs = vec![
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", service.to_owned()),
                KeyValue::new("rpc.method", method.to_owned()),
            ];
            let call = Call {
                span: span.clone(),
                ticket: Mutex::new(None),
            };
            let started = Instant::now();
            let req = match with_ticket(req, &path, max, &call).await {
                Ok(req) => req,
                Err(status) => {
                    let done = Done {
                        span,
                        attrs,
                        started,
                    };
                    done.finish(status.code());
                    return Ok(status.into_http());
                }
            };
            let response = CALL
                .scope(call, inner.call(req).instrument(span.clone()))
                .await?;
            let done = Done {
                span,
                attrs,
                started,
            };
            let (parts, body) = response.into_parts();
            match tonic::Status::from_header_map(&parts.headers) {
                // Trailers-only: the call is over.
                Some(status) => {
                    done.finish(status.code());
                    Ok(http::Response::from_parts(parts, body))
                }
                None => Ok(http::Response::from_parts(
                    parts,
                    Body::new(Watched::new(body, move |code| done.finish(code))),
                )),
            }
        })
    }
}

/// For a method whose request names a ticket, reads the request (bounded by the server's own
/// limit), puts the ticket on the call's span and hands the same bytes on.
async fn with_ticket(
    req: http::Request<Body>,
    path: &str,
    max: usize,
    call: &Call,
) -> Result<http::Request<Body>, tonic::Status> {
    if !gridloop_proto::ticket_requests::TICKET_METHODS.contains(&path) {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    // The 5-byte gRPC frame header comes on top of the message.
    let bytes = http_body_util::Limited::new(body, max.saturating_add(5))
        .collect()
        .await
        .map_err(|_| tonic::Status::resource_exhausted(format!("request larger than {max} bytes")))?
        .to_bytes();
    // Uncompressed single-message frame: flag 0, length, message. Anything else is left for
    // tonic to judge.
    if bytes.len() >= 5
        && bytes[0] == 0
        && let Some(id) = gridloop_proto::ticket_requests::request_ticket_id(path, &bytes[5..])
        && !id.is_empty()
    {
        spans::on_ticket(&call.span, &id);
        *call.ticket.lock().unwrap_or_else(|e| e.into_inner()) = Some(id);
    }
    Ok(http::Request::from_parts(
        parts,
        Body::new(http_body_util::Full::new(bytes)),
    ))
}

/// What ends with the call: its span and its measurement.
struct Done {
    span: Span,
    attrs: Vec<KeyValue>,
    started: Instant,
}

impl Done {
    fn finish(mut self, code: Code) {
        let n = code as i32;
        self.span.set_attribute("rpc.grpc.status_code", n as i64);
        if code != Code::Ok {
            self.span.set_attribute("error.type", code_name(code));
        }
        if server_fault(code) {
            self.span.set_status(opentelemetry::trace::Status::error(
                code.description().to_owned(),
            ));
        }
        self.attrs
            .push(KeyValue::new("rpc.grpc.status_code", n as i64));
        metrics::instruments()
            .rpc_duration
            .record(self.started.elapsed().as_secs_f64(), &self.attrs);
    }
}

/// The codes OpenTelemetry's gRPC conventions count as a server span's error.
fn server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}
