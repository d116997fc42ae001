//! Logs and traces: one set-up function per process, and the W3C trace-context plumbing that
//! makes one ticket's journey through all services a single trace — carried in gRPC metadata
//! on calls and in NATS headers (and the event envelope) on events.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::Error;
use crate::config::LogFormat;

/// Flushes and shuts the tracer down when dropped (or on [`TelemetryGuard::shutdown`]).
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    pub fn shutdown(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            tracing::warn!(error = %e, "tracer shutdown failed");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Installs the global subscriber: `RUST_LOG` filter (default `info`), plain or JSON lines on
/// stderr, and spans exported over OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
/// Spans get real trace ids either way, so trace context propagates without a collector.
pub fn init(service: &str, format: LogFormat) -> Result<TelemetryGuard, Error> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(format!("gridloop-{service}"))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| Error::Telemetry(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer(format!("gridloop-{service}"));
    opentelemetry::global::set_tracer_provider(provider.clone());

    // PostgreSQL's notices ("schema already exists, skipping" on every start) are not news.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let fmt = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Plain => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .map_err(|e| Error::Telemetry(e.to_string()))?;
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

/// The current span's trace context as W3C headers (`traceparent`, `tracestate`).
pub fn current_context_headers() -> HashMap<String, String> {
    let mut out = HashMap::new();
    let cx = Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut MapInjector(&mut out));
    out
}

/// Makes `span` a child of the trace described by `headers`, if they carry one.
pub fn set_parent_from(span: &Span, headers: &HashMap<String, String>) {
    if headers.is_empty() {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&MapExtractor(headers));
    // A span that is already closed or has no OTel layer cannot take a parent: nothing to link.
    let _ = span.set_parent(cx);
}

/// Same as [`set_parent_from`] for incoming gRPC metadata / HTTP headers.
pub fn set_parent_from_http(span: &Span, headers: &http::HeaderMap) {
    let cx = TraceContextPropagator::new().extract(&HttpExtractor(headers));
    let _ = span.set_parent(cx);
}

/// A span per incoming gRPC request, child of the caller's trace (for `Server::trace_fn`).
pub fn grpc_server_span(req: &http::Request<()>) -> Span {
    let span = tracing::info_span!("grpc", path = %req.uri().path());
    set_parent_from_http(&span, req.headers());
    span
}

/// Client interceptor that sends the current trace context in gRPC metadata.
pub use gridloop_client::trace::inject_trace_context;

struct MapInjector<'a>(&'a mut HashMap<String, String>);
impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a HashMap<String, String>);
impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct HttpExtractor<'a>(&'a http::HeaderMap);
impl Extractor for HttpExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
