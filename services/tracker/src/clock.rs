//! The tracker's clocks are the platform's ([`gridloop_platform::clock`]): its SLA timers,
//! gauges and queries read the `Arc<dyn Clock>` it is built with, so tests move the tracker's
//! time past a deadline instead of waiting hours for it.

pub use gridloop_platform::clock::{Clock, ManualClock, SystemClock};
