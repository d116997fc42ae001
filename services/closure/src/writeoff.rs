//! 销号: the ledger entry and the `closed` event, written together in the closing step's
//! transaction.

use gridloop_lifecycle::{LoopState, Rating};
use gridloop_platform::ApiError;
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;
use pb::ticket_event::Body;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{self, Exemption, rating_pb};
use crate::flow::{count, publish};
use crate::store::{self, LedgerRow, Ticket};

/// On what the write-off rests.
pub enum LedgerBasis {
    Rating(Rating),
    Exemption { ex: Exemption, approved_by: String },
}

/// Appends the ledger entry and enqueues `closed` with it, in the caller's transaction.
/// `t` is the ticket before closing (it still names the holding grid).
pub async fn write_off(
    tx: &mut PgConnection,
    t: &Ticket,
    after: &LoopState,
    basis: LedgerBasis,
) -> Result<LedgerRow, ApiError> {
    let closed_at = gridloop_platform::clock::now();
    let grid = t
        .loop_state
        .state
        .holder()
        .map(|h| h.grid.clone())
        .unwrap_or_else(|| t.grid_code.clone());
    // Without a deadline from routing there is nothing to be late against.
    let on_time = t.dispose_by.is_none_or(|d| closed_at <= d);
    let mut row = LedgerRow {
        entry_id: Uuid::now_v7(),
        ticket_id: t.id,
        grid_code: grid,
        worker_id: t.last_disposer.clone(),
        closed_at,
        basis: "rating".into(),
        rating: None,
        exemption_kind: None,
        exemption_reason: None,
        approved_by: None,
        rework_count: count(after.rework_count),
        on_time,
        dispose_by: t.dispose_by,
        category_code: t.category_code.clone(),
        category_name: t.category_name.clone(),
        channel: t.channel,
    };
    let event_basis = match basis {
        LedgerBasis::Rating(r) => {
            row.rating = Some(rating_pb(r) as i32);
            pb::ticket_closed::Basis::Rating(rating_pb(r) as i32)
        }
        LedgerBasis::Exemption { ex, approved_by } => {
            let kind = domain::exemption_kind_pb(ex.kind) as i32;
            row.basis = "exemption".into();
            row.exemption_kind = Some(kind);
            row.exemption_reason = Some(ex.reason.clone());
            row.approved_by = Some(approved_by.clone());
            pb::ticket_closed::Basis::Exemption(pb::Exemption {
                kind,
                reason: ex.reason,
                approved_by: Some(pb::Actor {
                    id: approved_by,
                    role: pb::ActorRole::Supervisor as i32,
                }),
            })
        }
    };
    store::insert_ledger(tx, &row).await?;
    publish(
        tx,
        t.id,
        Body::Closed(pb::TicketClosed {
            basis: Some(event_basis),
            rework_count: after.rework_count,
            on_time,
            grid_code: row.grid_code.clone(),
            worker_id: row.worker_id.clone(),
            ledger_entry_id: row.entry_id.to_string(),
            dispose_by: row.dispose_by.map(ts),
        }),
    )
    .await?;
    Ok(row)
}
