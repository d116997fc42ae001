//! The consumer: every event updates the ticket's fact row and moves its contribution in the
//! aggregates from the old row to the new one, inside the inbox transaction, so the
//! aggregates always equal the sum over the fact rows.
//!
//! Two writes are not made once per event: the watermark (the latest event time applied) is
//! written once per batch ([`Handler::flush`]), and a grid's or category's name only when it is
//! not already known to be stored: names written by a transaction that then rolled back are
//! forgotten ([`Handler::settled`]).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use gridloop_lifecycle::TicketId;
use gridloop_lifecycle::calendar::Calendar;
use gridloop_platform::inbox::{Envelope, Handler, Remembered};
use gridloop_proto::v1::ticket_event::Body;
use sqlx::PgConnection;

use crate::facts::{Contribution, Counts, Key};
use crate::store;
use gridloop_platform::Error;

/// The inbox handler for every event kind.
pub struct Aggregator {
    calendar: Arc<Calendar>,
    /// The latest event time of the transaction under way, for `flush`.
    watermark: Mutex<Option<DateTime<Utc>>>,
    names: Remembered<Code, (i32, String)>,
}

/// A grid's (level and) name or a category's name, keyed by its code.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Code {
    Grid(String),
    Category(String),
}

impl Aggregator {
    pub fn new(calendar: Arc<Calendar>) -> Self {
        Aggregator {
            calendar,
            watermark: Mutex::default(),
            names: Remembered::default(),
        }
    }

    fn watermark(&self) -> std::sync::MutexGuard<'_, Option<DateTime<Utc>>> {
        self.watermark.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Handler for Aggregator {
    type Error = Error;

    async fn handle(&self, event: &Envelope, tx: &mut PgConnection) -> Result<(), Error> {
        let id = event.ticket_id;
        if let Some(at) = event.occurred_at {
            let mut w = self.watermark();
            *w = w.max(Some(at));
        }
        if let Some((code, name)) = name_of(event).filter(|(c, n)| self.names.is_new(c, n)) {
            store_name(tx, &code, &name).await?;
            self.names.wrote(code, name);
        }
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
        let (was, now) = (old.contribution(), new.contribution());
        // Usually the ticket stays in its aggregate row and one correction goes with the fact.
        match count_moves(&was, &now).as_slice() {
            [(key, delta)] => store::save_and_add(tx, id, &new, key, delta).await?,
            moves => {
                for (key, delta) in moves {
                    store::add_counts(tx, key, delta).await?;
                }
                store::save(tx, id, &new).await?;
            }
        }
        move_bucket(tx, &was, &now).await?;
        tracing::debug!(%id, kind = event.kind(), "aggregates updated");
        Ok(())
    }

    async fn flush(&self, tx: &mut PgConnection) -> Result<(), Error> {
        let latest = self.watermark().take();
        if let Some(at) = latest {
            store::advance(tx, at).await?;
        }
        Ok(())
    }

    fn settled(&self, committed: bool) {
        *self.watermark() = None;
        self.names.settled(committed);
    }
}

/// The grid (with its level) or category name an event carries, for the report's labels.
fn name_of(event: &Envelope) -> Option<(Code, (i32, String))> {
    match &event.body {
        Body::Dispatched(d) if !d.grid_code.is_empty() => Some((
            Code::Grid(d.grid_code.clone()),
            (d.grid_level, d.grid_name.clone()),
        )),
        Body::Discovered(d) => d
            .category
            .as_ref()
            .filter(|c| !c.code.is_empty())
            .map(|c| (Code::Category(c.code.clone()), (0, c.name.clone()))),
        _ => None,
    }
}

async fn store_name(tx: &mut PgConnection, code: &Code, name: &(i32, String)) -> Result<(), Error> {
    match code {
        Code::Grid(code) => store::name_grid(tx, code, name.0, &name.1).await?,
        Code::Category(code) => store::name_category(tx, code, &name.1).await?,
    }
    Ok(())
}

/// The corrections to the aggregate rows that move a ticket's contribution from `old` to
/// `new`: none, one (the same row, the difference) or two (out of one row, into another).
fn count_moves(old: &Option<Contribution>, new: &Option<Contribution>) -> Vec<(Key, Counts)> {
    match (old, new) {
        (Some(o), Some(n)) if o.key == n.key => {
            let mut delta = n.counts;
            delta.add(&o.counts, -1);
            if delta == Counts::default() {
                vec![]
            } else {
                vec![(n.key.clone(), delta)]
            }
        }
        _ => {
            let mut moves = Vec::with_capacity(2);
            if let Some(o) = old {
                let mut minus = Counts::default();
                minus.add(&o.counts, -1);
                moves.push((o.key.clone(), minus));
            }
            if let Some(n) = new {
                moves.push((n.key.clone(), n.counts));
            }
            moves
        }
    }
}

/// Moves the ticket's handling time from its old histogram bucket to its new one.
async fn move_bucket(
    tx: &mut PgConnection,
    old: &Option<Contribution>,
    new: &Option<Contribution>,
) -> Result<(), Error> {
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
