//! The one mapping from [`ApiError`] to an HTTP answer, beside the gRPC one in
//! [`crate::error`]: the same kinds get the same meaning on every HTTP endpoint (the report
//! page and its CSV, anything served next to the gRPC port). A refusal says why in a short
//! text; a failure of ours is logged and answers only that something failed, never its text.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// What an HTTP endpoint answers for an error: the status and the text a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    pub status: StatusCode,
    pub message: String,
}

impl From<ApiError> for HttpError {
    fn from(err: ApiError) -> Self {
        let status = match &err {
            ApiError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists(_) | ApiError::FailedPrecondition { .. } => {
                StatusCode::CONFLICT
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &err {
            ApiError::Unavailable(_) => {
                tracing::warn!(error = %err, "dependency unavailable");
                "a dependency is unavailable; retry later".to_owned()
            }
            ApiError::Internal(_) => {
                tracing::error!(error = %err, "internal error");
                "internal error".to_owned()
            }
            _ => err.to_string(),
        };
        HttpError { status, message }
    }
}

/// Plain text, never cached: an error page must not outlive the error.
impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            self.message,
        )
            .into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status_and_internals_stay_inside() {
        let cases = [
            (ApiError::invalid("date", "not a date"), 400),
            (ApiError::Unauthenticated("token required".into()), 401),
            (ApiError::PermissionDenied("leaders only".into()), 403),
            (ApiError::NotFound("grid".into()), 404),
            (ApiError::AlreadyExists("ticket".into()), 409),
            (ApiError::precondition("cannot dispose", "REPORTED"), 409),
            (
                ApiError::Unavailable("database: pool timed out".into()),
                503,
            ),
            (ApiError::internal("secret table outbox_x exploded"), 500),
        ];
        for (err, code) in cases {
            let shown = HttpError::from(err);
            assert_eq!(shown.status.as_u16(), code, "{}", shown.message);
            assert!(!shown.message.contains("outbox_x") && !shown.message.contains("pool"));
        }
        let bad = HttpError::from(ApiError::invalid("date", "not a date"));
        assert!(bad.message.contains("date"), "a refusal says why");
    }
}
