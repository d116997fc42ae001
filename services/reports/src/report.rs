//! Reports, trends and rankings assembled from roll-ups; shared by the gRPC API, the CSV
//! export and the HTML page.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use gridloop_platform::ApiError;
use gridloop_proto::ts;
use gridloop_proto::v1::{self as pb, GridLevel, PeriodUnit, RankBy, ReportDimension};
use sqlx::PgPool;

use crate::domain::{Filter, channel_key, channel_label, level_of, period_of, range_pb};
use crate::indicators::indicators;
use crate::query::{self, By, Tally};
use crate::stored::CHANNEL;

/// Server default and floor of the ranking's minimum sample.
pub const DEFAULT_MIN_SAMPLE: u32 = 20;
/// Most points a trend may have.
pub const MAX_POINTS: usize = 400;

/// Label of the whole set when no root is named.
pub const ALL_GRIDS: &str = "全部网格";
/// Label of tickets no grid holds yet.
pub const UNASSIGNED: &str = "未分派";

pub async fn root_name(pool: &PgPool, root: &str) -> Result<String, ApiError> {
    if root.is_empty() {
        return Ok(ALL_GRIDS.into());
    }
    let names = query::grid_names(pool, &[root.to_string()]).await?;
    Ok(names.get(root).cloned().unwrap_or_else(|| root.to_string()))
}

pub async fn report(
    pool: &PgPool,
    f: &Filter,
    (from, to): (NaiveDate, NaiveDate),
    dimension: ReportDimension,
    level: GridLevel,
) -> Result<pb::GetReportResponse, ApiError> {
    let by = match dimension {
        ReportDimension::Unspecified | ReportDimension::None => By::Nothing,
        ReportDimension::Grid => By::Grid(level),
        ReportDimension::Worker => By::Worker,
        ReportDimension::Category => By::Category,
        ReportDimension::Channel => By::Channel,
    };
    let dimension = match dimension {
        ReportDimension::Unspecified => ReportDimension::None,
        d => d,
    };
    let rolled = query::rollup(pool, f, from, to, by).await?;
    let totals = query::total(&rolled);
    let rows = if by == By::Nothing {
        Vec::new()
    } else {
        label_rows(pool, rolled, by).await?
    };
    Ok(pb::GetReportResponse {
        grid_code: f.root.clone(),
        grid_name: root_name(pool, &f.root).await?,
        dates: Some(range_pb(from, to)),
        dimension: dimension as i32,
        rows,
        totals: Some(indicators(&totals)),
        generated_at: Some(ts(gridloop_platform::clock::now())),
        as_of: query::as_of(pool).await?.map(ts),
    })
}

async fn label_rows(
    pool: &PgPool,
    rolled: BTreeMap<String, Tally>,
    by: By,
) -> Result<Vec<pb::ReportRow>, ApiError> {
    let (grids, categories) = match by {
        By::Grid(_) => {
            let codes: Vec<String> = rolled.keys().cloned().collect();
            (query::grid_names(pool, &codes).await?, Default::default())
        }
        By::Category => (Default::default(), query::category_names(pool).await?),
        _ => Default::default(),
    };
    let mut rows: Vec<pb::ReportRow> = rolled
        .into_iter()
        .map(|(key, tally)| {
            let (key, label, level) = match by {
                By::Grid(_) if key.is_empty() => {
                    (key, UNASSIGNED.to_string(), GridLevel::Unspecified)
                }
                By::Grid(_) => {
                    let label = grids.get(&key).cloned().unwrap_or_else(|| key.clone());
                    let level = level_of(&key);
                    (key, label, level)
                }
                By::Category => {
                    let label = categories.get(&key).cloned().unwrap_or_else(|| key.clone());
                    (key, label, GridLevel::Unspecified)
                }
                By::Channel => {
                    let c = CHANNEL.parse(&key);
                    (
                        channel_key(c),
                        channel_label(c).to_string(),
                        GridLevel::Unspecified,
                    )
                }
                By::Worker if key.is_empty() => (key, "无人持有".into(), GridLevel::Unspecified),
                _ => (key.clone(), key, GridLevel::Unspecified),
            };
            pb::ReportRow {
                key,
                label,
                grid_level: level as i32,
                indicators: Some(indicators(&tally)),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(rows)
}

/// The buckets of `unit` covering `from..=to`, first and last day each.
pub fn buckets(
    unit: PeriodUnit,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, NaiveDate)>, ApiError> {
    let mut out = Vec::new();
    let mut at = from;
    loop {
        let (s, e) =
            period_of(unit, at).ok_or_else(|| ApiError::invalid("range", "out of range"))?;
        out.push((s, e));
        if out.len() > MAX_POINTS {
            return Err(ApiError::invalid("range", "more than 400 points"));
        }
        if e >= to {
            return Ok(out);
        }
        at = e
            .succ_opt()
            .ok_or_else(|| ApiError::invalid("range", "out of range"))?;
    }
}

fn trunc_unit(unit: PeriodUnit) -> &'static str {
    match unit {
        PeriodUnit::Week => "week",
        PeriodUnit::Month => "month",
        PeriodUnit::Quarter => "quarter",
        PeriodUnit::Year => "year",
        _ => "day",
    }
}

pub async fn trend(
    pool: &PgPool,
    f: &Filter,
    unit: PeriodUnit,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<pb::GetTrendResponse, ApiError> {
    let spans = buckets(unit, from, to)?;
    let (first, last) = (spans[0].0, spans[spans.len() - 1].1);
    let rolled = query::rollup(pool, f, first, last, By::Bucket(trunc_unit(unit))).await?;
    let points = spans
        .into_iter()
        .map(|(s, e)| {
            let key = s.format("%Y-%m-%d").to_string();
            let tally = rolled.get(&key).cloned().unwrap_or_default();
            pb::TrendPoint {
                dates: Some(range_pb(s, e)),
                indicators: Some(indicators(&tally)),
            }
        })
        .collect();
    Ok(pb::GetTrendResponse {
        points,
        as_of: query::as_of(pool).await?.map(ts),
    })
}

/// The value ranked by and its sample; `higher` says whether higher is better.
pub fn rank_value(by: RankBy, i: &pb::Indicators) -> (Option<f64>, u64, bool) {
    match by {
        RankBy::OnTimeClosureRate => (i.on_time_closure_rate, i.closed + i.open_overdue, true),
        RankBy::SatisfactionRate => (i.satisfaction_rate, i.rated, true),
        RankBy::ResponseRate => (i.response_rate, i.dispatched, true),
        RankBy::ReworkRate => (i.rework_rate, i.disposed, false),
        RankBy::AvgHandlingTime => (i.avg_handling_working_hours, i.closed, false),
        _ => (i.closure_rate, i.received - i.merged, true),
    }
}

pub async fn ranking(
    pool: &PgPool,
    f: &Filter,
    range: (NaiveDate, NaiveDate),
    level: GridLevel,
    rank_by: RankBy,
    min_sample: u32,
) -> Result<pb::GetRankingResponse, ApiError> {
    let min_sample = min_sample.max(DEFAULT_MIN_SAMPLE);
    let report = report(pool, f, range, ReportDimension::Grid, level).await?;
    let mut ranked = Vec::new();
    let mut unranked = Vec::new();
    for row in report.rows {
        // Only grids of the level ranked: tickets held above it or by no grid are not a grid
        // of that level.
        if row.key.is_empty() || level_of(&row.key) != level {
            continue;
        }
        let ind = row.indicators.unwrap_or_default();
        let (value, sample, _) = rank_value(rank_by, &ind);
        let entry = pb::RankingEntry {
            rank: 0,
            grid_code: row.key,
            grid_name: row.label,
            value,
            sample,
            indicators: Some(ind),
        };
        if sample >= u64::from(min_sample) && value.is_some() {
            ranked.push(entry);
        } else {
            unranked.push(entry);
        }
    }
    let higher = rank_value(rank_by, &pb::Indicators::default()).2;
    ranked.sort_by(|a, b| {
        let (x, y) = (a.value.unwrap_or(0.0), b.value.unwrap_or(0.0));
        let ord = if higher {
            y.total_cmp(&x)
        } else {
            x.total_cmp(&y)
        };
        ord.then_with(|| a.grid_code.cmp(&b.grid_code))
    });
    // Equal values share a rank; the next distinct value takes its position (1, 1, 3).
    for i in 0..ranked.len() {
        ranked[i].rank = if i > 0 && ranked[i].value == ranked[i - 1].value {
            ranked[i - 1].rank
        } else {
            i as u32 + 1
        };
    }
    Ok(pb::GetRankingResponse {
        ranked,
        unranked,
        min_sample,
        dates: report.dates,
        as_of: report.as_of,
    })
}
