//! `dispose` (处置): a step of the worker's task, taken by routing with 签收, 退单 and 转办.

use chrono::Utc;
use gridloop_client::requests;
use serde_json::json;

use crate::cli::Dispose;
use crate::client::Ctx;
use crate::closure::state;
use crate::enum_name;
use crate::error::CtlResult;
use crate::output::{fields, opt_str};
use crate::timefmt::{json_ts, table_ts};

pub async fn dispose(ctx: &Ctx, d: Dispose) -> CtlResult {
    let mut c = ctx.routing()?;
    let disposal = requests::Disposal {
        kind: d.disposal_type.proto(),
        result: d.result,
        evidence_urls: d.evidence,
        unresolvable_reason: d.unresolvable_reason,
    };
    let req = requests::dispose(d.ticket_id, disposal, d.at.unwrap_or_else(Utc::now));
    let r = c
        .client
        .submit_disposal(req)
        .await
        .map_err(|s| c.err(s))?
        .into_inner();
    let disp = r.disposal.unwrap_or_default();
    let view = json!({
        "disposal_id": disp.disposal_id,
        "ticket_id": disp.ticket_id,
        "worker_id": disp.worker_id,
        "grid_code": disp.grid_code,
        "disposal_type": enum_name!(DisposalType, disp.disposal_type, "DISPOSAL_TYPE_"),
        "result": disp.result,
        "evidence_urls": disp.evidence_urls,
        "disposed_at": json_ts(disp.disposed_at.as_ref()),
        "unresolvable_reason": opt_str(&disp.unresolvable_reason),
        "rework_count": disp.rework_count,
        "state": state(r.state),
    });
    ctx.out.emit(&view, || {
        fields(&[
            ("ticket", disp.ticket_id.clone()),
            ("state", state(r.state)),
            ("disposal", disp.disposal_id.clone()),
            (
                "type",
                enum_name!(DisposalType, disp.disposal_type, "DISPOSAL_TYPE_"),
            ),
            ("disposed", table_ts(disp.disposed_at.as_ref())),
            ("rework round", disp.rework_count.to_string()),
        ])
    });
    Ok(())
}
