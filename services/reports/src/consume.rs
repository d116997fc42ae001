//! The consumer: every event updates the ticket's fact row and moves its contribution in the
//! aggregates from the old row to the new one, inside the inbox transaction, so the
//! aggregates always equal the sum over the fact rows.

use std::sync::Arc;

use gridloop_lifecycle::TicketId;
use gridloop_lifecycle::calendar::Calendar;
use gridloop_platform::inbox::{Envelope, Handler};
use gridloop_proto::v1::ticket_event::Body;
use sqlx::PgConnection;

use crate::facts::{Contribution, Counts};
use crate::store;
use gridloop_platform::Error;

/// The inbox handler for every event kind.
pub struct Aggregator {
    pub calendar: Arc<Calendar>,
}

impl Handler for Aggregator {
    type Error = Error;

    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), Error> {
        let id = event.ticket_id;
        if let Some(at) = event.occurred_at {
            store::advance(tx, at).await?;
        }
        remember_names(event, tx).await?;
        let parent_grid = match &event.body {
            Body::Merged(m) => match TicketId::parse(&m.parent_ticket_id) {
                Ok(p) => store::grid_of(tx, p).await?,
                Err(_) => None,
            },
            _ => None,
        };
        let old = store::lock(tx, id).await?.unwrap_or_default();
        let mut new = old.clone();
        new.apply(event, parent_grid.as_deref(), &self.calendar);
        if new == old {
            return Ok(());
        }
        move_contribution(tx, old.contribution(), new.contribution()).await?;
        store::save(tx, id, &new).await?;
        tracing::debug!(%id, kind = event.kind(), "aggregates updated");
        Ok(())
    }
}

async fn remember_names(event: &Envelope, tx: &mut PgConnection) -> Result<(), Error> {
    match &event.body {
        Body::Dispatched(d) if !d.grid_code.is_empty() => {
            store::name_grid(tx, &d.grid_code, d.grid_level, &d.grid_name).await?;
        }
        Body::Discovered(d) => {
            if let Some(c) = d.category.as_ref().filter(|c| !c.code.is_empty()) {
                store::name_category(tx, &c.code, &c.name).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

async fn move_contribution(
    tx: &mut PgConnection,
    old: Option<Contribution>,
    new: Option<Contribution>,
) -> Result<(), Error> {
    match (&old, &new) {
        (Some(o), Some(n)) if o.key == n.key => {
            let mut delta = n.counts;
            delta.add(&o.counts, -1);
            if delta != Counts::default() {
                store::add_counts(tx, &n.key, &delta).await?;
            }
        }
        _ => {
            if let Some(o) = &old {
                let mut minus = Counts::default();
                minus.add(&o.counts, -1);
                store::add_counts(tx, &o.key, &minus).await?;
            }
            if let Some(n) = &new {
                store::add_counts(tx, &n.key, &n.counts).await?;
            }
        }
    }
    let old_bucket = old.as_ref().and_then(|o| o.bucket.map(|b| (&o.key, b)));
    let new_bucket = new.as_ref().and_then(|n| n.bucket.map(|b| (&n.key, b)));
    if old_bucket != new_bucket {
        if let Some((k, b)) = old_bucket {
            store::add_hist(tx, k, b, -1).await?;
        }
        if let Some((k, b)) = new_bucket {
            store::add_hist(tx, k, b, 1).await?;
        }
    }
    Ok(())
}
