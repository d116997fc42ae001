//! Reading a message off the stream for the consumer: its envelope (or why it has none), the
//! CONSUMER span of handling it, and the metrics of a handled event.

use std::collections::HashMap;

use async_nats::jetstream::Message;
use gridloop_proto::v1::TicketEvent;
use opentelemetry::KeyValue;
use prost::Message as _;
use uuid::Uuid;

use crate::envelope::{Envelope, Unfit};
use crate::metrics;
use crate::telemetry::spans;

/// An event read off the stream with a valid event id, so the inbox can record it.
pub(super) enum Read {
    /// For the handler.
    Fit(Envelope),
    /// Not for any handler: acknowledged with a warning (see [`crate::inbox`]).
    Unfit { event: TicketEvent, why: Unfit },
}

impl Read {
    pub(super) fn ticket_id(&self) -> Option<gridloop_lifecycle::TicketId> {
        match self {
            Read::Fit(e) => Some(e.ticket_id),
            Read::Unfit { .. } => None,
        }
    }

    pub(super) fn raw_event_id(&self) -> String {
        match self {
            Read::Fit(e) => e.event_id.to_string(),
            Read::Unfit { event, .. } => event.event_id.clone(),
        }
    }
}

/// The event and its id; `None` when it cannot be recorded (undecodable, or its event id is
/// not a UUID).
pub(super) fn decode(msg: &Message) -> Option<(Read, Uuid)> {
    let event = TicketEvent::decode(msg.payload.as_ref()).ok()?;
    let id = Uuid::parse_str(&event.event_id).ok()?;
    let read = match Envelope::read(event) {
        Ok(envelope) => Read::Fit(envelope),
        Err(unfit) => {
            let (why, event) = *unfit;
            Read::Unfit { event, why }
        }
    };
    Some((read, id))
}

/// The CONSUMER span of handling one event, child of the event's `create` span.
pub(super) fn event_span(msg: &Message, event: &Read, consumer: &str) -> tracing::Span {
    let (event_id, ticket_id, trace) = match event {
        Read::Fit(e) => (
            e.event_id.to_string(),
            e.ticket_id.to_string(),
            &e.trace_context,
        ),
        Read::Unfit { event: e, .. } => (e.event_id.clone(), e.ticket_id.clone(), &e.trace_context),
    };
    let mut cx: HashMap<String, String> = trace.clone();
    if let Some(h) = msg.headers.as_ref()
        && let Some(tp) = h.get("traceparent")
    {
        cx.entry("traceparent".into())
            .or_insert_with(|| tp.to_string());
    }
    spans::process_span(msg.subject.as_str(), consumer, &event_id, &ticket_id, &cx)
}

/// Counts a handled event and records how far behind the stream the consumer is.
pub(super) fn record_handled(consumer: &str, msg: &Message, outcome: &'static str) {
    let m = metrics::instruments();
    let service = metrics::service(consumer);
    m.consumed.add(
        1,
        &[
            service.clone(),
            KeyValue::new("messaging.destination.name", msg.subject.to_string()),
            KeyValue::new("outcome", outcome),
        ],
    );
    if let Ok(info) = msg.info() {
        m.consumer_lag
            .record(info.pending, std::slice::from_ref(&service));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let delay = (now - info.published.unix_timestamp_nanos()).max(0) as f64 / 1e9;
        m.consumer_delay.record(delay, &[service]);
    }
}
