//! What every gridloop service stands on, behind typed APIs:
//!
//! - [`config`]: settings as clap flags and `GRIDLOOP_*` variables, defaults for the local stack, secrets wrapped;
//! - [`clock`]: "now" for every service, injectable in tests;
//! - [`db`]: a schema, a role and migrations per service, and the service's pool;
//! - [`nats`]: the JetStream connection and the `TICKETS` stream;
//! - [`outbox`]: events written in the business transaction and relayed to JetStream;
//! - [`inbox`]: a durable consumer that applies each event exactly once per service, handing
//!   its handler an [`envelope::Envelope`] whose ids are already parsed;
//! - [`leader`]: one consuming replica per service at a time, so a ticket's events apply in order;
//! - [`auth`]: bearer tokens and the typed [`auth::Caller`];
//! - [`telemetry`]: logs, traces, and trace context across gRPC and NATS;
//! - [`metrics`]: RPC, outbox, consumer and ticket instruments, and the admin port's Prometheus page;
//! - [`grpc`]: the server with health, reflection and graceful shutdown;
//! - [`error`]: the one mapping from errors to `tonic::Status`;
//! - [`http_error`]: the one mapping from the same errors to HTTP statuses;
//! - [`stored`]: the names proto enums are stored by;
//! - [`service`]: the [`service::Host`] that starts, serves and drains a service;
//! - [`ops`]: `migrate`, `replay --since`, `dead-letters`, `healthcheck` subcommands of every service binary.
//!
//! Services handle `TicketEvent`s and their own tables; subjects, bytes, acks and retries stay
//! in here.

pub mod auth;
pub mod clock;
pub mod config;
pub mod convert;
pub mod db;
pub mod envelope;
pub mod error;
pub mod grpc;
pub mod http_error;
pub mod inbox;
pub mod leader;
pub mod metrics;
pub mod nats;
pub mod ops;
pub mod outbox;
pub mod pii;
pub mod service;
pub mod stored;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod verify;

pub use config::Config;
pub use error::{ApiError, BadField, Error};
