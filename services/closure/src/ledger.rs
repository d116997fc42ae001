//! 台账 queries: the write-offs of grid subtrees and a date range, oldest first, paged by
//! `(closed_at, entry_id)` so that entries written while a reader pages are never skipped
//! or repeated.

use chrono::{DateTime, Utc};
use gridloop_platform::ApiError;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::{LEDGER_COLUMNS, LedgerRow};

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

/// Which write-offs to list, validated.
pub struct Query {
    /// Grid code prefixes (subtree roots); an entry matches when its grid code starts with one.
    pub roots: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub page_size: i64,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

pub fn page_size(raw: i32) -> Result<i64, ApiError> {
    match raw {
        n if n < 0 => Err(ApiError::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE),
        n => Ok(i64::from(n).min(MAX_PAGE)),
    }
}

/// A page token is the position of the last entry returned: `<closed_at µs>.<entry_id>`.
pub fn parse_token(raw: &str) -> Result<Option<(DateTime<Utc>, Uuid)>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::invalid("page_token", "not a token from a previous page");
    let (micros, id) = raw.split_once('.').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok(Some((at, id)))
}

fn token(row: &LedgerRow) -> String {
    format!("{}.{}", row.closed_at.timestamp_micros(), row.entry_id)
}

/// One page of entries and the token of the next page (empty on the last).
pub async fn page(pool: &PgPool, q: &Query) -> Result<(Vec<LedgerRow>, String), ApiError> {
    let mut rows: Vec<LedgerRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LEDGER_COLUMNS} FROM ledger \
         WHERE {scope} \
           AND ($2::timestamptz IS NULL OR closed_at >= $2) \
           AND ($3::timestamptz IS NULL OR closed_at < $3) \
           AND ($4::timestamptz IS NULL OR (closed_at, entry_id) > ($4, $5::uuid)) \
         ORDER BY closed_at, entry_id LIMIT $6",
        scope = gridloop_platform::scope_sql!("grid_code", "$1"),
    )))
    .bind(&q.roots)
    .bind(q.from)
    .bind(q.until)
    .bind(q.after.map(|a| a.0))
    .bind(q.after.map(|a| a.1))
    .bind(q.page_size + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > q.page_size;
    rows.truncate(q.page_size as usize);
    let next = match rows.last() {
        Some(last) if more => token(last),
        _ => String::new(),
    };
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_sizes() {
        assert!(parse_token("").unwrap().is_none());
        assert!(parse_token("x").is_err());
        let id = Uuid::now_v7();
        let (at, got) = parse_token(&format!("1763700000000000.{id}"))
            .unwrap()
            .unwrap();
        assert_eq!(got, id);
        assert_eq!(at.timestamp(), 1_763_700_000);
        assert_eq!(page_size(0).unwrap(), 50);
        assert_eq!(page_size(10_000).unwrap(), 500);
        assert!(page_size(-1).is_err());
    }
}
