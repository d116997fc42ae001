//! The spans of a ticket's journey, named and attributed by OpenTelemetry's semantic
//! conventions for messaging (`create`, `send`, `process`), and the one thing that ties a
//! ticket's many traces together.
//!
//! Every step of a ticket is its own trace (a call, the events it caused, their handling). To
//! find the whole journey with one query, each ticket has an anchor: a span whose trace id IS
//! the ticket's UUID and whose span id is derived from it, emitted once when the ticket is
//! discovered. Every span about a ticket carries `gridloop.ticket.id` and a link to that
//! anchor, which any service can compute from the id alone — no lookup, no stored context.
//! Search the trace id `<ticket uuid without dashes>` for the anchor, or the links or the
//! attribute for every step.

use std::cell::Cell;
use std::collections::HashMap;

use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use uuid::Uuid;

use super::propagate;

/// The attribute naming the ticket a span is about.
pub const TICKET_ID: &str = "gridloop.ticket.id";
/// `messaging.system` of every event span.
pub const MESSAGING_SYSTEM: &str = "nats";

/// The anchor of `ticket_id`'s journey: trace id = the UUID's bytes, span id = its last eight
/// bytes (made non-zero). `None` when the id is not a UUID.
pub fn anchor_of(ticket_id: &str) -> Option<SpanContext> {
    let id = Uuid::parse_str(ticket_id).ok()?;
    let bytes = id.as_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    let span = u64::from_be_bytes(low).max(1);
    Some(SpanContext::new(
        TraceId::from_bytes(*bytes),
        SpanId::from_bytes(span.to_be_bytes()),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

/// Puts `ticket_id` on `span` and links it to the ticket's anchor.
pub fn on_ticket(span: &Span, ticket_id: &str) {
    if ticket_id.is_empty() {
        return;
    }
    span.set_attribute(TICKET_ID, ticket_id.to_owned());
    if let Some(anchor) = anchor_of(ticket_id) {
        span.add_link(anchor);
    }
}

/// Puts `ticket_id` on the span of the gRPC call being served (see [`super::rpc`]), once, or
/// on the current span outside a call.
pub fn mark_ticket(ticket_id: &str) {
    if !super::rpc::mark_call(ticket_id) {
        on_ticket(&Span::current(), ticket_id);
    }
}

thread_local! {
    /// Ids the next span started on this thread takes instead of random ones (the anchor's).
    static NEXT_IDS: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// Random ids, except for a ticket's anchor, which takes the ids [`anchor_of`] derives.
#[derive(Debug, Default)]
pub(super) struct TicketIds(RandomIdGenerator);

impl IdGenerator for TicketIds {
    fn new_trace_id(&self) -> TraceId {
        match NEXT_IDS.with(Cell::get) {
            Some((trace, _)) => {
                NEXT_IDS.with(|c| c.set(None));
                trace
            }
            None => self.0.new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        // The SDK asks for the span id first, then for the trace id of a span without parent.
        match NEXT_IDS.with(Cell::get) {
            Some((_, span)) => span,
            None => self.0.new_span_id(),
        }
    }
}

/// Emits the anchor span of a ticket discovered under `creator` (the call or event that
/// discovered it): a root span in the ticket's own trace, linked back to its creator.
fn emit_anchor(ticket_id: &str, creator: &SpanContext) {
    let Some(anchor) = anchor_of(ticket_id) else {
        return;
    };
    let tracer = opentelemetry::global::tracer("gridloop");
    let mut builder = tracer
        .span_builder("ticket")
        .with_kind(SpanKind::Internal)
        .with_attributes([KeyValue::new(TICKET_ID, ticket_id.to_owned())]);
    if creator.is_valid() {
        builder = builder.with_links(vec![Link::with_context(creator.clone())]);
    }
    NEXT_IDS.with(|c| c.set(Some((anchor.trace_id(), anchor.span_id()))));
    let mut span = builder.start_with_context(&tracer, &Context::new());
    // A no-op tracer never asks for ids: do not leave them for the next span.
    NEXT_IDS.with(|c| c.set(None));
    opentelemetry::trace::Span::end(&mut span);
}

/// The PRODUCER span of an event being created for `ticket_id` under `parent` (the caller's
/// trace context): its context is what the event carries, so the event's handling in every
/// consumer is a child of it. A `discovered` event also emits the ticket's anchor.
pub fn create_span(
    kind: &str,
    event_id: &str,
    ticket_id: &str,
    parent: &HashMap<String, String>,
) -> Span {
    let span = tracing::info_span!(
        "create",
        otel.name = %format!("create {kind}"),
        otel.kind = "producer",
        messaging.system = MESSAGING_SYSTEM,
        messaging.operation.type = "create",
        messaging.operation.name = "create",
        messaging.message.id = %event_id,
        gridloop.event.kind = %kind,
    );
    propagate::set_parent_from(&span, parent);
    on_ticket(&span, ticket_id);
    if kind == "discovered" {
        emit_anchor(ticket_id, span.context().span().span_context());
    }
    span
}

/// The PRODUCER span of the relay sending a batch to `destination` (the stream), linked to
/// the `create` span of every event in it.
pub fn send_span(destination: &str, contexts: &[HashMap<String, String>]) -> Span {
    let span = tracing::info_span!(
        "send",
        otel.name = %format!("send {destination}"),
        otel.kind = "producer",
        messaging.system = MESSAGING_SYSTEM,
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.destination.name = %destination,
        messaging.batch.message_count = contexts.len() as i64,
    );
    for cx in contexts {
        let cx = propagate::context_from(cx);
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            span.add_link(sc);
        }
    }
    span
}

/// The CONSUMER span of `consumer` processing the event `event_id` about `ticket_id` read
/// from `subject`, a child of the event's `create` span (carried in `trace`).
pub fn process_span(
    subject: &str,
    consumer: &str,
    event_id: &str,
    ticket_id: &str,
    trace: &HashMap<String, String>,
) -> Span {
    let span = tracing::info_span!(
        "process",
        otel.name = %format!("process {subject}"),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        messaging.system = MESSAGING_SYSTEM,
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %subject,
        messaging.consumer.group.name = %consumer,
        messaging.message.id = %event_id,
    );
    propagate::set_parent_from(&span, trace);
    on_ticket(&span, ticket_id);
    span
}

/// Marks `span` failed with `why` (already free of personal data).
pub fn fail(span: &Span, why: &str) {
    span.set_status(opentelemetry::trace::Status::error(why.to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_is_the_ticket_id() {
        let id = "0193a5b2-7c1e-7d40-9a6b-3c2d1e0f4a5b";
        let a = anchor_of(id).unwrap();
        assert_eq!(a.trace_id().to_string(), id.replace('-', ""));
        assert_eq!(a.span_id().to_string(), "9a6b3c2d1e0f4a5b");
        assert!(a.is_valid() && a.is_sampled());
        assert_eq!(anchor_of(id), anchor_of(id));
        assert!(anchor_of("not-a-uuid").is_none());
    }
}
