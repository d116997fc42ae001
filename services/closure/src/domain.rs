//! Requests parsed into domain values at the edge, and the mapping between the lifecycle's
//! types and the wire enums. Inside the service these values are always valid.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use gridloop_lifecycle::{ExemptionKind, Rating, TicketId};
use gridloop_platform::ApiError;
use gridloop_proto::from_ts;
use gridloop_proto::v1 as pb;
use prost_types::Timestamp;

const MAX_TEXT: usize = 2000;
/// Clocks of phones and desk systems drift; a little future is tolerated.
const CLOCK_SKEW: Duration = Duration::minutes(5);

pub fn ticket_id(raw: &str) -> Result<TicketId, ApiError> {
    TicketId::parse(raw.trim()).map_err(|_| ApiError::invalid("ticket_id", "not a UUID"))
}

fn text(field: &str, raw: &str, required: bool) -> Result<String, ApiError> {
    let t = raw.trim();
    if required && t.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    if t.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(field, "longer than 2000 characters"));
    }
    Ok(t.to_owned())
}

/// A time the caller says something happened: missing means now, the future is refused.
fn past_time(
    field: &str,
    t: Option<&Timestamp>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    let Some(t) = t else { return Ok(now) };
    let at = from_ts(t).ok_or_else(|| ApiError::invalid(field, "not a valid timestamp"))?;
    if at > now + CLOCK_SKEW {
        return Err(ApiError::invalid(field, "in the future"));
    }
    Ok(at)
}

/// A requested rating, read by the platform's one conversion; UNSPECIFIED is refused.
pub fn rating(field: &str, raw: i32) -> Result<Rating, ApiError> {
    gridloop_platform::convert::rating(raw).ok_or_else(|| {
        ApiError::invalid(
            field,
            "required: SATISFIED, BASICALLY_SATISFIED or DISSATISFIED",
        )
    })
}

pub use gridloop_platform::convert::rating_pb;

/// A citizen's (or the app's) rating.
#[derive(Debug, Clone)]
pub struct Rated {
    pub rating: Rating,
    pub comment: String,
}

impl Rated {
    pub fn parse(req: &pb::SubmitFeedbackRequest) -> Result<Self, ApiError> {
        Ok(Rated {
            rating: rating("rating", req.rating)?,
            comment: text("comment", &req.comment, false)?,
        })
    }
}

/// A 12345 callback: the citizen rated it, or was not reached.
#[derive(Debug, Clone)]
pub struct Callback {
    pub rating: Option<Rating>,
    pub notes: String,
    pub called_at: DateTime<Utc>,
}

impl Callback {
    pub fn parse(req: &pb::RecordCallbackRequest, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let rating = if req.reached {
            Some(rating("rating", req.rating)?)
        } else if req.rating != pb::Rating::Unspecified as i32 {
            return Err(ApiError::invalid(
                "rating",
                "only when the citizen was reached",
            ));
        } else {
            None
        };
        Ok(Callback {
            rating,
            notes: text("notes", &req.notes, false)?,
            called_at: past_time("called_at", req.called_at.as_ref(), now)?,
        })
    }
}

/// A supervisor's exemption.
#[derive(Debug, Clone)]
pub struct Exemption {
    pub kind: ExemptionKind,
    pub reason: String,
}

impl Exemption {
    pub fn parse(req: &pb::CloseTicketRequest) -> Result<Self, ApiError> {
        let kind = match pb::ExemptionKind::try_from(req.kind) {
            Ok(pb::ExemptionKind::CitizenUnreachable) => ExemptionKind::CitizenUnreachable,
            Ok(pb::ExemptionKind::UnresolvableConfirmed) => ExemptionKind::Unresolvable,
            _ => {
                return Err(ApiError::invalid(
                    "kind",
                    "required: CITIZEN_UNREACHABLE or UNRESOLVABLE_CONFIRMED",
                ));
            }
        };
        Ok(Exemption {
            kind,
            reason: text("reason", &req.reason, true)?,
        })
    }
}

pub fn exemption_kind_pb(k: ExemptionKind) -> pb::ExemptionKind {
    match k {
        ExemptionKind::CitizenUnreachable => pb::ExemptionKind::CitizenUnreachable,
        ExemptionKind::Unresolvable => pb::ExemptionKind::UnresolvableConfirmed,
    }
}

pub use gridloop_platform::convert::state_pb;

/// Instants `[from, until)`; a missing end is open.
pub type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Closing dates (Asia/Shanghai, inclusive) as UTC instants `[from, until)`.
pub fn date_range(range: Option<&pb::DateRange>) -> Result<Span, ApiError> {
    let Some(range) = range else {
        return Ok((None, None));
    };
    let day = |field: &str, d: Option<&pb::Date>| -> Result<Option<NaiveDate>, ApiError> {
        d.map(|d| {
            u32::try_from(d.month)
                .ok()
                .zip(u32::try_from(d.day).ok())
                .and_then(|(m, day)| NaiveDate::from_ymd_opt(d.year, m, day))
                .ok_or_else(|| ApiError::invalid(field, "not a calendar date"))
        })
        .transpose()
    };
    let start = day("dates.start", range.start.as_ref())?;
    let end = day("dates.end", range.end.as_ref())?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(ApiError::invalid("dates", "start is after end"));
    }
    let shanghai = gridloop_lifecycle::calendar::shanghai();
    let midnight = |d: NaiveDate| {
        shanghai
            .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    Ok((
        start.and_then(midnight),
        end.and_then(|e| e.succ_opt()).and_then(midnight),
    ))
}

pub use gridloop_platform::auth::in_scope;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_shanghai_days() {
        let range = pb::DateRange {
            start: Some(pb::Date {
                year: 2026,
                month: 11,
                day: 21,
            }),
            end: Some(pb::Date {
                year: 2026,
                month: 11,
                day: 21,
            }),
        };
        let (from, until) = date_range(Some(&range)).unwrap();
        assert_eq!(from.unwrap().to_rfc3339(), "2026-11-20T16:00:00+00:00");
        assert_eq!(until.unwrap().to_rfc3339(), "2026-11-21T16:00:00+00:00");
        let bad = pb::DateRange {
            start: Some(pb::Date {
                year: 2026,
                month: 2,
                day: 30,
            }),
            end: None,
        };
        assert!(
            date_range(Some(&bad))
                .unwrap_err()
                .to_string()
                .contains("dates.start")
        );
    }
}
