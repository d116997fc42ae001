//! Whole-transaction retries of the task RPCs on PostgreSQL's deadlock and serialization
//! failures. Lock order (ticket, then workers by id) removes the cycles routing's own
//! transactions could form; what is left is rare (a lock wait racing the consumer's batch
//! giving up), and the caller should not see INTERNAL for it.

use std::future::Future;

use gridloop_platform::ApiError;

/// Attempts of one RPC's transaction.
const ATTEMPTS: u32 = 3;

/// A task RPC's failure: a refusal or failure to answer, or a conflict worth a retry.
#[derive(Debug)]
pub enum TxError {
    Api(ApiError),
    /// 40P01 deadlock detected, 40001 serialization failure: nothing was written.
    Conflict(sqlx::Error),
}

fn conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        if conflict(&e) {
            TxError::Conflict(e)
        } else {
            TxError::Api(e.into())
        }
    }
}

impl From<gridloop_platform::Error> for TxError {
    fn from(e: gridloop_platform::Error) -> Self {
        match e {
            gridloop_platform::Error::Db(e) => e.into(),
            other => TxError::Api(other.into()),
        }
    }
}

impl From<ApiError> for TxError {
    fn from(e: ApiError) -> Self {
        TxError::Api(e)
    }
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Api(e) => e,
            TxError::Conflict(e) => ApiError::Unavailable(format!("database contention: {e}")),
        }
    }
}

/// Runs `once` (one whole transaction) until it does not end in a conflict, at most
/// [`ATTEMPTS`] times; a conflict every time is UNAVAILABLE, which the caller may retry.
pub async fn retrying<T, F, Fut>(mut once: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TxError>>,
{
    let mut attempt = 1;
    loop {
        match once().await {
            Ok(v) => return Ok(v),
            Err(TxError::Conflict(e)) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "transaction conflicted; retrying");
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
