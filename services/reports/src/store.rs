//! SQL of the write side: fact rows, aggregate and histogram corrections, names, watermark.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::TicketId;
use sqlx::{PgConnection, Row};

use crate::facts::{Counts, Fact, Key};
use crate::stored::{CHANNEL, GRID_LEVEL};

const FACT_COLUMNS: &str = "received_at, grid_code, worker_id, category_code, channel, \
    dispatched, accepted_on_time, merged, disposed, reworked, overdue, closed, closed_on_time, \
    closed_by_exemption, closed_at, satisfied, basically_satisfied, dissatisfied, handling_minutes";

/// The ticket's fact row, locked for the rest of the transaction.
pub async fn lock(tx: &mut PgConnection, id: TicketId) -> Result<Option<Fact>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {FACT_COLUMNS} FROM facts WHERE ticket_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| {
        Ok(Fact {
            received_at: r.try_get("received_at")?,
            grid_code: r.try_get("grid_code")?,
            worker_id: r.try_get("worker_id")?,
            category_code: r.try_get("category_code")?,
            channel: CHANNEL.parse(r.try_get("channel")?),
            dispatched: r.try_get("dispatched")?,
            accepted_on_time: r.try_get("accepted_on_time")?,
            merged: r.try_get("merged")?,
            disposed: r.try_get("disposed")?,
            reworked: r.try_get("reworked")?,
            overdue: r.try_get("overdue")?,
            closed: r.try_get("closed")?,
            closed_on_time: r.try_get("closed_on_time")?,
            closed_by_exemption: r.try_get("closed_by_exemption")?,
            closed_at: r.try_get("closed_at")?,
            satisfied: r.try_get("satisfied")?,
            basically_satisfied: r.try_get("basically_satisfied")?,
            dissatisfied: r.try_get("dissatisfied")?,
            handling_minutes: r.try_get("handling_minutes")?,
        })
    })
    .transpose()
}

/// Grid of another ticket (a merged submission's parent), if reports has seen it.
pub async fn grid_of(tx: &mut PgConnection, id: TicketId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT grid_code FROM facts WHERE ticket_id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
}

/// Creates or replaces the ticket's fact row ($1–$20).
const SAVE_FACT: &str = "INSERT INTO facts (ticket_id, received_at, received_day, grid_code, worker_id, \
         category_code, channel, dispatched, accepted_on_time, merged, disposed, reworked, \
         overdue, closed, closed_on_time, closed_by_exemption, closed_at, satisfied, \
         basically_satisfied, dissatisfied, handling_minutes) \
         VALUES ($1, $2, ($2 AT TIME ZONE 'Asia/Shanghai')::date, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
         ON CONFLICT (ticket_id) DO UPDATE SET received_at = EXCLUDED.received_at, \
         received_day = EXCLUDED.received_day, grid_code = EXCLUDED.grid_code, \
         worker_id = EXCLUDED.worker_id, category_code = EXCLUDED.category_code, \
         channel = EXCLUDED.channel, dispatched = EXCLUDED.dispatched, \
         accepted_on_time = EXCLUDED.accepted_on_time, merged = EXCLUDED.merged, \
         disposed = EXCLUDED.disposed, reworked = EXCLUDED.reworked, overdue = EXCLUDED.overdue, \
         closed = EXCLUDED.closed, closed_on_time = EXCLUDED.closed_on_time, \
         closed_by_exemption = EXCLUDED.closed_by_exemption, closed_at = EXCLUDED.closed_at, \
         satisfied = EXCLUDED.satisfied, basically_satisfied = EXCLUDED.basically_satisfied, \
         dissatisfied = EXCLUDED.dissatisfied, handling_minutes = EXCLUDED.handling_minutes";

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_fact<'q>(q: Query<'q>, id: TicketId, f: &'q Fact) -> Query<'q> {
    q.bind(id)
        .bind(f.received_at)
        .bind(&f.grid_code)
        .bind(&f.worker_id)
        .bind(&f.category_code)
        .bind(CHANNEL.name(f.channel))
        .bind(f.dispatched)
        .bind(f.accepted_on_time)
        .bind(f.merged)
        .bind(f.disposed)
        .bind(f.reworked)
        .bind(f.overdue)
        .bind(f.closed)
        .bind(f.closed_on_time)
        .bind(f.closed_by_exemption)
        .bind(f.closed_at)
        .bind(f.satisfied)
        .bind(f.basically_satisfied)
        .bind(f.dissatisfied)
        .bind(f.handling_minutes)
}

pub async fn save(tx: &mut PgConnection, id: TicketId, f: &Fact) -> Result<(), sqlx::Error> {
    bind_fact(sqlx::query(SAVE_FACT), id, f)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// [`save`] and [`add_counts`] in one statement, as an event that moves a ticket within its
/// aggregate row does both: the fact row ($1–$20), then the correction ($21–$39).
pub async fn save_and_add(
    tx: &mut PgConnection,
    id: TicketId,
    f: &Fact,
    k: &Key,
    c: &Counts,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "WITH saved AS ({SAVE_FACT} RETURNING 1) {}",
        add_counts_sql(21, "FROM (SELECT count(*) FROM saved) AS s")
    );
    let q = bind_fact(sqlx::query(sqlx::AssertSqlSafe(sql)), id, f);
    bind_counts(q, k, c).execute(&mut *tx).await?;
    Ok(())
}

/// The aggregate correction with its parameters numbered from `first`, selected `from` a
/// source (empty for none): on its own, or after another statement in one.
fn add_counts_sql(first: usize, from: &str) -> String {
    let params: Vec<String> = (first..first + 19).map(|i| format!("${i}")).collect();
    let params = params.join(", ");
    format!(
        "INSERT INTO agg AS a (day, grid_code, category_code, channel, worker_id, received, \
         dispatched, merged, closed, open_overdue, accepted_on_time, closed_on_time, disposed, \
         reworked, satisfied, basically_satisfied, dissatisfied, closed_by_exemption, \
         handling_minutes) SELECT {params} {from} \
         ON CONFLICT (day, grid_code, category_code, channel, worker_id) DO UPDATE SET \
         received = a.received + EXCLUDED.received, dispatched = a.dispatched + EXCLUDED.dispatched, \
         merged = a.merged + EXCLUDED.merged, closed = a.closed + EXCLUDED.closed, \
         open_overdue = a.open_overdue + EXCLUDED.open_overdue, \
         accepted_on_time = a.accepted_on_time + EXCLUDED.accepted_on_time, \
         closed_on_time = a.closed_on_time + EXCLUDED.closed_on_time, \
         disposed = a.disposed + EXCLUDED.disposed, reworked = a.reworked + EXCLUDED.reworked, \
         satisfied = a.satisfied + EXCLUDED.satisfied, \
         basically_satisfied = a.basically_satisfied + EXCLUDED.basically_satisfied, \
         dissatisfied = a.dissatisfied + EXCLUDED.dissatisfied, \
         closed_by_exemption = a.closed_by_exemption + EXCLUDED.closed_by_exemption, \
         handling_minutes = a.handling_minutes + EXCLUDED.handling_minutes"
    )
}

fn bind_counts<'q>(q: Query<'q>, k: &'q Key, c: &'q Counts) -> Query<'q> {
    q.bind(k.day)
        .bind(&k.grid_code)
        .bind(&k.category_code)
        .bind(CHANNEL.name(k.channel))
        .bind(&k.worker_id)
        .bind(c.received)
        .bind(c.dispatched)
        .bind(c.merged)
        .bind(c.closed)
        .bind(c.open_overdue)
        .bind(c.accepted_on_time)
        .bind(c.closed_on_time)
        .bind(c.disposed)
        .bind(c.reworked)
        .bind(c.satisfied)
        .bind(c.basically_satisfied)
        .bind(c.dissatisfied)
        .bind(c.closed_by_exemption)
        .bind(c.handling_minutes)
}

/// Adds `c` to the aggregate row of `k` (negative counts take a contribution away).
pub async fn add_counts(tx: &mut PgConnection, k: &Key, c: &Counts) -> Result<(), sqlx::Error> {
    let sql = add_counts_sql(1, "");
    bind_counts(sqlx::query(sqlx::AssertSqlSafe(sql)), k, c)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn add_hist(
    tx: &mut PgConnection,
    k: &Key,
    bucket: i32,
    n: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO agg_hist AS h (day, grid_code, category_code, channel, worker_id, bucket, n) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (day, grid_code, category_code, channel, worker_id, bucket) \
         DO UPDATE SET n = h.n + EXCLUDED.n",
    )
    .bind(k.day)
    .bind(&k.grid_code)
    .bind(&k.category_code)
    .bind(CHANNEL.name(k.channel))
    .bind(&k.worker_id)
    .bind(bucket)
    .bind(n)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn name_grid(
    tx: &mut PgConnection,
    code: &str,
    level: i32,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO grids (code, level, name) VALUES ($1, $2, $3) ON CONFLICT (code) DO UPDATE \
         SET level = EXCLUDED.level, name = EXCLUDED.name \
         WHERE (grids.level, grids.name) IS DISTINCT FROM (EXCLUDED.level, EXCLUDED.name)",
    )
    .bind(code)
    .bind(GRID_LEVEL.name(level))
    .bind(name)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn name_category(
    tx: &mut PgConnection,
    code: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO categories (code, name) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE \
         SET name = EXCLUDED.name WHERE categories.name IS DISTINCT FROM EXCLUDED.name",
    )
    .bind(code)
    .bind(name)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn advance(tx: &mut PgConnection, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO watermark (one, as_of) VALUES (true, $1) ON CONFLICT (one) DO UPDATE \
         SET as_of = greatest(watermark.as_of, EXCLUDED.as_of)",
    )
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
