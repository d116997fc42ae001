//! Every call a client of this crate makes is a CLIENT span as OpenTelemetry's RPC conventions
//! name it — `gridloop.v1.IntakeService/GetTicket`, `rpc.system = grpc`, `rpc.service`,
//! `rpc.method`, `rpc.grpc.status_code`, and `error.type` with status ERROR for any code but OK
//! (a caller's span fails whatever the reason, unlike the server's) — and sends its context
//! as W3C `traceparent` (and `tracestate`) metadata, so the service's SERVER span is its child.
//! [`ClientSpans`] is the tower layer every channel of [`crate::connect`] is wrapped in.
//!
//! The spans are `tracing` spans with tracing-opentelemetry's `otel.*` fields: in a process
//! that installed an OpenTelemetry SDK (the services, the system tests) they are real and
//! exported; this crate itself links only the API, so the CLI stays free of the exporter
//! stack. Without an SDK there is no span to send, and the call forwards the parent it was
//! given instead — `TRACEPARENT` in the environment, see [`parent_from`] — so an operator's
//! `gridloopctl` call still joins the operator's trace, as a direct child of its span.
//!
//! The header is written by hand rather than with the SDK's propagator: it is one line of the
//! W3C format.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use tonic::Code;
use tonic::body::Body;
use tonic::metadata::{MetadataMap, MetadataValue};
use tower::{Layer, Service};
use tracing::field::Empty;
use tracing::{Instrument as _, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// `traceparent` for `sc`, or `None` when it names no trace.
pub fn traceparent_of(sc: &SpanContext) -> Option<String> {
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// The remote span a W3C `traceparent` names (`00-<trace id>-<span id>-<flags>`); `None` for
/// anything else, as the W3C rules say to ignore a malformed header.
pub fn parse_traceparent(header: &str) -> Option<SpanContext> {
    let mut parts = header.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    // Version ff is invalid; a later version may append fields, version 00 may not.
    if !hex(version, 2) || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    if !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    let sc = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & 1),
        true,
        TraceState::default(),
    );
    sc.is_valid().then_some(sc)
}

/// The parent `TRACEPARENT` names, as `get` reads the environment.
pub fn parent_from(get: impl Fn(&str) -> Option<String>) -> Option<SpanContext> {
    get("TRACEPARENT").and_then(|v| parse_traceparent(&v))
}

/// Adds the current span's `traceparent` and `tracestate` to `metadata`; nothing when there is
/// no current trace (e.g. no OpenTelemetry layer is installed).
pub fn inject(metadata: &mut MetadataMap) {
    let cx = Span::current().context();
    for (name, value) in headers_for(cx.span().span_context()) {
        if let Ok(v) = MetadataValue::try_from(value) {
            metadata.insert(name, v);
        }
    }
}

/// `traceparent`, and `tracestate` when there is one, for `sc`.
fn headers_for(sc: &SpanContext) -> Vec<(&'static str, String)> {
    let Some(parent) = traceparent_of(sc) else {
        return Vec::new();
    };
    let mut out = vec![("traceparent", parent)];
    let state = sc.trace_state().header();
    if !state.is_empty() {
        out.push(("tracestate", state));
    }
    out
}

fn insert(headers: &mut http::HeaderMap, sc: &SpanContext) {
    for (name, value) in headers_for(sc) {
        if let Ok(v) = http::HeaderValue::try_from(value) {
            headers.insert(name, v);
        }
    }
}

/// `/gridloop.v1.IntakeService/GetTicket` → (`gridloop.v1.IntakeService`, `GetTicket`).
pub fn split(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.split_once('/').unwrap_or((path, ""))
}

/// The client span of a call to `path`, a child of the current span, or else of `parent`.
pub fn client_span(path: &str, parent: Option<&SpanContext>) -> Span {
    let (service, method) = split(path);
    let span = tracing::info_span!(
        "rpc",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = Empty,
        "error.type" = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    let current = Span::current().context();
    if let Some(p) = parent
        && !current.span().span_context().is_valid()
    {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(p.clone()));
    }
    span
}

/// Records how the call ended on its span.
pub fn finish(span: &Span, code: Code) {
    span.record("rpc.grpc.status_code", code as i64);
    if code != Code::Ok {
        span.record("error.type", code_name(code));
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", code.description());
    }
}

/// The status code's name as gRPC spells it (`NOT_FOUND`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The layer that makes each call a CLIENT span and sends its context.
#[derive(Clone, Debug, Default)]
pub struct ClientSpans {
    /// The parent of calls made outside any trace (`TRACEPARENT`).
    pub parent: Option<SpanContext>,
}

impl<S> Layer<S> for ClientSpans {
    type Service = Traced<S>;
    fn layer(&self, inner: S) -> Traced<S> {
        Traced {
            inner,
            parent: self.parent.clone(),
        }
    }
}

/// A channel (or any gRPC transport) whose calls are CLIENT spans; see [`ClientSpans`].
#[derive(Clone, Debug)]
pub struct Traced<S> {
    inner: S,
    parent: Option<SpanContext>,
}

impl<S> Traced<S> {
    /// `inner` with spans; `parent` is the parent of calls made outside any trace.
    pub fn new(inner: S, parent: Option<SpanContext>) -> Traced<S> {
        Traced { inner, parent }
    }

    /// The parent of calls made outside any trace.
    pub fn parent(&self) -> Option<&SpanContext> {
        self.parent.as_ref()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<http::Request<Body>> for Traced<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Watched>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // The clone that was made ready serves this call; the fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let span = client_span(req.uri().path(), self.parent.as_ref());
        let cx = span.context();
        let own_span = cx.span();
        let own = own_span.span_context();
        // Without an SDK the span has no context of its own: pass the parent on unchanged.
        match (own.is_valid(), &self.parent) {
            (true, _) => insert(req.headers_mut(), own),
            (false, Some(parent)) => insert(req.headers_mut(), parent),
            (false, None) => {}
        }
        Box::pin(async move {
            let response = match inner.call(req).instrument(span.clone()).await {
                Ok(r) => r,
                Err(e) => {
                    // The transport failed: the caller sees UNAVAILABLE.
                    finish(&span, Code::Unavailable);
                    return Err(e);
                }
            };
            let (parts, body) = response.into_parts();
            let mut watched = Watched::new(body, move |code| finish(&span, code));
            // Trailers-only: a failed unary call ends in its headers.
            if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
                watched.end(status.code());
            }
            Ok(http::Response::from_parts(parts, watched))
        })
    }
}

/// A response body that reports the call's status once, when its trailers (or its end, or
/// its error) come by, or as CANCELLED when it is dropped before: the one reading of a
/// call's outcome behind both the CLIENT spans here and the platform's SERVER spans.
pub struct Watched {
    body: Body,
    on_end: Option<Box<dyn FnOnce(Code) + Send>>,
}

impl Watched {
    pub fn new(body: Body, on_end: impl FnOnce(Code) + Send + 'static) -> Self {
        Watched {
            body,
            on_end: Some(Box::new(on_end)),
        }
    }

    /// Reports `code`, the first time only.
    pub fn end(&mut self, code: Code) {
        if let Some(f) = self.on_end.take() {
            f(code);
        }
    }
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code =
                        tonic::Status::from_header_map(trailers).map_or(Code::Ok, |s| s.code());
                    self.end(code);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                let code = e.code();
                self.end(code);
            }
            Poll::Ready(None) => self.end(Code::Ok),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // The reader stopped before the end: the call was cancelled.
        self.end(Code::Cancelled);
    }
}

#[cfg(test)]
mod tests;
