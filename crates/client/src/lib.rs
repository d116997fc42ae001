//! What a caller of gridloop's services needs, and nothing of the server stack:
//!
//! - [`connect`]: lazy channels and typed tonic clients for the five services, addressed by
//!   `GRIDLOOP_<SERVICE>_ADDR` (the local stack's ports by default);
//! - [`token`]: the HS256 bearer tokens the services verify — the claims, minting and
//!   verification; the platform's interceptor verifies with this same code;
//! - [`trace`]: every call a CLIENT span by OpenTelemetry's RPC conventions, its W3C
//!   `traceparent` sent so the service's span is its child (`TRACEPARENT` as the parent of
//!   calls made outside any trace);
//! - [`retry`]: one retry helper with bounded exponential backoff;
//! - [`pace`]: the delays between attempts, for that helper and for the platform's loops;
//! - [`requests`]: the loop's requests (submissions and every step), built once.
//!
//! `gridloopctl`, the demo and the whole-system tests call the services through this crate;
//! services themselves stand on `gridloop-platform`, which re-exports the token types from here.

pub mod connect;
pub mod pace;
pub mod requests;
pub mod retry;
pub mod token;
pub mod trace;

pub use connect::{Attach, Channels, Connection, Connector, Service};
pub use retry::Backoff;
pub use token::{Claims, Role, TokenError};
