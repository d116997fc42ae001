use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt as _};

use super::*;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn w3c_format() {
    let sc = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    assert_eq!(traceparent_of(&sc).as_deref(), Some(PARENT));
    assert_eq!(traceparent_of(&SpanContext::empty_context()), None);
    assert_eq!(parse_traceparent(PARENT), Some(sc));
}

#[test]
fn malformed_traceparents_are_ignored() {
    for bad in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    ] {
        assert_eq!(parse_traceparent(bad), None, "{bad}");
    }
    // A later version may append fields.
    assert!(parse_traceparent(&format!("01{}-more", &PARENT[2..])).is_some());
    let env = |k: &str| (k == "TRACEPARENT").then(|| PARENT.to_string());
    assert!(parent_from(env).is_some());
    assert_eq!(parent_from(|_| None), None);
}

#[test]
fn nothing_without_a_trace() {
    let mut md = MetadataMap::new();
    inject(&mut md);
    assert!(md.get("traceparent").is_none());
}

#[test]
fn service_and_method_from_the_path() {
    assert_eq!(
        split("/gridloop.v1.IntakeService/GetTicket"),
        ("gridloop.v1.IntakeService", "GetTicket")
    );
    assert_eq!(split("/odd"), ("odd", ""));
    assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
}

/// A transport that records the request's headers and answers trailers-only with `code`.
#[derive(Clone)]
struct Answer {
    code: Code,
    seen: Arc<Mutex<Option<http::HeaderMap>>>,
}

impl Service<http::Request<Body>> for Answer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        *self.seen.lock().unwrap() = Some(req.headers().clone());
        let resp = http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", (self.code as i32).to_string())
            .body(Body::empty())
            .unwrap();
        std::future::ready(Ok(resp))
    }
}

/// Every field of every span, as recorded.
#[derive(Clone, Default)]
struct Fields(Arc<Mutex<BTreeMap<String, String>>>);

struct Visitor<'a>(&'a Fields);

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let mut m = self.0.0.lock().unwrap();
        m.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut m = self.0.0.lock().unwrap();
        m.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Fields {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
        attrs.record(&mut Visitor(self));
    }
    fn on_record(&self, _: &Id, values: &Record<'_>, _: LayerContext<'_, S>) {
        values.record(&mut Visitor(self));
    }
}

async fn call(svc: &mut Traced<Answer>) -> http::Response<Watched> {
    let req = http::Request::builder()
        .uri("http://127.0.0.1:50051/gridloop.v1.IntakeService/GetTicket")
        .body(Body::empty())
        .unwrap();
    svc.call(req).await.unwrap()
}

#[tokio::test]
async fn without_an_sdk_a_call_forwards_traceparent_and_is_a_client_span() {
    let fields = Fields::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(fields.clone()));
    let seen = Arc::new(Mutex::new(None));
    let transport = Answer {
        code: Code::NotFound,
        seen: seen.clone(),
    };
    let parent = parent_from(|k| (k == "TRACEPARENT").then(|| PARENT.to_string()));
    let mut svc = ClientSpans { parent }.layer(transport);
    drop(call(&mut svc).await);

    let headers = seen.lock().unwrap().take().unwrap();
    let sent = headers.get("traceparent").unwrap().to_str().unwrap();
    // No SDK, so no span of its own: the server's span becomes the TRACEPARENT span's child.
    assert_eq!(sent, PARENT);
    let f = fields.0.lock().unwrap().clone();
    let get = |k: &str| f.get(k).map(String::as_str);
    assert_eq!(
        get("otel.name"),
        Some("gridloop.v1.IntakeService/GetTicket")
    );
    assert_eq!(get("otel.kind"), Some("client"));
    assert_eq!(get("rpc.system"), Some("grpc"));
    assert_eq!(get("rpc.service"), Some("gridloop.v1.IntakeService"));
    assert_eq!(get("rpc.method"), Some("GetTicket"));
    assert_eq!(get("rpc.grpc.status_code"), Some("5"));
    assert_eq!(get("error.type"), Some("NOT_FOUND"));
    assert_eq!(get("otel.status_code"), Some("ERROR"));
}

#[tokio::test]
async fn an_ok_call_has_no_error_and_no_parent_sends_nothing() {
    let fields = Fields::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(fields.clone()));
    let seen = Arc::new(Mutex::new(None));
    let transport = Answer {
        code: Code::Ok,
        seen: seen.clone(),
    };
    let mut svc = ClientSpans::default().layer(transport);
    drop(call(&mut svc).await);
    let headers = seen.lock().unwrap().take().unwrap();
    assert!(headers.get("traceparent").is_none());
    let f = fields.0.lock().unwrap().clone();
    assert_eq!(f.get("rpc.grpc.status_code").map(String::as_str), Some("0"));
    assert!(!f.contains_key("error.type") && !f.contains_key("otel.status_code"));
}
