//! The read side: roll the aggregate rows of a date range and subtree up by one key at query
//! time. Two grouped scans over the aggregates (counts, then handling-time buckets); per-ticket
//! rows are never read.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use gridloop_proto::v1::GridLevel;
use sqlx::{PgPool, Row};

use crate::domain::{Filter, level_len};
use crate::facts::Counts;
use crate::stored::CHANNEL;

/// What the rows of a roll-up are keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// One row, key "".
    Nothing,
    /// The grid at this level above the holding grid (the holding grid itself when it is
    /// above that level, "" for tickets no grid holds).
    Grid(GridLevel),
    Worker,
    Category,
    Channel,
    /// First day of the week, month, quarter or year of the received day.
    Bucket(&'static str),
}

impl By {
    fn sql(self) -> String {
        match self {
            By::Nothing => "''".into(),
            By::Grid(level) => match level_len(level) {
                Some(n) => format!(
                    "CASE WHEN length(grid_code) >= {n} THEN left(grid_code, {n}) ELSE grid_code END"
                ),
                None => "grid_code".into(),
            },
            By::Worker => "worker_id".into(),
            By::Category => "category_code".into(),
            By::Channel => "channel".into(),
            By::Bucket(unit) => format!("to_char(date_trunc('{unit}', day), 'YYYY-MM-DD')"),
        }
    }
}

/// The sums of one row of a roll-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: Counts,
    /// Closed tickets per handling-time bucket.
    pub hist: BTreeMap<i32, i64>,
}

impl Tally {
    pub fn merge(&mut self, o: &Tally) {
        self.counts.add(&o.counts, 1);
        for (b, n) in &o.hist {
            *self.hist.entry(*b).or_default() += n;
        }
    }
}

/// Upper bound of the subtree's codes: every code with the prefix sorts below it (codes are
/// compared bytewise, COLLATE "C").
fn upper(root: &str) -> String {
    format!("{root}\u{10FFFF}")
}

/// Days are listed (`day = ANY`) rather than ranged so the index is descended once per day
/// straight to the subtree's codes (see migration 0002).
const WHERE: &str = "day = ANY($1::date[]) AND grid_code >= $2 AND grid_code < $3 \
    AND (cardinality($4::text[]) = 0 OR category_code = ANY($4)) \
    AND (cardinality($5::text[]) = 0 OR channel = ANY($5)) \
    AND ($6::text IS NULL OR worker_id = $6)";

/// Sums of the aggregates received in `from..=to` within `f`, per key of `by`.
pub async fn rollup(
    pool: &PgPool,
    f: &Filter,
    from: NaiveDate,
    to: NaiveDate,
    by: By,
) -> Result<BTreeMap<String, Tally>, sqlx::Error> {
    let key = by.sql();
    let counts_sql = format!(
        "SELECT {key} AS k, sum(received)::int8 AS received, sum(dispatched)::int8 AS dispatched, \
         sum(merged)::int8 AS merged, sum(closed)::int8 AS closed, \
         sum(open_overdue)::int8 AS open_overdue, sum(accepted_on_time)::int8 AS accepted_on_time, \
         sum(closed_on_time)::int8 AS closed_on_time, sum(disposed)::int8 AS disposed, \
         sum(reworked)::int8 AS reworked, sum(satisfied)::int8 AS satisfied, \
         sum(basically_satisfied)::int8 AS basically_satisfied, \
         sum(dissatisfied)::int8 AS dissatisfied, \
         sum(closed_by_exemption)::int8 AS closed_by_exemption, \
         sum(handling_minutes)::int8 AS handling_minutes \
         FROM agg WHERE {WHERE} GROUP BY 1"
    );
    let hist_sql = format!(
        "SELECT {key} AS k, bucket, sum(n)::int8 AS n FROM agg_hist WHERE {WHERE} \
         GROUP BY 1, 2 HAVING sum(n) <> 0"
    );
    let hi = upper(&f.root);
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let bind = |q: sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>| {
        q.bind(days.clone())
            .bind(f.root.clone())
            .bind(hi.clone())
            .bind(f.categories.clone())
            .bind(CHANNEL.names(f.channels.iter().copied()))
            .bind(f.worker.clone())
    };
    // The two scans are independent: run them on two connections at once.
    let (rows, hist) = tokio::try_join!(
        bind(sqlx::query(sqlx::AssertSqlSafe(counts_sql))).fetch_all(pool),
        bind(sqlx::query(sqlx::AssertSqlSafe(hist_sql))).fetch_all(pool),
    )?;
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for r in rows {
        let c = Counts {
            received: r.try_get("received")?,
            dispatched: r.try_get("dispatched")?,
            merged: r.try_get("merged")?,
            closed: r.try_get("closed")?,
            open_overdue: r.try_get("open_overdue")?,
            accepted_on_time: r.try_get("accepted_on_time")?,
            closed_on_time: r.try_get("closed_on_time")?,
            disposed: r.try_get("disposed")?,
            reworked: r.try_get("reworked")?,
            satisfied: r.try_get("satisfied")?,
            basically_satisfied: r.try_get("basically_satisfied")?,
            dissatisfied: r.try_get("dissatisfied")?,
            closed_by_exemption: r.try_get("closed_by_exemption")?,
            handling_minutes: r.try_get("handling_minutes")?,
        };
        // Rows whose tickets all moved elsewhere sum to zero: not a row of the report.
        if c != Counts::default() {
            out.entry(r.try_get("k")?).or_default().counts = c;
        }
    }
    for r in hist {
        let k: String = r.try_get("k")?;
        let b: i32 = r.try_get("bucket")?;
        let n: i64 = r.try_get("n")?;
        out.entry(k).or_default().hist.insert(b, n);
    }
    Ok(out)
}

pub fn total(rows: &BTreeMap<String, Tally>) -> Tally {
    let mut t = Tally::default();
    for r in rows.values() {
        t.merge(r);
    }
    t
}

pub async fn as_of(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT as_of FROM watermark")
        .fetch_optional(pool)
        .await
}

pub async fn grid_names(
    pool: &PgPool,
    codes: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT code, name FROM grids WHERE code = ANY($1)")
            .bind(codes)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

pub async fn category_names(pool: &PgPool) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT code, name FROM categories")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().collect())
}
