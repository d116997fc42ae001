//! The timer loop: fires every deadline that passed while its clock was live, exactly once,
//! however many tracker replicas run on the database.
//!
//! A round claims due, unfired timers together with their tickets' rows with
//! `FOR UPDATE SKIP LOCKED` — a replica never waits for (and never takes) a timer another is
//! firing, nor one whose ticket an event is being applied to — and in the same transaction
//! marks them fired and enqueues `overdue` and `escalated`. Between rounds it sleeps until the
//! earliest due timer, at most `timer_tick` (500 ms), and wakes early when this process
//! starts a clock due before that ([`Wake`]): a clock due in hours, the usual case, costs the
//! loop nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::error::Error;
use crate::escalate;
use crate::store;
use crate::timers::{COLUMNS, Timer};

const BATCH: i64 = 64;

/// Tells the timer loop of clocks started in this process: it looks again only for one due
/// before the look it has planned anyway.
#[derive(Default)]
pub struct Wake {
    earliest: std::sync::Mutex<Option<DateTime<Utc>>>,
    notify: Notify,
}

impl Wake {
    /// A clock due at `at` started (or moved).
    pub fn due(&self, at: DateTime<Utc>) {
        let mut earliest = self.earliest.lock().unwrap_or_else(|e| e.into_inner());
        if earliest.is_none_or(|e| at < e) {
            *earliest = Some(at);
        }
        drop(earliest);
        self.notify.notify_one();
    }

    /// Deadlines changed in ways the loop cannot tell from one time (an extension, a rule):
    /// it looks again at once.
    pub fn now(&self) {
        self.due(DateTime::<Utc>::MIN_UTC);
    }

    fn take(&self) -> Option<DateTime<Utc>> {
        self.earliest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
/// A due timer that another replica is firing is looked at again after this.
const MIN_WAIT: Duration = Duration::from_millis(25);

/// Fires the timers due at the clock's `now`; returns how many fired.
pub async fn fire_due(pool: &PgPool, now: DateTime<Utc>) -> Result<usize, Error> {
    let mut tx = pool.begin().await?;
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("t.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let due: Vec<Timer> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {cols} FROM timers t JOIN tickets k ON k.ticket_id = t.ticket_id \
         WHERE t.fired_at IS NULL AND t.met_at IS NULL AND t.cancelled_at IS NULL \
           AND t.due_at <= $1 \
         ORDER BY t.due_at, t.id LIMIT $2 FOR UPDATE OF t, k SKIP LOCKED"
    )))
    .bind(now)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    for timer in &due {
        sqlx::query("UPDATE timers SET fired_at = $2 WHERE id = $1")
            .bind(timer.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        // Read inside the transaction: an earlier timer of the same ticket may have escalated it.
        let Some(mut ticket) = store::get(&mut tx, timer.ticket_id).await? else {
            continue;
        };
        escalate::overdue(&mut tx, &mut ticket, timer, now).await?;
        store::save(&mut tx, &ticket).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT min(due_at) FROM timers \
         WHERE fired_at IS NULL AND met_at IS NULL AND cancelled_at IS NULL",
    )
    .fetch_one(pool)
    .await?)
}

/// Runs the timer loop until `shutdown`.
pub async fn run(
    pool: PgPool,
    clock: Arc<dyn Clock>,
    wake: Arc<Wake>,
    tick: Duration,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        match fire_due(&pool, clock.now()).await {
            Ok(n) if n as i64 >= BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "timer round failed; will retry"),
        }
        let wait = match next_due(&pool).await {
            Ok(Some(due)) => (due - clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(tick)
                .max(MIN_WAIT.min(tick)),
            Ok(None) => tick,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the next deadline");
                tick
            }
        };
        let planned = clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                _ = wake.notify.notified() => {
                    if wake.take().is_some_and(|due| due < planned) {
                        break;
                    }
                }
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
