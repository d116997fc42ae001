//! The names services store proto enums by, where a service keeps each value as its wire
//! number in memory: these lists, in wire order (a name's place is its number), map it at the
//! column, so that a renumbered proto never changes what a stored row means. The enums more
//! than one service stores are here; a service's own stay with it (closure's `stored.rs`).

/// One enum's stored names in wire order, the first for 0 (nobody gave one).
pub struct Names(pub &'static [&'static str]);

impl Names {
    /// The stored name; a number no name stands for (a newer proto) is the first name.
    pub fn name(&self, value: i32) -> &'static str {
        usize::try_from(value)
            .ok()
            .and_then(|i| self.0.get(i).copied())
            .unwrap_or(self.0[0])
    }

    pub fn parse(&self, name: &str) -> i32 {
        self.0
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| i as i32)
    }
}

pub const DISPOSAL_TYPE: Names = Names(&["unspecified", "resolved", "explained", "unresolvable"]);
pub const RATING: Names = Names(&[
    "unspecified",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
]);
pub const EXEMPTION_KIND: Names = Names(&[
    "unspecified",
    "citizen_unreachable",
    "unresolvable_confirmed",
]);
pub const ACTOR_ROLE: Names = Names(&[
    "unspecified",
    "operator",
    "worker",
    "supervisor",
    "leader",
    "admin",
    "service",
    "citizen",
]);
