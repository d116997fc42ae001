//! The holiday file format: `date,kind,name` lines, `#` comments.

use chrono::NaiveDate;

use super::{CalendarError, DayKind, SpecialDay};

/// The 2026 national arrangement (State Council General Office notice of 2025-11-04),
/// compiled in so that every service has the same default without reading files.
pub const CHINA_2026_CSV: &str = include_str!("../../data/holidays-cn-2026.csv");

/// The entries of one file, in file order.
pub(super) fn parse(text: &str) -> Result<Vec<(NaiveDate, SpecialDay)>, CalendarError> {
    let mut days = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |message: String| CalendarError::Csv {
            line: index + 1,
            message,
        };
        let mut fields = line.splitn(3, ',').map(str::trim);
        let date = fields.next().unwrap_or_default();
        let kind = fields.next().unwrap_or_default();
        let name = fields.next().unwrap_or_default();
        if date == "date" && kind == "kind" {
            continue;
        }
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| fail(format!("date {date:?} is not YYYY-MM-DD")))?;
        let kind = match kind {
            "holiday" => DayKind::Holiday,
            "workday" => DayKind::Workday,
            other => {
                return Err(fail(format!(
                    "kind {other:?} is neither holiday nor workday"
                )));
            }
        };
        days.push((
            date,
            SpecialDay {
                kind,
                name: name.to_string(),
            },
        ));
    }
    Ok(days)
}
