//! Grid tree, workers, duty roster and routing rules (admins and supervisors). Supervisors
//! write only inside their subtrees ([`scope`]); routing rules are county-wide policy. A
//! worker back on duty or upserted with posts takes the tickets waiting at their grids.

use gridloop_platform::ApiError;
use gridloop_platform::auth::{Caller, Role};
use gridloop_proto::v1::*;
use tonic::Request;

use super::{Api, MANAGERS, STAFF, in_scope, parse_uuid, require_scope, scope};
use crate::dispatch::Ctx;
use crate::domain::{Level, Page, PostKind, SlaClass, check_code, parse_phone, role, worker_role};
use crate::workers::{self, NewWorker};
use crate::{grids, rules, waiting};

impl Api {
    #[tracing::instrument(skip_all, fields(grids = req.get_ref().grids.len()))]
    pub(super) async fn do_upsert_grid(
        &self,
        req: Request<UpsertGridRequest>,
    ) -> Result<UpsertGridResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(MANAGERS)?;
        let mut tx = self.pool.begin().await?;
        scope::grids_before(&mut tx, &caller, &req.get_ref().grids).await?;
        let (rows, created) = grids::upsert_batch(&mut tx, &req.get_ref().grids).await?;
        scope::grids_after(&mut tx, &caller, &rows).await?;
        tx.commit().await?;
        tracing::info!(created, "grids upserted");
        Ok(UpsertGridResponse {
            updated: rows.len() as u32 - created,
            grids: rows.iter().map(grids::GridRow::to_proto).collect(),
            created,
        })
    }

    pub(super) async fn do_get_grid(
        &self,
        req: Request<GetGridRequest>,
    ) -> Result<GetGridResponse, ApiError> {
        Caller::of(&req)?.require(STAFF)?;
        let code = &req.get_ref().code;
        check_code("code", code)?;
        let mut tx = self.pool.begin().await?;
        let grid = grids::get(&mut tx, code)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("grid {code}")))?;
        let mut ancestors = grids::ancestors(&mut tx, code).await?;
        ancestors.reverse();
        let mut holders = workers::post_holders(&mut tx, code, None).await?;
        holders.extend(workers::chiefs(&mut tx, code).await?);
        let mut seen = std::collections::HashSet::new();
        holders.retain(|w| seen.insert(w.worker_id));
        let now = gridloop_platform::clock::now();
        let mut post_holders = Vec::new();
        for w in holders {
            let posts = workers::posts_of(&mut tx, w.worker_id).await?;
            post_holders.push(w.to_proto(posts, now));
        }
        Ok(GetGridResponse {
            grid: Some(grid.to_proto()),
            ancestors: ancestors.iter().map(grids::GridRow::to_proto).collect(),
            post_holders,
        })
    }

    pub(super) async fn do_list_grids(
        &self,
        req: Request<ListGridsRequest>,
    ) -> Result<ListGridsResponse, ApiError> {
        Caller::of(&req)?.require(STAFF)?;
        let r = req.get_ref();
        let page = Page::parse(r.page_size, &r.page_token)?;
        let root = (!r.root_code.is_empty()).then_some(r.root_code.as_str());
        if let Some(root) = root {
            check_code("root_code", root)?;
        }
        let level = match r.level {
            0 => None,
            l => Some(
                Level::from_i32(l).ok_or_else(|| ApiError::invalid("level", "unknown level"))?,
            ),
        };
        let mut tx = self.pool.begin().await?;
        if let Some(root) = root
            && grids::get(&mut tx, root).await?.is_none()
        {
            return Err(ApiError::NotFound(format!("grid {root}")));
        }
        let mut rows =
            grids::subtree(&mut tx, root, r.max_depth, level, page.offset, page.limit()).await?;
        let next_page_token = page.finish(&mut rows);
        Ok(ListGridsResponse {
            grids: rows.iter().map(grids::GridRow::to_proto).collect(),
            next_page_token,
        })
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn do_upsert_worker(
        &self,
        req: Request<UpsertWorkerRequest>,
    ) -> Result<UpsertWorkerResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(MANAGERS)?;
        let r = req.get_ref();
        let staff_no = r.staff_no.trim();
        if staff_no.is_empty() || staff_no.len() > 32 {
            return Err(ApiError::invalid(
                "staff_no",
                "required, at most 32 characters",
            ));
        }
        let name = r.name.trim();
        if name.is_empty() || name.chars().count() > 32 {
            return Err(ApiError::invalid("name", "required, at most 32 characters"));
        }
        let role = worker_role(r.role).ok_or_else(|| ApiError::invalid("role", "required"))?;
        let phone = parse_phone(&r.phone)?;
        let mut posts = Vec::new();
        for (i, p) in r.posts.iter().enumerate() {
            check_code(&format!("posts[{i}].grid_code"), &p.grid_code)?;
            let post = PostKind::from_i32(p.post)
                .ok_or_else(|| ApiError::invalid(format!("posts[{i}].post"), "A or B"))?;
            if posts.iter().any(|(g, _)| g == &p.grid_code) {
                return Err(ApiError::invalid(
                    format!("posts[{i}].grid_code"),
                    "one post per grid",
                ));
            }
            posts.push((p.grid_code.clone(), post));
        }
        let chief_of = (!r.chief_of_grid_code.is_empty()).then(|| r.chief_of_grid_code.clone());
        if let Some(c) = &chief_of {
            check_code("chief_of_grid_code", c)?;
            if role != WorkerRole::GridChief {
                return Err(ApiError::invalid(
                    "chief_of_grid_code",
                    "only a GRID_CHIEF leads a grid",
                ));
            }
        }
        let capacity =
            i32::try_from(r.capacity).map_err(|_| ApiError::invalid("capacity", "too large"))?;
        let mut tx = self.pool.begin().await?;
        for (i, (g, _)) in posts.iter().enumerate() {
            if grids::get(&mut tx, g).await?.is_none() {
                return Err(ApiError::invalid(
                    format!("posts[{i}].grid_code"),
                    "no such grid",
                ));
            }
        }
        if let Some(c) = &chief_of
            && grids::get(&mut tx, c).await?.is_none()
        {
            return Err(ApiError::invalid("chief_of_grid_code", "no such grid"));
        }
        if caller.role != Role::Admin {
            for g in posts.iter().map(|(g, _)| g).chain(&chief_of) {
                require_scope(&mut tx, &caller, g).await?;
            }
            // Taking over a worker of another subtree writes there too.
            let known: Option<uuid::Uuid> =
                sqlx::query_scalar("SELECT worker_id FROM workers WHERE staff_no = $1")
                    .bind(staff_no)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(id) = known {
                scope::worker(&mut tx, &caller, id, false).await?;
            }
        }
        let serves = !posts.is_empty() || chief_of.is_some();
        let new = NewWorker {
            staff_no: staff_no.to_owned(),
            name: name.to_owned(),
            role,
            phone,
            posts,
            chief_of,
            capacity,
        };
        let (id, created) = workers::upsert(&mut tx, &new).await?;
        if serves {
            let ctx = Ctx {
                cal: &self.cal,
                now: gridloop_platform::clock::now(),
            };
            waiting::redispatch_for(&mut tx, &self.index, &ctx, id).await?;
        }
        let row = workers::get(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::internal("worker vanished"))?;
        let posts = workers::posts_of(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(worker_id = %id, created, "worker upserted");
        Ok(UpsertWorkerResponse {
            worker: Some(row.to_proto(posts, gridloop_platform::clock::now())),
            created,
        })
    }

    pub(super) async fn do_list_workers(
        &self,
        req: Request<ListWorkersRequest>,
    ) -> Result<ListWorkersResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(MANAGERS)?;
        let r = req.get_ref();
        let page = Page::parse(r.page_size, &r.page_token)?;
        let role = match r.role {
            0 => None,
            v => Some(
                worker_role(v)
                    .map(role::name)
                    .ok_or_else(|| ApiError::invalid("role", "unknown role"))?,
            ),
        };
        let mut tx = self.pool.begin().await?;
        let roots: Option<Vec<String>> = if !r.grid_code.is_empty() {
            check_code("grid_code", &r.grid_code)?;
            if caller.role != Role::Admin && !in_scope(&mut tx, &caller, &r.grid_code).await? {
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
        let mut rows = workers::list(
            &mut tx,
            roots.as_deref(),
            role,
            r.on_duty_only,
            page.offset,
            page.limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows);
        let now = gridloop_platform::clock::now();
        let mut out = Vec::with_capacity(rows.len());
        for w in rows {
            let posts = workers::posts_of(&mut tx, w.worker_id).await?;
            out.push(w.to_proto(posts, now));
        }
        Ok(ListWorkersResponse {
            workers: out,
            next_page_token,
        })
    }

    #[tracing::instrument(skip_all, fields(worker_id = %req.get_ref().worker_id))]
    pub(super) async fn do_set_duty(
        &self,
        req: Request<SetDutyRequest>,
    ) -> Result<SetDutyResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(MANAGERS)?;
        let r = req.get_ref();
        let id = parse_uuid("worker_id", &r.worker_id)?;
        let leave = match (&r.leave_from, &r.leave_until) {
            (None, None) => None,
            (Some(f), Some(u)) => {
                let f = gridloop_proto::from_ts(f)
                    .ok_or_else(|| ApiError::invalid("leave_from", "not a valid time"))?;
                let u = gridloop_proto::from_ts(u)
                    .ok_or_else(|| ApiError::invalid("leave_until", "not a valid time"))?;
                if u <= f {
                    return Err(ApiError::invalid("leave_until", "must be after leave_from"));
                }
                Some((f, u))
            }
            (None, Some(_)) => {
                return Err(ApiError::invalid("leave_from", "required with leave_until"));
            }
            (Some(_), None) => {
                return Err(ApiError::invalid("leave_until", "required with leave_from"));
            }
        };
        let capacity = r
            .capacity
            .map(|c| i32::try_from(c).map_err(|_| ApiError::invalid("capacity", "too large")))
            .transpose()?;
        if r.reason.chars().count() > 64 {
            return Err(ApiError::invalid("reason", "at most 64 characters"));
        }
        let mut tx = self.pool.begin().await?;
        if workers::get(&mut tx, id).await?.is_none() {
            return Err(ApiError::NotFound(format!("worker {id}")));
        }
        scope::worker(&mut tx, &caller, id, true).await?;
        if !workers::set_duty(&mut tx, id, r.on_duty, leave, capacity, r.reason.trim()).await? {
            return Err(ApiError::NotFound(format!("worker {id}")));
        }
        // Back on duty, leave over or more capacity: the tickets waiting for them go now.
        let ctx = Ctx {
            cal: &self.cal,
            now: gridloop_platform::clock::now(),
        };
        waiting::redispatch_for(&mut tx, &self.index, &ctx, id).await?;
        let row = workers::get(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::internal("worker vanished"))?;
        let posts = workers::posts_of(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(on_duty = r.on_duty, leave = leave.is_some(), "duty set");
        Ok(SetDutyResponse {
            worker: Some(row.to_proto(posts, gridloop_platform::clock::now())),
        })
    }

    pub(super) async fn do_upsert_rule(
        &self,
        req: Request<UpsertRoutingRuleRequest>,
    ) -> Result<UpsertRoutingRuleResponse, ApiError> {
        let caller = Caller::of(&req)?.clone();
        caller.require(MANAGERS)?;
        let rule = req
            .get_ref()
            .rule
            .as_ref()
            .ok_or_else(|| ApiError::invalid("rule", "required"))?;
        let code = rule.category_code.trim();
        let ok = !code.is_empty()
            && code.len() <= 64
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(ApiError::invalid(
                "rule.category_code",
                "1-64 letters, digits, '_' or '-'",
            ));
        }
        let level = Level::from_i32(rule.handling_level)
            .ok_or_else(|| ApiError::invalid("rule.handling_level", "required"))?;
        let sla = SlaClass::from_i32(rule.sla_class)
            .ok_or_else(|| ApiError::invalid("rule.sla_class", "required"))?;
        let mut tx = self.pool.begin().await?;
        scope::county(&mut tx, &caller).await?;
        let row = rules::upsert(&mut tx, code, level, sla).await?;
        tx.commit().await?;
        Ok(UpsertRoutingRuleResponse {
            rule: Some(row.to_proto()),
        })
    }

    pub(super) async fn do_list_rules(
        &self,
        req: Request<ListRoutingRulesRequest>,
    ) -> Result<ListRoutingRulesResponse, ApiError> {
        Caller::of(&req)?.require(STAFF)?;
        let page = Page::parse(req.get_ref().page_size, &req.get_ref().page_token)?;
        let mut tx = self.pool.begin().await?;
        let mut rows = rules::list(&mut tx, page.offset, page.limit()).await?;
        let next_page_token = page.finish(&mut rows);
        Ok(ListRoutingRulesResponse {
            rules: rows.iter().map(rules::RuleRow::to_proto).collect(),
            next_page_token,
        })
    }
}
