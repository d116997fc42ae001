//! 处置: the holding worker's disposal report. It is a step of the same task as 签收, 退单
//! and 转办 and is decided the same way: the ticket's row is locked, the caller's task must
//! still stand, and the lifecycle rules check the step against routing's view — which is
//! current, because every step of the task is written here. Of a disposal and a return racing
//! for one task, the one that takes the lock second sees the other's result and is refused.

use gridloop_lifecycle::{Event, State, WorkerId, apply};
use gridloop_platform::auth::{Caller, Role};
use gridloop_platform::{ApiError, outbox};
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use tonic::Request;
use uuid::Uuid;

use super::retry::{TxError, retrying};
use super::tasks::{locked, me, own_task, refused};
use super::{Api, ticket_id};
use crate::dispatch::PRODUCER;
use crate::disposal::{self, DisposalRow, Report};
use crate::domain::{disposal_type, task_state};
use crate::tickets::{self, TaskRow};

fn answer(d: &DisposalRow, task: &TaskRow) -> SubmitDisposalResponse {
    SubmitDisposalResponse {
        disposal: Some(d.to_proto()),
        // The rules move an accepted task to DISPOSED and nowhere else; a repeated report is
        // answered only while the ticket is still there.
        state: LifecycleState::Disposed as i32,
        task: Some(task.to_proto()),
    }
}

impl Api {
    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    pub(super) async fn do_dispose(
        &self,
        req: Request<SubmitDisposalRequest>,
    ) -> Result<SubmitDisposalResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(&[Role::Worker])?;
        let worker = me(&caller)?;
        let r = req.get_ref();
        let report = Report::parse(r, gridloop_platform::clock::now())?;
        retrying(|| self.dispose_once(worker, &r.ticket_id, &report)).await
    }

    async fn dispose_once(
        &self,
        worker: WorkerId,
        id: &str,
        report: &Report,
    ) -> Result<SubmitDisposalResponse, TxError> {
        let id = ticket_id(id)?;
        let mut tx = self.pool.begin().await?;
        let (_, state) = locked(&mut tx, id).await?;
        let task = own_task(&mut tx, id, worker).await?;
        // A worker's app resends a report whose answer it lost; the same report on the same
        // task, while the ticket still waits for feedback, gets the recorded disposal back.
        if task.state == task_state::DISPOSED
            && matches!(state.state, State::Disposed { .. })
            && let Some(done) = disposal::of_task(&mut tx, task.id).await?
            && done.repeats(report)
        {
            return Ok(answer(&done, &task));
        }
        let next = apply(
            &state,
            &Event::Disposed {
                kind: report.lifecycle_kind(),
            },
        )
        .map_err(refused)?;
        let row = DisposalRow {
            disposal_id: Uuid::now_v7(),
            ticket_id: id,
            task_id: task.id,
            worker_id: worker.uuid(),
            grid_code: task.grid_code.clone(),
            disposal_type: disposal_type::name(report.kind).into(),
            result: report.result.clone(),
            evidence_urls: report.evidence_urls.clone(),
            disposed_at: report.disposed_at,
            unresolvable_reason: report.unresolvable_reason.clone(),
            rework_count: i32::try_from(next.rework_count).unwrap_or(i32::MAX),
        };
        tickets::save_state(&mut tx, id, &next).await?;
        tickets::set_task_state(&mut tx, task.id, task_state::DISPOSED, None).await?;
        disposal::insert(&mut tx, &row).await?;
        let event = outbox::new_event(PRODUCER, &id.to_string(), Body::Disposed(row.event()));
        outbox::enqueue(&mut tx, &event).await?;
        tx.commit().await?;
        // The task as just written, without reading it back.
        let task = TaskRow {
            state: task_state::DISPOSED.into(),
            ..task
        };
        tracing::info!(%worker, disposal_id = %row.disposal_id, "disposed");
        Ok(answer(&row, &task))
    }
}
