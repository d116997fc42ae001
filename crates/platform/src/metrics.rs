//! What an operator alerts on, as OpenTelemetry instruments: RPC counts and latencies, outbox
//! backlog and age, consumer lag, retries and dead letters, and the tracker's open, due-soon
//! and overdue tickets. They are exported over OTLP when an endpoint is configured and always
//! served as Prometheus text on the service's admin port (`GET /metrics`, see [`admin`]).
//!
//! Names follow OpenTelemetry's conventions (`rpc.server.call.duration` in seconds) and
//! gridloop's own namespace for the rest; on the Prometheus page dots become underscores and
//! units and `_total` are appended (`gridloop_outbox_backlog`, `rpc_server_call_duration_seconds`).
//! Instruments are read from the global meter provider the first time they are used, so
//! [`crate::telemetry::install`] runs before anything records; without it they are no-ops.

pub mod admin;
pub(crate) mod prometheus;

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::metrics::{Counter, Gauge, Histogram};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use opentelemetry::KeyValue;
pub use prometheus::render;

/// Seconds, for latencies from a millisecond to a minute.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Every instrument of a gridloop process.
pub struct Instruments {
    /// `rpc.server.call.duration` (s), by `rpc.service`, `rpc.method`, `rpc.grpc.status_code`.
    pub rpc_duration: Histogram<f64>,
    /// Events the relay got acknowledged by the stream, by `gridloop.service`.
    pub outbox_published: Counter<u64>,
    /// Committed events not yet acknowledged by the stream.
    pub outbox_backlog: Gauge<u64>,
    /// Age (s) of the oldest committed event not yet acknowledged; 0 when there is none.
    pub outbox_age: Gauge<f64>,
    /// Events a consumer handled, by `gridloop.service`, `messaging.destination.name` and
    /// `outcome` (`applied`, `duplicate`, `dead_letter`).
    pub consumed: Counter<u64>,
    /// Events on the stream after the one a consumer just read (its lag, in events).
    pub consumer_lag: Gauge<u64>,
    /// Seconds from an event's publication to its handling being committed.
    pub consumer_delay: Histogram<f64>,
    /// Failed attempts at an event that was then retried in place (JetStream's redeliveries
    /// are replaced by in-place retries, so order holds).
    pub consumer_retries: Counter<u64>,
    /// Times a consumer gave up its pass and re-read the stream from its stored position.
    pub consumer_rereads: Counter<u64>,
    /// Events dead-lettered so far (all time, from the table).
    pub dead_letters: Gauge<u64>,
    /// The tracker's tickets by `state`: `open`, `due_soon`, `overdue`.
    pub tickets: Gauge<u64>,
}

/// The process's instruments.
pub fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let m = opentelemetry::global::meter("gridloop");
        Instruments {
            rpc_duration: m
                .f64_histogram("rpc.server.call.duration")
                .with_unit("s")
                .with_description("Duration of gRPC calls served")
                .with_boundaries(SECONDS.to_vec())
                .build(),
            outbox_published: m
                .u64_counter("gridloop.outbox.published")
                .with_unit("{event}")
                .with_description("Events acknowledged by the stream")
                .build(),
            outbox_backlog: m
                .u64_gauge("gridloop.outbox.backlog")
                .with_unit("{event}")
                .with_description("Committed events not yet acknowledged by the stream")
                .build(),
            outbox_age: m
                .f64_gauge("gridloop.outbox.oldest_age")
                .with_unit("s")
                .with_description("Age of the oldest event waiting in the outbox")
                .build(),
            consumed: m
                .u64_counter("gridloop.consumer.events")
                .with_unit("{event}")
                .with_description("Events handled by the service's consumer")
                .build(),
            consumer_lag: m
                .u64_gauge("gridloop.consumer.lag")
                .with_unit("{event}")
                .with_description("Events on the stream not yet read by the consumer")
                .build(),
            consumer_delay: m
                .f64_histogram("gridloop.consumer.delay")
                .with_unit("s")
                .with_description("Time from an event's publication to its handling")
                .with_boundaries(SECONDS.to_vec())
                .build(),
            consumer_retries: m
                .u64_counter("gridloop.consumer.retries")
                .with_unit("{attempt}")
                .with_description("Failed attempts at an event, retried in place")
                .build(),
            consumer_rereads: m
                .u64_counter("gridloop.consumer.rereads")
                .with_unit("{pass}")
                .with_description("Passes over the stream that ended in a re-read")
                .build(),
            dead_letters: m
                .u64_gauge("gridloop.consumer.dead_letters")
                .with_unit("{event}")
                .with_description("Events that could not be applied and were set aside")
                .build(),
            tickets: m
                .u64_gauge("gridloop.tickets")
                .with_unit("{ticket}")
                .with_description("Tickets open, due soon and overdue, by the tracker")
                .build(),
        }
    })
}

/// The attribute naming the service an instrument's reading belongs to (several services share
/// one process in tests; in production the resource's `service.name` says it as well).
pub fn service(name: &str) -> KeyValue {
    KeyValue::new("gridloop.service", name.to_owned())
}

/// How often table-derived gauges (outbox backlog, dead letters, tickets) are read.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Reads the outbox backlog, its oldest row's age and the dead letters of `service`'s schema
/// every [`SAMPLE_EVERY`] until `shutdown`. Both reads use the outbox's partial index on
/// unsent rows and the small dead-letter table, so they stay cheap with any history.
pub async fn sample_outbox(pool: PgPool, service: String, shutdown: CancellationToken) {
    let attrs = [self::service(&service)];
    let m = instruments();
    loop {
        let row: Result<(i64, f64, i64), _> = sqlx::query_as(
            "SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL), \
                    COALESCE((SELECT extract(epoch FROM now() - min(created_at))::float8 \
                              FROM outbox WHERE sent_at IS NULL), 0), \
                    (SELECT count(*) FROM dead_letters)",
        )
        .fetch_one(&pool)
        .await;
        match row {
            Ok((backlog, age, dead)) => {
                m.outbox_backlog.record(backlog.max(0) as u64, &attrs);
                m.outbox_age.record(age.max(0.0), &attrs);
                m.dead_letters.record(dead.max(0) as u64, &attrs);
            }
            Err(e) => tracing::debug!(error = %e, "outbox gauges not read"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SAMPLE_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
