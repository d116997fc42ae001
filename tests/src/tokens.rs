//! Bearer tokens for every role, signed with the test secret the services verify with.

use gridloop_client::connect;
use gridloop_client::token::{self as jwt, Claims, Role};
use gridloop_platform::testing::TEST_JWT_SECRET;
use tonic::Request;

use crate::county::COUNTY;

/// A token for `role` with subject `sub` and grid scope `grids`, valid for an hour.
pub fn token(role: Role, sub: &str, grids: &[&str]) -> String {
    let grids: Vec<String> = grids.iter().map(|g| g.to_string()).collect();
    jwt::mint(
        TEST_JWT_SECRET.as_bytes(),
        &Claims::new(role, sub, &grids, 3600),
    )
    .expect("mint a token")
}

/// `msg` with `authorization: Bearer <token>`.
pub fn req<T>(msg: T, token: &str) -> Request<T> {
    connect::request(msg, token)
}

pub fn admin() -> String {
    token(Role::Admin, "admin-1", &[])
}

/// The 12345 operator `op-1`.
pub fn operator() -> String {
    token(Role::Operator, OPERATOR_ID, &[])
}

pub const OPERATOR_ID: &str = "op-1";

/// A supervisor of the whole county.
pub fn supervisor() -> String {
    token(Role::Supervisor, "sup-1", &[COUNTY])
}

/// A leader of the whole county.
pub fn leader() -> String {
    token(Role::Leader, "leader-1", &[])
}

/// Another system: the device gateway or the app backend.
pub fn service() -> String {
    token(Role::Service, "app-backend", &[])
}

/// The grid worker `worker_id` (routing's id), covering `grids` (their posts).
pub fn worker(worker_id: &str, grids: &[&str]) -> String {
    token(Role::Worker, worker_id, grids)
}

/// The citizen whose key is `citizen_key`.
pub fn citizen(citizen_key: &str) -> String {
    token(Role::Citizen, citizen_key, &[])
}
