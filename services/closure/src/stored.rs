//! The names closure stores its own enums by (see [`gridloop_platform::stored`] for how, and
//! for the enums other services store too).

pub use gridloop_platform::stored::{
    ACTOR_ROLE, CHANNEL, DISPOSAL_TYPE, EXEMPTION_KIND, Names, RATING,
};

pub const FEEDBACK_SOURCE: Names = Names(&["unspecified", "citizen", "callback"]);
