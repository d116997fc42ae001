//! A report (`GetReport`'s answer) as the table `gridloopctl report` prints: one line per row,
//! then the totals. The demo prints its town's report with the same table.

use gridloop_proto::v1 as pb;

use crate::output::{Table, pct};
use crate::timefmt::{date_str, table_ts};

/// The report as a table: one line per row, then the totals.
pub fn render(resp: &pb::GetReportResponse) -> String {
    let dates = resp.dates.unwrap_or_default();
    let mut text = format!(
        "{} {} · received {} … {} · as of {}\n\n",
        resp.grid_code,
        resp.grid_name,
        date_str(dates.start.as_ref()),
        date_str(dates.end.as_ref()),
        table_ts(resp.as_of.as_ref()),
    );
    let mut t = Table::new(&[
        "KEY",
        "NAME",
        "RECEIVED",
        "MERGED",
        "CLOSED",
        "OPEN",
        "OVERDUE",
        "办结率",
        "按时办结率",
        "满意率",
        "响应率",
        "返工率",
    ]);
    let line = |key: &str, label: &str, i: &pb::Indicators| {
        vec![
            key.to_string(),
            label.to_string(),
            i.received.to_string(),
            i.merged.to_string(),
            i.closed.to_string(),
            i.open.to_string(),
            i.open_overdue.to_string(),
            pct(i.closure_rate),
            pct(i.on_time_closure_rate),
            pct(i.satisfaction_rate),
            pct(i.response_rate),
            pct(i.rework_rate),
        ]
    };
    for row in &resp.rows {
        t.row(line(
            &row.key,
            &row.label,
            &row.indicators.unwrap_or_default(),
        ));
    }
    t.row(line("TOTAL", "", &resp.totals.unwrap_or_default()));
    text.push_str(&t.render());
    text
}
