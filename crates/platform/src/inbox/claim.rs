//! The statement that opens every transaction applying events: it moves the consumer's
//! position and records the events in the inbox, so that two consumers cannot interleave and
//! a republished event is applied once.

use std::collections::HashSet;

use async_nats::jetstream::Message;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Error;

/// The first statement of applying events: moves the position from `expected` to `to`
/// (which locks its row until the transaction ends, so two consumers cannot interleave)
/// and records the events' ids in the inbox, in one statement. Fails when another
/// consumer moved the position since this one read it; returns the ids that were not in
/// the inbox yet (one already there is a republished event).
pub(super) async fn claim<'m>(
    consumer: &str,
    tx: &mut PgConnection,
    expected: u64,
    to: u64,
    events: impl IntoIterator<Item = (&'m Message, Uuid)>,
) -> Result<HashSet<Uuid>, Error> {
    let (ids, subjects): (Vec<Uuid>, Vec<&str>) = events
        .into_iter()
        .map(|(m, id)| (id, m.subject.as_str()))
        .unzip();
    let (moved, fresh): (bool, Vec<Uuid>) = sqlx::query_as(
        "WITH moved AS ( \
             UPDATE consumer_position SET stream_seq = $3, updated_at = now() \
             WHERE consumer = $1 AND stream_seq = $2 RETURNING 1), \
         fresh AS ( \
             INSERT INTO inbox (event_id, subject) \
             SELECT e.id, e.subject FROM unnest($4::uuid[], $5::text[]) AS e (id, subject) \
             WHERE EXISTS (SELECT 1 FROM moved) \
             ON CONFLICT DO NOTHING RETURNING event_id) \
         SELECT EXISTS (SELECT 1 FROM moved), ARRAY(SELECT event_id FROM fresh)",
    )
    .bind(consumer)
    .bind(expected as i64)
    .bind(to as i64)
    .bind(&ids)
    .bind(&subjects)
    .fetch_one(&mut *tx)
    .await?;
    if !moved {
        return Err(moved_away(consumer, tx, expected).await);
    }
    Ok(fresh.into_iter().collect())
}

async fn moved_away(consumer: &str, tx: &mut PgConnection, expected: u64) -> Error {
    let stored: Option<i64> =
        sqlx::query_scalar("SELECT stream_seq FROM consumer_position WHERE consumer = $1")
            .bind(consumer)
            .fetch_optional(&mut *tx)
            .await
            .ok()
            .flatten();
    Error::Event(format!(
        "position moved to {} by another consumer (this one was at {expected})",
        stored.map_or("?".into(), |s| s.to_string())
    ))
}
