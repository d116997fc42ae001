//! Integration tests of the reports service: a real service on a fresh database and stream,
//! fed other services' events, read over gRPC and over HTTP in a headless browser.

mod browser;
mod history;
mod migration;
mod naive;
mod queries;
mod support;
