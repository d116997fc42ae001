//! The gRPC handlers: check the caller's role, parse the request into domain values, run the
//! step, render the answer.

use gridloop_platform::ApiError;
use gridloop_platform::auth::{Caller, Role};
use gridloop_platform::inbox::Progress;
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;
use pb::closure_service_server::ClosureService;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::domain::{self, Callback, Exemption, Rated, state_pb};
use crate::flow::{Flow, Rate, Recorder};
use crate::settings::Settings;
use crate::{convert, ledger, store};

/// The closure gRPC service.
pub struct Closure {
    flow: Flow,
}

impl Closure {
    pub fn new(pool: PgPool, settings: Settings, progress: Progress) -> Self {
        Closure {
            flow: Flow {
                pool,
                settings,
                progress,
            },
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ClosureService for Closure {
    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    async fn submit_feedback(
        &self,
        req: Request<pb::SubmitFeedbackRequest>,
    ) -> Reply<pb::SubmitFeedbackResponse> {
        let caller = Caller::of(&req)?;
        caller.require(&[Role::Citizen, Role::Service])?;
        let id = domain::ticket_id(&req.get_ref().ticket_id)?;
        let rated = Rated::parse(req.get_ref())?;
        let (by, citizen) = match caller.role {
            Role::Citizen => (
                Recorder {
                    id: caller.subject.clone(),
                    role: pb::ActorRole::Citizen,
                },
                Some(caller.subject.as_str()),
            ),
            _ => (
                Recorder {
                    id: caller.subject.clone(),
                    role: pb::ActorRole::Service,
                },
                None,
            ),
        };
        let done = self
            .flow
            .rate(
                id,
                Rate {
                    by,
                    citizen,
                    source: pb::FeedbackSource::Citizen,
                    rating: rated.rating,
                    comment: rated.comment,
                    at: gridloop_platform::clock::now(),
                },
            )
            .await?;
        Ok(Response::new(pb::SubmitFeedbackResponse {
            feedback: Some(convert::feedback(&done.feedback)),
            state: state_pb(&done.after.state) as i32,
            rework_count: done.after.rework_count,
        }))
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    async fn record_callback(
        &self,
        req: Request<pb::RecordCallbackRequest>,
    ) -> Reply<pb::RecordCallbackResponse> {
        let caller = Caller::of(&req)?;
        caller.require(&[Role::Operator])?;
        let id = domain::ticket_id(&req.get_ref().ticket_id)?;
        let cb = Callback::parse(req.get_ref(), gridloop_platform::clock::now())?;
        let reply = match cb.rating {
            Some(rating) => {
                let by = Recorder {
                    id: caller.subject.clone(),
                    role: pb::ActorRole::Operator,
                };
                let done = self
                    .flow
                    .rate(
                        id,
                        Rate {
                            by,
                            citizen: None,
                            source: pb::FeedbackSource::Callback,
                            rating,
                            comment: cb.notes,
                            at: cb.called_at,
                        },
                    )
                    .await?;
                pb::RecordCallbackResponse {
                    feedback: Some(convert::feedback(&done.feedback)),
                    state: state_pb(&done.after.state) as i32,
                    unreached_attempts: 0,
                    exemption_eligible: false,
                    next_attempt_not_before: None,
                    rework_count: done.after.rework_count,
                }
            }
            None => {
                let done = self.flow.unreached(id, &caller.subject, cb).await?;
                pb::RecordCallbackResponse {
                    feedback: Some(convert::feedback(&done.feedback)),
                    state: state_pb(&done.after.state) as i32,
                    unreached_attempts: done.attempts,
                    exemption_eligible: done.eligible,
                    next_attempt_not_before: done.next_attempt_not_before.map(ts),
                    rework_count: done.after.rework_count,
                }
            }
        };
        Ok(Response::new(reply))
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    async fn close_ticket(
        &self,
        req: Request<pb::CloseTicketRequest>,
    ) -> Reply<pb::CloseTicketResponse> {
        let caller = Caller::of(&req)?;
        caller.require(&[Role::Supervisor])?;
        let id = domain::ticket_id(&req.get_ref().ticket_id)?;
        let ex = Exemption::parse(req.get_ref())?;
        let entry = self
            .flow
            .exempt(id, &caller.subject, &caller.grids, ex)
            .await?;
        Ok(Response::new(pb::CloseTicketResponse {
            entry: Some(convert::ledger_entry(&entry)),
        }))
    }

    #[tracing::instrument(skip_all, fields(grid_code = %req.get_ref().grid_code))]
    async fn get_ledger(&self, req: Request<pb::GetLedgerRequest>) -> Reply<pb::GetLedgerResponse> {
        let caller = Caller::of(&req)?;
        caller.require(&[Role::Supervisor, Role::Leader])?;
        let r = req.get_ref();
        let grid = r.grid_code.trim();
        let roots = if grid.is_empty() {
            caller
                .grids
                .iter()
                .filter(|g| !g.is_empty())
                .cloned()
                .collect::<Vec<_>>()
        } else if domain::in_scope(grid, &caller.grids) {
            vec![grid.to_owned()]
        } else {
            return Err(
                ApiError::PermissionDenied(format!("grid {grid} is outside your scope")).into(),
            );
        };
        if roots.is_empty() {
            return Err(ApiError::PermissionDenied("your token names no grids".into()).into());
        }
        let (from, until) = domain::date_range(r.dates.as_ref())?;
        let query = ledger::Query {
            roots,
            from,
            until,
            page_size: ledger::page_size(r.page_size)?,
            after: ledger::parse_token(&r.page_token)?,
        };
        let (rows, next_page_token) = ledger::page(&self.flow.pool, &query).await?;
        Ok(Response::new(pb::GetLedgerResponse {
            entries: rows.iter().map(convert::ledger_entry).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    async fn get_closure(
        &self,
        req: Request<pb::GetClosureRequest>,
    ) -> Reply<pb::GetClosureResponse> {
        let caller = Caller::of(&req)?;
        caller.require(&[Role::Supervisor, Role::Leader, Role::Worker])?;
        let id = domain::ticket_id(&req.get_ref().ticket_id)?;
        let mut conn = self.flow.pool.acquire().await.map_err(ApiError::from)?;
        let t = store::get(&mut conn, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("ticket {id}")))?;
        let disposals = store::disposals(&mut conn, id)
            .await
            .map_err(ApiError::from)?;
        let holder = t.loop_state.state.holder();
        let allowed = match caller.role {
            Role::Worker => {
                holder.is_some_and(|h| h.worker == caller.subject)
                    || disposals.iter().any(|d| d.worker_id == caller.subject)
            }
            _ => domain::in_scope(&t.grid_code, &caller.grids),
        };
        if !allowed {
            return Err(ApiError::PermissionDenied("not your ticket or grid".into()).into());
        }
        let feedback = store::feedback(&mut conn, id)
            .await
            .map_err(ApiError::from)?;
        let entry = store::ledger_entry(&mut conn, id)
            .await
            .map_err(ApiError::from)?;
        let worker_id = match &t.loop_state.state {
            gridloop_lifecycle::State::Reported(gridloop_lifecycle::Assignment::Dispatched {
                accepted: false,
                ..
            }) => String::new(),
            _ => holder.map(|h| h.worker.clone()).unwrap_or_default(),
        };
        Ok(Response::new(pb::GetClosureResponse {
            ticket_id: id.to_string(),
            state: state_pb(&t.loop_state.state) as i32,
            grid_code: t.grid_code.clone(),
            worker_id,
            dispose_by: t.dispose_by.map(ts),
            disposals: disposals.iter().map(convert::disposal).collect(),
            feedback: feedback.iter().map(convert::feedback).collect(),
            ledger_entry: entry.as_ref().map(convert::ledger_entry),
            rework_count: t.loop_state.rework_count,
        }))
    }
}
