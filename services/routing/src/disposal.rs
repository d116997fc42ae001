//! 处置 as routing takes it: the report parsed and checked at the edge ([`Report::parse`]),
//! and the stored row ([`DisposalRow`]). The decision itself (whose task, in which state) is
//! made in `api::dispose` under the ticket's row lock.

use chrono::{DateTime, Duration, Utc};
use gridloop_lifecycle::{DisposalKind, TicketId};
use gridloop_platform::ApiError;
use gridloop_proto::v1 as pb;
use gridloop_proto::{from_ts, ts};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::disposal_type;

const MAX_TEXT: usize = 2000;
const MAX_EVIDENCE: usize = 9;
const MAX_URL: usize = 2048;
/// Clocks of phones drift; a little future is tolerated.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Trimmed text of at most 2000 characters. A NUL byte is refused here because PostgreSQL
/// cannot store it in `text`: it would otherwise surface as an internal error.
fn text(field: &str, raw: &str, required: bool) -> Result<String, ApiError> {
    if raw.contains('\0') {
        return Err(ApiError::invalid(field, "contains a NUL byte"));
    }
    let t = raw.trim();
    if required && t.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    if t.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(field, "longer than 2000 characters"));
    }
    Ok(t.to_owned())
}

fn evidence(urls: &[String]) -> Result<Vec<String>, ApiError> {
    if urls.len() > MAX_EVIDENCE {
        return Err(ApiError::invalid("evidence_urls", "at most 9 photos"));
    }
    urls.iter()
        .map(|url| {
            if url.contains('\0') {
                return Err(ApiError::invalid("evidence_urls", "contains a NUL byte"));
            }
            let url = url.trim();
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= MAX_URL
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
                && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
            if ok {
                Ok(url.to_owned())
            } else {
                Err(ApiError::invalid(
                    "evidence_urls",
                    "each must be an http or https URL",
                ))
            }
        })
        .collect()
}

/// A validated disposal report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: pb::DisposalType,
    pub result: String,
    pub evidence_urls: Vec<String>,
    pub disposed_at: DateTime<Utc>,
    pub unresolvable_reason: String,
}

impl Report {
    pub fn parse(req: &pb::SubmitDisposalRequest, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let kind = match pb::DisposalType::try_from(req.disposal_type) {
            Ok(pb::DisposalType::Unspecified) | Err(_) => {
                return Err(ApiError::invalid(
                    "disposal_type",
                    "required: RESOLVED, EXPLAINED or UNRESOLVABLE",
                ));
            }
            Ok(k) => k,
        };
        let result = text("result", &req.result, true)?;
        let evidence_urls = evidence(&req.evidence_urls)?;
        if kind == pb::DisposalType::Resolved && evidence_urls.is_empty() {
            return Err(ApiError::invalid(
                "evidence_urls",
                "at least one photo is required for RESOLVED",
            ));
        }
        let unresolvable_reason = text("unresolvable_reason", &req.unresolvable_reason, false)?;
        match kind {
            pb::DisposalType::Unresolvable if unresolvable_reason.is_empty() => {
                return Err(ApiError::invalid(
                    "unresolvable_reason",
                    "required for UNRESOLVABLE",
                ));
            }
            pb::DisposalType::Unresolvable => {}
            _ if !unresolvable_reason.is_empty() => {
                return Err(ApiError::invalid(
                    "unresolvable_reason",
                    "only for UNRESOLVABLE",
                ));
            }
            _ => {}
        }
        let disposed_at = match req.disposed_at.as_ref() {
            None => now,
            Some(t) => {
                let at = from_ts(t)
                    .ok_or_else(|| ApiError::invalid("disposed_at", "not a valid timestamp"))?;
                if at > now + CLOCK_SKEW {
                    return Err(ApiError::invalid("disposed_at", "in the future"));
                }
                at
            }
        };
        Ok(Report {
            kind,
            result,
            evidence_urls,
            disposed_at,
            unresolvable_reason,
        })
    }

    /// The loop distinguishes only whether a disposal may later be exempted as unresolvable;
    /// an explanation (已解释说明) is a completed disposal like a resolution.
    pub fn lifecycle_kind(&self) -> DisposalKind {
        match self.kind {
            pb::DisposalType::Unresolvable => DisposalKind::Unresolvable,
            _ => DisposalKind::Resolved,
        }
    }
}

/// One disposal as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisposalRow {
    pub disposal_id: Uuid,
    pub ticket_id: TicketId,
    pub task_id: i64,
    pub worker_id: Uuid,
    pub grid_code: String,
    pub disposal_type: String,
    pub result: String,
    pub evidence_urls: Vec<String>,
    pub disposed_at: DateTime<Utc>,
    pub unresolvable_reason: String,
    pub rework_count: i32,
}

impl DisposalRow {
    /// Whether `r` says what this disposal said: a client's retry of the same report.
    pub fn repeats(&self, r: &Report) -> bool {
        self.disposal_type == disposal_type::name(r.kind)
            && self.result == r.result
            && self.evidence_urls == r.evidence_urls
            && self.unresolvable_reason == r.unresolvable_reason
    }

    pub fn to_proto(&self) -> pb::Disposal {
        pb::Disposal {
            disposal_id: self.disposal_id.to_string(),
            ticket_id: self.ticket_id.to_string(),
            worker_id: self.worker_id.to_string(),
            grid_code: self.grid_code.clone(),
            disposal_type: disposal_type::parse(&self.disposal_type) as i32,
            result: self.result.clone(),
            evidence_urls: self.evidence_urls.clone(),
            disposed_at: Some(ts(self.disposed_at)),
            unresolvable_reason: self.unresolvable_reason.clone(),
            rework_count: u32::try_from(self.rework_count).unwrap_or(0),
        }
    }

    /// The event body that tells the other services.
    pub fn event(&self) -> pb::TicketDisposed {
        pb::TicketDisposed {
            worker_id: self.worker_id.to_string(),
            grid_code: self.grid_code.clone(),
            disposal_type: disposal_type::parse(&self.disposal_type) as i32,
            result: self.result.clone(),
            evidence_urls: self.evidence_urls.clone(),
            disposed_at: Some(ts(self.disposed_at)),
            unresolvable_reason: self.unresolvable_reason.clone(),
            rework_count: u32::try_from(self.rework_count).unwrap_or(0),
            disposal_id: self.disposal_id.to_string(),
        }
    }
}

const COLUMNS: &str = "disposal_id, ticket_id, task_id, worker_id, grid_code, disposal_type, \
     result, evidence_urls, disposed_at, unresolvable_reason, rework_count";

pub async fn insert(tx: &mut PgConnection, d: &DisposalRow) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO disposals ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )))
    .bind(d.disposal_id)
    .bind(d.ticket_id)
    .bind(d.task_id)
    .bind(d.worker_id)
    .bind(&d.grid_code)
    .bind(&d.disposal_type)
    .bind(&d.result)
    .bind(&d.evidence_urls)
    .bind(d.disposed_at)
    .bind(&d.unresolvable_reason)
    .bind(d.rework_count)
    .execute(tx)
    .await?;
    Ok(())
}

/// The disposal of a task, if it was disposed.
pub async fn of_task(tx: &mut PgConnection, task: i64) -> Result<Option<DisposalRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM disposals WHERE task_id = $1"
    )))
    .bind(task)
    .fetch_optional(tx)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved() -> pb::SubmitDisposalRequest {
        pb::SubmitDisposalRequest {
            disposal_type: pb::DisposalType::Resolved as i32,
            result: "清理完毕".into(),
            evidence_urls: vec!["https://img.example/1.jpg".into()],
            ..Default::default()
        }
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::InvalidArgument(f) => f[0].field.clone(),
            other => panic!("not a bad field: {other}"),
        }
    }

    #[test]
    fn resolved_needs_evidence_and_unresolvable_a_reason() {
        let now = Utc::now();
        let ok = Report::parse(&resolved(), now).unwrap();
        assert_eq!(ok.lifecycle_kind(), DisposalKind::Resolved);
        let mut r = resolved();
        r.evidence_urls.clear();
        assert_eq!(
            field_of(Report::parse(&r, now).unwrap_err()),
            "evidence_urls"
        );
        r.evidence_urls = vec!["ftp://x".into()];
        assert_eq!(
            field_of(Report::parse(&r, now).unwrap_err()),
            "evidence_urls"
        );
        r.evidence_urls = vec!["https://e/1.jpg".into(); 10];
        assert_eq!(
            field_of(Report::parse(&r, now).unwrap_err()),
            "evidence_urls"
        );
        r.evidence_urls.clear();
        r.disposal_type = pb::DisposalType::Unresolvable as i32;
        assert_eq!(
            field_of(Report::parse(&r, now).unwrap_err()),
            "unresolvable_reason"
        );
        r.unresolvable_reason = "产权不清".into();
        assert_eq!(
            Report::parse(&r, now).unwrap().lifecycle_kind(),
            DisposalKind::Unresolvable
        );
    }

    #[test]
    fn nul_bytes_long_text_and_future_times_are_refused() {
        let now = Utc::now();
        let mut r = resolved();
        r.result = "已\0处理".into();
        assert_eq!(field_of(Report::parse(&r, now).unwrap_err()), "result");
        let mut r = resolved();
        r.evidence_urls = vec!["https://e/\0/1.jpg".into()];
        assert_eq!(
            field_of(Report::parse(&r, now).unwrap_err()),
            "evidence_urls"
        );
        let mut r = resolved();
        r.disposal_type = pb::DisposalType::Unresolvable as i32;
        r.unresolvable_reason = "\0".into();
        assert_eq!(
            field_of(Report::parse(&r, now).unwrap_err()),
            "unresolvable_reason"
        );
        let mut r = resolved();
        r.result = "字".repeat(2001);
        assert_eq!(field_of(Report::parse(&r, now).unwrap_err()), "result");
        let mut r = resolved();
        r.disposed_at = Some(ts(now + Duration::minutes(30)));
        assert_eq!(field_of(Report::parse(&r, now).unwrap_err()), "disposed_at");
        r.disposed_at = Some(ts(now + Duration::minutes(2)));
        assert!(Report::parse(&r, now).is_ok());
    }
}
