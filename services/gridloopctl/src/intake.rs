//! Intake's commands: `submit hotline|onekey|app`, `ticket show|find`,
//! `device add|list|deactivate`.

use chrono::Utc;
use gridloop_client::requests;
use gridloop_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::{AppSubmit, DeviceAdd, DeviceCmd, Hotline, OneKey, Submit, TicketCmd};
use crate::client::Ctx;
use crate::enum_name;
use crate::error::{CtlError, CtlResult};
use crate::output::{Table, fields, opt_str, with_more};
use crate::pager::pages;
use crate::timefmt::{json_ts, table_ts};

pub async fn submit(ctx: &Ctx, cmd: Submit) -> CtlResult {
    let mut c = ctx.intake()?;
    let resp = match cmd {
        Submit::Hotline(h) => {
            let req = hotline_request(h, ctx.subject.as_deref())?;
            c.client.submit_hotline_ticket(req).await
        }
        Submit::Onekey(k) => c.client.submit_one_key_call(onekey_request(k)).await,
        Submit::App(a) => c.client.submit_app_ticket(app_request(a)).await,
    }
    .map_err(|s| c.err(s))?
    .into_inner();
    let view = json!({
        "ticket_id": resp.ticket_id,
        "outcome": enum_name!(SubmitOutcome, resp.outcome, "SUBMIT_OUTCOME_"),
        "merged_ticket_id": opt_str(&resp.merged_ticket_id),
        "repeat_count": resp.repeat_count,
        "urgency": enum_name!(Urgency, resp.urgency, "URGENCY_"),
    });
    ctx.out.emit(&view, || {
        let mut pairs = vec![
            ("ticket", resp.ticket_id.clone()),
            (
                "outcome",
                enum_name!(SubmitOutcome, resp.outcome, "SUBMIT_OUTCOME_"),
            ),
            ("urgency", enum_name!(Urgency, resp.urgency, "URGENCY_")),
        ];
        if !resp.merged_ticket_id.is_empty() {
            pairs.push(("merged ticket", resp.merged_ticket_id.clone()));
            pairs.push(("repeat count", resp.repeat_count.to_string()));
        }
        fields(&pairs)
    });
    Ok(())
}

/// The hotline request; the operator defaults to the `--as` subject.
pub fn hotline_request(
    h: Hotline,
    subject: Option<&str>,
) -> CtlResult<pb::SubmitHotlineTicketRequest> {
    let operator_id = h
        .operator
        .or_else(|| subject.map(str::to_string))
        .ok_or_else(|| CtlError::usage("--operator is required (or call with --as operator:ID)"))?;
    let call = requests::HotlineCall {
        work_order: h.external_id,
        operator_id,
        phone: h.phone,
        name: h.name,
        address: h.address,
        grid_code: h.grid,
        category_code: h.category,
        urgency: h.urgency.map_or(pb::Urgency::Unspecified, |u| u.proto()),
        content: h.content,
        recording_url: h.recording_url,
    };
    Ok(requests::hotline(
        call,
        h.received_at.unwrap_or_else(Utc::now),
    ))
}

fn onekey_request(k: OneKey) -> pb::SubmitOneKeyCallRequest {
    requests::one_key(
        k.device,
        k.press_id,
        k.voice_note,
        k.pressed_at.unwrap_or_else(Utc::now),
    )
}

fn app_request(a: AppSubmit) -> pb::SubmitAppTicketRequest {
    let submission = requests::AppSubmission {
        channel: a.channel.proto(),
        submission_id: a.submission_id,
        phone: a.phone,
        name: a.name,
        content: a.content,
        category_code: a.category,
        photo_urls: a.photos,
        point: point(a.lat, a.lng),
        address: a.address,
    };
    requests::app(submission, a.submitted_at.unwrap_or_else(Utc::now))
}

fn point(lat: Option<f64>, lng: Option<f64>) -> Option<pb::GeoPoint> {
    Some(pb::GeoPoint {
        lat: lat?,
        lng: lng?,
    })
}

pub async fn ticket(ctx: &Ctx, cmd: TicketCmd) -> CtlResult {
    let mut c = ctx.intake()?;
    match cmd {
        TicketCmd::Show { ticket_id } => {
            let resp = c
                .client
                .get_ticket(pb::GetTicketRequest { ticket_id })
                .await
                .map_err(|s| c.err(s))?
                .into_inner();
            let t = resp.ticket.unwrap_or_default();
            let mut view = ticket_view(&t);
            view["history"] = resp
                .history
                .iter()
                .map(
                    |h| json!({"at": json_ts(h.at.as_ref()), "kind": h.kind, "summary": h.summary}),
                )
                .collect();
            ctx.out.emit(&view, || {
                let mut text = fields(&ticket_pairs(&t));
                if !resp.history.is_empty() {
                    let mut table = Table::new(&["AT", "KIND", "SUMMARY"]);
                    for h in &resp.history {
                        table.row(vec![
                            table_ts(h.at.as_ref()),
                            h.kind.clone(),
                            h.summary.clone(),
                        ]);
                    }
                    text.push('\n');
                    text.push_str(&table.render());
                }
                text
            });
        }
        TicketCmd::Find {
            phone,
            recent_days,
            page,
        } => {
            let conn = &c;
            let (tickets, more) = pages(page.limit, |page_token, page_size| {
                let mut client = conn.client.clone();
                let req = pb::FindTicketsRequest {
                    phone: phone.clone(),
                    recent_days,
                    page_size,
                    page_token,
                    ..Default::default()
                };
                async move {
                    let r = client
                        .find_tickets(req)
                        .await
                        .map_err(|s| conn.err(s))?
                        .into_inner();
                    Ok((r.tickets, r.next_page_token))
                }
            })
            .await?;
            let view = json!({"tickets": tickets.iter().map(ticket_view).collect::<Vec<_>>(), "truncated": more});
            ctx.out.emit(&view, || ticket_table(&tickets, more));
        }
    }
    Ok(())
}

fn ticket_view(t: &pb::Ticket) -> Value {
    let contact = t.contact.clone().unwrap_or_default();
    let loc = t.location.clone().unwrap_or_default();
    let cat = t.category.clone().unwrap_or_default();
    json!({
        "ticket_id": t.ticket_id,
        "channel": enum_name!(Channel, t.channel, "CHANNEL_"),
        "external_id": t.external_id,
        "category": {"code": cat.code, "name": cat.name},
        "urgency": enum_name!(Urgency, t.urgency, "URGENCY_"),
        "state": enum_name!(LifecycleState, t.state, "LIFECYCLE_STATE_"),
        "content": t.content,
        "masked_phone": opt_str(&contact.masked_phone),
        "citizen_key": opt_str(&contact.citizen_key),
        "address": opt_str(&loc.address),
        "point": loc.point.map(|p| json!({"lat": p.lat, "lng": p.lng})),
        "location_grid_code": opt_str(&loc.grid_code),
        "grid_code": opt_str(&t.grid_code),
        "received_at": json_ts(t.received_at.as_ref()),
        "closed_at": json_ts(t.closed_at.as_ref()),
        "repeat_count": t.repeat_count,
        "parent_ticket_id": opt_str(&t.parent_ticket_id),
        "photo_urls": t.photo_urls,
    })
}

fn ticket_pairs(t: &pb::Ticket) -> Vec<(&'static str, String)> {
    let contact = t.contact.clone().unwrap_or_default();
    let loc = t.location.clone().unwrap_or_default();
    let cat = t.category.clone().unwrap_or_default();
    let mut pairs = vec![
        ("ticket", t.ticket_id.clone()),
        (
            "state",
            enum_name!(LifecycleState, t.state, "LIFECYCLE_STATE_"),
        ),
        (
            "channel",
            format!(
                "{} {}",
                enum_name!(Channel, t.channel, "CHANNEL_"),
                t.external_id
            ),
        ),
        ("category", format!("{} {}", cat.code, cat.name)),
        ("urgency", enum_name!(Urgency, t.urgency, "URGENCY_")),
        ("content", t.content.clone()),
        ("contact", contact.masked_phone),
        ("address", loc.address),
        ("grid", t.grid_code.clone()),
        ("received", table_ts(t.received_at.as_ref())),
    ];
    if t.closed_at.is_some() {
        pairs.push(("closed", table_ts(t.closed_at.as_ref())));
    }
    if t.repeat_count > 0 {
        pairs.push(("repeats", t.repeat_count.to_string()));
    }
    if !t.parent_ticket_id.is_empty() {
        pairs.push(("merged into", t.parent_ticket_id.clone()));
    }
    pairs
}

fn ticket_table(tickets: &[pb::Ticket], more: bool) -> String {
    let mut table = Table::new(&[
        "TICKET", "STATE", "CHANNEL", "CATEGORY", "RECEIVED", "GRID", "CONTENT",
    ]);
    for t in tickets {
        table.row(vec![
            t.ticket_id.clone(),
            enum_name!(LifecycleState, t.state, "LIFECYCLE_STATE_"),
            enum_name!(Channel, t.channel, "CHANNEL_"),
            t.category
                .as_ref()
                .map(|c| c.code.clone())
                .unwrap_or_default(),
            table_ts(t.received_at.as_ref()),
            t.grid_code.clone(),
            t.content.clone(),
        ]);
    }
    with_more(table.render(), more)
}

pub async fn device(ctx: &Ctx, cmd: DeviceCmd) -> CtlResult {
    let mut c = ctx.intake()?;
    let device = match cmd {
        DeviceCmd::Add(a) => {
            c.client
                .register_device(device_request(a))
                .await
                .map_err(|s| c.err(s))?
                .into_inner()
                .device
        }
        DeviceCmd::Deactivate { device_id, reason } => {
            c.client
                .deactivate_device(pb::DeactivateDeviceRequest { device_id, reason })
                .await
                .map_err(|s| c.err(s))?
                .into_inner()
                .device
        }
        DeviceCmd::List {
            grid,
            include_inactive,
            page,
        } => {
            let conn = &c;
            let (devices, more) = pages(page.limit, |page_token, page_size| {
                let mut client = conn.client.clone();
                let req = pb::ListDevicesRequest {
                    grid_code: grid.clone(),
                    include_inactive,
                    page_size,
                    page_token,
                };
                async move {
                    let r = client
                        .list_devices(req)
                        .await
                        .map_err(|s| conn.err(s))?
                        .into_inner();
                    Ok((r.devices, r.next_page_token))
                }
            })
            .await?;
            let view = json!({"devices": devices.iter().map(device_view).collect::<Vec<_>>(), "truncated": more});
            ctx.out.emit(&view, || {
                let mut table = Table::new(&[
                    "DEVICE", "GRID", "ACTIVE", "CONTACT", "NAME", "FLAGS", "ADDRESS",
                ]);
                for d in &devices {
                    table.row(vec![
                        d.device_id.clone(),
                        d.grid_code.clone(),
                        if d.active { "yes" } else { "no" }.into(),
                        d.contact
                            .as_ref()
                            .map(|c| c.masked_phone.clone())
                            .unwrap_or_default(),
                        d.masked_name.clone(),
                        flags(&d.flags).join(","),
                        d.address.clone(),
                    ]);
                }
                with_more(table.render(), more)
            });
            return Ok(());
        }
    };
    let d = device.unwrap_or_default();
    ctx.out.emit(&device_view(&d), || {
        fields(&[
            ("device", d.device_id.clone()),
            ("active", d.active.to_string()),
            ("grid", d.grid_code.clone()),
            ("address", d.address.clone()),
            (
                "contact",
                d.contact
                    .as_ref()
                    .map(|c| c.masked_phone.clone())
                    .unwrap_or_default(),
            ),
            ("name", d.masked_name.clone()),
            ("flags", flags(&d.flags).join(",")),
            ("registered", table_ts(d.registered_at.as_ref())),
            ("deactivated", table_ts(d.deactivated_at.as_ref())),
        ])
    });
    Ok(())
}

fn device_request(a: DeviceAdd) -> pb::RegisterDeviceRequest {
    pb::RegisterDeviceRequest {
        device_id: a.device,
        address: a.address,
        grid_code: a.grid,
        contact_phone: a.phone,
        contact_name: a.name,
        flags: a.flags.iter().map(|f| f.proto() as i32).collect(),
        point: point(a.lat, a.lng),
    }
}

fn flags(f: &[i32]) -> Vec<String> {
    f.iter()
        .map(|v| enum_name!(HouseholdFlag, *v, "HOUSEHOLD_FLAG_"))
        .collect()
}

fn device_view(d: &pb::Device) -> Value {
    json!({
        "device_id": d.device_id,
        "household_key": d.household_key,
        "address": d.address,
        "grid_code": d.grid_code,
        "masked_phone": d.contact.as_ref().map(|c| c.masked_phone.clone()),
        "citizen_key": d.contact.as_ref().map(|c| c.citizen_key.clone()),
        "masked_name": d.masked_name,
        "flags": flags(&d.flags),
        "active": d.active,
        "registered_at": json_ts(d.registered_at.as_ref()),
        "deactivated_at": json_ts(d.deactivated_at.as_ref()),
        "deactivation_reason": opt_str(&d.deactivation_reason),
        "point": d.point.map(|p| json!({"lat": p.lat, "lng": p.lng})),
    })
}
