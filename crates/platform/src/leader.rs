//! One consuming replica per service at a time. Replicas elect a consumer with a session
//! advisory lock held on a connection of its own; the others stand by (they still serve gRPC
//! and run their timers) and take over when the holder's connection goes away. The position
//! in the stream is the service's own (`consumer_position`, see [`crate::inbox`]), so the new
//! holder carries on after the last event the old one committed. The lock only saves work:
//! should two replicas consume at once (a holder that has not yet noticed its lock is gone),
//! the position check in every transaction lets one of them win and sends the other back to
//! re-read, so order holds either way.

use std::sync::Arc;
use std::time::Duration;

use crate::inbox::{Consumer, ConsumerOptions, Handler};
use crate::nats::Bus;
use gridloop_client::pace::Pace;
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

const RETRY: Duration = Duration::from_millis(500);
const CHECK: Duration = Duration::from_secs(2);

async fn try_lead(pool: &PgPool) -> Option<PgConnection> {
    let mut conn = PgConnection::connect_with(&pool.connect_options())
        .await
        .ok()?;
    let got: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(hashtext(current_schema() || '.consumer'))",
    )
    .fetch_one(&mut conn)
    .await
    .ok()?;
    if got {
        Some(conn)
    } else {
        let _ = conn.close().await;
        None
    }
}

/// Runs the consumer while this replica holds the lock, until `shutdown`.
pub async fn run<H: Handler>(
    pool: PgPool,
    bus: Bus,
    opts: ConsumerOptions,
    handler: H,
    shutdown: CancellationToken,
) {
    // Each term of leadership runs a fresh consumer over the same handler.
    let handler = Arc::new(handler);
    // A steady pace: the lock is held by another replica, not lost to an overload.
    let mut standby = Pace::constant(RETRY);
    while !shutdown.is_cancelled() {
        let Some(mut lock) = try_lead(&pool).await else {
            if standby.pause(&shutdown).await {
                continue;
            }
            return;
        };
        tracing::info!("this replica consumes the stream");
        let stop = shutdown.child_token();
        let consumer = Consumer::new(pool.clone(), bus.clone(), opts.clone(), handler.clone());
        let mut task = tokio::spawn(consumer.run(stop.clone()));
        loop {
            tokio::select! {
                _ = &mut task => break,
                _ = tokio::time::sleep(CHECK) => {
                    if lock.ping().await.is_err() {
                        tracing::warn!("lost the consumer lock's connection; standing by");
                        stop.cancel();
                        let _ = (&mut task).await;
                        break;
                    }
                }
                _ = shutdown.cancelled() => {
                    let _ = (&mut task).await;
                    let _ = lock.close().await;
                    return;
                }
            }
        }
    }
}
