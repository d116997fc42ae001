//! gridloop's contracts: the gRPC services and the ticket events, generated at build time from
//! `proto/gridloop/v1/*.proto` (package `gridloop.v1`).
//!
//! Every service crate and `gridloopctl` speak to each other only through these types:
//! - [`v1::TicketEvent`] is the envelope of every event on the `TICKETS` stream. Its body's
//!   [`kind`](v1::TicketEvent::kind) is the subject suffix (`tickets.<kind>`).
//! - `v1::<name>_service_client` and `v1::<name>_service_server` hold the tonic clients and
//!   server traits of intake, routing, closure, tracker and reports.
//! - [`FILE_DESCRIPTOR_SET`] is handed to gRPC reflection.
//!
//! The crate holds no logic beyond small helpers on the wire types ([`ts`], [`from_ts`]);
//! mapping to domain types happens at each service's edge.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

/// Generated messages, enums, clients and servers of package `gridloop.v1`.
// The doc comments come from the .proto files, written for protobuf readers, not rustdoc.
#[allow(
    clippy::doc_lazy_continuation,
    clippy::doc_overindented_list_items,
    clippy::large_enum_variant
)]
pub mod v1 {
    tonic::include_proto!("gridloop.v1");
}

/// Encoded `FileDescriptorSet` of all gridloop protos and their imports, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("gridloop_descriptor");

/// Every event kind, in the order of the envelope's body fields. The subject of an event is
/// `tickets.<kind>`.
pub const EVENT_KINDS: &[&str] = &[
    "discovered",
    "merged",
    "dispatched",
    "accepted",
    "returned",
    "transferred",
    "unroutable",
    "disposed",
    "feedback_recorded",
    "closed",
    "reopened",
    "overdue",
    "escalated",
    "violation",
];

impl v1::ticket_event::Body {
    /// The event kind of this body: the subject suffix, one of [`EVENT_KINDS`].
    pub fn kind(&self) -> &'static str {
        use v1::ticket_event::Body;
        match self {
            Body::Discovered(_) => "discovered",
            Body::Merged(_) => "merged",
            Body::Dispatched(_) => "dispatched",
            Body::Accepted(_) => "accepted",
            Body::Returned(_) => "returned",
            Body::Transferred(_) => "transferred",
            Body::Unroutable(_) => "unroutable",
            Body::Disposed(_) => "disposed",
            Body::FeedbackRecorded(_) => "feedback_recorded",
            Body::Closed(_) => "closed",
            Body::Reopened(_) => "reopened",
            Body::Overdue(_) => "overdue",
            Body::Escalated(_) => "escalated",
            Body::Violation(_) => "violation",
        }
    }
}

impl v1::TicketEvent {
    /// The event kind (subject suffix) of the body, or `None` when no body is set — such an
    /// event is malformed and should be refused.
    pub fn kind(&self) -> Option<&'static str> {
        self.body.as_ref().map(v1::ticket_event::Body::kind)
    }
}

/// A UTC time as a protobuf `Timestamp`.
pub fn ts(dt: DateTime<Utc>) -> Timestamp {
    // chrono represents a leap second with nanos of 1e9 and more; a Timestamp has none, so
    // it is folded into the last nanosecond of the minute.
    let nanos = dt.timestamp_subsec_nanos().min(999_999_999);
    Timestamp {
        seconds: dt.timestamp(),
        nanos: i32::try_from(nanos).unwrap_or(999_999_999),
    }
}

/// A protobuf `Timestamp` as a UTC time; `None` when it is out of range or its nanos are not
/// in `0..1_000_000_000`.
pub fn from_ts(t: &Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(t.nanos).ok().filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(t.seconds, nanos)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::TimeZone;
    use prost::Message;

    use super::*;
    use v1::ticket_event::Body;

    fn all_bodies() -> Vec<Body> {
        vec![
            Body::Discovered(Default::default()),
            Body::Merged(Default::default()),
            Body::Dispatched(Default::default()),
            Body::Accepted(Default::default()),
            Body::Returned(Default::default()),
            Body::Transferred(Default::default()),
            Body::Unroutable(Default::default()),
            Body::Disposed(Default::default()),
            Body::FeedbackRecorded(Default::default()),
            Body::Closed(Default::default()),
            Body::Reopened(Default::default()),
            Body::Overdue(Default::default()),
            Body::Escalated(Default::default()),
            Body::Violation(Default::default()),
        ]
    }

    #[test]
    fn every_body_has_a_distinct_listed_kind() {
        let kinds: Vec<&str> = all_bodies().iter().map(Body::kind).collect();
        let distinct: HashSet<&str> = kinds.iter().copied().collect();
        assert_eq!(distinct.len(), kinds.len(), "kinds repeat: {kinds:?}");
        assert_eq!(kinds, EVENT_KINDS);
    }

    #[test]
    fn kind_of_envelope_follows_body() {
        let mut event = v1::TicketEvent::default();
        assert_eq!(event.kind(), None);
        event.body = Some(Body::FeedbackRecorded(Default::default()));
        assert_eq!(event.kind(), Some("feedback_recorded"));
    }

    #[test]
    fn envelope_survives_encoding() {
        let event = v1::TicketEvent {
            event_id: "0190f5a8-7b1c-7000-8000-000000000001".into(),
            ticket_id: "0190f5a8-7b1c-7000-8000-000000000002".into(),
            occurred_at: Some(ts(Utc.with_ymd_and_hms(2026, 11, 20, 8, 30, 0).unwrap())),
            producer: "closure".into(),
            trace_context: [("traceparent".to_string(), "00-abc-def-01".to_string())].into(),
            body: Some(Body::Closed(v1::TicketClosed {
                basis: Some(v1::ticket_closed::Basis::Rating(
                    v1::Rating::BasicallySatisfied as i32,
                )),
                rework_count: 1,
                on_time: true,
                ..Default::default()
            })),
        };
        let decoded = v1::TicketEvent::decode(event.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, event);
        assert_eq!(decoded.kind(), Some("closed"));
    }

    #[test]
    fn timestamp_round_trip() {
        let dt = Utc
            .with_ymd_and_hms(2026, 10, 1, 9, 15, 30)
            .unwrap()
            .checked_add_signed(chrono::Duration::nanoseconds(123_456_789))
            .unwrap();
        let t = ts(dt);
        assert_eq!(t.nanos, 123_456_789);
        assert_eq!(from_ts(&t), Some(dt));

        let before_epoch = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(from_ts(&ts(before_epoch)), Some(before_epoch));
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        let negative_nanos = Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(from_ts(&negative_nanos), None);
        let too_many_nanos = Timestamp {
            seconds: 0,
            nanos: 1_000_000_000,
        };
        assert_eq!(from_ts(&too_many_nanos), None);
        let out_of_range = Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(from_ts(&out_of_range), None);
    }

    #[test]
    fn descriptor_set_names_every_service() {
        let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let services: HashSet<&str> = fds
            .file
            .iter()
            .filter(|f| f.package() == "gridloop.v1")
            .flat_map(|f| f.service.iter().map(|s| s.name()))
            .collect();
        for name in [
            "IntakeService",
            "RoutingService",
            "ClosureService",
            "TrackerService",
            "ReportService",
        ] {
            assert!(services.contains(name), "{name} missing from {services:?}");
        }
        assert!(
            fds.file
                .iter()
                .any(|f| f.name() == "google/protobuf/timestamp.proto"),
            "imports must be in the set for reflection"
        );
    }
}

/// Which requests name a ticket, generated from the descriptors: servers use it to put the
/// ticket on the span of every call about one.
pub mod ticket_requests {
    use super::v1;
    include!(concat!(env!("OUT_DIR"), "/ticket_requests.rs"));
}
