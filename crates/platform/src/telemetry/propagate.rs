//! W3C trace context in and out of the maps that carry it: the event envelope's
//! `trace_context` (and the NATS headers repeating it), and gRPC metadata.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The current span's trace context as W3C headers (`traceparent`, `tracestate`).
pub fn current_context_headers() -> HashMap<String, String> {
    headers_of(&Span::current())
}

/// `span`'s trace context as W3C headers.
pub fn headers_of(span: &Span) -> HashMap<String, String> {
    let mut out = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut MapInjector(&mut out));
    out
}

/// The context `headers` describe (empty when they carry none).
pub fn context_from(headers: &HashMap<String, String>) -> Context {
    TraceContextPropagator::new().extract(&MapExtractor(headers))
}

/// Makes `span` a child of the trace described by `headers`, if they carry one.
pub fn set_parent_from(span: &Span, headers: &HashMap<String, String>) {
    if headers.is_empty() {
        return;
    }
    // A span that is already closed or has no OTel layer cannot take a parent: nothing to link.
    let _ = span.set_parent(context_from(headers));
}

/// Same as [`set_parent_from`] for incoming gRPC metadata / HTTP headers.
pub fn set_parent_from_http(span: &Span, headers: &http::HeaderMap) {
    let cx = TraceContextPropagator::new().extract(&HttpExtractor(headers));
    let _ = span.set_parent(cx);
}

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
