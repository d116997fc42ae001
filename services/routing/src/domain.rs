//! Routing's small domain types and their parsing from the wire, done once at the edge.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{Calendar, SlaSpan};
use gridloop_platform::ApiError;
use gridloop_proto::v1::{GridLevel, Post, Urgency, WorkerRole};

mod stored;
pub use stored::{
    channel, dispatch_trigger, disposal_type, grid_level, role, task_kind, task_post, task_state,
    urgency,
};

/// Level of a grid; the discriminants are the wire values and the stored ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    County = 1,
    Town = 2,
    Village = 3,
    Group = 4,
}

impl Level {
    pub fn from_i32(v: i32) -> Option<Level> {
        match v {
            1 => Some(Level::County),
            2 => Some(Level::Town),
            3 => Some(Level::Village),
            4 => Some(Level::Group),
            _ => None,
        }
    }

    pub fn proto(self) -> GridLevel {
        match self {
            Level::County => GridLevel::County,
            Level::Town => GridLevel::Town,
            Level::Village => GridLevel::Village,
            Level::Group => GridLevel::Group,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::County => "COUNTY",
            Level::Town => "TOWN",
            Level::Village => "VILLAGE",
            Level::Group => "GROUP",
        }
    }
}

/// A post at a grid: A (primary) or B (backup).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PostKind {
    A = 1,
    B = 2,
}

impl PostKind {
    pub fn from_i32(v: i32) -> Option<PostKind> {
        match v {
            1 => Some(PostKind::A),
            2 => Some(PostKind::B),
            _ => None,
        }
    }

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            PostKind::A => "a",
            PostKind::B => "b",
        }
    }

    /// The post a stored name stands for; `None` for no post.
    pub fn parse(name: &str) -> Option<PostKind> {
        match name {
            "a" => Some(PostKind::A),
            "b" => Some(PostKind::B),
            _ => None,
        }
    }

    pub fn proto(post: Option<PostKind>) -> Post {
        match post {
            Some(PostKind::A) => Post::A,
            Some(PostKind::B) => Post::B,
            None => Post::Unspecified,
        }
    }
}

/// Worker role from its wire value; UNSPECIFIED is refused.
pub fn worker_role(v: i32) -> Option<WorkerRole> {
    match WorkerRole::try_from(v) {
        Ok(WorkerRole::Unspecified) | Err(_) => None,
        Ok(r) => Some(r),
    }
}

/// The SLA class a ticket's deadlines are computed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaClass {
    General,
    Urgent,
    Complex,
}

impl SlaClass {
    pub fn from_i32(v: i32) -> Option<SlaClass> {
        SlaClass::from_urgency(Urgency::try_from(v).ok()?)
    }

    pub fn from_urgency(u: Urgency) -> Option<SlaClass> {
        match u {
            Urgency::General => Some(SlaClass::General),
            Urgency::Urgent => Some(SlaClass::Urgent),
            Urgency::Complex => Some(SlaClass::Complex),
            Urgency::Unspecified => None,
        }
    }

    pub fn proto(self) -> Urgency {
        match self {
            SlaClass::General => Urgency::General,
            SlaClass::Urgent => Urgency::Urgent,
            SlaClass::Complex => Urgency::Complex,
        }
    }

    /// The class of a ticket: the rule's, unless the ticket's own urgency is higher.
    /// Urgent outranks complex (it must be handled at once), complex outranks general.
    pub fn effective(rule: SlaClass, ticket: Option<SlaClass>) -> SlaClass {
        let rank = |c: SlaClass| match c {
            SlaClass::General => 0,
            SlaClass::Complex => 1,
            SlaClass::Urgent => 2,
        };
        match ticket {
            Some(t) if rank(t) > rank(rule) => t,
            _ => rule,
        }
    }

    /// (respond, dispose) limits: urgent in clock hours, the others in working time.
    pub fn spans(self) -> (SlaSpan, SlaSpan) {
        match self {
            SlaClass::Urgent => (SlaSpan::Hours(1), SlaSpan::Hours(24)),
            SlaClass::General => (SlaSpan::WorkingHours(2), SlaSpan::WorkingDays(3)),
            SlaClass::Complex => (SlaSpan::WorkingHours(2), SlaSpan::WorkingDays(15)),
        }
    }

    pub fn respond_by(self, from: DateTime<Utc>, cal: &Calendar) -> DateTime<Utc> {
        self.spans().0.deadline_from(from, cal)
    }

    pub fn dispose_by(self, from: DateTime<Utc>, cal: &Calendar) -> DateTime<Utc> {
        self.spans().1.deadline_from(from, cal)
    }
}

/// A phone number as stored: digits only (a leading +86 dropped), 7 to 15 of them.
pub fn parse_phone(raw: &str) -> Result<String, ApiError> {
    let cleaned: String = raw
        .trim()
        .trim_start_matches("+86")
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if !(7..=15).contains(&cleaned.len()) || !cleaned.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "phone",
            "must be 7 to 15 digits (mobile or landline)",
        ));
    }
    Ok(cleaned)
}

/// `138****5678` for a mobile, `0571****1234` for a landline with area code.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    let keep_head = if digits.first() == Some(&'0') { 4 } else { 3 };
    if digits.len() < keep_head + 4 + 1 {
        let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
        return format!("****{tail}");
    }
    let head: String = digits[..keep_head].iter().collect();
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// A grid code: 1–32 ASCII letters, digits, `-` or `_`.
pub fn check_code(field: &str, code: &str) -> Result<(), ApiError> {
    let ok = !code.is_empty()
        && code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "must be 1-32 letters, digits, '-' or '_'",
        ))
    }
}

/// Offset paging: the token is the offset of the next page.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub offset: i64,
    pub size: i64,
}

impl Page {
    pub fn parse(size: i32, token: &str) -> Result<Page, ApiError> {
        let size = match size {
            s if s < 0 => return Err(ApiError::invalid("page_size", "must not be negative")),
            0 => 50,
            s => i64::from(s.min(500)),
        };
        let offset = if token.is_empty() {
            0
        } else {
            token
                .strip_prefix("o")
                .and_then(|t| t.parse::<i64>().ok())
                .filter(|o| *o >= 0)
                .ok_or_else(|| ApiError::invalid("page_token", "not a token of this list"))?
        };
        Ok(Page { offset, size })
    }

    /// Fetch one more row than the page to learn whether another page follows.
    pub fn limit(&self) -> i64 {
        self.size + 1
    }

    /// Trims the extra row and returns the next token.
    pub fn finish<T>(&self, rows: &mut Vec<T>) -> String {
        if rows.len() as i64 > self.size {
            rows.truncate(self.size as usize);
            format!("o{}", self.offset + self.size)
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("057188881234"), "0571****1234");
        assert_eq!(mask_phone("1234567"), "****67");
        assert_eq!(parse_phone("+86 138-1234-5678").unwrap(), "13812345678");
        assert!(parse_phone("12ab").is_err());
    }

    #[test]
    fn urgency_of_the_ticket_wins_when_higher() {
        use SlaClass::*;
        assert_eq!(SlaClass::effective(General, Some(Urgent)), Urgent);
        assert_eq!(SlaClass::effective(Complex, Some(General)), Complex);
        assert_eq!(SlaClass::effective(Urgent, Some(Complex)), Urgent);
        assert_eq!(SlaClass::effective(General, None), General);
    }
}
