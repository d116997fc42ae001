//! The HTML page in a real browser: headless Chromium loads it, the numbers it shows equal
//! the gRPC report's, and a screenshot is written to `target/report-screenshot.png`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use gridloop_platform::auth::Role;
use gridloop_proto::v1 as pb;
use gridloop_reports::domain::date_pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::history::{self, TOWNS};
use crate::support::{feed, leader, req, start, token};

fn chromium() -> PathBuf {
    let bin = PathBuf::from(
        std::env::var("GRIDLOOP_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    assert!(
        bin.exists(),
        "headless Chromium is required for the report page test and {} is missing: \
         run `bash deploy/local/browser.sh` (as root it installs Debian's chromium) or set \
         GRIDLOOP_CHROMIUM",
        bin.display()
    );
    bin
}

async fn run_chromium(args: &[String]) -> Vec<u8> {
    let profile = std::env::temp_dir().join(format!("gl-chromium-{}", uuid::Uuid::now_v7()));
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium finished within 90 s")
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `data-value` and shown text of the cell with `field` after `anchor` in `dom`.
fn cell(dom: &str, anchor: &str, field: &str) -> (String, String) {
    let at = dom
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} on the page"));
    let row = &dom[at..];
    let row = &row[..row.find("</tr>").expect("row ends")];
    let marker = format!("data-field=\"{field}\" data-value=\"");
    let i = row
        .find(&marker)
        .unwrap_or_else(|| panic!("{field} in {anchor}"))
        + marker.len();
    let rest = &row[i..];
    let value = &rest[..rest.find('"').unwrap()];
    let text_start = rest.find('>').unwrap() + 1;
    let text = &rest[text_start..text_start + rest[text_start..].find('<').unwrap()];
    (value.to_string(), text.to_string())
}

fn check(dom: &str, anchor: &str, ind: &pb::Indicators) {
    let counts = [
        ("received", ind.received),
        ("dispatched", ind.dispatched),
        ("merged", ind.merged),
        ("closed", ind.closed),
        ("open", ind.open),
        ("open_overdue", ind.open_overdue),
    ];
    for (f, want) in counts {
        let (v, text) = cell(dom, anchor, f);
        assert_eq!(v, want.to_string(), "{anchor} {f}");
        assert_eq!(text, want.to_string(), "{anchor} {f} shown");
    }
    let rates = [
        ("response_rate", ind.response_rate),
        ("closure_rate", ind.closure_rate),
        ("on_time_closure_rate", ind.on_time_closure_rate),
        ("satisfaction_rate", ind.satisfaction_rate),
        ("rework_rate", ind.rework_rate),
    ];
    for (f, want) in rates {
        let (v, text) = cell(dom, anchor, f);
        assert_eq!(v.parse::<f64>().ok(), want, "{anchor} {f}");
        let shown = want
            .map(|x| format!("{:.1}%", x * 100.0))
            .unwrap_or("—".into());
        assert_eq!(text, shown, "{anchor} {f} shown");
    }
    for (f, want) in [
        ("avg_handling_working_hours", ind.avg_handling_working_hours),
        ("p90_handling_working_hours", ind.p90_handling_working_hours),
    ] {
        let (v, _) = cell(dom, anchor, f);
        assert_eq!(v.parse::<f64>().ok(), want, "{anchor} {f}");
    }
}

async fn status_of(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    text.lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_page_shows_the_reports_numbers_in_a_real_browser() {
    let bin = chromium();
    let h = start().await;
    feed(&h, &history::generate(20_261_115, 500)).await;
    let tok = leader();
    let report = h
        .client
        .clone()
        .get_report(req(
            pb::GetReportRequest {
                filter: Some(pb::ReportFilter {
                    grid_code: TOWNS[0].into(),
                    ..Default::default()
                }),
                range: Some(pb::get_report_request::Range::Period(pb::Period {
                    unit: pb::PeriodUnit::Month as i32,
                    anchor: Some(date_pb(NaiveDate::from_ymd_opt(2026, 11, 15).unwrap())),
                })),
                dimension: pb::ReportDimension::Grid as i32,
                group_level: 0,
            },
            &tok,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        report.totals.as_ref().unwrap().received > 0,
        "the month has tickets"
    );
    let url = format!(
        "http://{}/?token={tok}&grid={}&period=month&date=2026-11-15",
        h.http, TOWNS[0]
    );
    let dom = String::from_utf8(run_chromium(&["--dump-dom".into(), url.clone()]).await).unwrap();
    assert!(
        dom.contains("id=\"trend-closure\""),
        "closure trend chart drawn"
    );
    assert!(
        dom.contains("id=\"trend-satisfaction\""),
        "satisfaction trend chart drawn"
    );
    assert!(dom.contains("id=\"ranking-chart\""), "ranking chart drawn");
    assert!(dom.contains("data-from=\"2026-11-01\" data-to=\"2026-11-30\""));
    check(&dom, "data-key=\"total\"", report.totals.as_ref().unwrap());
    assert!(!report.rows.is_empty());
    for r in &report.rows {
        check(
            &dom,
            &format!("data-key=\"{}\"", r.key),
            r.indicators.as_ref().unwrap(),
        );
    }

    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,2000".into(),
        url,
    ])
    .await;
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot"
    );
    eprintln!(
        "screenshot of the report page: {} ({})",
        shot.display(),
        bin.display()
    );

    // The page reads leaders' data: no token, a worker's, or a foreign subtree is refused.
    assert!(status_of(h.http, "/?period=month").await.contains("401"));
    let worker = token(Role::Worker, "w-1", &[]);
    assert!(
        status_of(h.http, &format!("/?token={worker}"))
            .await
            .contains("403")
    );
    let sup = token(Role::Supervisor, "sup-1", &[TOWNS[1]]);
    assert!(
        status_of(h.http, &format!("/?token={sup}&grid={}", TOWNS[0]))
            .await
            .contains("403")
    );
    assert!(
        status_of(h.http, &format!("/?token={sup}"))
            .await
            .contains("200")
    );
    assert!(
        status_of(h.http, &format!("/?token={tok}&period=fortnight"))
            .await
            .contains("400")
    );
}
