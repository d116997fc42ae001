//! Errors: [`Error`] for the platform's own plumbing, [`ApiError`] for what a gRPC handler
//! answers. The one mapping to `tonic::Status` lives here, so every service speaks the same
//! codes: bad input names its field, internal failures are logged and never leak their text.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Failures of the shared plumbing (start-up, database, NATS).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("nats: {0}")]
    Nats(String),
    #[error("event: {0}")]
    Event(String),
    #[error("grpc transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// An operations subcommand (`healthcheck`, …) found the service not as expected.
    #[error("{0}")]
    Ops(String),
}

impl Error {
    pub(crate) fn nats(e: impl std::fmt::Display) -> Self {
        Self::Nats(e.to_string())
    }
}

/// A field that failed validation and why, e.g. `("caller_phone", "not a mainland mobile or landline number")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadField {
    pub field: String,
    pub description: String,
}

/// What a handler returns when it refuses or fails a call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<BadField>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A step out of order; `current_state` is what the caller must see to understand why.
    #[error("{message} (current state: {current_state})")]
    FailedPrecondition {
        message: String,
        current_state: String,
    },
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// A dependency is down; the caller may retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Logged with its context; the caller only learns that something failed.
    #[error("internal: {0}")]
    Internal(String),
}

fn describe(fields: &[BadField]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// One bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![BadField {
            field: field.into(),
            description: description.into(),
        }])
    }

    pub fn precondition(message: impl Into<String>, current_state: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            message: message.into(),
            current_state: current_state.into(),
        }
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        Self::Internal(context.to_string())
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        let message = err.to_string();
        match err {
            ApiError::InvalidArgument(fields) => {
                let violations: Vec<FieldViolation> = fields
                    .into_iter()
                    .map(|f| FieldViolation::new(f.field, f.description))
                    .collect();
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(violations),
                )
            }
            ApiError::NotFound(_) => Status::not_found(message),
            ApiError::AlreadyExists(_) => Status::already_exists(message),
            ApiError::FailedPrecondition {
                message: m,
                current_state,
            } => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                ErrorDetails::with_precondition_failure_violation("STATE", current_state, m),
            ),
            ApiError::PermissionDenied(_) => Status::permission_denied(message),
            ApiError::Unauthenticated(_) => Status::unauthenticated(message),
            ApiError::Unavailable(_) => {
                tracing::warn!(error = %message, "dependency unavailable");
                Status::unavailable("a dependency is unavailable; retry later")
            }
            ApiError::Internal(_) => {
                tracing::error!(error = %message, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            // The two constraint violations a caller can cause; everything else is ours.
            match db.code().as_deref() {
                Some("23505") => {
                    return ApiError::AlreadyExists(db.constraint().unwrap_or("record").into());
                }
                Some("23503") => {
                    return ApiError::NotFound(
                        db.constraint().unwrap_or("referenced record").into(),
                    );
                }
                // The server going away or restarting (connection exceptions, shutdown,
                // recovery, too many connections) and lost races the caller may simply
                // repeat (serialization failure, deadlock): retryable, not our bug.
                Some(code)
                    if code.starts_with("08")
                        || code.starts_with("57P")
                        || matches!(code, "53300" | "40001" | "40P01") =>
                {
                    return ApiError::Unavailable(format!("database: {err}"));
                }
                _ => {}
            }
        }
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => ApiError::Unavailable(format!("database: {err}")),
            other => ApiError::Internal(format!("database: {other}")),
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Db(e) => e.into(),
            Error::Nats(m) => ApiError::Unavailable(format!("nats: {m}")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field() {
        let status: Status = ApiError::invalid("caller_phone", "not a phone number").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("caller_phone"));
        let bad = status
            .get_details_bad_request()
            .expect("bad request details");
        assert_eq!(bad.field_violations[0].field, "caller_phone");
    }

    #[test]
    fn precondition_names_the_state_and_internal_hides_text() {
        let status: Status = ApiError::precondition("cannot dispose", "REPORTED").into();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("REPORTED"));

        let status: Status = ApiError::internal("secret table outbox_x exploded").into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("outbox_x"));
    }
}
