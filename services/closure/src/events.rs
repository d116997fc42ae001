//! Closure's view of each ticket, kept from routing's events: who holds it, whether they
//! accepted it, the dispose deadline and the citizen key. Each event is checked with the
//! lifecycle rules like any other step; the inbox makes a redelivered event a no-op.

use gridloop_lifecycle::{Event, LoopState, apply};
use gridloop_platform::inbox::Handler;
use gridloop_proto::from_ts;
use gridloop_proto::v1::{TicketDispatched, TicketEvent, ticket_event::Body};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Error;
use crate::store::{self, Ticket};

/// The inbox handler for `dispatched`, `accepted`, `returned` and `transferred`.
pub struct View;

impl Handler for View {
    type Error = Error;

    async fn handle(&self, event: &TicketEvent, tx: &mut PgConnection) -> Result<(), Error> {
        let Ok(id) = Uuid::parse_str(&event.ticket_id) else {
            tracing::warn!(ticket_id = %event.ticket_id, "event for a ticket id that is not a UUID; ignored");
            return Ok(());
        };
        let step = match &event.body {
            Some(Body::Dispatched(d)) => Event::Dispatched {
                grid: d.grid_code.clone(),
                worker: d.worker_id.clone(),
            },
            Some(Body::Accepted(a)) => Event::Accepted {
                worker: a.worker_id.clone(),
            },
            Some(Body::Returned(r)) => Event::Returned {
                reason: r.reason_text.clone(),
            },
            Some(Body::Transferred(t)) => Event::Transferred {
                to_grid: t.to_grid_code.clone(),
            },
            _ => return Ok(()),
        };
        let existing = store::lock(tx, id).await?;
        let mut ticket = match (existing, &event.body) {
            (Some(t), _) => t,
            // Closure does not consume `discovered`: a ticket enters its view with its first
            // dispatch, from the state a discovered ticket has.
            (None, Some(Body::Dispatched(d))) => first_dispatch(id, d),
            (None, _) => {
                tracing::warn!(%id, kind = step.kind(), "event for a ticket never dispatched; ignored");
                return Ok(());
            }
        };
        let next = match apply(&ticket.loop_state, &step) {
            Ok(next) => next,
            Err(violation) => {
                // The tracker records violations; closure only keeps its view consistent.
                tracing::warn!(%id, %violation, "event refused by the loop rules; not applied");
                return Ok(());
            }
        };
        ticket.loop_state = next;
        match &event.body {
            Some(Body::Dispatched(d)) => take_dispatch(&mut ticket, d),
            Some(Body::Transferred(t)) => ticket.grid_code = t.to_grid_code.clone(),
            _ => {}
        }
        store::save(tx, &ticket).await?;
        tracing::debug!(%id, kind = step.kind(), state = ticket.loop_state.state.name(), "view updated");
        Ok(())
    }
}

fn first_dispatch(id: Uuid, d: &TicketDispatched) -> Ticket {
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
