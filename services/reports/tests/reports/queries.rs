//! Reports over gRPC equal a from-scratch recomputation over every event of a randomised
//! history; trends, rankings and the CSV agree with them; bad requests are refused.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use gridloop_platform::auth::Role;
use gridloop_proto::v1 as pb;
use gridloop_reports::domain::date_pb;
use pb::get_report_request::Range;
use tonic::Code;

use crate::history::{self, COUNTY, TOWNS};
use crate::naive::{self, Scope, Ticket};
use crate::support::{count, feed, leader, req, start, token};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn custom(from: NaiveDate, to: NaiveDate) -> Option<Range> {
    Some(Range::CustomRange(pb::DateRange {
        start: Some(date_pb(from)),
        end: Some(date_pb(to)),
    }))
}

fn month(y: i32, m: u32) -> Option<Range> {
    Some(Range::Period(pb::Period {
        unit: pb::PeriodUnit::Month as i32,
        anchor: Some(date_pb(d(y, m, 15))),
    }))
}

fn prefix(n: usize) -> impl Fn(&Ticket) -> String {
    move |t| {
        if t.grid.len() >= n {
            t.grid[..n].to_string()
        } else {
            t.grid.clone()
        }
    }
}

fn compare(
    what: &str,
    got: &pb::GetReportResponse,
    want: &(BTreeMap<String, pb::Indicators>, pb::Indicators),
) {
    naive::assert_same(
        &format!("{what} totals"),
        got.totals.as_ref().unwrap(),
        &want.1,
    );
    let got_keys: Vec<&str> = got.rows.iter().map(|r| r.key.as_str()).collect();
    let want_keys: Vec<&str> = want.0.keys().map(String::as_str).collect();
    assert_eq!(got_keys, want_keys, "{what}: row keys");
    for r in &got.rows {
        naive::assert_same(
            &format!("{what} row {}", r.key),
            r.indicators.as_ref().unwrap(),
            &want.0[&r.key],
        );
    }
}

#[tokio::test]
async fn reports_equal_a_recomputation_over_a_random_history() {
    let seed: u64 = std::env::var("GRIDLOOP_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros() as u64);
    eprintln!("history seed {seed} (GRIDLOOP_TEST_SEED={seed} replays it)");
    let events = history::generate(seed, 260);
    let h = start().await;
    feed(&h, &events).await;
    assert_eq!(count(&h.pool, "dead_letters").await, 0, "no event failed");
    let tickets = naive::fold(&events);
    let tok = leader();
    let mut c = h.client.clone();
    let q4 = (d(2026, 9, 1), d(2026, 12, 31));
    let all = Scope {
        from: q4.0,
        to: q4.1,
        root: "",
        categories: &[],
        channels: &[],
        worker: None,
    };

    // The whole set by town, over a custom range covering every ticket.
    let got = c
        .get_report(req(
            pb::GetReportRequest {
                filter: None,
                range: custom(q4.0, q4.1),
                dimension: pb::ReportDimension::Grid as i32,
                group_level: 0,
            },
            &tok,
        ))
        .await
        .unwrap()
        .into_inner();
    compare("towns", &got, &naive::report(&tickets, &all, prefix(9)));
    assert_eq!(got.totals.as_ref().unwrap().received, tickets.len() as u64);

    // Each month of one town by village, and by group.
    for m in [9, 10, 11, 12] {
        let (from, to) =
            gridloop_reports::domain::period_of(pb::PeriodUnit::Month, d(2026, m, 1)).unwrap();
        let scope = Scope {
            from,
            to,
            root: TOWNS[0],
            ..all
        };
        for (level, n) in [(pb::GridLevel::Village, 12), (pb::GridLevel::Group, 99)] {
            let got = c
                .get_report(req(
                    pb::GetReportRequest {
                        filter: Some(pb::ReportFilter {
                            grid_code: TOWNS[0].into(),
                            ..Default::default()
                        }),
                        range: month(2026, m),
                        dimension: pb::ReportDimension::Grid as i32,
                        group_level: level as i32,
                    },
                    &tok,
                ))
                .await
                .unwrap()
                .into_inner();
            compare(
                &format!("town month {m} {level:?}"),
                &got,
                &naive::report(&tickets, &scope, prefix(n)),
            );
        }
    }

    // By category, channel and worker, with filters.
    let filtered = Scope {
        root: COUNTY,
        categories: &["environment", "municipal"],
        channels: &[pb::Channel::Hotline12345, pb::Channel::App],
        ..all
    };
    let filter = pb::ReportFilter {
        grid_code: COUNTY.into(),
        category_codes: vec!["environment".into(), "municipal".into()],
        channels: vec![pb::Channel::Hotline12345 as i32, pb::Channel::App as i32],
        worker_id: String::new(),
    };
    for (dim, key) in [
        (
            pb::ReportDimension::Category,
            Box::new(|t: &Ticket| t.category.clone()) as Box<dyn Fn(&Ticket) -> String>,
        ),
        (
            pb::ReportDimension::Channel,
            Box::new(|t: &Ticket| {
                pb::Channel::try_from(t.channel)
                    .unwrap()
                    .as_str_name()
                    .trim_start_matches("CHANNEL_")
                    .to_string()
            }),
        ),
        (
            pb::ReportDimension::Worker,
            Box::new(|t: &Ticket| t.worker.clone()),
        ),
    ] {
        let got = c
            .get_report(req(
                pb::GetReportRequest {
                    filter: Some(filter.clone()),
                    range: custom(q4.0, q4.1),
                    dimension: dim as i32,
                    group_level: 0,
                },
                &tok,
            ))
            .await
            .unwrap()
            .into_inner();
        compare(
            &format!("{dim:?}"),
            &got,
            &naive::report(&tickets, &filtered, key),
        );
    }

    // One worker's tickets.
    let worker = format!("w-{}", history::groups()[0]);
    let got = c
        .get_report(req(
            pb::GetReportRequest {
                filter: Some(pb::ReportFilter {
                    worker_id: worker.clone(),
                    ..Default::default()
                }),
                range: custom(q4.0, q4.1),
                dimension: pb::ReportDimension::None as i32,
                group_level: 0,
            },
            &tok,
        ))
        .await
        .unwrap()
        .into_inner();
    let scope = Scope {
        worker: Some(&worker),
        ..all
    };
    compare(
        "worker",
        &got,
        &naive::report(&tickets, &scope, |_| String::new())
            .1
            .into_totals(),
    );

    // A supervisor reads their subtree; the trend's points equal the monthly reports.
    let sup = token(Role::Supervisor, "sup-1", &[TOWNS[1]]);
    let trend = c
        .get_trend(req(
            pb::GetTrendRequest {
                filter: None,
                bucket: pb::PeriodUnit::Month as i32,
                range: Some(pb::DateRange {
                    start: Some(date_pb(d(2026, 9, 20))),
                    end: Some(date_pb(d(2026, 12, 20))),
                }),
            },
            &sup,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(trend.points.len(), 4, "september to december");
    for p in &trend.points {
        let r = p.dates.unwrap();
        let s = r.start.unwrap();
        let e = r.end.unwrap();
        let scope = Scope {
            from: d(s.year, s.month as u32, s.day as u32),
            to: d(e.year, e.month as u32, e.day as u32),
            root: TOWNS[1],
            ..all
        };
        naive::assert_same(
            &format!("trend point {s:?}"),
            p.indicators.as_ref().unwrap(),
            &naive::report(&tickets, &scope, |_| String::new()).1,
        );
    }

    // The ranking: groups by closure rate, a sample below the minimum is not ranked.
    let ranking = c
        .get_ranking(req(
            pb::GetRankingRequest {
                filter: None,
                range: Some(pb::get_ranking_request::Range::CustomRange(pb::DateRange {
                    start: Some(date_pb(q4.0)),
                    end: Some(date_pb(q4.1)),
                })),
                level: pb::GridLevel::Group as i32,
                rank_by: pb::RankBy::ClosureRate as i32,
                min_sample: 5,
            },
            &tok,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ranking.min_sample, 20, "raised to the server default");
    let groups = naive::report(&tickets, &all, prefix(99)).0;
    for e in &ranking.ranked {
        let want = &groups[&e.grid_code];
        assert!(e.sample >= 20 && e.sample == want.received - want.merged);
        assert_eq!(e.value, want.closure_rate);
    }
    for w in ranking.ranked.windows(2) {
        assert!(w[0].value >= w[1].value, "best first");
        assert!(w[0].rank <= w[1].rank);
    }
    for e in &ranking.unranked {
        assert!(e.sample < 20 || e.value.is_none());
        assert_eq!(e.rank, 0);
    }
    assert_eq!(
        ranking.ranked.len() + ranking.unranked.len(),
        groups.keys().filter(|k| k.len() > 12).count(),
        "every group appears once"
    );

    // The CSV has the report's rows and totals.
    let mut stream = c
        .export_csv(req(
            pb::ExportCsvRequest {
                report: Some(pb::GetReportRequest {
                    filter: None,
                    range: custom(q4.0, q4.1),
                    dimension: pb::ReportDimension::Grid as i32,
                    group_level: 0,
                }),
                utf8_bom: true,
            },
            &tok,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    let mut first = true;
    while let Some(chunk) = stream.message().await.unwrap() {
        if first {
            assert!(chunk.file_name.starts_with("gridloop-") && chunk.file_name.ends_with(".csv"));
            first = false;
        }
        bytes.extend_from_slice(&chunk.data);
    }
    let text = String::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("BOM first");
    let lines: Vec<&str> = text.lines().collect();
    let towns = naive::report(&tickets, &all, prefix(9));
    assert_eq!(lines.len(), 1 + towns.0.len() + 1, "header, rows, totals");
    assert!(lines[0].starts_with("key,label,received"));
    let total: Vec<&str> = lines.last().unwrap().split(',').collect();
    assert_eq!(total[0], "total");
    assert_eq!(total[2], towns.1.received.to_string());
    assert_eq!(total[5], towns.1.closed.to_string());
}

trait IntoTotals {
    fn into_totals(self) -> (BTreeMap<String, pb::Indicators>, pb::Indicators);
}

impl IntoTotals for pb::Indicators {
    /// A NONE report has no rows, only totals.
    fn into_totals(self) -> (BTreeMap<String, pb::Indicators>, pb::Indicators) {
        (BTreeMap::new(), self)
    }
}

#[tokio::test]
async fn bad_requests_and_foreign_scopes_are_refused() {
    let h = start().await;
    let events = history::generate(7, 20);
    feed(&h, &events).await;
    let before = (count(&h.pool, "agg").await, count(&h.pool, "facts").await);
    let mut c = h.client.clone();
    let tok = leader();
    let base = pb::GetReportRequest {
        filter: None,
        range: month(2026, 11),
        dimension: pb::ReportDimension::Grid as i32,
        group_level: 0,
    };
    let cases: Vec<(pb::GetReportRequest, &str)> = vec![
        (
            pb::GetReportRequest {
                range: None,
                ..base.clone()
            },
            "range",
        ),
        (
            pb::GetReportRequest {
                range: Some(Range::Period(pb::Period {
                    unit: 0,
                    anchor: None,
                })),
                ..base.clone()
            },
            "period.unit",
        ),
        (
            pb::GetReportRequest {
                range: custom(d(2026, 11, 2), d(2026, 11, 1)),
                ..base.clone()
            },
            "custom_range",
        ),
        (
            pb::GetReportRequest {
                range: Some(Range::Period(pb::Period {
                    unit: pb::PeriodUnit::Day as i32,
                    anchor: Some(pb::Date {
                        year: 2026,
                        month: 2,
                        day: 30,
                    }),
                })),
                ..base.clone()
            },
            "period.anchor",
        ),
        (
            pb::GetReportRequest {
                filter: Some(pb::ReportFilter {
                    grid_code: TOWNS[0].into(),
                    ..Default::default()
                }),
                group_level: pb::GridLevel::County as i32,
                ..base.clone()
            },
            "group_level",
        ),
        (
            pb::GetReportRequest {
                filter: Some(pb::ReportFilter {
                    channels: vec![0],
                    ..Default::default()
                }),
                ..base.clone()
            },
            "filter.channels",
        ),
    ];
    for (r, field) in cases {
        let e = c.get_report(req(r, &tok)).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert!(
            e.message().contains(field),
            "{field} named: {}",
            e.message()
        );
    }
    let e = c
        .get_ranking(req(
            pb::GetRankingRequest {
                range: month(2026, 11).map(|r| match r {
                    Range::Period(p) => pb::get_ranking_request::Range::Period(p),
                    Range::CustomRange(c) => pb::get_ranking_request::Range::CustomRange(c),
                }),
                ..Default::default()
            },
            &tok,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("rank_by"));
    let e = c
        .get_trend(req(
            pb::GetTrendRequest {
                bucket: pb::PeriodUnit::Day as i32,
                range: Some(pb::DateRange {
                    start: Some(date_pb(d(2025, 1, 1))),
                    end: Some(date_pb(d(2026, 12, 31))),
                }),
                ..Default::default()
            },
            &tok,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "over 400 points");

    // Roles: a worker may not read reports; a supervisor only their subtree.
    let worker = token(Role::Worker, "w-1", &[]);
    let e = c.get_report(req(base.clone(), &worker)).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let sup = token(Role::Supervisor, "sup-1", &[TOWNS[1]]);
    let foreign = pb::GetReportRequest {
        filter: Some(pb::ReportFilter {
            grid_code: TOWNS[0].into(),
            ..Default::default()
        }),
        ..base.clone()
    };
    let e = c.get_report(req(foreign, &sup)).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let own = c
        .get_report(req(base.clone(), &sup))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        own.grid_code, TOWNS[1],
        "a supervisor's default root is their subtree"
    );
    let e = c
        .get_report(tonic::Request::new(base.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);

    let after = (count(&h.pool, "agg").await, count(&h.pool, "facts").await);
    assert_eq!(before, after, "reading writes nothing");
}
