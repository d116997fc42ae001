//! Logs, traces and metrics: one set-up function per process ([`init`]), the W3C trace-context
//! plumbing that carries a call's trace through events ([`propagate`]), the spans of calls
//! ([`rpc`]) and of events ([`spans`]), and the anchor that ties a ticket's traces together.
//!
//! Traces and metrics go to an OTLP collector only when one is configured
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`); spans get real trace ids either way, so context propagates
//! without a collector, and metrics are always on the admin port's Prometheus page.

pub mod propagate;
pub mod rpc;
pub mod spans;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter};

use crate::Error;
use crate::config::LogFormat;
use crate::metrics::prometheus::PageReader;

pub use propagate::{current_context_headers, set_parent_from, set_parent_from_http};
pub use spans::mark_ticket;

/// How one process reports; a service builds it from its configuration
/// ([`crate::Config::telemetry`], where `OTEL_EXPORTER_OTLP_ENDPOINT` is read).
#[derive(Clone, Debug)]
pub struct Options {
    /// `gridloop-<service>` becomes the resource's `service.name`.
    pub service: String,
    pub format: LogFormat,
    /// OTLP/gRPC collector (`http://host:4317`); `None` exports nothing.
    pub otlp_endpoint: Option<String>,
    /// How often metrics are pushed to the collector.
    pub metrics_interval: Duration,
}

/// Flushes and shuts the tracer and meter down when dropped (or on [`TelemetryGuard::shutdown`]).
pub struct TelemetryGuard {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl TelemetryGuard {
    pub fn shutdown(mut self) {
        self.flush();
    }

    /// Pushes what is buffered to the collector now.
    pub fn force_flush(&self) {
        if let Some(t) = &self.tracer
            && let Err(e) = t.force_flush()
        {
            tracing::warn!(error = %e, "spans not flushed");
        }
        if let Some(m) = &self.meter
            && let Err(e) = m.force_flush()
        {
            tracing::warn!(error = %e, "metrics not flushed");
        }
    }

    fn flush(&mut self) {
        if let Some(p) = self.tracer.take()
            && let Err(e) = p.shutdown()
        {
            tracing::warn!(error = %e, "tracer shutdown failed");
        }
        if let Some(p) = self.meter.take()
            && let Err(e) = p.shutdown()
        {
            tracing::warn!(error = %e, "meter shutdown failed");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Installs the global subscriber (`RUST_LOG` filter, default `info`; plain or JSON lines on
/// stderr; spans to OpenTelemetry), the tracer and meter providers, and the trace-context
/// propagator. Must run inside a Tokio runtime when a collector is configured.
pub fn install(opts: Options) -> Result<TelemetryGuard, Error> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(format!("gridloop-{}", opts.service))
        .build();

    let mut tracer = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_id_generator(spans::TicketIds::default());
    let mut meter = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(PageReader::global());
    if let Some(endpoint) = &opts.otlp_endpoint {
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| Error::Telemetry(e.to_string()))?;
        tracer = tracer.with_batch_exporter(spans);
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| Error::Telemetry(e.to_string()))?;
        let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(metrics)
            .with_interval(opts.metrics_interval)
            .build();
        meter = meter.with_reader(reader);
    }
    let tracer = tracer.build();
    let meter = meter.build();
    let otel_tracer = tracer.tracer(format!("gridloop-{}", opts.service));
    opentelemetry::global::set_tracer_provider(tracer.clone());
    opentelemetry::global::set_meter_provider(meter.clone());

    // PostgreSQL's notices ("schema already exists, skipping" on every start) are not news.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let fmt = match opts.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Plain => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // The exporter's own work (its gRPC client, the SDK's internal logs) must not become
    // spans it then exports, without end; its warnings still reach the log above.
    let own = filter::filter_fn(|meta| {
        let t = meta.target();
        !(t.starts_with("opentelemetry")
            || t.starts_with("h2")
            || t.starts_with("hyper")
            || t.starts_with("tonic")
            || t.starts_with("tower"))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(otel_tracer)
                .with_filter(own),
        )
        .try_init()
        .map_err(|e| Error::Telemetry(e.to_string()))?;

    if let Some(endpoint) = opts.otlp_endpoint {
        tokio::spawn(check_collector(endpoint));
    }
    Ok(TelemetryGuard {
        tracer: Some(tracer),
        meter: Some(meter),
    })
}

/// Says in the log, once at start-up, when the configured collector does not answer: the
/// exporters themselves only retry quietly, so a mistyped endpoint would lose every span
/// without a word.
async fn check_collector(endpoint: String) {
    let target = endpoint
        .split_once("://")
        .map_or(endpoint.as_str(), |(_, rest)| rest)
        .trim_end_matches('/')
        .to_owned();
    let reached = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(target.as_str()),
    )
    .await;
    match reached {
        Ok(Ok(_)) => tracing::info!(%endpoint, "exporting traces and metrics over OTLP"),
        Ok(Err(e)) => {
            tracing::error!(%endpoint, error = %e, "OTLP collector unreachable: traces and metrics are not exported until it answers")
        }
        Err(_) => {
            tracing::error!(%endpoint, "OTLP collector did not answer within 3 s: traces and metrics may be lost")
        }
    }
}
