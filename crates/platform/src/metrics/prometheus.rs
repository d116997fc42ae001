//! The Prometheus text exposition of the process's OpenTelemetry metrics, read on demand by a
//! manual reader.
//!
//! Written here rather than taken from `opentelemetry-prometheus`: that exporter is
//! discontinued and pulls in the unmaintained `protobuf` crate, and the text format of
//! counters, gauges and explicit-bucket histograms is a few dozen lines.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

/// The reader behind the admin port's `/metrics`, shared with the meter provider.
#[derive(Clone, Debug)]
pub(crate) struct PageReader(Arc<ManualReader>);

static PAGE: OnceLock<PageReader> = OnceLock::new();

impl PageReader {
    /// The process's page reader, created once; the meter provider registers a clone.
    pub(crate) fn global() -> PageReader {
        PAGE.get_or_init(|| PageReader(Arc::new(ManualReader::builder().build())))
            .clone()
    }
}

impl MetricReader for PageReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// The current readings as Prometheus text; empty when no meter provider is installed.
pub fn render() -> String {
    let Some(reader) = PAGE.get() else {
        return String::new();
    };
    let mut rm = ResourceMetrics::default();
    if let Err(e) = reader.collect(&mut rm) {
        tracing::debug!(error = %e, "metrics not collected");
        return String::new();
    }
    let mut out = String::new();
    if let Some(name) = rm
        .resource()
        .get(&opentelemetry::Key::from_static_str("service.name"))
    {
        let _ = writeln!(out, "# TYPE target_info gauge");
        let _ = writeln!(
            out,
            "target_info{{service_name=\"{}\"}} 1",
            escape(&name.to_string())
        );
    }
    for scope in rm.scope_metrics() {
        for metric in scope.metrics() {
            match metric.data() {
                AggregatedMetrics::F64(d) => write_metric(&mut out, metric, d, |v| *v),
                AggregatedMetrics::U64(d) => write_metric(&mut out, metric, d, |v| *v as f64),
                AggregatedMetrics::I64(d) => write_metric(&mut out, metric, d, |v| *v as f64),
            }
        }
    }
    out
}

fn write_metric<T: Copy>(
    out: &mut String,
    metric: &Metric,
    data: &MetricData<T>,
    f: impl Fn(&T) -> f64,
) {
    let base = name_of(metric.name(), metric.unit());
    let help = metric
        .description()
        .replace('\\', "\\\\")
        .replace('\n', "\\n");
    match data {
        MetricData::Gauge(g) => {
            header(out, &base, &help, "gauge");
            for p in g.data_points() {
                sample(out, &base, &labels(p.attributes(), None), f(&p.value()));
            }
        }
        MetricData::Sum(s) => {
            let (name, kind) = if s.is_monotonic() {
                (format!("{base}_total"), "counter")
            } else {
                (base.clone(), "gauge")
            };
            header(out, &name, &help, kind);
            for p in s.data_points() {
                sample(out, &name, &labels(p.attributes(), None), f(&p.value()));
            }
        }
        MetricData::Histogram(h) => {
            header(out, &base, &help, "histogram");
            for p in h.data_points() {
                let mut cumulative = 0u64;
                let counts: Vec<u64> = p.bucket_counts().collect();
                for (i, bound) in p.bounds().enumerate() {
                    cumulative += counts.get(i).copied().unwrap_or(0);
                    let le = labels(p.attributes(), Some(&bound.to_string()));
                    sample(out, &format!("{base}_bucket"), &le, cumulative as f64);
                }
                let inf = labels(p.attributes(), Some("+Inf"));
                sample(out, &format!("{base}_bucket"), &inf, p.count() as f64);
                let plain = labels(p.attributes(), None);
                sample(out, &format!("{base}_sum"), &plain, f(&p.sum()));
                sample(out, &format!("{base}_count"), &plain, p.count() as f64);
            }
        }
        // Not used by gridloop's instruments.
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: f64) {
    let _ = writeln!(out, "{name}{labels} {value}");
}

/// `rpc.server.call.duration` with unit `s` → `rpc_server_call_duration_seconds`; units in
/// braces (`{event}`) are annotations and add nothing.
fn name_of(name: &str, unit: &str) -> String {
    let mut n = sanitize(name);
    let suffix = match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "1" => "ratio",
        _ => "",
    };
    if !suffix.is_empty() && !n.ends_with(suffix) {
        n.push('_');
        n.push_str(suffix);
    }
    n
}

fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn labels<'a>(attrs: impl Iterator<Item = &'a KeyValue>, le: Option<&str>) -> String {
    let mut parts: Vec<String> = attrs
        .map(|kv| {
            format!(
                "{}=\"{}\"",
                sanitize(kv.key.as_str()),
                escape(&value_text(&kv.value))
            )
        })
        .collect();
    parts.sort();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn value_text(v: &Value) -> String {
    v.to_string()
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_follow_the_text_format() {
        assert_eq!(
            name_of("rpc.server.call.duration", "s"),
            "rpc_server_call_duration_seconds"
        );
        assert_eq!(
            name_of("gridloop.outbox.backlog", "{event}"),
            "gridloop_outbox_backlog"
        );
        let kv = [
            KeyValue::new("rpc.method", "GetTicket"),
            KeyValue::new("note", "a \"quoted\"\nline"),
        ];
        assert_eq!(
            labels(kv.iter(), Some("0.5")),
            r#"{note="a \"quoted\"\nline",rpc_method="GetTicket",le="0.5"}"#
        );
        assert_eq!(labels([].iter(), None), "");
    }
}
