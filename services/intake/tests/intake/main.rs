//! Intake's integration tests: the real service on port 0 over a fresh database and stream.

mod batches;
mod channels;
mod devices;
mod follow;
mod idempotency;
mod merge;
mod migration;
mod nul;
mod support;
mod validation;
