//! Closure's view of each ticket, kept from routing's events: who holds it, whether they
//! accepted it, the dispose deadline, the citizen key, and the disposals. 处置 is decided by
//! routing with the rest of the worker's task; closure takes it from `disposed` in stream
//! order, after the dispatch and acceptance it follows, and from then on the ticket is its to
//! close. Each event is checked with the lifecycle rules like any other step; the inbox makes
//! a redelivered event a no-op.

use gridloop_lifecycle::{LoopState, TicketId, apply};
use gridloop_platform::inbox::{Envelope, Handler, report_refusal};
use gridloop_proto::from_ts;
use gridloop_proto::v1::{LifecycleState, TicketDispatched, TicketDisposed, ticket_event::Body};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::state_pb;
use crate::error::Error;
use crate::flow::PRODUCER;
use crate::store::{self, DisposalRow, Ticket};

/// The inbox handler for `dispatched`, `accepted`, `returned`, `transferred` and `disposed`.
pub struct View;

impl Handler for View {
    type Error = Error;

    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), Error> {
        let id = event.ticket_id;
        // Only the kinds closure consumes arrive here (`CONSUMES`), each a lifecycle step.
        let Some(step) = event.step() else {
            return Ok(());
        };
        let existing = store::lock(tx, id).await?;
        let mut ticket = match (existing, &event.body) {
            (Some(t), _) => t,
            // Closure does not consume `discovered`: a ticket enters its view with its first
            // dispatch, from the state a discovered ticket has.
            (None, Body::Dispatched(d)) => first_dispatch(id, d),
            (None, _) => {
                // Events are applied in stream order, so this is a ticket whose dispatch never
                // was: reported, never dropped silently.
                report_refusal(
                    tx,
                    PRODUCER,
                    event,
                    LifecycleState::Unspecified,
                    "closure has no dispatch of this ticket",
                )
                .await?;
                return Ok(());
            }
        };
        let next = match apply(&ticket.loop_state, &step) {
            Ok(next) => next,
            Err(violation) => {
                report_refusal(
                    tx,
                    PRODUCER,
                    event,
                    state_pb(&ticket.loop_state.state),
                    &violation.to_string(),
                )
                .await?;
                return Ok(());
            }
        };
        ticket.loop_state = next;
        match &event.body {
            Body::Dispatched(d) => take_dispatch(&mut ticket, d),
            Body::Transferred(t) => ticket.grid_code = t.to_grid_code.clone(),
            Body::Disposed(d) => {
                // The ledger names the last disposer, and a new disposal round starts the
                // callback attempts afresh.
                ticket.last_disposer = d.worker_id.clone();
                ticket.last_unreached_at = None;
            }
            _ => {}
        }
        store::save(tx, &ticket).await?;
        if let Body::Disposed(d) = &event.body {
            store::insert_disposal(tx, &disposal_row(&ticket, event, d)).await?;
        }
        tracing::debug!(%id, kind = step.kind(), state = ticket.loop_state.state.name(), "view updated");
        Ok(())
    }
}

/// Closure's record of a disposal routing took, under routing's disposal id (the event id for
/// an event without one), so both services name the same disposal.
fn disposal_row(t: &Ticket, event: &Envelope, d: &TicketDisposed) -> DisposalRow {
    let id = Uuid::parse_str(&d.disposal_id).unwrap_or(event.event_id);
    DisposalRow {
        disposal_id: id,
        ticket_id: t.id,
        worker_id: d.worker_id.clone(),
        grid_code: d.grid_code.clone(),
        disposal_type: d.disposal_type,
        result: d.result.clone(),
        evidence_urls: d.evidence_urls.clone(),
        disposed_at: d
            .disposed_at
            .as_ref()
            .and_then(from_ts)
            .unwrap_or_else(|| event.occurred_or(gridloop_platform::clock::now())),
        unresolvable_reason: d.unresolvable_reason.clone(),
        rework_count: i32::try_from(t.loop_state.rework_count).unwrap_or(i32::MAX),
    }
}

fn first_dispatch(id: TicketId, d: &TicketDispatched) -> Ticket {
    Ticket {
        id,
        loop_state: LoopState::new(),
        grid_code: d.grid_code.clone(),
        citizen_key: String::new(),
        dispose_by: None,
        category_code: String::new(),
        category_name: String::new(),
        channel: 0,
        last_disposer: String::new(),
        last_unreached_at: None,
    }
}

/// What a dispatch tells closure. `dispose_by` is set at the first dispatch and kept.
fn take_dispatch(t: &mut Ticket, d: &TicketDispatched) {
    t.grid_code = d.grid_code.clone();
    if t.dispose_by.is_none() {
        t.dispose_by = d
            .deadlines
            .as_ref()
            .and_then(|dl| dl.dispose_by.as_ref())
            .and_then(from_ts);
    }
    if !d.citizen_key.is_empty() {
        t.citizen_key = d.citizen_key.clone();
    }
    if let Some(c) = &d.category {
        t.category_code = c.code.clone();
        t.category_name = c.name.clone();
    }
    if d.channel != 0 {
        t.channel = d.channel;
    }
}
