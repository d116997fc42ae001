//! The HTML report page for leaders, served over HTTP beside the gRPC port. One GET renders
//! a totals table, a table per grid, closure and satisfaction trends and a closure-rate
//! ranking as server-side SVG; no JavaScript.
//!
//! Query parameters: `token` (or an `Authorization: Bearer` header; role leader, supervisor
//! or admin), `grid` (subtree root; empty for all), `period` (day, week, month, quarter or
//! year; default month), `date` (YYYY-MM-DD inside the period; default today), or `from` and
//! `to` (YYYY-MM-DD, a custom range instead of the period), `level` (town, village or group:
//! the rows; default the root's children).
//!
//! The markup is written with maud's `html!`, which escapes every spliced value by
//! construction: a grid name, row label or query parameter can only become text or an
//! attribute value, never markup, unless the code says `PreEscaped` (used once, for the
//! constant style sheet). maud rather than askama: the page is built from Rust values the
//! module already computes (`cells`, the chart series), so a macro that splices them directly
//! keeps the page and its data in one place and type-checked by the compiler, where askama
//! would add a template file, a context struct to mirror those values, and to the build a
//! template parser (`winnow`, `rustc-hash`) plus, with its default `config` feature, a TOML
//! reader. maud 0.27 adds three small crates (`maud`, `maud_macros`,
//! `proc-macro2-diagnostics`) on the `syn` 2 already in the tree, and none of its framework
//! features: the handler hands axum a `String`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use gridloop_platform::ApiError;
use gridloop_platform::auth::{Authenticator, Caller};
use gridloop_platform::http_error::HttpError;
use gridloop_proto::v1::{self as pb, GridLevel, PeriodUnit, RankBy, ReportDimension};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sqlx::PgPool;

use crate::domain::{self, Filter};
use crate::{report, svg};

#[derive(Clone)]
pub struct Web {
    pub pool: PgPool,
    pub auth: Authenticator,
}

pub fn router(web: Web) -> Router {
    Router::new().route("/", get(page)).with_state(web)
}

fn error_page(code: StatusCode, msg: &str) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            meta charset="utf-8";
            title { "报表" }
            body { p id="error" { (msg) } }
        }
    };
    (
        code,
        [(header::CACHE_CONTROL, "no-store")],
        Html(body.into_string()),
    )
        .into_response()
}

fn api_error(e: ApiError) -> Response {
    // The platform's map decides the status and what a caller may read; the page only says
    // it in its own words when the failure is ours.
    let shown = HttpError::from(e);
    if shown.status.is_server_error() {
        return error_page(shown.status, "报表暂时无法生成");
    }
    error_page(shown.status, &shown.message)
}

fn caller(web: &Web, q: &HashMap<String, String>, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = q.get("token").cloned().or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
    });
    let token = token.ok_or_else(|| ApiError::Unauthenticated("token required".into()))?;
    web.auth
        .verify(&token, gridloop_platform::clock::now().timestamp())
        .map_err(|e| ApiError::Unauthenticated(e.to_string()))
}

fn parse_date(q: &HashMap<String, String>, key: &str) -> Result<Option<NaiveDate>, ApiError> {
    q.get(key)
        .filter(|v| !v.is_empty())
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| ApiError::invalid(key, "not a date (YYYY-MM-DD)"))
        })
        .transpose()
}

fn unit_of(s: &str) -> Result<PeriodUnit, ApiError> {
    Ok(match s {
        "day" => PeriodUnit::Day,
        "week" => PeriodUnit::Week,
        "" | "month" => PeriodUnit::Month,
        "quarter" => PeriodUnit::Quarter,
        "year" => PeriodUnit::Year,
        _ => {
            return Err(ApiError::invalid(
                "period",
                "day, week, month, quarter or year",
            ));
        }
    })
}

fn level_param(s: &str) -> Result<GridLevel, ApiError> {
    Ok(match s {
        "" => GridLevel::Unspecified,
        "town" => GridLevel::Town,
        "village" => GridLevel::Village,
        "group" => GridLevel::Group,
        _ => return Err(ApiError::invalid("level", "town, village or group")),
    })
}

async fn page(
    State(web): State<Web>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match render(&web, &q, &headers).await {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => api_error(e),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn hours(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "—".into())
}

/// The cells of one table row: (field, shown text, exact value).
pub fn cells(i: &pb::Indicators) -> Vec<(&'static str, String, String)> {
    let n = |f: &'static str, v: u64| (f, v.to_string(), v.to_string());
    let r = |f: &'static str, v: Option<f64>, shown: String| {
        (f, shown, v.map(|x| x.to_string()).unwrap_or_default())
    };
    vec![
        n("received", i.received),
        n("dispatched", i.dispatched),
        n("merged", i.merged),
        n("closed", i.closed),
        n("open", i.open),
        n("open_overdue", i.open_overdue),
        r("response_rate", i.response_rate, pct(i.response_rate)),
        r("closure_rate", i.closure_rate, pct(i.closure_rate)),
        r(
            "on_time_closure_rate",
            i.on_time_closure_rate,
            pct(i.on_time_closure_rate),
        ),
        r(
            "satisfaction_rate",
            i.satisfaction_rate,
            pct(i.satisfaction_rate),
        ),
        r("rework_rate", i.rework_rate, pct(i.rework_rate)),
        r(
            "avg_handling_working_hours",
            i.avg_handling_working_hours,
            hours(i.avg_handling_working_hours),
        ),
        r(
            "p90_handling_working_hours",
            i.p90_handling_working_hours,
            hours(i.p90_handling_working_hours),
        ),
    ]
}

const HEADS: &[&str] = &[
    "受理",
    "派单",
    "重复诉求",
    "办结",
    "未办结",
    "超期未办结",
    "响应率",
    "办结率",
    "按时办结率",
    "满意率",
    "返工率",
    "平均办理(工时)",
    "P90办理(工时)",
];

async fn render(
    web: &Web,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<String, ApiError> {
    let caller = caller(web, q, headers)?;
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let filter_pb = pb::ReportFilter {
        grid_code: get("grid").to_string(),
        ..Default::default()
    };
    let filter = Filter::parse(Some(&filter_pb), &caller)?;
    let unit = unit_of(get("period"))?;
    let dates = match (parse_date(q, "from")?, parse_date(q, "to")?) {
        (Some(s), Some(e)) => domain::custom(&domain::range_pb(s, e), "from")?,
        (None, None) => {
            let anchor = parse_date(q, "date")?.unwrap_or_else(domain::today);
            domain::period_of(unit, anchor)
                .ok_or_else(|| ApiError::invalid("date", "out of range"))?
        }
        _ => return Err(ApiError::invalid("from", "give both from and to")),
    };
    let level = match level_param(get("level"))? {
        GridLevel::Unspecified => domain::row_level(&filter.root, 0, "level")?,
        l => domain::row_level(&filter.root, l as i32, "level")?,
    };
    let rep = report::report(&web.pool, &filter, dates, ReportDimension::Grid, level).await?;
    // Trend: the twelve periods (thirty days) up to the end of the report's range.
    let back = match unit {
        PeriodUnit::Day => 29,
        PeriodUnit::Year => 4,
        _ => 11,
    };
    let mut start = dates.1;
    for _ in 0..back {
        let (s, _) = domain::period_of(unit, start)
            .ok_or_else(|| ApiError::invalid("date", "out of range"))?;
        start = s.pred_opt().unwrap_or(s);
    }
    let trend = report::trend(&web.pool, &filter, unit, (start, dates.1)).await?;
    let ranking = report::ranking(&web.pool, &filter, dates, level, RankBy::ClosureRate, 0).await?;
    Ok(html(get, &rep, &trend, &ranking))
}

fn date_text(d: Option<&pb::Date>) -> String {
    d.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default()
}

/// The page's style sheet. A compile-time constant, so it goes in as written: the contents of
/// `<style>` are raw text to the HTML parser, where escaping the quotes would break the CSS.
const STYLE: &str = r#"body{font-family:"Noto Sans CJK SC","Noto Sans SC",sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;font-size:13px}th[scope=row]{text-align:left}thead th{background:#f3f4f6}.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-weight:bold;margin-bottom:4px}form{margin:12px 0}"#;

const PERIODS: &[(&str, &str)] = &[
    ("day", "日"),
    ("week", "周"),
    ("month", "月"),
    ("quarter", "季"),
    ("year", "年"),
];

/// One table row; with `id_prefix`, each cell also gets an id (`total-closed`).
fn row(key: &str, label: &str, i: &pb::Indicators, id_prefix: Option<&str>) -> Markup {
    html! {
        tr data-key=(key) {
            th scope="row" { (label) }
            @for (field, shown, value) in cells(i) {
                td id=[id_prefix.map(|p| format!("{p}{field}"))] data-field=(field) data-value=(value) {
                    (shown)
                }
            }
        }
    }
}

fn html<'a>(
    get: impl Fn(&str) -> &'a str,
    rep: &pb::GetReportResponse,
    trend: &pb::GetTrendResponse,
    ranking: &pb::GetRankingResponse,
) -> String {
    let dates = rep.dates.unwrap_or_default();
    let (from, to) = (
        date_text(dates.start.as_ref()),
        date_text(dates.end.as_ref()),
    );
    let as_of = rep
        .as_of
        .as_ref()
        .and_then(gridloop_proto::from_ts)
        .map(|t| {
            t.with_timezone(&domain::shanghai())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "—".into());
    let period = match get("period") {
        "" => "month",
        p => p,
    };
    let series = |pick: fn(&pb::Indicators) -> Option<f64>| -> Vec<(String, Option<f64>)> {
        trend
            .points
            .iter()
            .map(|p| {
                let d = p.dates.unwrap_or_default();
                (
                    date_text(d.start.as_ref()),
                    p.indicators.as_ref().and_then(pick),
                )
            })
            .collect()
    };
    let bars: Vec<(String, f64)> = ranking
        .ranked
        .iter()
        .map(|e| {
            (
                format!("{}. {}", e.rank, e.grid_name),
                e.value.unwrap_or(0.0),
            )
        })
        .collect();
    let (name, code) = (&rep.grid_name, &rep.grid_code);
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { (name) " 诉求办理报表 " (from) "–" (to) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 id="title" data-grid=(code) { (name) " 诉求办理报表" }
                p id="range" data-from=(from) data-to=(to) {
                    "受理日期 " (from) " 至 " (to) "（北京时间）；数据截至 " (as_of)
                }
                form method="get" action="/" {
                    input type="hidden" name="token" value=(get("token"));
                    "网格 " input name="grid" value=(code);
                    " 周期 "
                    select name="period" {
                        @for (v, l) in PERIODS {
                            option value=(v) selected[period == *v] { (l) }
                        }
                    }
                    " 日期 " input name="date" type="date" value=(get("date"));
                    " " button type="submit" { "查看" }
                }
                h2 { "合计" }
                table id="totals" {
                    thead { tr { th {} @for h in HEADS { th { (h) } } } }
                    tbody { (row("total", "合计", &rep.totals.unwrap_or_default(), Some("total-"))) }
                }
                h2 { "分网格" }
                table id="rows" {
                    thead { tr { th { "网格" } @for h in HEADS { th { (h) } } } }
                    tbody {
                        @for r in &rep.rows {
                            (row(&r.key, &r.label, &r.indicators.unwrap_or_default(), None))
                        }
                    }
                }
                h2 { "趋势" }
                div class="charts" {
                    figure {
                        figcaption { "办结率" }
                        (svg::line_chart("trend-closure", "办结率趋势", &series(|i| i.closure_rate)))
                    }
                    figure {
                        figcaption { "满意率" }
                        (svg::line_chart("trend-satisfaction", "满意率趋势", &series(|i| i.satisfaction_rate)))
                    }
                }
                h2 { "办结率排名" }
                p {
                    "样本不少于 " (ranking.min_sample) " 件的网格参与排名；其余 "
                    (ranking.unranked.len()) " 个网格样本不足，不排名。"
                }
                figure { (svg::bar_chart("ranking-chart", "办结率排名", &bars)) }
                ol id="ranking" {
                    @for e in &ranking.ranked {
                        li data-grid=(e.grid_code) data-rank=(e.rank)
                            data-value=(e.value.map(|v| v.to_string()).unwrap_or_default()) {
                            (e.grid_name) " " (pct(e.value))
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(\"x\")</script>'\"&";

    #[test]
    fn hostile_names_and_parameters_show_as_text() {
        let rep = pb::GetReportResponse {
            grid_code: HOSTILE.into(),
            grid_name: HOSTILE.into(),
            rows: vec![pb::ReportRow {
                key: HOSTILE.into(),
                label: HOSTILE.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let trend = pb::GetTrendResponse::default();
        let ranking = pb::GetRankingResponse {
            ranked: vec![pb::RankingEntry {
                grid_code: HOSTILE.into(),
                grid_name: HOSTILE.into(),
                rank: 1,
                value: Some(0.5),
                ..Default::default()
            }],
            ..Default::default()
        };
        let page = html(|_| HOSTILE, &rep, &trend, &ranking);
        assert!(!page.contains("<script"), "no script element: {page}");
        assert!(!page.contains("\"x\""), "quotes cannot end an attribute");
        let shown = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'&quot;&amp;";
        // Title, heading (text and data-grid), the three form fields, row key and label,
        // ranking item (data-grid and text), and the bar chart's label and its data-label.
        assert_eq!(
            page.matches(shown).count(),
            12,
            "every name is escaped text: {page}"
        );
    }
}
