//! Integration tests of the routing service: the real service on port 0 against its own
//! PostgreSQL database and JetStream stream; every published event read back from the stream.

mod admin;
mod contention;
mod dispatch;
mod disposal;
mod index;
mod migration;
mod scope;
mod support;
mod tasks;
mod waiting;
