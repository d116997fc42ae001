//! The names reports stores its enums by (see [`gridloop_platform::stored`] for how, and for
//! the enums other services store too).

pub use gridloop_platform::stored::CHANNEL;
/// A grid's level as routing's dispatch states it; `unspecified` if it did not.
pub use gridloop_platform::stored::GRID_LEVEL;

#[cfg(test)]
mod tests {
    use gridloop_platform::stored::assert_proto_names;
    use gridloop_proto::v1::GridLevel;

    use super::*;

    #[test]
    fn grid_levels_are_the_protos() {
        assert_proto_names(&GRID_LEVEL, "GRID_LEVEL_", |i| {
            GridLevel::try_from(i).ok().map(|l| l.as_str_name())
        });
    }
}
