//! Bearer-token authentication. Callers send `authorization: Bearer <JWT>` signed with HS256
//! and the configured secret; claims are `sub`, `role`, `grids` (the grid codes the caller's
//! scope covers) and `exp`. The interceptor verifies the token and puts a typed [`Caller`] in
//! the request; handlers check roles with [`Caller::require`].
//!
//! Only HS256 is accepted: the algorithm in the token's header is checked, never trusted.

use std::sync::Arc;

use gridloop_client::token::{self as jwt, TokenError};
use gridloop_lifecycle::GridCode;
use tonic::{Request, Status};

use crate::ApiError;

/// The claims and roles are the client crate's, so what a client mints is what this verifies.
pub use gridloop_client::token::{Claims, Role};

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub role: Role,
    pub grids: Vec<String>,
}

impl Caller {
    /// The caller the interceptor attached to `req`.
    pub fn of<T>(req: &Request<T>) -> Result<&Caller, ApiError> {
        req.extensions()
            .get::<Caller>()
            .ok_or_else(|| ApiError::Unauthenticated("no verified caller".into()))
    }

    /// Whether `grid` lies in the caller's scope: the subtree of one of the grids their token
    /// names (see [`in_scope`]).
    pub fn covers(&self, grid: &str) -> bool {
        in_scope(grid, &self.grids)
    }

    /// `PERMISSION_DENIED` unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::PermissionDenied(format!(
                "role {} may not do this (allowed: {})",
                self.role.as_str(),
                allowed.join(", ")
            )))
        }
    }
}

/// Whether `grid` lies in the subtree of one of `roots`, by [`GridCode::covers`]: grid codes
/// are administrative codes in which a child's code extends its parent's, so a subtree is a
/// code prefix; an empty root covers nothing. Every service's scope check is this one (and
/// [`scope_sql!`](crate::scope_sql) where a query filters by scope).
pub fn in_scope(grid: &str, roots: &[String]) -> bool {
    roots
        .iter()
        .any(|r| GridCode::from(r.as_str()).covers(grid))
}

/// [`in_scope`] in SQL, for queries that filter rows by the caller's scope: the condition that
/// the text column `$column` lies in the subtree of one of the roots in the `text[]` parameter
/// `$roots` (e.g. `scope_sql!("grid_code", "$1")`), the empty root covering nothing as in
/// [`GridCode::covers`]. A string literal, so it joins `concat!` and static queries.
#[macro_export]
macro_rules! scope_sql {
    ($column:literal, $roots:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM unnest(",
            $roots,
            "::text[]) AS scope_root(code) WHERE scope_root.code <> '' AND starts_with(",
            $column,
            ", scope_root.code))"
        )
    };
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    /// Malformed, another algorithm, a bad signature or expired.
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the server has no token secret configured")]
    NoSecret,
}

/// Signs and verifies tokens with one HS256 secret.
#[derive(Clone)]
pub struct Authenticator {
    key: Option<Arc<[u8]>>,
}

impl Authenticator {
    pub fn new(secret: Option<&str>) -> Self {
        Self {
            key: secret.map(|s| Arc::from(s.as_bytes())),
        }
    }

    fn key(&self) -> Result<&[u8], AuthError> {
        self.key.as_deref().ok_or(AuthError::NoSecret)
    }

    /// A signed token for `claims` (tests and benches call the services with these).
    pub fn mint(&self, claims: &Claims) -> Result<String, AuthError> {
        Ok(jwt::mint(self.key()?, claims)?)
    }

    /// Verifies signature, algorithm and expiry at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Caller, AuthError> {
        let claims = jwt::verify(self.key()?, token, now)?;
        Ok(Caller {
            subject: claims.sub,
            role: claims.role,
            grids: claims.grids,
        })
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let token = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated(AuthError::Missing.to_string()))?;
        let now = crate::clock::now().timestamp();
        let caller = self
            .verify(token.trim(), now)
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        req.extensions_mut().insert(caller);
        Ok(req)
    }
}

/// An interceptor that verifies the token and also admits only `roles`: for services whose
/// every call belongs to the same roles (e.g. the device registry's administrators).
#[derive(Clone)]
pub struct RoleGate {
    auth: Authenticator,
    roles: Arc<[Role]>,
}

impl Authenticator {
    pub fn requiring(&self, roles: &[Role]) -> RoleGate {
        RoleGate {
            auth: self.clone(),
            roles: Arc::from(roles),
        }
    }
}

impl tonic::service::Interceptor for RoleGate {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let req = tonic::service::Interceptor::call(&mut self.auth, req)?;
        Caller::of(&req)?.require(&self.roles)?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_a_code_prefix() {
        let roots = vec!["341504100".to_string()];
        assert!(in_scope("341504100001", &roots));
        assert!(!in_scope("341504200001", &roots));
        assert!(!in_scope("341504100001", &[String::new()]));
        assert!(!in_scope("", &[String::new()]));
        assert!(!in_scope("341504100001", &[]));
    }

    #[test]
    fn the_sql_scope_guards_the_empty_root_too() {
        assert_eq!(
            crate::scope_sql!("grid_code", "$1"),
            "EXISTS (SELECT 1 FROM unnest($1::text[]) AS scope_root(code) \
             WHERE scope_root.code <> '' AND starts_with(grid_code, scope_root.code))"
        );
    }

    fn claims(role: Role, exp: i64) -> Claims {
        Claims {
            sub: "op-7".into(),
            role,
            grids: vec!["341504100".into()],
            exp,
            iat: 0,
        }
    }

    #[test]
    fn verifies_into_a_caller() {
        // Encoding and each refusal are tested beside the token code in the client crate.
        let auth = Authenticator::new(Some("s3cret"));
        let t = auth.mint(&claims(Role::Operator, 2_000)).unwrap();
        let caller = auth.verify(&t, 1_000).unwrap();
        assert_eq!(caller.role, Role::Operator);
        assert_eq!(caller.grids, vec!["341504100".to_string()]);

        assert_eq!(
            auth.verify(&t, 2_000),
            Err(AuthError::Token(TokenError::Expired))
        );
        assert_eq!(
            Authenticator::new(None).verify(&t, 1_000),
            Err(AuthError::NoSecret)
        );
    }

    #[test]
    fn require_names_the_role() {
        let c = Caller {
            subject: "w".into(),
            role: Role::Worker,
            grids: vec![],
        };
        assert!(c.require(&[Role::Worker, Role::Supervisor]).is_ok());
        let err = c.require(&[Role::Supervisor]).unwrap_err();
        assert!(err.to_string().contains("worker"));
        assert_eq!(Role::parse("leader"), Some(Role::Leader));
        assert_eq!(Role::parse("boss"), None);
    }
}
