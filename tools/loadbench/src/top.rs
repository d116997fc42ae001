//! The statements behind the per-ticket counts: `pg_stat_statements` is reset when a phase
//! starts, and its busiest statements are listed when it ends (`--top-statements N`), with
//! calls per completed ticket, mean time and rows, by the service (role) that ran them. It is
//! how a cost in the tables is traced to the statement that makes it. Beside them, the tables
//! the phase read whole (sequential scans, from `pg_stat_user_tables`): what would make the
//! loop slow down as its history grows.

use sqlx::PgPool;

/// Forgets what earlier phases ran.
pub async fn reset(db: &PgPool) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(db)
        .await?;
    Ok(())
}

/// The `n` statements called most since [`reset`], as a markdown table; `done` is the
/// number of tickets (or submissions) the phase completed.
pub async fn table(db: &PgPool, n: u32, done: f64) -> anyhow::Result<String> {
    let rows: Vec<(String, String, f64, f64, f64)> = sqlx::query_as(
        "SELECT r.rolname::text, s.query, s.calls::float8, s.mean_exec_time, \
                (s.rows::float8 / greatest(s.calls, 1)) \
         FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid \
         WHERE r.rolname LIKE 'gridloop\\_%' ORDER BY s.calls DESC LIMIT $1",
    )
    .bind(i64::from(n))
    .fetch_all(db)
    .await?;
    let done = done.max(1.0);
    let mut out = String::from(
        "| service | calls / ticket | mean ms | rows / call | statement |\n|---|---:|---:|---:|---|\n",
    );
    for (role, query, calls, mean, rows) in rows {
        let query: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
        let query = if query.chars().count() > 110 {
            format!("{}…", query.chars().take(110).collect::<String>())
        } else {
            query
        };
        out.push_str(&format!(
            "| {} | {:.2} | {:.3} | {:.2} | `{}` |\n",
            role.trim_start_matches("gridloop_"),
            calls / done,
            mean,
            rows,
            query.replace('|', "\\|")
        ));
    }
    Ok(out)
}

/// Sequential scans so far, by table (`schema.table` → scans, rows read), and the table's live
/// rows: read at a phase's start and end, their difference says which tables the phase read
/// whole. A table that grows with every ticket must not be among them, or the loop slows down
/// with its history.
pub type Scans = std::collections::BTreeMap<String, (f64, f64, f64)>;

pub async fn scans(db: &PgPool) -> anyhow::Result<Scans> {
    let rows: Vec<(String, f64, f64, f64)> = sqlx::query_as(
        "SELECT schemaname || '.' || relname, seq_scan::float8, seq_tup_read::float8, \
                n_live_tup::float8 \
         FROM pg_stat_user_tables WHERE schemaname NOT IN ('public', 'pg_catalog')",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(t, scans, read, live)| (t, (scans, read, live)))
        .collect())
}

/// The tables scanned whole between `before` and `after`, most rows read first, as markdown.
pub fn scans_table(before: &Scans, after: &Scans, done: f64) -> String {
    let mut rows: Vec<(&String, f64, f64, f64)> = after
        .iter()
        .map(|(t, (s, r, live))| {
            let (s0, r0, _) = before.get(t).copied().unwrap_or_default();
            (t, s - s0, r - r0, *live)
        })
        .filter(|(_, s, _, _)| *s > 0.0)
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    let done = done.max(1.0);
    let mut out = String::from(
        "| table | scans / ticket | rows read / ticket | live rows |\n|---|---:|---:|---:|\n",
    );
    for (t, s, r, live) in rows {
        out.push_str(&format!(
            "| {t} | {:.2} | {:.1} | {live:.0} |\n",
            s / done,
            r / done
        ));
    }
    out
}
