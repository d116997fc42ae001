//! Routing's worker and task commands: `worker add|list|duty`,
//! `task list|accept|return|transfer`.

use gridloop_client::requests;
use gridloop_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::{Duty, TaskCmd, WorkerAdd, WorkerCmd};
use crate::client::Ctx;
use crate::enum_name;
use crate::error::{CtlError, CtlResult};
use crate::output::{Table, fields, opt_str, with_more};
use crate::pager::pages;
use crate::timefmt::{json_ts, table_ts};

pub async fn worker(ctx: &Ctx, cmd: WorkerCmd) -> CtlResult {
    let mut c = ctx.routing()?;
    let worker = match cmd {
        WorkerCmd::Add(a) => {
            c.client
                .upsert_worker(worker_request(a))
                .await
                .map_err(|s| c.err(s))?
                .into_inner()
                .worker
        }
        WorkerCmd::Duty(d) => {
            c.client
                .set_duty(duty_request(d)?)
                .await
                .map_err(|s| c.err(s))?
                .into_inner()
                .worker
        }
        WorkerCmd::List {
            grid,
            role,
            on_duty,
            page,
        } => {
            let conn = &c;
            let role = role.map_or(pb::WorkerRole::Unspecified, |r| r.proto()) as i32;
            let (workers, more) = pages(page.limit, |page_token, page_size| {
                let mut client = conn.client.clone();
                let req = pb::ListWorkersRequest {
                    grid_code: grid.clone(),
                    role,
                    on_duty_only: on_duty,
                    page_size,
                    page_token,
                };
                async move {
                    let r = client
                        .list_workers(req)
                        .await
                        .map_err(|s| conn.err(s))?
                        .into_inner();
                    Ok((r.workers, r.next_page_token))
                }
            })
            .await?;
            let view = json!({"workers": workers.iter().map(worker_view).collect::<Vec<_>>(), "truncated": more});
            ctx.out.emit(&view, || {
                let mut t = Table::new(&[
                    "WORKER", "STAFF_NO", "NAME", "ROLE", "PHONE", "POSTS", "ON_DUTY", "OPEN/CAP",
                ]);
                for w in &workers {
                    t.row(vec![
                        w.worker_id.clone(),
                        w.staff_no.clone(),
                        w.name.clone(),
                        enum_name!(WorkerRole, w.role, "WORKER_ROLE_"),
                        w.masked_phone.clone(),
                        posts(w).join(","),
                        if w.on_duty { "yes" } else { "no" }.into(),
                        format!(
                            "{}/{}",
                            w.open_tasks,
                            if w.capacity == 0 {
                                "-".into()
                            } else {
                                w.capacity.to_string()
                            }
                        ),
                    ]);
                }
                with_more(t.render(), more)
            });
            return Ok(());
        }
    };
    let w = worker.unwrap_or_default();
    ctx.out.emit(&worker_view(&w), || {
        fields(&[
            ("worker", w.worker_id.clone()),
            ("staff no", w.staff_no.clone()),
            ("name", w.name.clone()),
            ("role", enum_name!(WorkerRole, w.role, "WORKER_ROLE_")),
            ("phone", w.masked_phone.clone()),
            ("posts", posts(&w).join(", ")),
            ("chief of", w.chief_of_grid_code.clone()),
            ("on duty", w.on_duty.to_string()),
            ("leave", leave(&w)),
            ("capacity", w.capacity.to_string()),
            ("open tasks", w.open_tasks.to_string()),
        ])
    });
    Ok(())
}

fn worker_request(a: WorkerAdd) -> pb::UpsertWorkerRequest {
    pb::UpsertWorkerRequest {
        staff_no: a.staff_no,
        name: a.name,
        role: a.role.proto() as i32,
        phone: a.phone,
        posts: a
            .posts
            .into_iter()
            .map(|(grid_code, post)| pb::PostAssignment {
                grid_code,
                post: post.proto() as i32,
            })
            .collect(),
        chief_of_grid_code: a.chief_of,
        capacity: a.capacity,
    }
}

fn duty_request(d: Duty) -> CtlResult<pb::SetDutyRequest> {
    if !d.on && !d.off {
        return Err(CtlError::usage("say --on or --off"));
    }
    Ok(pb::SetDutyRequest {
        worker_id: d.worker_id,
        on_duty: d.on,
        leave_from: d.leave_from.map(gridloop_proto::ts),
        leave_until: d.leave_until.map(gridloop_proto::ts),
        capacity: d.capacity,
        reason: d.reason,
    })
}

fn posts(w: &pb::Worker) -> Vec<String> {
    w.posts
        .iter()
        .map(|p| {
            format!(
                "{}:{}",
                p.grid_code,
                enum_name!(Post, p.post, "POST_").to_uppercase()
            )
        })
        .collect()
}

fn leave(w: &pb::Worker) -> String {
    if w.leave_from.is_none() {
        return String::new();
    }
    format!(
        "{} – {}",
        table_ts(w.leave_from.as_ref()),
        table_ts(w.leave_until.as_ref())
    )
}

fn worker_view(w: &pb::Worker) -> Value {
    json!({
        "worker_id": w.worker_id,
        "staff_no": w.staff_no,
        "name": w.name,
        "role": enum_name!(WorkerRole, w.role, "WORKER_ROLE_"),
        "masked_phone": opt_str(&w.masked_phone),
        "posts": w.posts.iter().map(|p| json!({"grid_code": p.grid_code, "post": enum_name!(Post, p.post, "POST_")})).collect::<Vec<_>>(),
        "chief_of_grid_code": opt_str(&w.chief_of_grid_code),
        "on_duty": w.on_duty,
        "leave_from": json_ts(w.leave_from.as_ref()),
        "leave_until": json_ts(w.leave_until.as_ref()),
        "capacity": w.capacity,
        "open_tasks": w.open_tasks,
    })
}

pub async fn task(ctx: &Ctx, cmd: TaskCmd) -> CtlResult {
    let mut c = ctx.routing()?;
    let (task, extra) = match cmd {
        TaskCmd::List {
            states,
            kind,
            worker,
            grid,
            page,
        } => {
            let conn = &c;
            let states: Vec<i32> = states.iter().map(|s| s.proto() as i32).collect();
            let kind = kind.map_or(pb::TaskKind::Unspecified, |k| k.proto()) as i32;
            let (tasks, more) = pages(page.limit, |page_token, page_size| {
                let mut client = conn.client.clone();
                let req = pb::ListMyTasksRequest {
                    states: states.clone(),
                    kind,
                    worker_id: worker.clone(),
                    grid_code: grid.clone(),
                    page_size,
                    page_token,
                };
                async move {
                    let r = client
                        .list_my_tasks(req)
                        .await
                        .map_err(|s| conn.err(s))?
                        .into_inner();
                    Ok((r.tasks, r.next_page_token))
                }
            })
            .await?;
            let view = json!({"tasks": tasks.iter().map(task_view).collect::<Vec<_>>(), "truncated": more});
            ctx.out.emit(&view, || {
                let mut t = Table::new(&[
                    "TICKET",
                    "STATE",
                    "KIND",
                    "GRID",
                    "CATEGORY",
                    "URGENCY",
                    "RESPOND_BY",
                    "DISPOSE_BY",
                    "CONTENT",
                ]);
                for k in &tasks {
                    let d = k.deadlines.unwrap_or_default();
                    t.row(vec![
                        k.ticket_id.clone(),
                        enum_name!(TaskState, k.state, "TASK_STATE_"),
                        enum_name!(TaskKind, k.kind, "TASK_KIND_"),
                        k.grid_code.clone(),
                        k.category
                            .as_ref()
                            .map(|c| c.code.clone())
                            .unwrap_or_default(),
                        enum_name!(Urgency, k.urgency, "URGENCY_"),
                        table_ts(d.respond_by.as_ref()),
                        table_ts(d.dispose_by.as_ref()),
                        k.content.clone(),
                    ]);
                }
                with_more(t.render(), more)
            });
            return Ok(());
        }
        TaskCmd::Accept { ticket_id } => {
            let r = c
                .client
                .accept_task(requests::accept(ticket_id))
                .await
                .map_err(|s| c.err(s))?;
            (r.into_inner().task, None)
        }
        TaskCmd::Return {
            ticket_id,
            reason,
            text,
        } => {
            let req = requests::give_back(ticket_id, reason.proto(), text);
            let r = c
                .client
                .return_task(req)
                .await
                .map_err(|s| c.err(s))?
                .into_inner();
            (r.task, Some(("return_count", r.return_count)))
        }
        TaskCmd::Transfer {
            ticket_id,
            to_grid,
            reason,
        } => {
            let req = requests::transfer(ticket_id, to_grid, reason);
            (
                c.client
                    .transfer_task(req)
                    .await
                    .map_err(|s| c.err(s))?
                    .into_inner()
                    .task,
                None,
            )
        }
    };
    let k = task.unwrap_or_default();
    let mut view = task_view(&k);
    if let Some((key, n)) = extra {
        view[key] = json!(n);
    }
    ctx.out.emit(&view, || {
        let d = k.deadlines.unwrap_or_default();
        let mut pairs = vec![
            ("ticket", k.ticket_id.clone()),
            ("state", enum_name!(TaskState, k.state, "TASK_STATE_")),
            ("grid", format!("{} {}", k.grid_code, k.grid_name)),
            ("worker", k.worker_id.clone()),
            ("accepted", table_ts(k.accepted_at.as_ref())),
            ("respond by", table_ts(d.respond_by.as_ref())),
            ("dispose by", table_ts(d.dispose_by.as_ref())),
        ];
        if let Some((_, n)) = extra {
            pairs.push(("returns", n.to_string()));
        }
        fields(&pairs)
    });
    Ok(())
}

fn task_view(k: &pb::Task) -> Value {
    let d = k.deadlines.unwrap_or_default();
    let loc = k.location.clone().unwrap_or_default();
    json!({
        "ticket_id": k.ticket_id,
        "kind": enum_name!(TaskKind, k.kind, "TASK_KIND_"),
        "state": enum_name!(TaskState, k.state, "TASK_STATE_"),
        "grid_code": k.grid_code,
        "grid_name": k.grid_name,
        "worker_id": opt_str(&k.worker_id),
        "post": enum_name!(Post, k.post, "POST_"),
        "category": k.category.as_ref().map(|c| json!({"code": c.code, "name": c.name})),
        "urgency": enum_name!(Urgency, k.urgency, "URGENCY_"),
        "channel": enum_name!(Channel, k.channel, "CHANNEL_"),
        "content": k.content,
        "address": opt_str(&loc.address),
        "masked_phone": k.contact.as_ref().map(|c| c.masked_phone.clone()),
        "photo_urls": k.photo_urls,
        "dispatch_reason": k.dispatch_reason,
        "attempt": k.attempt,
        "dispatched_at": json_ts(k.dispatched_at.as_ref()),
        "accepted_at": json_ts(k.accepted_at.as_ref()),
        "respond_by": json_ts(d.respond_by.as_ref()),
        "dispose_by": json_ts(d.dispose_by.as_ref()),
        "rework_count": k.rework_count,
        "repeat_count": k.repeat_count,
        "supervision_note": opt_str(&k.supervision_note),
    })
}
