//! Values checked once at the edge: inside the service a [`Phone`], a content text or a URL
//! list is always valid. Every parse failure is an [`ApiError::invalid`] naming the field.

use chrono::{DateTime, Duration, Utc};
use gridloop_platform::ApiError;
use gridloop_proto::v1::{GeoPoint, Urgency};

/// Longest accepted id (external ids, device ids, operator ids).
pub const MAX_ID_CHARS: usize = 128;
/// Grievance text bounds, in characters.
pub const MAX_CONTENT_CHARS: usize = 2000;
/// Photos per submission.
pub const MAX_URLS: usize = 9;
const MAX_URL_CHARS: usize = 2048;
const MAX_ADDRESS_CHARS: usize = 500;
const MAX_NAME_CHARS: usize = 64;
const MAX_GRID_CHARS: usize = 64;
/// Clocks of desk systems and devices drift; more than this ahead of ours is a bad time.
pub const MAX_CLOCK_SKEW_MINUTES: i64 = 5;

/// A normalised mainland phone number: a mobile (`13812345678`) or a landline with its area
/// code (`0571-88001234`, `010-12345678`).
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

// Never print a phone number by accident.
impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl Phone {
    /// Accepts spaces, hyphens, brackets and a `+86`/`0086` prefix around the digits.
    pub fn parse(field: &str, raw: &str) -> Result<Phone, ApiError> {
        let bad = || {
            ApiError::invalid(
                field,
                "not a mainland mobile (1[3-9] + 9 digits) or a landline with area code",
            )
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ApiError::invalid(field, "required"));
        }
        if trimmed.chars().count() > 32 {
            return Err(bad());
        }
        let mut digits = String::new();
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '(' | ')' => {}
                _ => return Err(bad()),
            }
        }
        let digits = if trimmed.starts_with('+') {
            digits.strip_prefix("86").ok_or_else(bad)?.to_owned()
        } else if let Some(rest) = digits.strip_prefix("0086") {
            rest.to_owned()
        } else {
            digits
        };
        let b = digits.as_bytes();
        if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
            return Ok(Phone(digits));
        }
        if b.first() == Some(&b'0') && b.get(1).is_some_and(|d| *d != b'0') {
            // 010 and 02x are three-digit area codes; all others have four digits.
            let area_len = if b[1] == b'1' || b[1] == b'2' { 3 } else { 4 };
            let local = &digits[area_len.min(digits.len())..];
            if (7..=8).contains(&local.len()) && !local.starts_with('0') {
                return Ok(Phone(format!("{}-{local}", &digits[..area_len])));
            }
        }
        Err(bad())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678` for mobiles, `0571****1234` for landlines: the area code (or carrier
    /// prefix) and the last four digits, nothing in between.
    pub fn masked(&self) -> String {
        let digits: String = self.0.chars().filter(char::is_ascii_digit).collect();
        let keep = match self.0.split_once('-') {
            Some((area, _)) => area.len(),
            None => 3,
        };
        format!("{}****{}", &digits[..keep], &digits[digits.len() - 4..])
    }
}

/// `张*华`, `张*`, `*`: enough for an operator to greet someone, not to identify them.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// An id from another system: non-empty, bounded, printable.
pub fn id(field: &str, raw: &str) -> Result<String, ApiError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    if v.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("longer than {MAX_ID_CHARS} characters"),
        ));
    }
    if has_control(v) {
        return Err(ApiError::invalid(field, "contains control characters"));
    }
    Ok(v.to_owned())
}

/// Grievance text: 1..=2000 characters, no control characters other than line breaks.
pub fn content(field: &str, raw: &str) -> Result<String, ApiError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    if v.chars().count() > MAX_CONTENT_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("longer than {MAX_CONTENT_CHARS} characters"),
        ));
    }
    // Line breaks are how people write paragraphs; everything else is garbage or an attack.
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(ApiError::invalid(field, "contains control characters"));
    }
    Ok(v.to_owned())
}

/// Free text such as an address: optional, bounded, no control characters.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let v = raw.trim();
    if v.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if has_control(v) {
        return Err(ApiError::invalid(field, "contains control characters"));
    }
    Ok(v.to_owned())
}

pub fn address(field: &str, raw: &str) -> Result<String, ApiError> {
    text(field, raw, MAX_ADDRESS_CHARS)
}

pub fn name(field: &str, raw: &str) -> Result<String, ApiError> {
    text(field, raw, MAX_NAME_CHARS)
}

/// A grid code as routing configures them: letters, digits, `-` and `_`; empty when unknown.
pub fn grid_code(field: &str, raw: &str) -> Result<String, ApiError> {
    let v = raw.trim();
    if v.chars().count() > MAX_GRID_CHARS
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::invalid(field, "not a grid code"));
    }
    Ok(v.to_owned())
}

/// An optional http(s) URL; empty stays empty.
pub fn url(field: &str, raw: &str) -> Result<String, ApiError> {
    let v = raw.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    let lower = v.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
    if !host_ok {
        return Err(ApiError::invalid(field, "not an http(s) URL"));
    }
    if v.len() > MAX_URL_CHARS || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::invalid(field, "not an http(s) URL"));
    }
    Ok(v.to_owned())
}

/// At most nine http(s) URLs, none empty.
pub fn urls(field: &str, raw: &[String]) -> Result<Vec<String>, ApiError> {
    if raw.len() > MAX_URLS {
        return Err(ApiError::invalid(
            field,
            format!("more than {MAX_URLS} URLs"),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, u)| {
            let name = format!("{field}[{i}]");
            match url(&name, u)? {
                s if s.is_empty() => Err(ApiError::invalid(name, "empty URL")),
                s => Ok(s),
            }
        })
        .collect()
}

/// A WGS-84 point with latitude in -90..=90 and longitude in -180..=180.
pub fn point(field: &str, p: Option<&GeoPoint>) -> Result<Option<GeoPoint>, ApiError> {
    let Some(p) = p else { return Ok(None) };
    if !(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat)) {
        return Err(ApiError::invalid(format!("{field}.lat"), "not in -90..90"));
    }
    if !(p.lng.is_finite() && (-180.0..=180.0).contains(&p.lng)) {
        return Err(ApiError::invalid(
            format!("{field}.lng"),
            "not in -180..180",
        ));
    }
    Ok(Some(*p))
}

/// A required instant, not more than a few minutes after `now`.
pub fn time(
    field: &str,
    t: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    let t = t.ok_or_else(|| ApiError::invalid(field, "required"))?;
    let at =
        gridloop_proto::from_ts(t).ok_or_else(|| ApiError::invalid(field, "not a valid time"))?;
    if at > now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
        return Err(ApiError::invalid(
            field,
            format!("more than {MAX_CLOCK_SKEW_MINUTES} minutes in the future"),
        ));
    }
    Ok(at)
}

/// A requested urgency; `None` when unspecified (the category's default applies).
pub fn urgency(field: &str, raw: i32) -> Result<Option<Urgency>, ApiError> {
    match Urgency::try_from(raw) {
        Ok(Urgency::Unspecified) => Ok(None),
        Ok(u) => Ok(Some(u)),
        Err(_) => Err(ApiError::invalid(field, "unknown urgency")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_and_mask() {
        let p = Phone::parse("p", "+86 138-1234-5678").unwrap();
        assert_eq!(p.as_str(), "13812345678");
        assert_eq!(p.masked(), "138****5678");
        let l = Phone::parse("p", "(0571)88001234").unwrap();
        assert_eq!(l.as_str(), "0571-88001234");
        assert_eq!(l.masked(), "0571****1234");
        let b = Phone::parse("p", "010-12345678").unwrap();
        assert_eq!(b.as_str(), "010-12345678");
        assert_eq!(b.masked(), "010****5678");
        assert!(!format!("{p:?}").contains("13812345678"));
        for bad in [
            "",
            "12812345678",
            "1381234567",
            "138123456789",
            "88001234",
            "abc",
            "0571-0800",
        ] {
            assert!(Phone::parse("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_mask() {
        assert_eq!(mask_name("张三华"), "张*华");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
    }

    #[test]
    fn urls_are_http_only_and_bounded() {
        assert!(url("u", "https://x.cn/a.jpg").is_ok());
        assert!(url("u", "ftp://x.cn/a").is_err());
        assert!(url("u", "javascript:alert(1)").is_err());
        assert!(url("u", "https://").is_err());
        let ten: Vec<String> = (0..10).map(|i| format!("https://x.cn/{i}")).collect();
        assert!(urls("photo_urls", &ten).is_err());
        assert!(urls("photo_urls", &ten[..9]).is_ok());
    }

    #[test]
    fn content_bounds() {
        assert!(content("c", "").is_err());
        assert!(content("c", "路灯坏了\n请修").is_ok());
        assert!(content("c", "bad\u{7}").is_err());
        assert!(content("c", &"字".repeat(2000)).is_ok());
        assert!(content("c", &"字".repeat(2001)).is_err());
    }
}
