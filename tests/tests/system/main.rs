//! Whole-system tests: all five services in-process against the local PostgreSQL and NATS,
//! one fresh database and stream per test. Each scenario drives tickets through the real RPCs
//! and checks where they end up in every service: routing's task, the tracker's timeline and
//! status, closure's ledger and the reports' figures — and that no event on the stream
//! carries a phone number or a name.

mod after_close;
mod channels;
mod checks;
mod duty;
mod merged;
mod overdue;
mod returned;
mod rework;
mod transfer;
mod verify;
