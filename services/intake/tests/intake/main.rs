//! Intake's integration tests: the real service on port 0 over a fresh database and stream.

mod batches;
mod channels;
mod devices;
mod idempotency;
mod merge;
mod support;
mod validation;
