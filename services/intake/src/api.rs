//! The gRPC handlers: check the caller's role, parse the request at the edge, call the store,
//! answer. Errors leave as `ApiError`, mapped to `tonic::Status` in one place (platform).

use std::sync::Arc;

use gridloop_platform::auth::{Caller, Role};
use gridloop_platform::{ApiError, telemetry};
use gridloop_proto::v1::intake_service_server::IntakeService;
use gridloop_proto::v1::*;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::categories::Catalogue;
use crate::domain::Phone;
use crate::settings::IntakeSettings;
use crate::submit::{self, Accepted};
use crate::writer::Writer;
use crate::{categories, devices, domain, history, requests, tickets};

/// Intake's gRPC service.
#[derive(Clone)]
pub struct IntakeApi {
    pool: PgPool,
    settings: Arc<IntakeSettings>,
    catalogue: Arc<Catalogue>,
    writer: Writer,
}

impl IntakeApi {
    /// Also starts the submission writers (see [`crate::writer`]).
    pub fn new(pool: PgPool, settings: IntakeSettings) -> Self {
        Self {
            catalogue: Arc::new(Catalogue::new(pool.clone())),
            writer: Writer::start(pool.clone(), settings.repeat_window, settings.writers),
            pool,
            settings: Arc::new(settings),
        }
    }

    async fn accept(
        &self,
        sub: submit::Submission,
    ) -> Result<Response<SubmitTicketResponse>, Status> {
        let done = self.writer.submit(sub).await?;
        // The writer records it on its own task: the call learns its ticket from the answer.
        telemetry::mark_ticket(&done.ticket_id.to_string());
        match done.outcome {
            SubmitOutcome::Created => {
                tracing::info!(ticket_id = %done.ticket_id, "ticket discovered")
            }
            SubmitOutcome::Merged => tracing::info!(
                ticket_id = %done.merged_ticket_id.unwrap_or(done.ticket_id),
                parent_ticket_id = %done.ticket_id,
                repeat_count = done.repeat_count,
                "submission merged as a repeat complaint"
            ),
            _ => {}
        }
        Ok(Response::new(answer(done)))
    }
}

fn answer(a: Accepted) -> SubmitTicketResponse {
    SubmitTicketResponse {
        ticket_id: a.ticket_id.to_string(),
        outcome: a.outcome as i32,
        merged_ticket_id: a
            .merged_ticket_id
            .map(|m| m.to_string())
            .unwrap_or_default(),
        repeat_count: a.repeat_count,
        urgency: a.urgency as i32,
    }
}

fn caller<T>(req: &Request<T>, roles: &[Role]) -> Result<Caller, ApiError> {
    let c = Caller::of(req)?;
    c.require(roles)?;
    Ok(c.clone())
}

const DEVICE_ROLES: &[Role] = &[Role::Admin, Role::Supervisor];

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    #[tracing::instrument(skip_all, fields(external_id = %req.get_ref().external_id))]
    async fn submit_hotline_ticket(
        &self,
        req: Request<SubmitHotlineTicketRequest>,
    ) -> Result<Response<SubmitTicketResponse>, Status> {
        caller(&req, &[Role::Operator])?;
        let sub = requests::hotline(
            &self.catalogue,
            &self.settings,
            req.get_ref(),
            gridloop_platform::clock::now(),
        )
        .await?;
        self.accept(sub).await
    }

    #[tracing::instrument(skip_all, fields(device_id = %req.get_ref().device_id))]
    async fn submit_one_key_call(
        &self,
        req: Request<SubmitOneKeyCallRequest>,
    ) -> Result<Response<SubmitTicketResponse>, Status> {
        caller(&req, &[Role::Service])?;
        let sub = requests::one_key(
            &self.pool,
            &self.catalogue,
            &self.settings,
            req.get_ref(),
            gridloop_platform::clock::now(),
        )
        .await?;
        self.accept(sub).await
    }

    #[tracing::instrument(skip_all, fields(submission_id = %req.get_ref().submission_id))]
    async fn submit_app_ticket(
        &self,
        req: Request<SubmitAppTicketRequest>,
    ) -> Result<Response<SubmitTicketResponse>, Status> {
        let who = caller(&req, &[Role::Citizen, Role::Service])?;
        let sub = requests::app(
            &self.catalogue,
            &self.settings,
            &who,
            req.get_ref(),
            gridloop_platform::clock::now(),
        )
        .await?;
        self.accept(sub).await
    }

    #[tracing::instrument(skip_all, fields(finding_id = %req.get_ref().finding_id))]
    async fn report_patrol_finding(
        &self,
        req: Request<ReportPatrolFindingRequest>,
    ) -> Result<Response<SubmitTicketResponse>, Status> {
        let who = caller(&req, &[Role::Worker])?;
        let sub = requests::patrol(
            &self.catalogue,
            &who,
            req.get_ref(),
            gridloop_platform::clock::now(),
        )
        .await?;
        self.accept(sub).await
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    async fn get_ticket(
        &self,
        req: Request<GetTicketRequest>,
    ) -> Result<Response<GetTicketResponse>, Status> {
        let who = caller(&req, &[Role::Operator, Role::Supervisor, Role::Citizen])?;
        let id = tickets::parse_id("ticket_id", &req.get_ref().ticket_id)?;
        let stored = tickets::get(&self.pool, id).await?;
        // A citizen sees only their own tickets; others' look like unknown ids, so ticket ids
        // cannot be probed.
        if who.role == Role::Citizen && stored.citizen_key.as_deref() != Some(who.subject.as_str())
        {
            return Err(ApiError::NotFound(format!("ticket {id}")).into());
        }
        let history = history::history(&self.pool, &stored).await?;
        Ok(Response::new(GetTicketResponse {
            ticket: Some(stored.ticket),
            history,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn find_tickets(
        &self,
        req: Request<FindTicketsRequest>,
    ) -> Result<Response<FindTicketsResponse>, Status> {
        caller(&req, &[Role::Operator])?;
        let r = req.get_ref();
        if !r.external_id.is_empty() {
            // One submission's ticket, by the id the caller's own system gave it.
            let external_id = domain::id("external_id", &r.external_id)?;
            let channel = match Channel::try_from(r.channel) {
                Ok(c) if c != Channel::Unspecified => c,
                _ => return Err(ApiError::invalid("channel", "required with external_id").into()),
            };
            let tickets = tickets::by_external_id(&self.pool, channel as i16, &external_id).await?;
            return Ok(Response::new(FindTicketsResponse {
                tickets,
                next_page_token: String::new(),
            }));
        }
        let phone = Phone::parse("phone", &r.phone)?;
        let key = self.settings.keys.citizen_key(&phone);
        let (tickets, next_page_token) = tickets::find(
            &self.pool,
            &key,
            self.settings.repeat_window,
            r.recent_days,
            r.page_size,
            &r.page_token,
        )
        .await?;
        Ok(Response::new(FindTicketsResponse {
            tickets,
            next_page_token,
        }))
    }

    async fn register_device(
        &self,
        req: Request<RegisterDeviceRequest>,
    ) -> Result<Response<RegisterDeviceResponse>, Status> {
        let who = caller(&req, DEVICE_ROLES)?;
        let d = devices::register(&self.pool, &self.settings.keys, &who, req.get_ref()).await?;
        Ok(Response::new(RegisterDeviceResponse {
            device: Some(d.to_proto(&self.settings.keys)),
        }))
    }

    async fn update_device(
        &self,
        req: Request<UpdateDeviceRequest>,
    ) -> Result<Response<UpdateDeviceResponse>, Status> {
        let who = caller(&req, DEVICE_ROLES)?;
        let d = devices::update(&self.pool, &who, req.get_ref()).await?;
        Ok(Response::new(UpdateDeviceResponse {
            device: Some(d.to_proto(&self.settings.keys)),
        }))
    }

    async fn deactivate_device(
        &self,
        req: Request<DeactivateDeviceRequest>,
    ) -> Result<Response<DeactivateDeviceResponse>, Status> {
        let who = caller(&req, DEVICE_ROLES)?;
        let r = req.get_ref();
        let d = devices::deactivate(&self.pool, &who, &r.device_id, &r.reason).await?;
        Ok(Response::new(DeactivateDeviceResponse {
            device: Some(d.to_proto(&self.settings.keys)),
        }))
    }

    async fn list_devices(
        &self,
        req: Request<ListDevicesRequest>,
    ) -> Result<Response<ListDevicesResponse>, Status> {
        let who = caller(&req, DEVICE_ROLES)?;
        let (rows, next_page_token) = devices::list(&self.pool, &who, req.get_ref()).await?;
        Ok(Response::new(ListDevicesResponse {
            devices: rows
                .iter()
                .map(|d| d.to_proto(&self.settings.keys))
                .collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn upsert_category(
        &self,
        req: Request<UpsertCategoryRequest>,
    ) -> Result<Response<UpsertCategoryResponse>, Status> {
        caller(&req, &[Role::Admin])?;
        let c = self
            .catalogue
            .upsert(req.get_ref().category.as_ref())
            .await?;
        tracing::info!(code = %c.code, active = c.active, "category stored");
        Ok(Response::new(UpsertCategoryResponse {
            category: Some(c.to_proto()),
        }))
    }

    async fn list_categories(
        &self,
        req: Request<ListCategoriesRequest>,
    ) -> Result<Response<ListCategoriesResponse>, Status> {
        Caller::of(&req)?;
        let rows = categories::list(&self.pool, req.get_ref().include_inactive).await?;
        Ok(Response::new(ListCategoriesResponse {
            categories: rows.iter().map(|c| c.to_proto()).collect(),
        }))
    }
}
