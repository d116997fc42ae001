//! The gRPC handlers: parse and validate requests into domain types at the edge, check the
//! caller's role and scope, then call the stores. Admin RPCs live in [`admin`], the workers'
//! task RPCs in [`tasks`] and [`dispose`].

mod admin;
mod dispose;
mod retry;
mod scope;
mod tasks;

use std::sync::Arc;

use gridloop_lifecycle::Calendar;
use gridloop_platform::ApiError;
use gridloop_platform::auth::{Caller, Role};
use gridloop_proto::v1::routing_service_server::RoutingService;
use gridloop_proto::v1::*;
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};

use crate::grids;
use crate::index::Index;

/// The routing service's handlers.
#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
    pub cal: Arc<Calendar>,
    pub index: Arc<Index>,
}

/// Every role that works for the county (all but citizens).
const STAFF: &[Role] = &[
    Role::Operator,
    Role::Worker,
    Role::Supervisor,
    Role::Leader,
    Role::Admin,
    Role::Service,
];
const MANAGERS: &[Role] = &[Role::Admin, Role::Supervisor];

/// Whether `caller` may see or act on `grid`: admins everywhere, supervisors in the subtrees
/// their token names.
async fn in_scope(tx: &mut PgConnection, caller: &Caller, grid: &str) -> Result<bool, ApiError> {
    match caller.role {
        Role::Admin => Ok(true),
        Role::Supervisor => Ok(grids::within(tx, grid, &caller.grids).await?),
        _ => Ok(false),
    }
}

/// [`in_scope`] as a refusal: PERMISSION_DENIED naming the grid.
async fn require_scope(tx: &mut PgConnection, caller: &Caller, grid: &str) -> Result<(), ApiError> {
    if in_scope(tx, caller, grid).await? {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "grid {grid} is outside your scope"
        )))
    }
}

/// A requested ticket id; INVALID_ARGUMENT naming `ticket_id` when it is not a UUID.
fn ticket_id(raw: &str) -> Result<gridloop_lifecycle::TicketId, ApiError> {
    gridloop_lifecycle::TicketId::parse(raw)
        .map_err(|_| ApiError::invalid("ticket_id", "not a UUID"))
}

fn parse_uuid(field: &str, v: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(v).map_err(|_| ApiError::invalid(field, "not a UUID"))
}

type R<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl RoutingService for Api {
    async fn upsert_grid(&self, req: Request<UpsertGridRequest>) -> R<UpsertGridResponse> {
        Ok(Response::new(self.do_upsert_grid(req).await?))
    }

    async fn get_grid(&self, req: Request<GetGridRequest>) -> R<GetGridResponse> {
        Ok(Response::new(self.do_get_grid(req).await?))
    }

    async fn list_grids(&self, req: Request<ListGridsRequest>) -> R<ListGridsResponse> {
        Ok(Response::new(self.do_list_grids(req).await?))
    }

    async fn upsert_worker(&self, req: Request<UpsertWorkerRequest>) -> R<UpsertWorkerResponse> {
        Ok(Response::new(self.do_upsert_worker(req).await?))
    }

    async fn list_workers(&self, req: Request<ListWorkersRequest>) -> R<ListWorkersResponse> {
        Ok(Response::new(self.do_list_workers(req).await?))
    }

    async fn set_duty(&self, req: Request<SetDutyRequest>) -> R<SetDutyResponse> {
        Ok(Response::new(self.do_set_duty(req).await?))
    }

    async fn upsert_routing_rule(
        &self,
        req: Request<UpsertRoutingRuleRequest>,
    ) -> R<UpsertRoutingRuleResponse> {
        Ok(Response::new(self.do_upsert_rule(req).await?))
    }

    async fn list_routing_rules(
        &self,
        req: Request<ListRoutingRulesRequest>,
    ) -> R<ListRoutingRulesResponse> {
        Ok(Response::new(self.do_list_rules(req).await?))
    }

    async fn list_my_tasks(&self, req: Request<ListMyTasksRequest>) -> R<ListMyTasksResponse> {
        Ok(Response::new(self.do_list_tasks(req).await?))
    }

    async fn get_task(&self, req: Request<GetTaskRequest>) -> R<GetTaskResponse> {
        Ok(Response::new(self.do_get_task(req).await?))
    }

    async fn accept_task(&self, req: Request<AcceptTaskRequest>) -> R<AcceptTaskResponse> {
        Ok(Response::new(self.do_accept(req).await?))
    }

    async fn return_task(&self, req: Request<ReturnTaskRequest>) -> R<ReturnTaskResponse> {
        Ok(Response::new(self.do_return(req).await?))
    }

    async fn transfer_task(&self, req: Request<TransferTaskRequest>) -> R<TransferTaskResponse> {
        Ok(Response::new(self.do_transfer(req).await?))
    }

    async fn submit_disposal(
        &self,
        req: Request<SubmitDisposalRequest>,
    ) -> R<SubmitDisposalResponse> {
        Ok(Response::new(self.do_dispose(req).await?))
    }
}
