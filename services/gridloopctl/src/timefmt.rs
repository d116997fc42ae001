//! Times on the command line and in output. Input and tables are in China Standard Time
//! (UTC+08:00, which Asia/Shanghai has kept without daylight saving since 1991), because that
//! is the clock the grid office reads; JSON carries RFC 3339 UTC instants for scripts.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
// The lifecycle's offset: the same clock its working-day deadlines are computed in.
use gridloop_lifecycle::calendar::shanghai as cst;

/// An instant given on the command line.
pub type Instant = DateTime<Utc>;

/// `now`, RFC 3339 (`2026-03-01T09:30:00Z`), `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DD` (both
/// in +08:00; a date alone means its midnight).
pub fn parse_instant(s: &str) -> Result<Instant, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(Utc::now());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return local(naive);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return local(date.and_time(NaiveTime::MIN));
    }
    Err(format!(
        "`{s}`: expected now, RFC 3339 (2026-03-01T09:30:00Z), or YYYY-MM-DD[ HH:MM] in +08:00"
    ))
}

fn local(naive: NaiveDateTime) -> Result<Instant, String> {
    cst()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("`{naive}` is not a valid local time"))
}

/// A calendar date, `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}`: expected a date as YYYY-MM-DD"))
}

/// A token lifetime in seconds: `3600`, `30s`, `30m`, `8h` or `7d`; positive.
pub fn parse_ttl(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{s}`: expected a lifetime like 3600, 30m, 8h or 7d"))?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("`{s}`: the unit is s, m, h or d")),
    };
    match n.checked_mul(factor) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(format!("`{s}`: the lifetime must be positive")),
    }
}

/// A protobuf timestamp for a table: `2026-03-01 17:30` in +08:00, empty when missing.
pub fn table_ts(t: Option<&prost_types::Timestamp>) -> String {
    to_utc(t)
        .map(|t| t.with_timezone(&cst()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A protobuf timestamp for JSON: RFC 3339 UTC, or null when missing.
pub fn json_ts(t: Option<&prost_types::Timestamp>) -> serde_json::Value {
    to_utc(t)
        .map(|t| serde_json::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(serde_json::Value::Null)
}

fn to_utc(t: Option<&prost_types::Timestamp>) -> Option<Instant> {
    t.and_then(gridloop_proto::from_ts)
}

/// A protobuf date from a chrono date.
pub fn proto_date(d: NaiveDate) -> gridloop_proto::v1::Date {
    use chrono::Datelike;
    gridloop_proto::v1::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// `2026-03-01` from a protobuf date.
pub fn date_str(d: Option<&gridloop_proto::v1::Date>) -> String {
    d.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_china_time() {
        let t = parse_instant("2026-03-01 09:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T01:30:00+00:00");
        let d = parse_instant("2026-03-01").unwrap();
        assert_eq!(d.to_rfc3339(), "2026-02-28T16:00:00+00:00");
        let z = parse_instant("2026-03-01T09:30:00Z").unwrap();
        assert_eq!(z.to_rfc3339(), "2026-03-01T09:30:00+00:00");
        assert!(
            parse_instant("yesterday")
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
        let ts = gridloop_proto::ts(t);
        assert_eq!(table_ts(Some(&ts)), "2026-03-01 09:30");
        assert_eq!(json_ts(Some(&ts)), "2026-03-01T01:30:00Z");
        assert_eq!(table_ts(None), "");
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("30m"), Ok(1800));
        assert_eq!(parse_ttl("8h"), Ok(28_800));
        assert_eq!(parse_ttl("7d"), Ok(604_800));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("-5m").is_err());
        assert!(parse_ttl("5w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
