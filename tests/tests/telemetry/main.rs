//! The traces and metrics of one whole loop, as an operator's backends receive them: every
//! span and metric exported over OTLP to a collector in the test ([`collector`]), checked for
//! kinds, attributes, links and counts ([`journey`]); and the admin port's Prometheus page:
//! calls by method and status code, events published by each outbox and handled by each
//! consumer. Its own test binary, because it installs the process-wide telemetry.

mod collector;
mod journey;

use gridloop_platform::config::LogFormat;
use gridloop_platform::{metrics, telemetry};
use gridloop_proto::v1::*;
use gridloop_system_tests::county::*;
use gridloop_system_tests::{System, tokens};

/// The value of the first sample of `name` whose labels include every one of `labels`.
fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

// Several threads: the exporters run beside the services.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whole_loop_is_traced_and_counted() {
    let (collector, endpoint) = collector::Collector::start().await;
    let guard = telemetry::install(telemetry::Options {
        service: "system".into(),
        format: LogFormat::Plain,
        otlp_endpoint: Some(endpoint),
        metrics_interval: std::time::Duration::from_secs(60),
    })
    .expect("telemetry installs");
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let sub = sys
        .submit_hotline("GD-OBS-1", "13822224444", G11, "neighbor_dispute")
        .await;
    let t = sub.ticket_id.as_str();
    sys.expect_dispatch(t, 1, G11, &c.a_g11).await;
    sys.accept(&c.a_g11, t).await;
    sys.settle().await;
    sys.dispose(&c.a_g11, t).await;
    sys.settle().await;
    let cb = sys.callback(t, Rating::Satisfied).await;
    assert_eq!(cb.state(), LifecycleState::Closed);
    // A call without a token: refused, and counted with its code.
    let refused = sys
        .intake
        .clone()
        .get_ticket(GetTicketRequest {
            ticket_id: t.to_string(),
        })
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    // A method the server does not have: the server's fault by the conventions.
    let mut raw = tonic::client::Grpc::new(sys.intake_channel.clone());
    raw.ready().await.expect("intake is ready");
    let missing = raw
        .unary(
            tokens::req((), &tokens::admin()),
            http::uri::PathAndQuery::from_static(journey::MISSING),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await
        .expect_err("no such method");
    assert_eq!(missing.code(), tonic::Code::Unimplemented);
    sys.settle().await;

    // Every span has ended once the system is quiet; flushing exports them and the metrics.
    guard.force_flush();
    journey::check_spans(&collector.spans(), t);
    journey::check_metrics(&collector.metrics());

    let page = metrics::render();
    let calls = "rpc_server_call_duration_seconds_count";
    for (method, code) in [
        ("SubmitHotlineTicket", "0"),
        ("AcceptTask", "0"),
        ("SubmitDisposal", "0"),
        ("RecordCallback", "0"),
        ("GetTicket", "16"),
    ] {
        let n = sample(
            &page,
            calls,
            &[
                &format!("rpc_method=\"{method}\""),
                &format!("rpc_grpc_status_code=\"{code}\""),
                "rpc_system=\"grpc\"",
            ],
        );
        assert!(
            n.is_some_and(|n| n >= 1.0),
            "{method} code {code} counted:\n{page}"
        );
    }
    assert!(
        sample(
            &page,
            "rpc_server_call_duration_seconds_bucket",
            &["le=\"+Inf\""]
        )
        .is_some(),
        "latency histogram present:\n{page}"
    );
    // discovered (intake), dispatched/accepted/disposed (routing), feedback and closed (closure).
    for (service, at_least) in [("intake", 1.0), ("routing", 3.0), ("closure", 2.0)] {
        let n = sample(
            &page,
            "gridloop_outbox_published_total",
            &[&format!("gridloop_service=\"{service}\"")],
        );
        assert!(
            n.is_some_and(|n| n >= at_least),
            "{service} published at least {at_least}:\n{page}"
        );
    }
    // The tracker consumes every event of the loop.
    let tracker_applied: f64 = page
        .lines()
        .filter(|l| {
            l.starts_with("gridloop_consumer_events_total{")
                && l.contains("gridloop_service=\"tracker\"")
                && l.contains("outcome=\"applied\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(tracker_applied >= 6.0, "tracker applied the loop:\n{page}");
    assert!(
        sample(
            &page,
            "gridloop_consumer_lag",
            &["gridloop_service=\"tracker\""]
        )
        .is_some(),
        "consumer lag recorded:\n{page}"
    );
}
