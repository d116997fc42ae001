//! Platform tests against the real local PostgreSQL and NATS JetStream (`make stack-up`).

mod grpc_auth;
mod outbox_inbox;
mod support;
