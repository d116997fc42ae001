//! The gRPC handlers: check the caller's role, parse the request into domain values, query or
//! change, render the answer.

use std::sync::Arc;

use gridloop_lifecycle::Calendar;
use gridloop_platform::ApiError;
use gridloop_platform::auth::{Caller, Role};
use gridloop_proto::from_ts;
use gridloop_proto::v1 as pb;
use pb::tracker_service_server::TrackerService;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::clock::Clock;
use crate::domain::{self, deadline_kind, in_scope, span, timer_kind};
use crate::extension::{self, Grant, Move};
use crate::queries::{self, OverdueQuery};
use crate::sla::{self, Rule};
use crate::store;

const READERS: &[Role] = &[Role::Supervisor, Role::Leader, Role::Admin, Role::Operator];
const STAFF: &[Role] = &[
    Role::Operator,
    Role::Worker,
    Role::Supervisor,
    Role::Leader,
    Role::Admin,
];
const MAX_REASON: usize = 500;

/// The tracker gRPC service.
pub struct Api {
    pub pool: PgPool,
    pub clock: Arc<dyn Clock>,
    pub calendar: Arc<Calendar>,
    pub wake: Arc<crate::firing::Wake>,
}

type Reply<T> = Result<Response<T>, Status>;

/// The grid roots a caller lists; `None` (every grid) for an admin.
fn roots(caller: &Caller, requested: &str) -> Result<Option<Vec<String>>, ApiError> {
    let requested = requested.trim();
    if caller.role == Role::Admin {
        return Ok((!requested.is_empty()).then(|| vec![requested.to_owned()]));
    }
    if !requested.is_empty() {
        if in_scope(requested, &caller.grids) {
            return Ok(Some(vec![requested.to_owned()]));
        }
        return Err(ApiError::PermissionDenied(format!(
            "grid {requested} is outside your scope"
        )));
    }
    let mine: Vec<String> = caller
        .grids
        .iter()
        .filter(|g| !g.is_empty())
        .cloned()
        .collect();
    if mine.is_empty() {
        return Err(ApiError::PermissionDenied(
            "your token names no grids".into(),
        ));
    }
    Ok(Some(mine))
}

/// Supervisors and leaders read the tickets of their own grids; admins and the 12345 centre's
/// operators work county-wide, and workers are checked against the ticket they hold.
fn needs_scope(caller: &Caller) -> bool {
    matches!(caller.role, Role::Supervisor | Role::Leader)
}

/// A ticket belongs to the grid it was dispatched to; a repeat complaint merged before any
/// dispatch, to its parent's. One not placed in any grid yet lies in nobody's subtree, so
/// scope cannot narrow it: every supervisor and leader may read it, as the 12345 centre can.
async fn check_scope(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    t: &store::Ticket,
) -> Result<(), ApiError> {
    let mut grid = t.grid_code.clone();
    if grid.is_empty()
        && let Some(parent) = t.parent_ticket_id
        && let Some(p) = store::get(conn, parent).await.map_err(ApiError::from)?
    {
        grid = p.grid_code;
    }
    if grid.is_empty() || caller.covers(&grid) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "the ticket's grid {grid} is outside your scope"
        )))
    }
}

#[tonic::async_trait]
impl TrackerService for Api {
    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    async fn get_timeline(
        &self,
        req: Request<pb::GetTimelineRequest>,
    ) -> Reply<pb::GetTimelineResponse> {
        let caller = Caller::of(&req)?;
        caller.require(READERS)?;
        let r = req.get_ref();
        let id = domain::ticket_id(&r.ticket_id)?;
        let size = queries::page_size(r.page_size)?;
        let after = queries::parse_seq(&r.page_token)?;
        if needs_scope(caller) {
            let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
            let t = store::get(&mut conn, id)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| ApiError::NotFound(format!("ticket {id}")))?;
            check_scope(&mut conn, caller, &t).await?;
        }
        let (entries, next_page_token) = queries::timeline(&self.pool, id, after, size)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("ticket {id}")))?;
        Ok(Response::new(pb::GetTimelineResponse {
            ticket_id: id.to_string(),
            entries,
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    async fn get_loop_status(
        &self,
        req: Request<pb::GetLoopStatusRequest>,
    ) -> Reply<pb::GetLoopStatusResponse> {
        let caller = Caller::of(&req)?;
        caller.require(&[
            Role::Supervisor,
            Role::Leader,
            Role::Admin,
            Role::Operator,
            Role::Worker,
        ])?;
        let id = domain::ticket_id(&req.get_ref().ticket_id)?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let t = store::get(&mut conn, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("ticket {id}")))?;
        if caller.role == Role::Worker
            && t.loop_state.state.holder().map(|h| h.worker.as_str()) != Some(&caller.subject)
        {
            return Err(ApiError::PermissionDenied("not your ticket".into()).into());
        }
        if needs_scope(caller) {
            check_scope(&mut conn, caller, &t).await?;
        }
        let status = queries::status(&mut conn, &t, self.clock.now())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetLoopStatusResponse {
            status: Some(status),
        }))
    }

    #[tracing::instrument(skip_all, fields(grid_code = %req.get_ref().grid_code))]
    async fn list_overdue(
        &self,
        req: Request<pb::ListOverdueRequest>,
    ) -> Reply<pb::ListOverdueResponse> {
        let caller = Caller::of(&req)?;
        caller.require(&[Role::Supervisor, Role::Leader, Role::Admin])?;
        let r = req.get_ref();
        let kind = match r.kind {
            0 => None,
            k => Some(
                deadline_kind(k)
                    .and_then(timer_kind::name)
                    .ok_or_else(|| ApiError::invalid("kind", "not a deadline kind"))?,
            ),
        };
        let q = OverdueQuery {
            roots: roots(caller, &r.grid_code)?,
            kind,
            now: self.clock.now(),
            size: queries::page_size(r.page_size)?,
            after: queries::parse_pos(&r.page_token)?,
        };
        let (tickets, next_page_token) = queries::overdue(&self.pool, &q)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListOverdueResponse {
            tickets,
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_violations(
        &self,
        req: Request<pb::ListViolationsRequest>,
    ) -> Reply<pb::ListViolationsResponse> {
        Caller::of(&req)?.require(&[Role::Supervisor, Role::Leader, Role::Admin])?;
        let r = req.get_ref();
        let time = |field: &str, t: Option<&prost_types::Timestamp>| {
            t.map(|t| from_ts(t).ok_or_else(|| ApiError::invalid(field, "not a valid timestamp")))
                .transpose()
        };
        let range = r.range.as_ref();
        let from = time("range.start", range.and_then(|g| g.start.as_ref()))?;
        let until = time("range.end", range.and_then(|g| g.end.as_ref()))?;
        if let (Some(a), Some(b)) = (from, until)
            && b < a
        {
            return Err(ApiError::invalid("range.end", "before range.start").into());
        }
        let size = queries::page_size(r.page_size)?;
        let before = queries::parse_pos(&r.page_token)?;
        let (violations, next_page_token) =
            queries::violations(&self.pool, from, until, size, before)
                .await
                .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListViolationsResponse {
            violations,
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(ticket_id = %req.get_ref().ticket_id))]
    async fn grant_extension(
        &self,
        req: Request<pb::GrantExtensionRequest>,
    ) -> Reply<pb::GrantExtensionResponse> {
        let caller = Caller::of(&req)?;
        caller.require(&[Role::Supervisor])?;
        let r = req.get_ref();
        let ticket = domain::ticket_id(&r.ticket_id)?;
        let kind = match r.kind {
            0 => pb::DeadlineKind::Dispose,
            k => {
                deadline_kind(k).ok_or_else(|| ApiError::invalid("kind", "not a deadline kind"))?
            }
        };
        let by = match &r.extension {
            Some(pb::grant_extension_request::Extension::NewDueAt(t)) => Move::To(
                from_ts(t)
                    .ok_or_else(|| ApiError::invalid("new_due_at", "not a valid timestamp"))?,
            ),
            Some(pb::grant_extension_request::Extension::ExtendBy(l)) => {
                let (amount, unit) = domain::limit("extend_by", Some(l))?;
                Move::By(span(amount, unit))
            }
            None => {
                return Err(ApiError::invalid("extension", "set new_due_at or extend_by").into());
            }
        };
        let reason = r.reason.trim();
        if reason.is_empty() {
            return Err(ApiError::invalid("reason", "required").into());
        }
        if reason.chars().count() > MAX_REASON {
            return Err(ApiError::invalid("reason", "longer than 500 characters").into());
        }
        let g = Grant {
            ticket,
            kind,
            by,
            reason: domain::mask_digits(reason),
        };
        let status = extension::grant(
            &self.pool,
            &self.calendar,
            &g,
            &caller.subject,
            &caller.grids,
            self.clock.now(),
        )
        .await?;
        self.wake.now();
        Ok(Response::new(pb::GrantExtensionResponse {
            status: Some(status),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn upsert_sla_rule(
        &self,
        req: Request<pb::UpsertSlaRuleRequest>,
    ) -> Reply<pb::UpsertSlaRuleResponse> {
        Caller::of(&req)?.require(&[Role::Admin, Role::Supervisor])?;
        let rule = parse_rule(req.get_ref().rule.as_ref())?;
        let stored = sla::upsert(&self.pool, &rule)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(category = %stored.category_code, urgency = stored.urgency, "sla rule stored");
        Ok(Response::new(pb::UpsertSlaRuleResponse {
            rule: Some(stored.to_pb()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_sla_rules(
        &self,
        req: Request<pb::ListSlaRulesRequest>,
    ) -> Reply<pb::ListSlaRulesResponse> {
        Caller::of(&req)?.require(STAFF)?;
        let r = req.get_ref();
        let category = r.category_code.trim();
        let category = (!category.is_empty())
            .then(|| category_code(category))
            .transpose()?;
        let size = queries::page_size(r.page_size)?;
        let after = parse_rule_token(&r.page_token)?;
        let mut rules = sla::page(&self.pool, category.as_deref(), after, size + 1)
            .await
            .map_err(ApiError::from)?;
        let more = rules.len() as i64 > size;
        rules.truncate(size as usize);
        let next_page_token = match rules.last() {
            Some(last) if more => format!("{}|{}", last.urgency, last.category_code),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListSlaRulesResponse {
            rules: rules.iter().map(Rule::to_pb).collect(),
            next_page_token,
        }))
    }
}

fn category_code(raw: &str) -> Result<String, ApiError> {
    let ok = raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::invalid(
            "category_code",
            "letters, digits, '_' or '-', at most 64",
        ))
    }
}

fn parse_rule(rule: Option<&pb::SlaRule>) -> Result<Rule, ApiError> {
    let r = rule.ok_or_else(|| ApiError::invalid("rule", "required"))?;
    let code = category_code(r.category_code.trim())?;
    let urgency = match pb::Urgency::try_from(r.urgency) {
        Ok(pb::Urgency::Unspecified) | Err(_) => {
            return Err(ApiError::invalid(
                "rule.urgency",
                "required: GENERAL, URGENT or COMPLEX",
            ));
        }
        Ok(u) => u as i32,
    };
    let (respond_amount, respond_unit) =
        domain::limit("rule.respond_within", r.respond_within.as_ref())?;
    let (dispose_amount, dispose_unit) =
        domain::limit("rule.dispose_within", r.dispose_within.as_ref())?;
    let (feedback_amount, feedback_unit) =
        domain::limit("rule.feedback_within", r.feedback_within.as_ref())?;
    Ok(Rule {
        category_code: code,
        urgency,
        respond_amount,
        respond_unit,
        dispose_amount,
        dispose_unit,
        feedback_amount,
        feedback_unit,
        updated_at: gridloop_platform::clock::now(),
    })
}

/// A rules page token: `<urgency>|<category_code>` of the last rule returned.
fn parse_rule_token(raw: &str) -> Result<Option<(String, i32)>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::invalid("page_token", "not a token from a previous page");
    let (urgency, code) = raw.split_once('|').ok_or_else(bad)?;
    Ok(Some((code.to_owned(), urgency.parse().map_err(|_| bad())?)))
}
