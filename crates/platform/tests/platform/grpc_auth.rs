//! A service skeleton on port 0: health and reflection answer; the auth interceptor refuses
//! missing, expired, wrongly signed and wrong-role tokens.

use std::net::SocketAddr;

use gridloop_platform::auth::{Authenticator, Role};
use gridloop_platform::grpc;
use gridloop_platform::testing::TEST_JWT_SECRET;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

const SERVICE: &str = "gridloop.v1.IntakeService";

/// Starts a service skeleton on port 0 the way every service does.
async fn start_skeleton(stop: CancellationToken) -> Channel {
    let listener = grpc::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(grpc::serve(
        listener,
        Routes::default(),
        &[SERVICE],
        1 << 20,
        stop,
    ));
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A health service behind the auth interceptor, admitting supervisors only: it stands in
/// for any protected service.
async fn start_guarded(stop: CancellationToken) -> SocketAddr {
    let listener = grpc::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let auth = Authenticator::new(Some(TEST_JWT_SECRET));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(InterceptedService::new(
                health,
                auth.requiring(&[Role::Supervisor]),
            ))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop.cancelled_owned()),
    );
    addr
}

#[tokio::test]
async fn skeleton_answers_health_and_reflection() {
    let stop = CancellationToken::new();
    let ch = start_skeleton(stop.clone()).await;

    let mut health = HealthClient::new(ch.clone());
    for name in ["", SERVICE] {
        let resp = health
            .check(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resp.status(), ServingStatus::Serving, "service {name:?}");
    }

    let mut refl = ServerReflectionClient::new(ch);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = refl
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(msg)) = resp.next().await else {
        panic!("no reflection answer");
    };
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "grpc.health.v1.Health",
        "gridloop.v1.IntakeService",
        "gridloop.v1.RoutingService",
        "gridloop.v1.ClosureService",
        "gridloop.v1.TrackerService",
        "gridloop.v1.ReportService",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    stop.cancel();
}

fn token(secret: &str, role: Role, exp_offset: i64) -> String {
    gridloop_platform::testing::token_signed(secret, role, "someone", &[], exp_offset)
}

async fn check_with(addr: SocketAddr, bearer: Option<String>) -> Result<(), tonic::Status> {
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(ch);
    let mut req = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(t) = bearer {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    client.check(req).await.map(|_| ())
}

#[tokio::test]
async fn auth_refuses_missing_expired_forged_and_wrong_role_tokens() {
    let stop = CancellationToken::new();
    let addr = start_guarded(stop.clone()).await;

    let missing = check_with(addr, None).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert!(missing.message().contains("missing"));

    let expired = check_with(addr, Some(token(TEST_JWT_SECRET, Role::Supervisor, -10)))
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::Unauthenticated);
    assert!(expired.message().contains("expired"));

    let forged = check_with(addr, Some(token("not-the-secret", Role::Supervisor, 600)))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);
    assert!(forged.message().contains("signature"));

    let wrong_role = check_with(addr, Some(token(TEST_JWT_SECRET, Role::Citizen, 600)))
        .await
        .unwrap_err();
    assert_eq!(wrong_role.code(), Code::PermissionDenied);
    assert!(wrong_role.message().contains("citizen"));

    check_with(addr, Some(token(TEST_JWT_SECRET, Role::Supervisor, 600)))
        .await
        .expect("a valid supervisor token is admitted");
    stop.cancel();
}
