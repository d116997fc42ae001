//! A report as CSV: header row, one line per row, then a totals line; cut into chunks that
//! end on line boundaries.

use gridloop_proto::v1::{GetReportResponse, Indicators};

/// Target chunk size in bytes (a chunk holds whole lines, so it may be a little larger).
pub const CHUNK_BYTES: usize = 32 * 1024;

const HEADER: &str = "key,label,received,dispatched,merged,closed,open,open_overdue,\
accepted_on_time,closed_on_time,disposed,reworked,rated,satisfied,basically_satisfied,\
dissatisfied,closed_by_exemption,response_rate,closure_rate,on_time_closure_rate,\
satisfaction_rate,rework_rate,avg_handling_working_hours,p90_handling_working_hours";

fn field(s: &str) -> String {
    // Quote when needed; a leading formula character is neutralised for spreadsheets.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}

fn line(key: &str, label: &str, i: &Indicators) -> String {
    let counts = [
        i.received,
        i.dispatched,
        i.merged,
        i.closed,
        i.open,
        i.open_overdue,
        i.accepted_on_time,
        i.closed_on_time,
        i.disposed,
        i.reworked,
        i.rated,
        i.satisfied,
        i.basically_satisfied,
        i.dissatisfied,
        i.closed_by_exemption,
    ];
    let rates = [
        i.response_rate,
        i.closure_rate,
        i.on_time_closure_rate,
        i.satisfaction_rate,
        i.rework_rate,
        i.avg_handling_working_hours,
        i.p90_handling_working_hours,
    ];
    let mut out = vec![field(key), field(label)];
    out.extend(counts.iter().map(|c| c.to_string()));
    out.extend(rates.into_iter().map(opt));
    out.join(",") + "\r\n"
}

/// The file's chunks.
pub fn chunks(report: &GetReportResponse, bom: bool) -> Vec<Vec<u8>> {
    let mut lines = vec![format!("{HEADER}\r\n")];
    for r in &report.rows {
        lines.push(line(&r.key, &r.label, &r.indicators.unwrap_or_default()));
    }
    lines.push(line(
        "total",
        &report.grid_name,
        &report.totals.unwrap_or_default(),
    ));
    let mut out = Vec::new();
    let mut cur: Vec<u8> = if bom { "\u{feff}".into() } else { Vec::new() };
    for l in lines {
        cur.extend_from_slice(l.as_bytes());
        if cur.len() >= CHUNK_BYTES {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Suggested file name, e.g. "gridloop-城关镇-2026-11-01_2026-11-30.csv".
pub fn file_name(report: &GetReportResponse) -> String {
    let d = |x: Option<&gridloop_proto::v1::Date>| {
        x.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default()
    };
    let dates = report.dates.as_ref();
    let name: String = report
        .grid_name
        .chars()
        .filter(|c| !matches!(c, '/' | '\\' | '"' | ':' | '*' | '?' | '<' | '>' | '|'))
        .collect();
    format!(
        "gridloop-{name}-{}_{}.csv",
        d(dates.and_then(|r| r.start.as_ref())),
        d(dates.and_then(|r| r.end.as_ref()))
    )
}
