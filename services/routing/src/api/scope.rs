//! Supervisors' scope on the admin writes: a supervisor (token `grids` = their subtree roots)
//! writes only grids inside their subtrees; admins are unrestricted. Every check runs in the
//! write's transaction before it commits, so a refusal writes nothing.

use gridloop_platform::ApiError;
use gridloop_platform::auth::{Caller, Role};
use gridloop_proto::v1::Grid;
use sqlx::PgConnection;
use uuid::Uuid;

use super::require_scope;
use crate::grids::{self, GridRow};
use crate::workers;

/// UpsertGrid, before the write: a grid that exists already must stand in the scope now (or a
/// supervisor could pull a grid in from elsewhere by naming a parent of their own).
pub(super) async fn grids_before(
    tx: &mut PgConnection,
    caller: &Caller,
    batch: &[Grid],
) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    for g in batch {
        if grids::get(tx, &g.code).await?.is_some() {
            require_scope(tx, caller, &g.code).await?;
        }
    }
    Ok(())
}

/// UpsertGrid, after the write in the same transaction: each grid and its parent lie in the
/// scope (so a supervisor may not hang a grid above or beside their subtree roots).
pub(super) async fn grids_after(
    tx: &mut PgConnection,
    caller: &Caller,
    rows: &[GridRow],
) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    for row in rows {
        require_scope(tx, caller, &row.code).await?;
        if let Some(parent) = &row.parent_code {
            require_scope(tx, caller, parent).await?;
        }
    }
    Ok(())
}

/// The grids a worker stands at now (posts, chief grid) all lie in the scope. With
/// `need_one`, a worker at no grid at all is refused too (only an admin manages them).
pub(super) async fn worker(
    tx: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    need_one: bool,
) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    let mut at: Vec<String> = workers::posts_of(tx, id)
        .await?
        .into_iter()
        .map(|p| p.grid_code)
        .collect();
    if let Some(chief) = workers::get(tx, id).await?.and_then(|w| w.chief_of_grid) {
        at.push(chief);
    }
    if need_one && at.is_empty() {
        return Err(ApiError::PermissionDenied(format!(
            "worker {id} holds no post in your scope"
        )));
    }
    for g in &at {
        require_scope(tx, caller, g).await?;
    }
    Ok(())
}

/// Routing rules are county-wide policy: an admin, or a supervisor whose scope covers every
/// county root (a supervisor of the whole county). Without any county grid, admins only.
pub(super) async fn county(tx: &mut PgConnection, caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    let roots: Vec<String> =
        sqlx::query_scalar("SELECT code FROM grids WHERE parent_code IS NULL ORDER BY code")
            .fetch_all(&mut *tx)
            .await?;
    if roots.is_empty() {
        return Err(ApiError::PermissionDenied(
            "routing rules are county-wide policy: no county grid yet, admins only".into(),
        ));
    }
    if let Some(root) = roots.iter().find(|r| !caller.grids.contains(r)) {
        return Err(ApiError::PermissionDenied(format!(
            "grid {root} is outside your scope: routing rules are county-wide policy"
        )));
    }
    Ok(())
}
