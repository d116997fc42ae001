//! The tracker's ticket gauges for alerting: tickets open, due soon (预超期) and overdue, read
//! from its own tables every [`EVERY`] on its clock.
//!
//! Due soon is a running clock with less than a quarter of its span left, so a two-minute
//! hazard clock and a fifteen-day complaint clock each warn in proportion; overdue is a running
//! clock past its deadline (fired or not). Both read only live clocks (the partial index
//! `timers_one_live`); the open count only open tickets (the partial index `tickets_open`).

use std::sync::Arc;
use std::time::Duration;

use gridloop_platform::metrics::{self, KeyValue};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::Clock;

/// How often the gauges are read.
pub const EVERY: Duration = Duration::from_secs(30);

/// Reads the gauges until `shutdown`.
pub async fn run(pool: PgPool, clock: Arc<dyn Clock>, shutdown: CancellationToken) {
    loop {
        match read(&pool, clock.now()).await {
            Ok((open, due_soon, overdue)) => {
                let m = metrics::instruments();
                for (state, n) in [("open", open), ("due_soon", due_soon), ("overdue", overdue)] {
                    m.tickets.record(
                        n.max(0) as u64,
                        &[metrics::service("tracker"), KeyValue::new("state", state)],
                    );
                }
            }
            Err(e) => tracing::debug!(error = %e, "ticket gauges not read"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn read(
    pool: &PgPool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT \
           (SELECT count(*) FROM tickets WHERE open), \
           (SELECT count(DISTINCT ticket_id) FROM timers \
             WHERE met_at IS NULL AND cancelled_at IS NULL \
               AND due_at > $1 AND due_at - $1 <= (due_at - started_at) / 4), \
           (SELECT count(DISTINCT ticket_id) FROM timers \
             WHERE met_at IS NULL AND cancelled_at IS NULL AND due_at <= $1)",
    )
    .bind(now)
    .fetch_one(pool)
    .await
}
