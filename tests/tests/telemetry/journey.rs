//! What a whole loop must look like in a tracing backend: one anchor per ticket that every
//! span of the ticket links to; each event created once (PRODUCER), sent once (PRODUCER),
//! processed once by each service that consumes it (CONSUMER, a child of its creation); each
//! step a SERVER span with the RPC conventions' attributes, in the same trace as the events it
//! caused; refusals visible by code; and the metrics an operator alerts on.

use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data};
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};

use super::collector::attr;

const TICKET: &str = "gridloop.ticket.id";

/// A method intake does not serve.
pub const MISSING: &str = "/gridloop.v1.IntakeService/NoSuchMethod";

/// The events of one loop, in order, with the services that consume each.
const LOOP: [(&str, &[&str]); 6] = [
    ("discovered", &["intake", "reports", "routing", "tracker"]),
    ("dispatched", &["closure", "intake", "reports", "tracker"]),
    ("accepted", &["closure", "intake", "reports", "tracker"]),
    ("disposed", &["closure", "intake", "reports", "tracker"]),
    (
        "feedback_recorded",
        &["intake", "reports", "routing", "tracker"],
    ),
    ("closed", &["intake", "reports", "routing", "tracker"]),
];

/// The calls of the loop and the event each one creates.
const STEPS: [(&str, &str); 4] = [
    ("IntakeService/SubmitHotlineTicket", "discovered"),
    ("RoutingService/AcceptTask", "accepted"),
    ("RoutingService/SubmitDisposal", "disposed"),
    ("ClosureService/RecordCallback", "feedback_recorded"),
];

fn kind(s: &Span) -> SpanKind {
    SpanKind::try_from(s.kind).unwrap_or(SpanKind::Unspecified)
}

fn failed(s: &Span) -> bool {
    s.status
        .as_ref()
        .is_some_and(|st| st.code == StatusCode::Error as i32)
}

fn is(s: &Span, key: &str, want: &str) -> bool {
    attr(&s.attributes, key).as_deref() == Some(want)
}

fn links_to(s: &Span, trace_id: &[u8], span_id: &[u8]) -> bool {
    s.links
        .iter()
        .any(|l| l.trace_id == trace_id && l.span_id == span_id)
}

/// The anchor's ids as the platform derives them: trace id = the ticket's UUID, span id = its
/// last eight bytes.
fn anchor_ids(ticket: &str) -> (Vec<u8>, Vec<u8>) {
    let hex = ticket.replace('-', "");
    let bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    (bytes.clone(), bytes[8..].to_vec())
}

fn names(spans: &[&Span]) -> Vec<String> {
    spans.iter().map(|s| s.name.clone()).collect()
}

pub fn check_spans(spans: &[Span], ticket: &str) {
    let (anchor_trace, anchor_span) = anchor_ids(ticket);
    let of_ticket: Vec<&Span> = spans.iter().filter(|s| is(s, TICKET, ticket)).collect();
    assert!(!of_ticket.is_empty(), "no span carries {TICKET}");

    // One anchor, found by the ticket id as trace id, linked back to the ticket's creation.
    let anchors: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == anchor_trace)
        .collect();
    assert_eq!(anchors.len(), 1, "one anchor: {:?}", names(&anchors));
    let anchor = anchors[0];
    assert_eq!(anchor.span_id, anchor_span, "the anchor's span id");
    assert!(is(anchor, TICKET, ticket), "the anchor names its ticket");
    for s in of_ticket.iter().filter(|s| s.span_id != anchor_span) {
        assert!(
            links_to(s, &anchor_trace, &anchor_span),
            "span {} links to the ticket's anchor",
            s.name
        );
        assert!(!failed(s), "span {} of a good loop is not failed", s.name);
    }

    for (event, consumers) in LOOP {
        let creates: Vec<&Span> = of_ticket
            .iter()
            .copied()
            .filter(|s| s.name == format!("create {event}"))
            .collect();
        assert_eq!(creates.len(), 1, "`{event}` created once");
        let create = creates[0];
        assert_eq!(kind(create), SpanKind::Producer, "create {event}");
        assert!(is(create, "messaging.system", "nats"), "create {event}");
        assert!(
            is(create, "messaging.operation.type", "create"),
            "create {event}"
        );
        assert!(is(create, "gridloop.event.kind", event), "create {event}");
        let message = attr(&create.attributes, "messaging.message.id")
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| panic!("create {event} names its message"));

        let sends: Vec<&Span> = spans
            .iter()
            .filter(|s| {
                s.name.starts_with("send ") && links_to(s, &create.trace_id, &create.span_id)
            })
            .collect();
        assert_eq!(sends.len(), 1, "`{event}` sent once: {:?}", names(&sends));
        let send = sends[0];
        assert_eq!(kind(send), SpanKind::Producer, "{}", send.name);
        assert!(
            is(send, "messaging.operation.type", "send"),
            "{}",
            send.name
        );
        assert!(
            attr(&send.attributes, "messaging.destination.name").is_some_and(|d| !d.is_empty()),
            "{} names its stream",
            send.name
        );

        // Handled once by each consumer, as children of the event's creation.
        let processes: Vec<&Span> = spans
            .iter()
            .filter(|s| s.trace_id == create.trace_id && s.parent_span_id == create.span_id)
            .filter(|s| kind(s) == SpanKind::Consumer)
            .collect();
        let mut groups: Vec<String> = processes
            .iter()
            .map(|s| attr(&s.attributes, "messaging.consumer.group.name").unwrap_or_default())
            .collect();
        groups.sort();
        assert_eq!(
            groups, consumers,
            "`{event}` processed once by each consumer"
        );
        for p in processes {
            assert!(p.name.starts_with("process "), "{}", p.name);
            assert!(is(p, "messaging.operation.type", "process"), "{}", p.name);
            assert!(
                is(p, "messaging.message.id", &message),
                "{} reads {event}",
                p.name
            );
            assert!(is(p, TICKET, ticket), "{} names its ticket", p.name);
        }
    }

    // Each step is a SERVER span in the trace of the event it creates.
    for (method, event) in STEPS {
        let (service, rpc_method) = method.split_once('/').unwrap();
        let name = format!("gridloop.v1.{method}");
        let calls: Vec<&Span> = of_ticket
            .iter()
            .copied()
            .filter(|s| s.name == name && kind(s) == SpanKind::Server)
            .filter(|s| is(s, "rpc.grpc.status_code", "0"))
            .collect();
        assert_eq!(calls.len(), 1, "{name} answered OK once");
        let call = calls[0];
        assert_eq!(kind(call), SpanKind::Server, "{name}");
        assert!(is(call, "rpc.system", "grpc"), "{name}");
        assert!(
            is(call, "rpc.service", &format!("gridloop.v1.{service}")),
            "{name}"
        );
        assert!(is(call, "rpc.method", rpc_method), "{name}");
        assert!(attr(&call.attributes, "error.type").is_none(), "{name}");
        // The caller's CLIENT span, with the same conventions, is the call's parent.
        let client = client_of(spans, call);
        assert!(is(client, "rpc.system", "grpc"), "{name} client");
        assert!(is(client, "rpc.method", rpc_method), "{name} client");
        assert!(is(client, "rpc.grpc.status_code", "0"), "{name} client");
        let create = of_ticket
            .iter()
            .find(|s| s.name == format!("create {event}"))
            .unwrap();
        assert_eq!(
            create.trace_id, call.trace_id,
            "{name} and create {event}: one trace"
        );
    }
    // What a consumer creates while handling an event is part of that event's trace: routing
    // dispatches while processing `discovered`, closure closes while recording the callback.
    let trace_of = |event: &str| {
        of_ticket
            .iter()
            .find(|s| s.name == format!("create {event}"))
            .map(|s| s.trace_id.clone())
            .unwrap()
    };
    assert_eq!(trace_of("dispatched"), trace_of("discovered"));
    assert_eq!(trace_of("closed"), trace_of("feedback_recorded"));

    // A refused call is visible by its code, and a client's mistake is not the server's error.
    let refused: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "gridloop.v1.IntakeService/GetTicket")
        .filter(|s| kind(s) == SpanKind::Server && is(s, "rpc.grpc.status_code", "16"))
        .collect();
    assert_eq!(refused.len(), 1, "the unauthenticated GetTicket");
    assert!(is(refused[0], "error.type", "UNAUTHENTICATED"));
    assert!(!failed(refused[0]), "UNAUTHENTICATED is the caller's fault");
    let client = client_of(spans, refused[0]);
    assert!(
        is(client, "rpc.grpc.status_code", "16"),
        "the caller sees the code"
    );
    assert!(
        is(client, "error.type", "UNAUTHENTICATED"),
        "the caller names it"
    );
    assert!(failed(client), "the caller's call failed");

    // A fault of the server's is an error on its span too.
    let missing: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == MISSING.trim_start_matches('/') && kind(s) == SpanKind::Server)
        .collect();
    assert_eq!(missing.len(), 1, "the call of a method intake lacks");
    assert!(is(missing[0], "rpc.grpc.status_code", "12"));
    assert!(is(missing[0], "error.type", "UNIMPLEMENTED"));
    assert!(failed(missing[0]), "UNIMPLEMENTED is the server's error");
    assert!(failed(client_of(spans, missing[0])), "and the caller's");
}

/// The CLIENT span whose call `server` served: its parent, of the same name.
fn client_of<'a>(spans: &'a [Span], server: &Span) -> &'a Span {
    let client = spans
        .iter()
        .find(|s| s.trace_id == server.trace_id && s.span_id == server.parent_span_id)
        .unwrap_or_else(|| panic!("{}: the caller's span was exported", server.name));
    assert_eq!(kind(client), SpanKind::Client, "{}", server.name);
    assert_eq!(
        client.name, server.name,
        "client and server name the call alike"
    );
    client
}

/// The number of data points `m` carries, whatever its type.
fn points(m: &Metric) -> usize {
    match &m.data {
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

pub fn check_metrics(metrics: &[Metric]) {
    for name in [
        "rpc.server.call.duration",
        "gridloop.outbox.published",
        "gridloop.outbox.backlog",
        "gridloop.outbox.oldest_age",
        "gridloop.consumer.events",
        "gridloop.consumer.lag",
        "gridloop.consumer.delay",
        "gridloop.tickets",
    ] {
        assert!(
            metrics.iter().any(|m| m.name == name && points(m) > 0),
            "metric {name} exported with data; got {:?}",
            metrics.iter().map(|m| &m.name).collect::<Vec<_>>()
        );
    }
    let calls = metrics
        .iter()
        .filter(|m| m.name == "rpc.server.call.duration")
        .find_map(|m| match &m.data {
            Some(Data::Histogram(h)) => Some(h),
            _ => None,
        })
        .expect("the call duration is a histogram");
    assert_eq!(
        metrics
            .iter()
            .find(|m| m.name == "rpc.server.call.duration")
            .unwrap()
            .unit,
        "s"
    );
    let submits: u64 = calls
        .data_points
        .iter()
        .filter(|p| {
            attr(&p.attributes, "rpc.method").as_deref() == Some("SubmitHotlineTicket")
                && attr(&p.attributes, "rpc.grpc.status_code").as_deref() == Some("0")
        })
        .map(|p| p.count)
        .sum();
    assert_eq!(submits, 1, "one hotline ticket submitted");
}
