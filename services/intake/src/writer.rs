//! Group commit for submissions. Request handlers hand their validated submission to a queue;
//! writer tasks (one by default, `GRIDLOOP_INTAKE_WRITERS`) each take whatever has queued up
//! (at most [`MAX_BATCH`]) and record it in one transaction with [`submit::record`], then
//! answer every caller.
//!
//! Why: a submission's own SQL work is small next to the fixed cost of its round trips and its
//! commit, and on a busy hotline many arrive at once. Nobody waits to fill a batch — a writer
//! that is free takes a single submission at once — so batches only grow while every writer is
//! busy, which is exactly when sharing a commit pays.
//!
//! A batch that fails as a whole (a deadlock, a lost connection, an unexpected row) is rolled
//! back and its submissions recorded one by one, so one bad submission fails alone. A caller
//! that goes away (client cancelled) does not cancel its write: a retry then replays it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use gridloop_platform::{ApiError, telemetry};
use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::submit::{self, Accepted, Pending, Submission};

/// Most submissions recorded in one transaction.
pub const MAX_BATCH: usize = 64;

struct Job {
    sub: Submission,
    trace: HashMap<String, String>,
    reply: oneshot::Sender<Result<Accepted, ApiError>>,
}

/// The queue in front of the writer tasks. Dropping every clone ends the tasks once the queue
/// is drained.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts `writers` tasks (at least one) recording into `pool`. Each holds a pool
    /// connection while it writes, so the pool needs room for them and for reads.
    pub fn start(pool: PgPool, window: Duration, writers: usize) -> Self {
        let (queue, rx) = mpsc::channel(MAX_BATCH * writers.max(1) * 4);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            tokio::spawn(run(rx.clone(), pool.clone(), window));
        }
        Self { queue }
    }

    /// Records `sub` (or finds its earlier record) and returns the answer once committed.
    pub async fn submit(&self, sub: Submission) -> Result<Accepted, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            sub,
            trace: telemetry::current_context_headers(),
            reply,
        };
        self.queue
            .send(job)
            .await
            .map_err(|_| ApiError::Unavailable("intake is shutting down".into()))?;
        answer
            .await
            .map_err(|_| ApiError::internal("submission writer stopped"))?
    }
}

async fn run(rx: Arc<Mutex<mpsc::Receiver<Job>>>, pool: PgPool, window: Duration) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        write(&pool, batch, window).await;
    }
}

async fn write(pool: &PgPool, batch: Vec<Job>, window: Duration) {
    match attempt(pool, &batch, window).await {
        Ok(answers) => {
            for (job, answer) in batch.into_iter().zip(answers) {
                // The caller may have gone away; its submission stays recorded.
                let _ = job.reply.send(answer);
            }
        }
        Err(e) if batch.len() == 1 => {
            let _ = batch.into_iter().next().map(|job| job.reply.send(Err(e)));
        }
        Err(e) => {
            tracing::warn!(size = batch.len(), error = %e, "submission batch failed; recording one by one");
            for job in batch {
                let answer = match attempt(pool, std::slice::from_ref(&job), window).await {
                    Ok(mut answers) => answers
                        .pop()
                        .unwrap_or_else(|| Err(ApiError::internal("no answer for a submission"))),
                    Err(e) => Err(e),
                };
                let _ = job.reply.send(answer);
            }
        }
    }
}

/// One transaction for `jobs`: every answer, or an error and nothing committed.
async fn attempt(
    pool: &PgPool,
    jobs: &[Job],
    window: Duration,
) -> Result<Vec<Result<Accepted, ApiError>>, ApiError> {
    let pending: Vec<Pending<'_>> = jobs
        .iter()
        .map(|j| Pending {
            sub: &j.sub,
            trace: &j.trace,
        })
        .collect();
    submit::record(pool, &pending, window).await
}
