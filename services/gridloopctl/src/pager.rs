//! The pager every list command shares.

use std::future::Future;

use crate::error::CtlResult;

/// Largest page asked for; servers cap page sizes anyway.
const PAGE: usize = 200;

/// Follows page tokens until `limit` items or the last page. `fetch(token, page_size)` returns
/// one page and the next token (empty on the last page). The second value tells whether more
/// rows were left on the server.
pub async fn pages<T, F, Fut>(limit: usize, mut fetch: F) -> CtlResult<(Vec<T>, bool)>
where
    F: FnMut(String, i32) -> Fut,
    Fut: Future<Output = CtlResult<(Vec<T>, String)>>,
{
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let want = (limit - out.len()).clamp(1, PAGE) as i32;
        let (items, next) = fetch(token, want).await?;
        out.extend(items);
        if next.is_empty() {
            return Ok((out, false));
        }
        if out.len() >= limit {
            out.truncate(limit);
            return Ok((out, true));
        }
        token = next;
    }
}
