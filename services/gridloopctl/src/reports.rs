//! Reports' command: `report` — indicators by grid level, worker, category or channel, as a
//! table, JSON, or the server's CSV export.

use std::io::Write;

use gridloop_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::Report;
use crate::client::Ctx;
use crate::enum_name;
use crate::error::{CtlError, CtlResult};
use crate::report_table::render;
use crate::timefmt::{date_str, json_ts, proto_date};

/// The GetReport request for the command line.
pub fn report_request(r: &Report) -> pb::GetReportRequest {
    let (dimension, group_level) = r.by.proto();
    let range = match (r.from, r.to) {
        (Some(from), Some(to)) => pb::get_report_request::Range::CustomRange(pb::DateRange {
            start: Some(proto_date(from)),
            end: Some(proto_date(to)),
        }),
        _ => pb::get_report_request::Range::Period(pb::Period {
            unit: r.period.proto() as i32,
            anchor: r.date.map(proto_date),
        }),
    };
    pb::GetReportRequest {
        filter: Some(pb::ReportFilter {
            grid_code: r.grid.clone(),
            category_codes: r.categories.clone(),
            channels: r.channels.iter().map(|c| c.proto() as i32).collect(),
            worker_id: r.worker.clone(),
        }),
        range: Some(range),
        dimension: dimension as i32,
        group_level: group_level as i32,
    }
}

pub async fn report(ctx: &Ctx, r: Report) -> CtlResult {
    let mut c = ctx.reports()?;
    let req = report_request(&r);
    if r.csv {
        let mut stream = c
            .client
            .export_csv(pb::ExportCsvRequest {
                report: Some(req),
                utf8_bom: false,
            })
            .await
            .map_err(|s| c.err(s))?
            .into_inner();
        let mut stdout = std::io::stdout().lock();
        while let Some(chunk) = stream.message().await.map_err(|s| c.err(s))? {
            stdout
                .write_all(&chunk.data)
                .map_err(|e| CtlError::local(format!("writing the CSV: {e}")))?;
        }
        return stdout
            .flush()
            .map_err(|e| CtlError::local(format!("writing the CSV: {e}")));
    }
    let resp = c
        .client
        .get_report(req)
        .await
        .map_err(|s| c.err(s))?
        .into_inner();
    let dates = resp.dates.unwrap_or_default();
    let view = json!({
        "grid_code": resp.grid_code,
        "grid_name": resp.grid_name,
        "dates": {"start": date_str(dates.start.as_ref()), "end": date_str(dates.end.as_ref())},
        "dimension": enum_name!(ReportDimension, resp.dimension, "REPORT_DIMENSION_"),
        "rows": resp.rows.iter().map(|row| json!({
            "key": row.key,
            "label": row.label,
            "grid_level": enum_name!(GridLevel, row.grid_level, "GRID_LEVEL_"),
            "indicators": indicators_view(&row.indicators.unwrap_or_default()),
        })).collect::<Vec<_>>(),
        "totals": indicators_view(&resp.totals.unwrap_or_default()),
        "generated_at": json_ts(resp.generated_at.as_ref()),
        "as_of": json_ts(resp.as_of.as_ref()),
    });
    ctx.out.emit(&view, || render(&resp));
    Ok(())
}

fn indicators_view(i: &pb::Indicators) -> Value {
    json!({
        "received": i.received,
        "dispatched": i.dispatched,
        "merged": i.merged,
        "closed": i.closed,
        "open": i.open,
        "open_overdue": i.open_overdue,
        "accepted_on_time": i.accepted_on_time,
        "closed_on_time": i.closed_on_time,
        "disposed": i.disposed,
        "reworked": i.reworked,
        "rated": i.rated,
        "satisfied": i.satisfied,
        "basically_satisfied": i.basically_satisfied,
        "dissatisfied": i.dissatisfied,
        "closed_by_exemption": i.closed_by_exemption,
        "response_rate": i.response_rate,
        "closure_rate": i.closure_rate,
        "on_time_closure_rate": i.on_time_closure_rate,
        "satisfaction_rate": i.satisfaction_rate,
        "rework_rate": i.rework_rate,
        "avg_handling_working_hours": i.avg_handling_working_hours,
        "p90_handling_working_hours": i.p90_handling_working_hours,
    })
}
