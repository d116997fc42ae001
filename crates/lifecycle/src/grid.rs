//! Grid codes. A grid's code is an administrative code in which a child's code extends its
//! parent's: county 6 characters, town 9, village 12, group longer (15 in the county's own
//! data). So a code knows its level and its parent, and a subtree is a code prefix — which is
//! what every scope check means by "a grid the caller's token covers".

use std::fmt;

use serde::{Deserialize, Serialize};

/// The level of a grid in the tree (县/区 → 镇/街道 → 村/社区 → 组/网格).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GridLevel {
    County,
    Town,
    Village,
    Group,
}

impl GridLevel {
    /// The length of a code of this level; `None` for a group, whose codes have no fixed
    /// length.
    pub fn code_len(self) -> Option<usize> {
        match self {
            GridLevel::County => Some(6),
            GridLevel::Town => Some(9),
            GridLevel::Village => Some(12),
            GridLevel::Group => None,
        }
    }

    /// The level above; `None` at the county.
    pub fn parent(self) -> Option<GridLevel> {
        match self {
            GridLevel::County => None,
            GridLevel::Town => Some(GridLevel::County),
            GridLevel::Village => Some(GridLevel::Town),
            GridLevel::Group => Some(GridLevel::Village),
        }
    }
}

/// A grid's code. The empty code names no grid: it has no level and covers nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
pub struct GridCode(String);

impl GridCode {
    pub fn new(code: impl Into<String>) -> GridCode {
        GridCode(code.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The level the code's length says (up to 6 characters a county, 9 a town, 12 a village,
    /// longer a group); `None` for the empty code.
    pub fn level(&self) -> Option<GridLevel> {
        Some(match self.0.chars().count() {
            0 => return None,
            1..=6 => GridLevel::County,
            7..=9 => GridLevel::Town,
            10..=12 => GridLevel::Village,
            _ => GridLevel::Group,
        })
    }

    /// The parent grid's code: this code cut to the length of the level above; `None` at the
    /// county.
    pub fn parent(&self) -> Option<GridCode> {
        let len = self.level()?.parent()?.code_len()?;
        Some(GridCode(self.0.chars().take(len).collect()))
    }

    /// Whether `other` is this grid or lies below it. The empty code covers nothing, so a
    /// token that names no grid (or the empty one) is in no scope.
    pub fn covers(&self, other: impl AsRef<str>) -> bool {
        !self.0.is_empty() && other.as_ref().starts_with(self.0.as_str())
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for GridCode {
    fn from(code: String) -> GridCode {
        GridCode(code)
    }
}

impl From<&str> for GridCode {
    fn from(code: &str) -> GridCode {
        GridCode(code.to_owned())
    }
}

impl From<GridCode> for String {
    fn from(code: GridCode) -> String {
        code.0
    }
}

impl AsRef<str> for GridCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for GridCode {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_knows_its_level_and_parent() {
        let group = GridCode::from("341504100001003");
        assert_eq!(group.level(), Some(GridLevel::Group));
        let village = group.parent().unwrap();
        assert_eq!(village.as_str(), "341504100001");
        assert_eq!(village.level(), Some(GridLevel::Village));
        let town = village.parent().unwrap();
        assert_eq!(town.as_str(), "341504100");
        let county = town.parent().unwrap();
        assert_eq!(county.as_str(), "341504");
        assert_eq!(county.level(), Some(GridLevel::County));
        assert_eq!(county.parent(), None);
        assert_eq!(GridCode::default().level(), None);
    }

    #[test]
    fn a_code_covers_its_subtree_and_the_empty_code_nothing() {
        let town = GridCode::from("341504100");
        assert!(town.covers("341504100"));
        assert!(town.covers("341504100001"));
        assert!(!town.covers("341504200001"));
        assert!(!town.covers("341504"));
        assert!(!GridCode::default().covers("341504100001"));
        assert!(!GridCode::default().covers(""));
    }
}
