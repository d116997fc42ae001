//! The closing half of the loop against real PostgreSQL and NATS: each test starts the real
//! closure service on its own database and stream, feeds it routing's events and calls it
//! over gRPC.

mod callbacks;
mod ledger;
mod loop_path;
mod migration;
mod redelivery;
mod refusals;
mod support;
