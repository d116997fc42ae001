//! The grid workers' task RPCs: list, show, 签收, 退单, 转办 (处置 in [`super::dispose`]).
//! Every step locks the ticket's row, then is checked with the lifecycle rules against
//! routing's own view of the ticket before anything is written.

use gridloop_lifecycle::{Event, LoopState, TicketId, Violation, WorkerId, apply};
use gridloop_platform::auth::{Caller, Role};
use gridloop_platform::{ApiError, outbox};
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use sqlx::PgConnection;
use tonic::Request;

use super::retry::{TxError, retrying};
use super::{Api, in_scope, parse_uuid, ticket_id};
use crate::dispatch::{self, Ctx, PRODUCER, RETURN_LIMIT, Target};
use crate::domain::{Page, task_kind, task_state};
use crate::grids;
use crate::tickets::{self, TaskFilter, TaskRow, TicketRow};

pub(super) fn refused(v: Violation) -> ApiError {
    ApiError::precondition(v.to_string(), v.state)
}

pub(super) fn me(caller: &Caller) -> Result<WorkerId, ApiError> {
    WorkerId::parse(&caller.subject)
        .map_err(|_| ApiError::PermissionDenied("token subject is not a worker id".into()))
}

/// Locks the ticket; NOT_FOUND when routing has never seen it.
pub(super) async fn locked(
    tx: &mut PgConnection,
    id: TicketId,
) -> Result<(TicketRow, LoopState), TxError> {
    let t = tickets::lock(tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket {id}")))?;
    let s = t.state()?;
    Ok((t, s))
}

/// The caller's standing HANDLE task on the ticket: PERMISSION_DENIED when it was never
/// theirs, FAILED_PRECONDITION naming its state when it no longer stands.
pub(super) async fn own_task(
    tx: &mut PgConnection,
    ticket: TicketId,
    worker: WorkerId,
) -> Result<TaskRow, ApiError> {
    let task = tickets::latest_of(tx, ticket, worker)
        .await?
        .filter(|t| t.kind == task_kind::HANDLE)
        .ok_or_else(|| ApiError::PermissionDenied(format!("ticket {ticket} is not your task")))?;
    if !task.current {
        return Err(ApiError::precondition(
            format!("your task on ticket {ticket} no longer stands"),
            task_state::parse(&task.state).as_str_name(),
        ));
    }
    Ok(task)
}

impl Api {
    pub(super) async fn do_list_tasks(
        &self,
        req: Request<ListMyTasksRequest>,
    ) -> Result<ListMyTasksResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(&[Role::Worker, Role::Supervisor, Role::Admin])?;
        let r = req.get_ref();
        let page = Page::parse(r.page_size, &r.page_token)?;
        let mut states = Vec::new();
        for s in &r.states {
            match TaskState::try_from(*s).ok().and_then(task_state::name) {
                None => return Err(ApiError::invalid("states", "unknown task state")),
                Some(s) => states.push(s),
            }
        }
        let kind = match TaskKind::try_from(r.kind) {
            Ok(k) => task_kind::name(k),
            Err(_) => return Err(ApiError::invalid("kind", "unknown task kind")),
        };
        let worker = (!r.worker_id.is_empty())
            .then(|| parse_uuid("worker_id", &r.worker_id))
            .transpose()?;
        let mut tx = self.pool.begin().await?;
        let filter = match caller.role {
            Role::Worker => {
                if worker.is_some() || !r.grid_code.is_empty() {
                    return Err(ApiError::PermissionDenied(
                        "workers list their own tasks only".into(),
                    ));
                }
                TaskFilter {
                    worker: Some(me(&caller)?.uuid()),
                    roots: None,
                    states,
                    kind,
                }
            }
            _ => {
                let roots = if !r.grid_code.is_empty() {
                    if !in_scope(&mut tx, &caller, &r.grid_code).await? {
                        return Err(ApiError::PermissionDenied(format!(
                            "grid {} is outside your scope",
                            r.grid_code
                        )));
                    }
                    Some(vec![r.grid_code.clone()])
                } else if caller.role == Role::Admin {
                    None
                } else {
                    Some(caller.grids.clone())
                };
                TaskFilter {
                    worker,
                    roots,
                    states,
                    kind,
                }
            }
        };
        let mut rows = tickets::list(&mut tx, &filter, page.offset, page.limit()).await?;
        let next_page_token = page.finish(&mut rows);
        Ok(ListMyTasksResponse {
            tasks: rows.iter().map(TaskRow::to_proto).collect(),
            next_page_token,
        })
    }

    pub(super) async fn do_get_task(
        &self,
        req: Request<GetTaskRequest>,
    ) -> Result<GetTaskResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(&[Role::Worker, Role::Supervisor, Role::Admin])?;
        let id = ticket_id(&req.get_ref().ticket_id)?;
        let mut tx = self.pool.begin().await?;
        locked(&mut tx, id).await?;
        let task = if caller.role == Role::Worker {
            tickets::latest_of(&mut tx, id, me(&caller)?).await?
        } else {
            match tickets::current_handle(&mut tx, id).await? {
                Some(t) if in_scope(&mut tx, &caller, &t.grid_code).await? => Some(t),
                _ => None,
            }
        };
        let task = task
            .ok_or_else(|| ApiError::PermissionDenied(format!("ticket {id} is not your task")))?;
        Ok(GetTaskResponse {
            task: Some(task.to_proto()),
        })
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    pub(super) async fn do_accept(
        &self,
        req: Request<AcceptTaskRequest>,
    ) -> Result<AcceptTaskResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(&[Role::Worker])?;
        let worker = me(&caller)?;
        let id = ticket_id(&req.get_ref().ticket_id)?;
        retrying(|| self.accept_once(worker, id)).await
    }

    async fn accept_once(
        &self,
        worker: WorkerId,
        id: TicketId,
    ) -> Result<AcceptTaskResponse, TxError> {
        let mut tx = self.pool.begin().await?;
        let (_, state) = locked(&mut tx, id).await?;
        let task = own_task(&mut tx, id, worker).await?;
        if task.state == task_state::ACCEPTED {
            return Ok(AcceptTaskResponse {
                task: Some(task.to_proto()),
            });
        }
        let next = apply(
            &state,
            &Event::Accepted {
                worker: worker.to_string(),
            },
        )
        .map_err(refused)?;
        let now = gridloop_platform::clock::now();
        tickets::save_state(&mut tx, id, &next).await?;
        tickets::set_task_state(&mut tx, task.id, task_state::ACCEPTED, Some(now)).await?;
        let body = Body::Accepted(TicketAccepted {
            worker_id: worker.to_string(),
            grid_code: task.grid_code.clone(),
            attempt: task.attempt as u32,
            on_time: task.respond_by.is_none_or(|r| now <= r),
        });
        outbox::enqueue(&mut tx, &outbox::new_event(PRODUCER, &id.to_string(), body)).await?;
        tx.commit().await?;
        // The task as just written, without reading it back.
        let task = TaskRow {
            state: task_state::ACCEPTED.into(),
            accepted_at: Some(now),
            ..task
        };
        tracing::info!(%worker, "accepted");
        Ok(AcceptTaskResponse {
            task: Some(task.to_proto()),
        })
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    pub(super) async fn do_return(
        &self,
        req: Request<ReturnTaskRequest>,
    ) -> Result<ReturnTaskResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(&[Role::Worker])?;
        let worker = me(&caller)?;
        let r = req.get_ref();
        let reason = ReturnReason::try_from(r.reason)
            .ok()
            .filter(|x| *x != ReturnReason::Unspecified)
            .ok_or_else(|| ApiError::invalid("reason", "required"))?;
        let text = r.reason_text.trim();
        if reason == ReturnReason::Other && text.is_empty() {
            return Err(ApiError::invalid(
                "reason_text",
                "required when the reason is OTHER",
            ));
        }
        if text.chars().count() > 500 {
            return Err(ApiError::invalid("reason_text", "at most 500 characters"));
        }
        retrying(|| self.return_once(worker, r, reason, text)).await
    }

    async fn return_once(
        &self,
        worker: WorkerId,
        r: &ReturnTaskRequest,
        reason: ReturnReason,
        text: &str,
    ) -> Result<ReturnTaskResponse, TxError> {
        let id = ticket_id(&r.ticket_id)?;
        let mut tx = self.pool.begin().await?;
        let (ticket, state) = locked(&mut tx, id).await?;
        let task = own_task(&mut tx, id, worker).await?;
        let event = Event::Returned {
            reason: reason.as_str_name().to_owned(),
        };
        let next = apply(&state, &event).map_err(refused)?;
        tickets::save_state(&mut tx, id, &next).await?;
        // The task is retired by the dispatch below, under the workers' locks taken in order.
        let body = Body::Returned(TicketReturned {
            worker_id: worker.to_string(),
            grid_code: task.grid_code.clone(),
            reason: reason as i32,
            reason_text: text.to_owned(),
            return_count: next.return_count,
        });
        outbox::enqueue(&mut tx, &outbox::new_event(PRODUCER, &id.to_string(), body)).await?;
        let target = if next.return_count >= RETURN_LIMIT {
            Target::TownDesk {
                grid: task.grid_code.clone(),
                worker: worker.uuid(),
            }
        } else {
            Target::AfterReturn {
                grid: task.grid_code.clone(),
                worker: worker.uuid(),
            }
        };
        let ctx = Ctx {
            cal: &self.cal,
            now: gridloop_platform::clock::now(),
        };
        dispatch::dispatch(
            &mut tx,
            &self.index,
            &ctx,
            &ticket,
            next.clone(),
            target,
            DispatchTrigger::Returned,
            Some(task_state::RETURNED),
        )
        .await?;
        let task = tickets::task_by_id(&mut tx, task.id).await?;
        tx.commit().await?;
        tracing::info!(%worker, returns = next.return_count, "returned");
        Ok(ReturnTaskResponse {
            task: Some(task.to_proto()),
            return_count: next.return_count,
        })
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    pub(super) async fn do_transfer(
        &self,
        req: Request<TransferTaskRequest>,
    ) -> Result<TransferTaskResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(&[Role::Worker, Role::Supervisor, Role::Admin])?;
        let r = req.get_ref();
        crate::domain::check_code("to_grid_code", &r.to_grid_code)?;
        let reason = r.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(ApiError::invalid(
                "reason",
                "required, at most 500 characters",
            ));
        }
        retrying(|| self.transfer_once(&caller, r, reason)).await
    }

    async fn transfer_once(
        &self,
        caller: &Caller,
        r: &TransferTaskRequest,
        reason: &str,
    ) -> Result<TransferTaskResponse, TxError> {
        let id = ticket_id(&r.ticket_id)?;
        let mut tx = self.pool.begin().await?;
        let (ticket, state) = locked(&mut tx, id).await?;
        let task = if caller.role == Role::Worker {
            own_task(&mut tx, id, me(caller)?).await?
        } else {
            let t = tickets::current_handle(&mut tx, id).await?.ok_or_else(|| {
                ApiError::precondition("no worker holds the ticket", state.state.name())
            })?;
            if !in_scope(&mut tx, caller, &t.grid_code).await? {
                return Err(ApiError::PermissionDenied(format!(
                    "grid {} is outside your scope",
                    t.grid_code
                ))
                .into());
            }
            t
        };
        if grids::get(&mut tx, &r.to_grid_code).await?.is_none() {
            return Err(ApiError::invalid("to_grid_code", "no such grid").into());
        }
        if r.to_grid_code == task.grid_code {
            return Err(
                ApiError::invalid("to_grid_code", "the task is already at this grid").into(),
            );
        }
        let next = apply(
            &state,
            &Event::Transferred {
                to_grid: r.to_grid_code.clone(),
            },
        )
        .map_err(refused)?;
        tickets::save_state(&mut tx, id, &next).await?;
        // The task is retired by the dispatch below, under the workers' locks taken in order.
        let role = match caller.role {
            Role::Worker => ActorRole::Worker,
            Role::Supervisor => ActorRole::Supervisor,
            _ => ActorRole::Admin,
        };
        let body = Body::Transferred(TicketTransferred {
            from_grid_code: task.grid_code.clone(),
            to_grid_code: r.to_grid_code.clone(),
            from_worker_id: task.worker_id.to_string(),
            transferred_by: Some(Actor {
                id: caller.subject.clone(),
                role: role as i32,
            }),
            reason: reason.to_owned(),
        });
        outbox::enqueue(&mut tx, &outbox::new_event(PRODUCER, &id.to_string(), body)).await?;
        let ctx = Ctx {
            cal: &self.cal,
            now: gridloop_platform::clock::now(),
        };
        let target = Target::Within {
            grid: r.to_grid_code.clone(),
        };
        dispatch::dispatch(
            &mut tx,
            &self.index,
            &ctx,
            &ticket,
            next,
            target,
            DispatchTrigger::Transferred,
            Some(task_state::TRANSFERRED),
        )
        .await?;
        let task = tickets::task_by_id(&mut tx, task.id).await?;
        tx.commit().await?;
        tracing::info!(to = %r.to_grid_code, "transferred");
        Ok(TransferTaskResponse {
            task: Some(task.to_proto()),
        })
    }
}
