//! The statements behind the per-ticket counts: `pg_stat_statements` is reset when a phase
//! starts, and its busiest statements are listed when it ends (`--top-statements N`), with
//! calls per completed ticket, mean time and rows, by the service (role) that ran them. It is
//! how a cost in the tables is traced to the statement that makes it.

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
