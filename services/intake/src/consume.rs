//! Intake follows the loop: the consumer of every lifecycle event kind, its own `discovered`
//! and `merged` coming back included. Each event is checked with the lifecycle rules and
//! applied to intake's view ([`crate::loop_view`]) inside the inbox transaction, as the other
//! services do, so GetTicket and FindTickets answer from the ticket's current state.
//!
//! Two things in `tickets` follow the view, because the submission path decides on them:
//! - `closed` marks the ticket CLOSED there, so a later repeat is not merged into it.
//! - `merged` is the parent's side of a repeat too. An open parent counts it
//!   ([`LoopState::record_repeat`], as the tracker does). A parent that had already ended when
//!   the merge reached the stream — its `closed` came first, because intake merged on a view
//!   that lagged closure — cannot take it: the repeat is split off as a ticket of its own
//!   ([`crate::split`]), so nothing the citizen said is lost.

use gridloop_lifecycle::{Event, Kind, LoopState, TicketId, apply};
use gridloop_platform::Error;
use gridloop_platform::convert::state_pb;
use gridloop_platform::inbox::{Envelope, Handler, report_refusal};
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::{LifecycleState, TicketMerged};
use sqlx::PgConnection;

use crate::loop_view::{self, Loop};
use crate::submit::PRODUCER;
use crate::{loop_facts, split};

/// The kinds intake consumes: every kind but `violation` (the tracker's violations are its
/// own business and change no state).
pub const CONSUMES: [Kind; 13] = [
    Kind::Discovered,
    Kind::Merged,
    Kind::Dispatched,
    Kind::Accepted,
    Kind::Returned,
    Kind::Transferred,
    Kind::Unroutable,
    Kind::Disposed,
    Kind::FeedbackRecorded,
    Kind::Closed,
    Kind::Reopened,
    Kind::Overdue,
    Kind::Escalated,
];

/// The inbox handler of [`CONSUMES`].
pub struct Follow;

impl Handler for Follow {
    type Error = Error;

    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), Error> {
        let id = event.ticket_id;
        let body = &event.body;
        let at = event.occurred_or(gridloop_platform::clock::now());
        let existing = loop_view::lock(tx, id).await?;
        let mut view = match (loop_facts::step(body), existing) {
            (None, Some(view)) => view,
            (None, None) => {
                let why = "intake has no discovery of this ticket";
                report_refusal(tx, PRODUCER, event, LifecycleState::Unspecified, why).await?;
                return Ok(());
            }
            (Some(step), existing) => {
                let applied = match (&existing, body) {
                    (Some(v), _) => apply(&v.loop_state, &step),
                    // Intake sends no `discovered` for a merged submission: it was discovered
                    // and merged in one go.
                    (None, Body::Merged(_)) => {
                        LoopState::start(&Event::discovered()).and_then(|s| apply(&s, &step))
                    }
                    (None, _) => LoopState::start(&step),
                };
                match applied {
                    Ok(next) => {
                        let mut view = existing.unwrap_or_else(|| Loop::new(id, next.clone()));
                        view.loop_state = next;
                        view
                    }
                    Err(violation) => {
                        let from = existing
                            .as_ref()
                            .map(|v| state_pb(&v.loop_state.state))
                            .unwrap_or(LifecycleState::Unspecified);
                        report_refusal(tx, PRODUCER, event, from, &violation.to_string()).await?;
                        return Ok(());
                    }
                }
            }
        };
        loop_facts::take(&mut view, body, at);
        loop_view::save(tx, &view).await?;
        match body {
            Body::Closed(_) => {
                sqlx::query(
                    "UPDATE tickets SET state = 'CLOSED' WHERE ticket_id = $1 \
                     AND state = 'DISCOVERED'",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            Body::Merged(m) => parent_side(tx, event, id, m).await?,
            _ => {}
        }
        tracing::debug!(%id, kind = body.kind(), state = view.loop_state.state.name(), "view updated");
        Ok(())
    }
}

/// The parent's side of a merge: one more repeat while it is open; a split otherwise.
async fn parent_side(
    tx: &mut PgConnection,
    event: &Envelope,
    child: TicketId,
    m: &TicketMerged,
) -> Result<(), Error> {
    let Ok(parent_id) = TicketId::parse(&m.parent_ticket_id) else {
        tracing::warn!(%child, parent = %m.parent_ticket_id, "merge names a parent that is not a UUID");
        return Ok(());
    };
    let Some(mut parent) = loop_view::lock(tx, parent_id).await? else {
        // Intake's own `discovered` of the parent went out before the merge; it only lags.
        tracing::warn!(%child, %parent_id, "merge into a ticket not in intake's view; its count is not taken");
        return Ok(());
    };
    match parent.loop_state.record_repeat() {
        Ok(next) => {
            parent.loop_state = next;
            loop_view::save(tx, &parent).await
        }
        Err(_) => split::split_off(tx, child, parent_id, &event.trace_context).await,
    }
}
