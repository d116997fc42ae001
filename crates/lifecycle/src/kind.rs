//! The kinds of ticket event, one per `tickets.<kind>` subject: what a service declares it
//! consumes, and what a subject is named after.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Event;

/// One kind of ticket event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Discovered,
    Merged,
    Dispatched,
    Accepted,
    Returned,
    Transferred,
    Unroutable,
    Disposed,
    FeedbackRecorded,
    Closed,
    Reopened,
    Overdue,
    Escalated,
    Violation,
}

impl Kind {
    /// Every kind, in loop order (the order of [`Event::KINDS`]).
    pub const ALL: [Kind; 14] = [
        Kind::Discovered,
        Kind::Merged,
        Kind::Dispatched,
        Kind::Accepted,
        Kind::Returned,
        Kind::Transferred,
        Kind::Unroutable,
        Kind::Disposed,
        Kind::FeedbackRecorded,
        Kind::Closed,
        Kind::Reopened,
        Kind::Overdue,
        Kind::Escalated,
        Kind::Violation,
    ];

    /// The subject suffix, as [`Event::kind`] names it.
    pub const fn as_str(self) -> &'static str {
        Event::KINDS[self as usize]
    }

    /// The subject names of `kinds`, in a `const`: what a consumer's declaration hands to the
    /// code that reads subjects.
    pub const fn names<const N: usize>(kinds: [Kind; N]) -> [&'static str; N] {
        let mut names = [""; N];
        let mut i = 0;
        while i < N {
            names[i] = kinds[i].as_str();
            i += 1;
        }
        names
    }

    /// The kind named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_event_kinds() {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, Event::KINDS);
        assert_eq!(
            Kind::names([Kind::Closed, Kind::Merged]),
            ["closed", "merged"]
        );
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
    }
}
