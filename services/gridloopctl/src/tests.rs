//! Argument parsing: what each command line turns into, and what clap refuses (exit code 2).

use clap::Parser;
use gridloop_proto::v1 as pb;

use crate::cli::*;
use crate::intake::hotline_request;
use crate::reports::report_request;

fn parse(line: &str) -> Cli {
    let words: Vec<&str> = std::iter::once("gridloopctl")
        .chain(line.split_whitespace())
        .collect();
    Cli::try_parse_from(words).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn refuse(line: &str) -> String {
    let words: Vec<&str> = std::iter::once("gridloopctl")
        .chain(line.split_whitespace())
        .collect();
    let err = Cli::try_parse_from(words).expect_err(line);
    assert!(err.use_stderr(), "{line}: a mistake, not help");
    assert_eq!(err.exit_code(), 2, "{line}");
    err.to_string()
}

#[test]
fn submit_hotline_builds_the_request() {
    let cli = parse(
        "--as operator:op-9 submit hotline --external-id W-1 --phone 13812345678 \
         --category environment --content 噪音 --urgency urgent --received-at 2026-03-01T08:00:00+08:00",
    );
    assert_eq!(cli.global.act_as.as_deref(), Some("operator:op-9"));
    let Command::Submit(Submit::Hotline(h)) = cli.command else {
        panic!()
    };
    let req = hotline_request(h, Some("op-9")).unwrap();
    assert_eq!(req.operator_id, "op-9");
    assert_eq!(req.caller_phone, "13812345678");
    assert_eq!(req.urgency, pb::Urgency::Urgent as i32);
    assert_eq!(req.received_at.unwrap().seconds, 1_772_323_200);
    assert_eq!(req.caller_name, None);

    // Without --as the operator must be named.
    let cli = parse("submit hotline --external-id W-1 --phone 1 --category c --content x");
    let Command::Submit(Submit::Hotline(h)) = cli.command else {
        panic!()
    };
    assert_eq!(hotline_request(h, None).unwrap_err().exit_code(), 2);
}

#[test]
fn global_options_go_anywhere() {
    let cli = parse("ticket show T1 --json --token abc");
    assert!(cli.global.json);
    assert_eq!(cli.global.token.as_deref(), Some("abc"));
    assert!(
        matches!(cli.command, Command::Ticket(TicketCmd::Show { ref ticket_id }) if ticket_id == "T1")
    );
    let cli = parse("--as supervisor --as-grid 3415 --as-grid 3416 overdue --kind dispose");
    assert_eq!(cli.global.as_grids, ["3415", "3416"]);
    let Command::Overdue(o) = cli.command else {
        panic!()
    };
    assert_eq!(o.kind, Some(DeadlineArg::Dispose));
    assert_eq!(o.page.limit, 200);
}

#[test]
fn worker_posts_and_duty() {
    let cli = parse("worker add --staff-no G001 --name 李四 --post 34150101:A --post 34150102:b");
    let Command::Worker(WorkerCmd::Add(w)) = cli.command else {
        panic!()
    };
    assert_eq!(w.role, WorkerRoleArg::Worker);
    assert_eq!(
        w.posts,
        [
            ("34150101".to_string(), PostArg::A),
            ("34150102".to_string(), PostArg::B)
        ]
    );
    assert!(refuse("worker add --staff-no G --name x --post 3415:C").contains("A or B"));
    assert!(refuse("worker add --staff-no G --name x --post 3415").contains("GRID:A"));
    assert!(refuse("worker duty W1 --on --off").contains("--off"));
    assert!(refuse("worker duty W1 --off --leave-from 2026-03-01").contains("--leave-until"));
}

#[test]
fn task_and_closure_commands() {
    let cli = parse("task return T1 --reason not-my-grid --text 不在本网格");
    let Command::Task(TaskCmd::Return { reason, .. }) = cli.command else {
        panic!()
    };
    assert_eq!(reason.proto(), pb::ReturnReason::NotMyGrid);
    let cli = parse("task list --state pending --state accepted --kind supervise");
    let Command::Task(TaskCmd::List { states, kind, .. }) = cli.command else {
        panic!()
    };
    assert_eq!(states, [TaskStateArg::Pending, TaskStateArg::Accepted]);
    assert_eq!(kind, Some(TaskKindArg::Supervise));
    let cli = parse(
        "dispose T1 --type resolved --result 已清理 --evidence https://e/1.jpg --evidence https://e/2.jpg",
    );
    let Command::Dispose(d) = cli.command else {
        panic!()
    };
    assert_eq!(d.evidence.len(), 2);
    assert!(refuse("callback T1").contains("--rating"));
    assert!(refuse("callback T1 --unreached --rating satisfied").contains("--rating"));
    assert!(
        matches!(parse("callback T1 --unreached").command, Command::Callback(c) if c.unreached)
    );
    assert!(refuse("feedback T1 --rating great").contains("great"));
    assert!(refuse("close T1 --kind unreachable").contains("--reason"));
}

#[test]
fn report_by_village_for_a_month() {
    let cli = parse(
        "report --by village --period month --date 2026-11-15 --grid 341501 --channel hotline",
    );
    let Command::Report(r) = cli.command else {
        panic!()
    };
    let req = report_request(&r);
    assert_eq!(req.dimension, pb::ReportDimension::Grid as i32);
    assert_eq!(req.group_level, pb::GridLevel::Village as i32);
    assert_eq!(
        req.filter.as_ref().unwrap().channels,
        [pb::Channel::Hotline12345 as i32]
    );
    let Some(pb::get_report_request::Range::Period(p)) = req.range else {
        panic!()
    };
    assert_eq!(p.unit, pb::PeriodUnit::Month as i32);
    assert_eq!(
        p.anchor,
        Some(pb::Date {
            year: 2026,
            month: 11,
            day: 15
        })
    );

    let cli = parse("report --by category --from 2026-01-01 --to 2026-03-31");
    let Command::Report(r) = cli.command else {
        panic!()
    };
    let req = report_request(&r);
    assert!(matches!(
        req.range,
        Some(pb::get_report_request::Range::CustomRange(_))
    ));
    assert!(refuse("report --from 2026-01-01").contains("--to"));
    assert!(refuse("report --date 2026-13-01").contains("YYYY-MM-DD"));
}

#[test]
fn mistakes_are_usage_errors() {
    refuse("");
    refuse("submit fax");
    refuse("ticket show");
    refuse("grid import g.json --batch 6000");
    refuse("token --role boss");
    refuse("submit app --submission-id s --phone p --content c --category x --lat 31.2");
}
