//! The tracker against real PostgreSQL and NATS: each test starts the real service on its own
//! database and stream (sometimes two replicas, sometimes one after another), feeds it the
//! other services' events and reads what it answers and publishes.

mod api;
mod deadlines;
mod loop_path;
mod migration;
mod minutes;
mod overdue;
mod repeats;
mod support;
mod violations;
