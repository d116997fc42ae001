//! The names services store proto enums by, where a service keeps each value as its wire
//! number in memory: these lists, in wire order (a name's place is its number), map it at the
//! column, so that a renumbered proto never changes what a stored row means. The enums more
//! than one service stores are here; a service's own stay with it (closure's `stored.rs`).
//! A service whose column stores a value differently (no `unspecified`, or `none` for 0) keeps
//! that difference in a wrapper over the list, not in a list of its own.

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

    /// The proto enum a stored name stands for; its default (UNSPECIFIED) for a name this
    /// list does not hold or a number the proto does not know.
    pub fn parse_enum<E: TryFrom<i32> + Default>(&self, name: &str) -> E {
        E::try_from(self.parse(name)).unwrap_or_default()
    }

    pub fn parse(&self, name: &str) -> i32 {
        self.0
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| i as i32)
    }

    /// The stored names of a list of values (an array column), in order.
    pub fn names(&self, values: impl IntoIterator<Item = i32>) -> Vec<&'static str> {
        values.into_iter().map(|v| self.name(v)).collect()
    }

    pub fn parse_all(&self, names: &[String]) -> Vec<i32> {
        names.iter().map(|n| self.parse(n)).collect()
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
    "system",
]);
pub const CHANNEL: Names = Names(&[
    "unspecified",
    "hotline_12345",
    "one_key_call",
    "app",
    "mailbox",
    "web",
    "patrol",
]);
pub const URGENCY: Names = Names(&["unspecified", "general", "urgent", "complex"]);
/// A grid's level, county first (a grid's parent is the name before its own). Reports stores
/// `unspecified` for a dispatch that stated none; routing and the tracker never store it (the
/// tracker stores `none` for 0 instead).
pub const GRID_LEVEL: Names = Names(&["unspecified", "county", "town", "village", "group"]);

/// Panics unless `names` are the value names of the proto enum `proto` gives by number,
/// lowercase and without `prefix`, in wire order, and all of them: a list out of step with
/// its proto would store a value under another's name. For each service's lists' tests.
#[cfg(any(test, feature = "testing"))]
pub fn assert_proto_names(
    names: &Names,
    prefix: &str,
    proto: impl Fn(i32) -> Option<&'static str>,
) {
    for (i, name) in names.0.iter().enumerate() {
        let wire = proto(i as i32).unwrap_or_else(|| panic!("{prefix}: no value {i}"));
        assert_eq!(
            wire.strip_prefix(prefix).map(str::to_lowercase).as_deref(),
            Some(*name)
        );
    }
    assert_eq!(
        proto(names.0.len() as i32),
        None,
        "{prefix}: a value not listed"
    );
}

#[cfg(test)]
mod tests {
    use gridloop_proto::v1 as pb;

    use super::*;

    #[test]
    fn names_are_the_protos_in_wire_order() {
        assert_proto_names(&DISPOSAL_TYPE, "DISPOSAL_TYPE_", |i| {
            pb::DisposalType::try_from(i).ok().map(|v| v.as_str_name())
        });
        assert_proto_names(&RATING, "RATING_", |i| {
            pb::Rating::try_from(i).ok().map(|v| v.as_str_name())
        });
        assert_proto_names(&EXEMPTION_KIND, "EXEMPTION_KIND_", |i| {
            pb::ExemptionKind::try_from(i).ok().map(|v| v.as_str_name())
        });
        assert_proto_names(&ACTOR_ROLE, "ACTOR_ROLE_", |i| {
            pb::ActorRole::try_from(i).ok().map(|v| v.as_str_name())
        });
        assert_proto_names(&CHANNEL, "CHANNEL_", |i| {
            pb::Channel::try_from(i).ok().map(|v| v.as_str_name())
        });
        assert_proto_names(&URGENCY, "URGENCY_", |i| {
            pb::Urgency::try_from(i).ok().map(|v| v.as_str_name())
        });
        assert_proto_names(&GRID_LEVEL, "GRID_LEVEL_", |i| {
            pb::GridLevel::try_from(i).ok().map(|v| v.as_str_name())
        });
    }
}
