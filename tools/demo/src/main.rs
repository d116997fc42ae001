//! `gridloop-demo`: the whole product in one command, against the running services (`make
//! demo` starts them and runs it). Imports the demo county (三元镇: 10 villages, 185 groups, 72
//! grid workers with A/B posts, chiefs, 300 one-key devices) — upserts and fixed ids, so it can
//! run again — then drives tickets through every channel and every path of the loop with a few
//! in flight at once, waits until the urgent safety hazards nobody signed for are overdue and
//! escalated (the town's SLA rule gives them minutes), and ends with the town's report by
//! village and the URL of the HTML report page.
//!
//! It calls the services as their real callers do, through `gridloop-client`: one shared
//! channel per service (`GRIDLOOP_<SERVICE>_ADDR`), a token minted with `GRIDLOOP_JWT_SECRET`
//! for whoever acts in each call, and the client's retry helper while another service catches
//! up. Its output and exit codes are `gridloopctl`'s.

// Printing the summary to stdout is what this program is for; the workspace lint guards services.
#![allow(clippy::print_stdout)]

mod county;
mod flow;
mod plan;
mod rpc;
mod watch;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use gridloop_client::Service;
// China Standard Time, in which the demo prints its times: the lifecycle's offset.
use gridloop_lifecycle::calendar::shanghai as cst;
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;
use gridloopctl::error::{CtlError, CtlResult, exit};
use tonic::Code;

use crate::county::{COUNTY, County, TOWN};
use crate::flow::{Demo, Stats};
use crate::plan::plans;
use crate::rpc::{As, Rpc};
use crate::watch::{Supervised, hazard_rule, supervised};

/// Import the demo county and drive tickets through every path of the loop (local stack).
#[derive(Debug, Parser)]
#[command(name = "gridloop-demo", version)]
pub struct DemoArgs {
    /// Tickets to submit (merged repeats included).
    #[arg(long, default_value_t = 1000)]
    pub tickets: usize,
    /// Tickets in flight at once.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Import the county only; submit no tickets.
    #[arg(long)]
    pub import_only: bool,
    /// The town's respond limit for urgent safety hazards (治安隐患), in clock minutes. Real
    /// rules say 15–30; the demo's default lets them go overdue within the run, and the demo
    /// waits that long for the tracker's 督办.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub hazard_minutes: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match DemoArgs::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // Help and version go to stdout with 0; mistakes to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match run(args, std::env::var("GRIDLOOP_JWT_SECRET").ok()).await {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            eprintln!("error: {err}");
            if let Some(hint) = err.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}

pub async fn run(args: DemoArgs, secret: Option<String>) -> CtlResult {
    let secret = secret.filter(|s| !s.is_empty()).ok_or_else(|| {
        CtlError::usage("demo needs GRIDLOOP_JWT_SECRET (local stack: `. .local/env`)")
    })?;
    let started = Instant::now();
    let rpc = Rpc::new(secret)?;
    let county = County::build();
    eprintln!(
        "demo: importing {} {} — {} villages, {} groups, {} staff, {} one-key devices",
        COUNTY.1,
        TOWN.1,
        county.villages.len(),
        county.groups.len(),
        county.staff.len(),
        county.households.len()
    );
    let worker_ids = import(&rpc, &county).await?;
    let rule = hazard_rule(&rpc, args.hazard_minutes).await?;
    eprintln!(
        "demo: SLA rule 治安隐患 × urgent: respond within {} minutes (tracker)",
        rule.respond_within.map(|l| l.amount).unwrap_or_default()
    );
    eprintln!(
        "demo: county ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if args.import_only {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let demo = Arc::new(Demo {
        rpc,
        run: now.format("%y%m%d%H%M%S").to_string(),
        run_digits: ((now.timestamp() / 60) % 1000) as u32,
        worker_ids,
        stats: Stats::default(),
        county,
    });
    let plans = Arc::new(plans(
        &demo.county,
        args.tickets,
        (now.timestamp() / 60) as usize % 300,
    ));
    eprintln!(
        "demo: run {} — {} tickets, {} in flight",
        demo.run, args.tickets, args.concurrency
    );
    let drive = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (demo, plans, next) = (demo.clone(), plans.clone(), next.clone());
        lanes.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = plans.get(i) else { break };
                demo.run(p).await;
            }
        });
    }
    let total = args.tickets;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            joined = lanes.join_next() => if joined.is_none() { break },
            _ = tick.tick() => progress(&demo.stats, total, drive.elapsed(), false),
        }
    }
    progress(&demo.stats, total, drive.elapsed(), true);
    let driven = drive.elapsed();
    let hazards = demo
        .stats
        .hazards
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let watched = if hazards.is_empty() {
        Supervised::default()
    } else {
        eprintln!(
            "demo: waiting for the tracker's 督办 of the {} safety hazards nobody signed for",
            hazards.len()
        );
        // They were called in first, so their deadlines are at most this far off.
        let bound = Duration::from_secs(u64::from(args.hazard_minutes) * 60 + 90);
        supervised(&demo.rpc, &hazards, bound).await
    };
    summary(&demo.stats, driven, &watched, args.hazard_minutes);
    report(&demo).await?;
    eprintln!("demo: done in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Upserts grids, workers (with duty and leave), and registers the devices. Returns the
/// worker id of each staff entry.
async fn import(rpc: &Rpc, county: &County) -> CtlResult<Vec<String>> {
    let grids = county.grids();
    let r = rpc
        .routing()
        .upsert_grid(rpc.req(As::Admin, pb::UpsertGridRequest { grids }))
        .await
        .map_err(|s| rpc.err(Service::Routing, s))?
        .into_inner();
    eprintln!("demo: grids {} new, {} updated", r.created, r.updated);
    let mut ids = Vec::new();
    let now = chrono::Utc::now();
    let (mut new, mut away) = (0, 0);
    for s in &county.staff {
        let msg = pb::UpsertWorkerRequest {
            staff_no: s.staff_no.clone(),
            name: s.name.clone(),
            role: s.role as i32,
            phone: s.phone.clone(),
            posts: s
                .posts
                .iter()
                .map(|(g, p)| pb::PostAssignment {
                    grid_code: g.clone(),
                    post: *p as i32,
                })
                .collect(),
            chief_of_grid_code: s.chief_of.clone(),
            capacity: 0,
        };
        let w = rpc
            .routing()
            .upsert_worker(rpc.req(As::Admin, msg))
            .await
            .map_err(|e| rpc.err(Service::Routing, e))?
            .into_inner();
        new += usize::from(w.created);
        let id = w.worker.map(|w| w.worker_id).unwrap_or_default();
        let duty = match (s.leave, s.off_duty) {
            (Some(reason), _) => Some(pb::SetDutyRequest {
                worker_id: id.clone(),
                on_duty: true,
                leave_from: Some(ts(now - chrono::Duration::days(1))),
                leave_until: Some(ts(now + chrono::Duration::days(6))),
                capacity: None,
                reason: reason.into(),
            }),
            (None, Some(reason)) => Some(pb::SetDutyRequest {
                worker_id: id.clone(),
                on_duty: false,
                reason: reason.into(),
                ..Default::default()
            }),
            _ => None,
        };
        if let Some(d) = duty {
            rpc.routing()
                .set_duty(rpc.req(As::Admin, d))
                .await
                .map_err(|e| rpc.err(Service::Routing, e))?;
            away += 1;
        }
        ids.push(id);
    }
    eprintln!(
        "demo: staff {} ({} new), {} on leave or off duty",
        ids.len(),
        new,
        away
    );
    let (mut registered, mut known) = (0, 0);
    for h in &county.households {
        let msg = pb::RegisterDeviceRequest {
            device_id: h.device_id.clone(),
            address: h.address.clone(),
            grid_code: county.groups[h.group].code.clone(),
            contact_phone: h.phone.clone(),
            contact_name: h.name.clone(),
            flags: h.flags.iter().map(|f| *f as i32).collect(),
            point: county.groups[h.group]
                .centre
                .map(|(lat, lng)| pb::GeoPoint { lat, lng }),
        };
        match rpc.intake().register_device(rpc.req(As::Admin, msg)).await {
            Ok(_) => registered += 1,
            Err(s) if s.code() == Code::AlreadyExists => known += 1,
            Err(s) => return Err(rpc.err(Service::Intake, s)),
        }
    }
    eprintln!("demo: one-key devices {registered} registered, {known} already registered");
    Ok(ids)
}

fn n(c: &AtomicUsize) -> usize {
    c.load(Ordering::Relaxed)
}

/// `\r[#####.....] 412/1000 closed 300 open 80 …` on stderr.
fn progress(s: &Stats, total: usize, elapsed: Duration, last: bool) {
    const WIDTH: usize = 30;
    let done = n(&s.done).min(total);
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let line = format!(
        "\r[{}{}] {done}/{total} closed {} open {} merged {} failed {} · {:.0}s ",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        n(&s.closed),
        n(&s.open),
        n(&s.merged),
        n(&s.failed),
        elapsed.as_secs_f64()
    );
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    if last {
        let _ = err.write_all(b"\n");
    }
    let _ = err.flush();
}

fn summary(s: &Stats, elapsed: Duration, w: &Supervised, minutes: u32) {
    let ch = |c: pb::Channel| n(&s.by_channel[c as usize]);
    println!(
        "\nTickets submitted: {} in {:.0}s — hotline {}, one-key {}, app {}, mailbox {}, web {}, patrol {}",
        n(&s.done),
        elapsed.as_secs_f64(),
        ch(pb::Channel::Hotline12345),
        ch(pb::Channel::OneKeyCall),
        ch(pb::Channel::App),
        ch(pb::Channel::Mailbox),
        ch(pb::Channel::Web),
        ch(pb::Channel::Patrol),
    );
    let rows = [
        ("closed (销号)", n(&s.closed)),
        ("  rated 满意", n(&s.satisfied)),
        ("  rated 基本满意", n(&s.basic)),
        ("  returned (退单) and re-dispatched", n(&s.returned)),
        ("  transferred (转办)", n(&s.transferred)),
        ("  reworked (返工: 不满意 → reopened)", n(&s.reworked)),
        (
            "  callbacks unreached ×3 → exemption",
            n(&s.unreached_exempted),
        ),
        ("  unresolvable, exemption confirmed", n(&s.unresolvable)),
        ("merged repeats (重复诉求)", n(&s.merged)),
        (
            "  of which into an earlier run's ticket",
            n(&s.merged_elsewhere),
        ),
        ("escalated for repeats (层级上报)", n(&s.escalated)),
        ("overdue for 签收, escalated (督办)", w.escalated),
        ("  in the supervisor's overdue list", w.listed),
        ("open", n(&s.open)),
        ("  waiting for 签收 (urgent)", n(&s.left_unaccepted)),
        ("    治安隐患, minutes to respond", w.total),
        ("  accepted, being handled", n(&s.left_accepted)),
        ("  disposed, waiting for feedback", n(&s.left_disposed)),
        ("failed", n(&s.failed)),
    ];
    for (label, v) in rows {
        let pad = 44usize.saturating_sub(gridloopctl::output::width(label));
        println!("  {label}{} {v:>5}", " ".repeat(pad));
    }
    if w.total > 0 {
        let due = w
            .due
            .map(|d| format!(" at {}", d.with_timezone(&cst()).format("%H:%M:%S")))
            .unwrap_or_default();
        let to = w
            .escalated_to
            .as_ref()
            .map(|g| {
                if g == TOWN.0 {
                    format!(" to the town {} ({g})", TOWN.1)
                } else {
                    format!(" to {g}")
                }
            })
            .unwrap_or_default();
        println!(
            "  The {} urgent safety hazards (治安隐患) nobody signed for had {minutes} minutes to respond \
             by the town's rule: due{due} (CST), {} overdue and {} escalated (督办){to} after {:.0}s of waiting.",
            w.total,
            w.overdue,
            w.escalated,
            w.waited.as_secs_f64()
        );
    }
    if let Some(due) = *s.respond_by.lock().unwrap_or_else(|e| e.into_inner()) {
        let local = due.with_timezone(&cst());
        println!(
            "  The other tickets waiting for 签收 go overdue by {} (CST) and are escalated (督办) then.",
            local.format("%Y-%m-%d %H:%M")
        );
    }
    println!("  See `gridloopctl overdue --as supervisor` and the report page.");
    if w.escalated < w.total {
        println!(
            "  ! the tracker reported {} of {} safety hazards overdue and escalated within {:.0}s",
            w.escalated,
            w.total,
            w.waited.as_secs_f64()
        );
    }
    let errs = s.errors.lock().unwrap_or_else(|e| e.into_inner());
    for e in errs.iter() {
        println!("  ! {e}");
    }
}

/// The town's report by village for this month, once reports has read the demo's events,
/// and the URL of the HTML page with a leader's token.
async fn report(demo: &Demo) -> CtlResult {
    let rpc = &demo.rpc;
    let req = || pb::GetReportRequest {
        filter: Some(pb::ReportFilter {
            grid_code: TOWN.0.into(),
            ..Default::default()
        }),
        range: Some(pb::get_report_request::Range::Period(pb::Period {
            unit: pb::PeriodUnit::Month as i32,
            anchor: None,
        })),
        dimension: pb::ReportDimension::Grid as i32,
        group_level: pb::GridLevel::Village as i32,
    };
    // Reports reads the stream asynchronously: wait until its figures stop moving.
    let mut last = None;
    let mut resp = None;
    for _ in 0..60 {
        let r = rpc
            .reports()
            .get_report(rpc.req(As::Leader, req()))
            .await
            .map_err(|s| rpc.err(Service::Reports, s))?
            .into_inner();
        let t = r.totals.unwrap_or_default();
        let key = (t.received, t.closed, t.merged, t.rated, t.disposed);
        let settled = last == Some(key);
        last = Some(key);
        resp = Some(r);
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    if let Some(r) = resp {
        println!("\n{} {} — report by village, this month\n", TOWN.0, TOWN.1);
        print!("{}", gridloopctl::report_table::render(&r));
    }
    let http = std::env::var("GRIDLOOP_REPORTS_HTTP_ADDR")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let token = rpc.token(As::Leader, 7 * 24 * 3600);
    println!(
        "\nHTML report: http://{http}/?grid={}&period=month&level=village&token={token}",
        TOWN.0
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::DemoArgs;

    fn parse(line: &str) -> Result<DemoArgs, clap::Error> {
        DemoArgs::try_parse_from(std::iter::once("gridloop-demo").chain(line.split_whitespace()))
    }

    #[test]
    fn hazard_minutes_default_and_range() {
        let d = parse("").unwrap();
        assert_eq!((d.hazard_minutes, d.tickets, d.concurrency), (2, 1000, 12));
        let d = parse("--hazard-minutes 15 --tickets 200").unwrap();
        assert_eq!((d.hazard_minutes, d.tickets), (15, 200));
        for bad in ["--hazard-minutes 0", "--hazard-minutes 31"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("--hazard-minutes"), "{bad}: {err}");
        }
    }
}
