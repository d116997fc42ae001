//! The closing half of the loop as transactions: each step locks the ticket, checks the step
//! with the lifecycle rules against closure's view, writes its rows and enqueues its events,
//! and commits all of it or nothing.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{
    CloseBasis, Event, Feedback, FeedbackState, LoopState, Rating, State, TicketId,
};
use gridloop_platform::ApiError;
use gridloop_platform::inbox::{Progress, settle};
use gridloop_platform::outbox::{enqueue, new_event};
use gridloop_proto::v1 as pb;
use pb::ticket_event::Body;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{self, Callback, Exemption, rating_pb};
use crate::settings::Settings;
use crate::store::{self, FeedbackRow, LedgerRow, Ticket};
use crate::writeoff::{LedgerBasis, write_off};

pub(crate) const PRODUCER: &str = "closure";

/// Who records a feedback, as it goes into the event and the feedback row.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub id: String,
    pub role: pb::ActorRole,
}

impl Recorder {
    fn actor(&self) -> pb::Actor {
        pb::Actor {
            id: self.id.clone(),
            role: self.role as i32,
        }
    }
}

/// A rating to record: by whom, from where, and when.
pub struct Rate<'a> {
    pub by: Recorder,
    /// The caller's citizen key when a citizen rates; checked against the ticket's.
    pub citizen: Option<&'a str>,
    pub source: pb::FeedbackSource,
    pub rating: Rating,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// What a rating did to the ticket.
pub struct Rated {
    pub feedback: FeedbackRow,
    pub after: LoopState,
}

/// What an unreached callback did.
pub struct Unreached {
    pub feedback: FeedbackRow,
    pub after: LoopState,
    pub attempts: u32,
    pub eligible: bool,
    pub next_attempt_not_before: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Flow {
    pub pool: PgPool,
    pub settings: Settings,
    /// Closure's consumer: what a request waiting for the view waits on.
    pub progress: Progress,
}

/// The state after `event`, or FAILED_PRECONDITION naming the current state.
fn step(settings: &Settings, current: &LoopState, event: &Event) -> Result<LoopState, ApiError> {
    settings
        .rules()
        .apply(current, event)
        .map_err(|v| ApiError::precondition(v.to_string(), v.state))
}

async fn locked(tx: &mut PgConnection, id: TicketId) -> Result<Ticket, ApiError> {
    store::lock(tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket {id}")))
}

fn denied(why: &str, t: &Ticket) -> ApiError {
    ApiError::PermissionDenied(format!(
        "{why} (current state: {})",
        t.loop_state.state.name()
    ))
}

pub(crate) async fn publish(
    tx: &mut PgConnection,
    id: TicketId,
    body: Body,
) -> Result<(), ApiError> {
    enqueue(tx, &new_event(PRODUCER, &id.to_string(), body)).await?;
    Ok(())
}

pub(crate) fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Flow {
    /// Waits, at most the configured `view_wait`, until closure's view has the ticket's
    /// disposal. Routing decides 处置 and closure learns of it from the stream, so a citizen
    /// (or an operator) who answers at once can be ahead of the view; waiting here decides the
    /// step once, on a view that has caught up, instead of refusing it for the caller to try
    /// again. The step itself checks what the view then holds: a ticket still not disposed is
    /// refused, naming its state, and a database failure is reported by its transaction.
    async fn await_disposal(&self, id: TicketId) {
        let undisposed = |e: &bool| *e;
        let _ = settle(
            &self.progress,
            id,
            self.settings.view_wait,
            undisposed,
            || async {
                let mut conn = self.pool.acquire().await.map_err(|_| false)?;
                match store::get(&mut conn, id).await {
                    Ok(Some(t))
                        if !matches!(
                            t.loop_state.state,
                            State::Discovered | State::Reported(_)
                        ) =>
                    {
                        Ok(())
                    }
                    Ok(_) => Err(true),
                    Err(_) => Err(false),
                }
            },
        )
        .await;
    }

    /// 反馈: a rating from the citizen (`citizen` is their key, checked against the ticket's)
    /// or from a reached callback. A satisfied rating writes the ticket off; a dissatisfied one
    /// reopens it for rework — in the same transaction as the feedback.
    pub async fn rate(&self, id: TicketId, r: Rate<'_>) -> Result<Rated, ApiError> {
        let Rate {
            by,
            citizen,
            source,
            rating,
            comment,
            at,
        } = r;
        self.await_disposal(id).await;
        let mut tx = self.pool.begin().await?;
        let mut t = locked(&mut tx, id).await?;
        if let Some(key) = citizen
            && (t.citizen_key.is_empty() || t.citizen_key != key)
        {
            return Err(denied("not the citizen of this ticket", &t));
        }
        let attempts = unreached_attempts(&t.loop_state.state);
        let rated = step(
            &self.settings,
            &t.loop_state,
            &Event::FeedbackRecorded {
                feedback: Feedback::Rated(rating),
            },
        )?;
        let (after, closing) = if rating.closes() {
            (
                step(
                    &self.settings,
                    &rated,
                    &Event::Closed {
                        basis: CloseBasis::Rating,
                    },
                )?,
                true,
            )
        } else {
            (step(&self.settings, &rated, &Event::Reopened)?, false)
        };
        let row = FeedbackRow {
            feedback_id: Uuid::now_v7(),
            ticket_id: id,
            rating: rating_pb(rating) as i32,
            comment,
            source: source as i32,
            reached: true,
            actor_id: by.id.clone(),
            actor_role: by.role as i32,
            recorded_at: at,
            rework_count: count(t.loop_state.rework_count),
        };
        store::insert_feedback(&mut tx, &row).await?;
        publish(
            &mut tx,
            id,
            Body::FeedbackRecorded(pb::TicketFeedbackRecorded {
                rating: row.rating,
                comment: row.comment.clone(),
                source: row.source,
                reached: true,
                recorded_by: Some(by.actor()),
                unreached_attempts: attempts,
                exemption_eligible: false,
            }),
        )
        .await?;
        if closing {
            write_off(&mut tx, &t, &after, LedgerBasis::Rating(rating)).await?;
        } else {
            let grid = t
                .loop_state
                .state
                .holder()
                .map(|h| h.grid.clone())
                .unwrap_or_else(|| t.grid_code.clone());
            publish(
                &mut tx,
                id,
                Body::Reopened(pb::TicketReopened {
                    rework_count: after.rework_count,
                    worker_id: t.last_disposer.clone(),
                    grid_code: grid,
                    comment: row.comment.clone(),
                }),
            )
            .await?;
        }
        t.loop_state = after.clone();
        t.last_unreached_at = None;
        store::save(&mut tx, &t).await?;
        tx.commit().await?;
        tracing::info!(%id, rating = rating.name(), closed = closing, "feedback recorded");
        Ok(Rated {
            feedback: row,
            after,
        })
    }

    /// 回访 that did not reach the citizen: counts towards the exemption when it is at least
    /// the configured interval after the previous counted attempt of this disposal round.
    pub async fn unreached(
        &self,
        id: TicketId,
        operator: &str,
        cb: Callback,
    ) -> Result<Unreached, ApiError> {
        self.await_disposal(id).await;
        let mut tx = self.pool.begin().await?;
        let mut t = locked(&mut tx, id).await?;
        let after = step(
            &self.settings,
            &t.loop_state,
            &Event::FeedbackRecorded {
                feedback: Feedback::Unreached,
            },
        )?;
        let interval = chrono::Duration::from_std(self.settings.callback_interval)
            .unwrap_or(chrono::Duration::MAX);
        if let Some(last) = t.last_unreached_at
            && unreached_attempts(&t.loop_state.state) > 0
            && cb.called_at < last + interval
        {
            return Err(ApiError::precondition(
                format!(
                    "unreached callbacks must be at least {}s apart; the next one counts from {}",
                    self.settings.callback_interval.as_secs(),
                    (last + interval).to_rfc3339()
                ),
                t.loop_state.state.name(),
            ));
        }
        let attempts = unreached_attempts(&after.state);
        let eligible = attempts >= self.settings.callbacks_before_exemption;
        let row = FeedbackRow {
            feedback_id: Uuid::now_v7(),
            ticket_id: id,
            rating: pb::Rating::Unspecified as i32,
            comment: cb.notes,
            source: pb::FeedbackSource::Callback as i32,
            reached: false,
            actor_id: operator.to_owned(),
            actor_role: pb::ActorRole::Operator as i32,
            recorded_at: cb.called_at,
            rework_count: count(t.loop_state.rework_count),
        };
        store::insert_feedback(&mut tx, &row).await?;
        publish(
            &mut tx,
            id,
            Body::FeedbackRecorded(pb::TicketFeedbackRecorded {
                rating: row.rating,
                comment: row.comment.clone(),
                source: row.source,
                reached: false,
                recorded_by: Some(pb::Actor {
                    id: operator.to_owned(),
                    role: row.actor_role,
                }),
                unreached_attempts: attempts,
                exemption_eligible: eligible,
            }),
        )
        .await?;
        t.loop_state = after.clone();
        t.last_unreached_at = Some(cb.called_at);
        store::save(&mut tx, &t).await?;
        tx.commit().await?;
        tracing::info!(%id, attempts, eligible, "unreached callback recorded");
        Ok(Unreached {
            feedback: row,
            after,
            attempts,
            eligible,
            next_attempt_not_before: (!eligible).then(|| cb.called_at + interval),
        })
    }

    /// 销号 by an audited exemption, approved by `supervisor` within their grid scope.
    pub async fn exempt(
        &self,
        id: TicketId,
        supervisor: &str,
        scope: &[String],
        ex: Exemption,
    ) -> Result<LedgerRow, ApiError> {
        self.await_disposal(id).await;
        let mut tx = self.pool.begin().await?;
        let mut t = locked(&mut tx, id).await?;
        if !domain::in_scope(&t.grid_code, scope) {
            return Err(denied("the ticket's grid is outside your scope", &t));
        }
        let basis = CloseBasis::Exemption {
            kind: ex.kind,
            reason: ex.reason.clone(),
        };
        let after = step(&self.settings, &t.loop_state, &Event::Closed { basis })?;
        let entry = write_off(
            &mut tx,
            &t,
            &after,
            LedgerBasis::Exemption {
                ex,
                approved_by: supervisor.to_owned(),
            },
        )
        .await?;
        t.loop_state = after;
        store::save(&mut tx, &t).await?;
        tx.commit().await?;
        tracing::info!(%id, supervisor, "ticket closed by exemption");
        Ok(entry)
    }
}

/// Unreached attempts of the current disposal round.
fn unreached_attempts(s: &State) -> u32 {
    match s {
        State::Feedback {
            outcome: FeedbackState::Unreached { attempts },
            ..
        } => *attempts,
        _ => 0,
    }
}
