//! The names closure stores its own enums by (see [`gridloop_platform::stored`] for how, and
//! for the enums other services store too).

pub use gridloop_platform::stored::{ACTOR_ROLE, DISPOSAL_TYPE, EXEMPTION_KIND, Names, RATING};

pub const CHANNEL: Names = Names(&[
    "unspecified",
    "hotline_12345",
    "one_key_call",
    "app",
    "mailbox",
    "web",
    "patrol",
]);
pub const FEEDBACK_SOURCE: Names = Names(&["unspecified", "citizen", "callback"]);
