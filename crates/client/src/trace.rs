//! The current span's trace context as W3C `traceparent` (and `tracestate`) metadata, so the
//! services' spans for a call become children of the caller's. Written by hand rather than
//! with the SDK's propagator: the header is one line of the W3C format, and the SDK would bring
//! the exporter stack into every client.

use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use tonic::metadata::{MetadataMap, MetadataValue};
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

/// Adds the current span's `traceparent` and `tracestate` to `metadata`; nothing when there is
/// no current trace (e.g. no OpenTelemetry layer is installed).
pub fn inject(metadata: &mut MetadataMap) {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    let Some(parent) = traceparent_of(sc) else {
        return;
    };
    if let Ok(v) = MetadataValue::try_from(parent) {
        metadata.insert("traceparent", v);
    }
    let state = sc.trace_state().header();
    if state.is_empty() {
        return;
    }
    if let Ok(v) = MetadataValue::try_from(state) {
        metadata.insert("tracestate", v);
    }
}

/// Client interceptor that sends the current trace context in gRPC metadata.
pub fn inject_trace_context(
    mut req: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    inject(req.metadata_mut());
    Ok(req)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    #[test]
    fn w3c_format() {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        assert_eq!(
            traceparent_of(&sc).as_deref(),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(traceparent_of(&SpanContext::empty_context()), None);
    }

    #[test]
    fn nothing_without_a_trace() {
        let mut md = MetadataMap::new();
        inject(&mut md);
        assert!(md.get("traceparent").is_none());
    }
}
