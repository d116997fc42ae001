//! Bounded waits. Events travel asynchronously (outbox → stream → each consumer's inbox), so a
//! test waits for an outcome rather than sleeping a fixed time; every wait has a limit and
//! panics saying what it waited for and what it saw last.

use std::future::Future;
use std::time::Duration;

use gridloop_platform::verify::Spec;

use crate::System;

/// How long any single wait may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Ok`; panics after [`LIMIT`] with `what` and the last `Err`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) => {
                if tokio::time::Instant::now() > deadline {
                    panic!("timed out after {LIMIT:?} waiting for {what}; last seen: {last}");
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The services that publish (every one has an outbox) and those that consume.
const OUTBOXES: &[&str] = &["intake", "routing", "closure", "tracker", "reports"];
const CONSUMERS: &[(&str, Spec)] = &[
    ("intake", gridloop_intake::VIEW),
    ("routing", gridloop_routing::VIEW),
    ("closure", gridloop_closure::VIEW),
    ("tracker", gridloop_tracker::VIEW),
    ("reports", gridloop_reports::VIEW),
];

impl System {
    /// Waits until the system is quiet: no unsent outbox row in any service, and every
    /// consumer has applied every event of its kinds on the stream, with the stream unchanged while
    /// this was checked. Everything caused by the RPCs made so far has then happened in every
    /// service (the tracker's timers aside, which fire on the clock).
    pub async fn settle(&self) {
        eventually("every outbox drained and every consumer caught up", || {
            self.quiet()
        })
        .await
    }

    async fn quiet(&self) -> Result<(), String> {
        let before = self.last_sequence().await?;
        for (name, spec) in CONSUMERS {
            let position: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT stream_seq FROM {name}.consumer_position"
            )))
            .fetch_optional(&self.db)
            .await
            .map_err(|e| format!("{name}.consumer_position: {e}"))?;
            let last = self
                .bus
                .last_sequence_of(&spec.subject_kinds())
                .await
                .map_err(|e| format!("stream: {e}"))?;
            let position = position.unwrap_or(0) as u64;
            if position < last {
                return Err(format!(
                    "{name}: applied up to {position}, its last event is {last}"
                ));
            }
        }
        for schema in OUTBOXES {
            let unsent: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"
            )))
            .fetch_one(&self.db)
            .await
            .map_err(|e| format!("{schema}.outbox: {e}"))?;
            if unsent > 0 {
                return Err(format!("{schema}: {unsent} unsent outbox row(s)"));
            }
        }
        let after = self.last_sequence().await?;
        if before != after {
            return Err(format!("stream moved from {before} to {after}"));
        }
        Ok(())
    }

    async fn last_sequence(&self) -> Result<u64, String> {
        let mut stream = self
            .bus
            .js
            .get_stream(&self.env.stream)
            .await
            .map_err(|e| format!("stream: {e}"))?;
        let info = stream
            .info()
            .await
            .map_err(|e| format!("stream info: {e}"))?;
        Ok(info.state.last_sequence)
    }
}
