//! Requests parsed into values at the edge: date ranges and periods (Asia/Shanghai), the grid
//! rule, filters, and the caller's scope.
//!
//! Grid rule: grid codes are administrative codes in which a child's code extends its
//! parent's, so a subtree is a code prefix. A code's level follows from its length: county
//! 6 characters (e.g. 341504), town 9 (341504100), village 12 (341504100201), group more
//! than 12. The grid at level L above a ticket's grid is the prefix of L's length.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use gridloop_platform::ApiError;
use gridloop_platform::auth::{Caller, Role};
use gridloop_proto::v1 as pb;
use pb::{GridLevel, PeriodUnit};

pub use gridloop_lifecycle::calendar::shanghai;

pub fn shanghai_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&shanghai()).date_naive()
}

/// Longest custom range accepted, in days (about ten years).
pub const MAX_RANGE_DAYS: i64 = 3660;

/// Length of the code at `level`; `None` for groups, whose code is the whole code.
pub fn level_len(level: GridLevel) -> Option<usize> {
    match level {
        GridLevel::County => Some(6),
        GridLevel::Town => Some(9),
        GridLevel::Village => Some(12),
        _ => None,
    }
}

/// Level of a code by its length; UNSPECIFIED for the empty code (the whole county set).
pub fn level_of(code: &str) -> GridLevel {
    match code.chars().count() {
        0 => GridLevel::Unspecified,
        1..=6 => GridLevel::County,
        7..=9 => GridLevel::Town,
        10..=12 => GridLevel::Village,
        _ => GridLevel::Group,
    }
}

fn child_level(level: GridLevel) -> GridLevel {
    match level {
        GridLevel::Unspecified => GridLevel::Town,
        GridLevel::County => GridLevel::Town,
        GridLevel::Town => GridLevel::Village,
        _ => GridLevel::Group,
    }
}

/// The level of a report's grid rows: the requested one, or the root's direct children.
pub fn row_level(root: &str, requested: i32, field: &str) -> Result<GridLevel, ApiError> {
    let root_level = level_of(root);
    match GridLevel::try_from(requested) {
        Ok(GridLevel::Unspecified) => Ok(child_level(root_level)),
        Ok(l) if root_level != GridLevel::Unspecified && (l as i32) < (root_level as i32) => Err(
            ApiError::invalid(field, "level is above the subtree's root"),
        ),
        Ok(l) => Ok(l),
        Err(_) => Err(ApiError::invalid(field, "unknown grid level")),
    }
}

pub fn date(d: &pb::Date, field: &str) -> Result<NaiveDate, ApiError> {
    u32::try_from(d.month)
        .ok()
        .zip(u32::try_from(d.day).ok())
        .and_then(|(m, day)| NaiveDate::from_ymd_opt(d.year, m, day))
        .ok_or_else(|| ApiError::invalid(field, "not a calendar date"))
}

pub fn date_pb(d: NaiveDate) -> pb::Date {
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

pub fn range_pb(from: NaiveDate, to: NaiveDate) -> pb::DateRange {
    pb::DateRange {
        start: Some(date_pb(from)),
        end: Some(date_pb(to)),
    }
}

/// The period of `unit` containing `anchor`, first and last day.
pub fn period_of(unit: PeriodUnit, anchor: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let first_of = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1);
    let (start, next) = match unit {
        PeriodUnit::Day => (anchor, anchor.succ_opt()?),
        PeriodUnit::Week => {
            let monday =
                anchor - Duration::days(i64::from(anchor.weekday().num_days_from_monday()));
            (monday, monday + Duration::days(7))
        }
        PeriodUnit::Month => {
            let s = first_of(anchor.year(), anchor.month())?;
            (s, s.checked_add_months(chrono::Months::new(1))?)
        }
        PeriodUnit::Quarter => {
            let s = first_of(anchor.year(), (anchor.month0() / 3) * 3 + 1)?;
            (s, s.checked_add_months(chrono::Months::new(3))?)
        }
        PeriodUnit::Year => {
            let s = first_of(anchor.year(), 1)?;
            (s, first_of(anchor.year() + 1, 1)?)
        }
        PeriodUnit::Unspecified => return None,
    };
    Some((start, next.pred_opt()?))
}

pub fn unit(raw: i32, field: &str) -> Result<PeriodUnit, ApiError> {
    match PeriodUnit::try_from(raw) {
        Ok(PeriodUnit::Unspecified) | Err(_) => Err(ApiError::invalid(
            field,
            "must be DAY, WEEK, MONTH, QUARTER or YEAR",
        )),
        Ok(u) => Ok(u),
    }
}

pub fn today() -> NaiveDate {
    shanghai_date(gridloop_platform::clock::now())
}

pub fn custom(r: &pb::DateRange, field: &str) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let start = r
        .start
        .as_ref()
        .ok_or_else(|| ApiError::invalid(format!("{field}.start"), "required"))?;
    let end = r
        .end
        .as_ref()
        .ok_or_else(|| ApiError::invalid(format!("{field}.end"), "required"))?;
    let (s, e) = (
        date(start, &format!("{field}.start"))?,
        date(end, &format!("{field}.end"))?,
    );
    if s > e {
        return Err(ApiError::invalid(field, "start is after end"));
    }
    if (e - s).num_days() > MAX_RANGE_DAYS {
        return Err(ApiError::invalid(field, "longer than ten years"));
    }
    Ok((s, e))
}

/// The dates a period or custom range covers.
pub fn dates(
    period: Option<&pb::Period>,
    custom_range: Option<&pb::DateRange>,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    match (period, custom_range) {
        (Some(p), None) => {
            let u = unit(p.unit, "period.unit")?;
            let anchor = match &p.anchor {
                Some(d) => date(d, "period.anchor")?,
                None => today(),
            };
            period_of(u, anchor).ok_or_else(|| ApiError::invalid("period.anchor", "out of range"))
        }
        (None, Some(r)) => custom(r, "custom_range"),
        _ => Err(ApiError::invalid("range", "set a period or a custom_range")),
    }
}

/// The scope of a report after the caller's rights are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Subtree root; empty for everything.
    pub root: String,
    pub categories: Vec<String>,
    pub channels: Vec<i32>,
    pub worker: Option<String>,
}

/// Roles that read reports.
pub const READERS: &[Role] = &[Role::Leader, Role::Supervisor, Role::Admin];

impl Filter {
    /// Parses `f` and checks it against the caller: leaders and admins read every grid,
    /// supervisors their subtrees (`grids` of the token); a supervisor with one subtree who
    /// names no grid gets that subtree.
    pub fn parse(f: Option<&pb::ReportFilter>, caller: &Caller) -> Result<Filter, ApiError> {
        caller.require(READERS)?;
        let default = pb::ReportFilter::default();
        let f = f.unwrap_or(&default);
        let mut root = f.grid_code.trim().to_string();
        if root.chars().count() > 64 || root.chars().any(|c| c.is_whitespace() || c == '%') {
            return Err(ApiError::invalid("filter.grid_code", "not a grid code"));
        }
        if caller.role == Role::Supervisor {
            if root.is_empty() {
                match caller.grids.as_slice() {
                    [one] => root = one.clone(),
                    _ => {
                        return Err(ApiError::invalid(
                            "filter.grid_code",
                            "required: the token covers several subtrees",
                        ));
                    }
                }
            }
            if !in_scope(&root, &caller.grids) {
                return Err(ApiError::PermissionDenied(format!(
                    "grid {root} is outside the caller's grids"
                )));
            }
        }
        let mut channels = Vec::new();
        for c in &f.channels {
            match pb::Channel::try_from(*c) {
                Ok(pb::Channel::Unspecified) | Err(_) => {
                    return Err(ApiError::invalid("filter.channels", "unknown channel"));
                }
                Ok(_) => channels.push(*c),
            }
        }
        if f.category_codes.iter().any(|c| c.trim().is_empty()) {
            return Err(ApiError::invalid("filter.category_codes", "empty code"));
        }
        let worker = Some(f.worker_id.trim().to_string()).filter(|w| !w.is_empty());
        Ok(Filter {
            root,
            categories: f.category_codes.clone(),
            channels,
            worker,
        })
    }
}

pub use gridloop_platform::auth::in_scope;

pub fn channel_label(c: i32) -> &'static str {
    match pb::Channel::try_from(c) {
        Ok(pb::Channel::Hotline12345) => "12345热线",
        Ok(pb::Channel::OneKeyCall) => "一键呼叫",
        Ok(pb::Channel::App) => "APP",
        Ok(pb::Channel::Mailbox) => "书记信箱",
        Ok(pb::Channel::Web) => "网站留言",
        Ok(pb::Channel::Patrol) => "巡查发现",
        _ => "未知渠道",
    }
}

pub fn channel_key(c: i32) -> String {
    pb::Channel::try_from(c)
        .map(|c| c.as_str_name().trim_start_matches("CHANNEL_").to_string())
        .unwrap_or_else(|_| "UNSPECIFIED".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_contain_their_anchor() {
        let a = d(2026, 11, 18); // a Wednesday
        assert_eq!(period_of(PeriodUnit::Day, a), Some((a, a)));
        assert_eq!(
            period_of(PeriodUnit::Week, a),
            Some((d(2026, 11, 16), d(2026, 11, 22)))
        );
        assert_eq!(
            period_of(PeriodUnit::Month, a),
            Some((d(2026, 11, 1), d(2026, 11, 30)))
        );
        assert_eq!(
            period_of(PeriodUnit::Quarter, a),
            Some((d(2026, 10, 1), d(2026, 12, 31)))
        );
        assert_eq!(
            period_of(PeriodUnit::Year, a),
            Some((d(2026, 1, 1), d(2026, 12, 31)))
        );
        assert_eq!(
            period_of(PeriodUnit::Month, d(2024, 2, 10)).unwrap().1,
            d(2024, 2, 29)
        );
    }

    #[test]
    fn levels_follow_code_length() {
        assert_eq!(level_of("341504"), GridLevel::County);
        assert_eq!(level_of("341504100"), GridLevel::Town);
        assert_eq!(level_of("341504100201"), GridLevel::Village);
        assert_eq!(level_of("341504100201003"), GridLevel::Group);
        assert_eq!(row_level("341504100", 0, "f").unwrap(), GridLevel::Village);
        assert_eq!(row_level("", 0, "f").unwrap(), GridLevel::Town);
        assert!(row_level("341504100", GridLevel::County as i32, "f").is_err());
    }

    #[test]
    fn shanghai_midnight_is_sixteen_utc() {
        let t = DateTime::parse_from_rfc3339("2026-11-01T16:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(shanghai_date(t), d(2026, 11, 2));
        let t = DateTime::parse_from_rfc3339("2026-11-01T15:59:59Z")
            .unwrap()
            .to_utc();
        assert_eq!(shanghai_date(t), d(2026, 11, 1));
    }
}
