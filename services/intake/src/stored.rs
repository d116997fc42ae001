//! The names intake stores its enums by (see [`gridloop_platform::stored`] for how, and for
//! the enums other services store too).

pub use gridloop_platform::stored::{
    ACTOR_ROLE, CHANNEL, DISPOSAL_TYPE, EXEMPTION_KIND, Names, RATING, URGENCY,
};

pub const HOUSEHOLD_FLAG: Names = Names(&[
    "unspecified",
    "elderly_living_alone",
    "disabled",
    "low_income",
    "left_behind_children",
    "special_care",
]);

#[cfg(test)]
mod tests {
    use gridloop_platform::stored::assert_proto_names;
    use gridloop_proto::v1::HouseholdFlag;

    use super::*;

    #[test]
    fn household_flags_are_the_protos() {
        assert_proto_names(&HOUSEHOLD_FLAG, "HOUSEHOLD_FLAG_", |i| {
            HouseholdFlag::try_from(i).ok().map(|f| f.as_str_name())
        });
    }
}
