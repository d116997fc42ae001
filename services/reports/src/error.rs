//! The crate's one error type for its own plumbing; handlers answer with
//! [`gridloop_platform::ApiError`].

use gridloop_platform::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Platform(#[from] gridloop_platform::Error),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Db(e) => e.into(),
            Error::Platform(e) => e.into(),
        }
    }
}
