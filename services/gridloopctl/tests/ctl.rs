//! The built `gridloopctl` binary against the real intake service, started in-process on
//! port 0 over a fresh database and stream: a hotline submission, the ticket read back as
//! JSON, and the exit codes of a refused field, an unknown ticket, a missing token and a
//! service that is not there.

use std::process::{Command, Output};

use gridloop_intake::App;
use gridloop_platform::testing::{TEST_JWT_SECRET, TestEnv};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

struct Intake {
    _env: TestEnv,
    addr: String,
    stop: CancellationToken,
}

impl Drop for Intake {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start_intake() -> Intake {
    let env = TestEnv::new().await;
    let stop = CancellationToken::new();
    let app = App::build(env.config("intake"), stop.clone())
        .await
        .expect("intake starts");
    let addr = format!("127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    Intake {
        _env: env,
        addr,
        stop,
    }
}

/// Runs gridloopctl with `args` against `addr`, with the test secret and no ambient token.
async fn ctl(addr: &str, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridloopctl"));
    cmd.args(args)
        .env_remove("GRIDLOOP_TOKEN")
        .env("GRIDLOOP_INTAKE_ADDR", addr)
        .env("GRIDLOOP_JWT_SECRET", TEST_JWT_SECRET);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // The binary blocks; the service keeps serving on the runtime's other threads.
    tokio::task::spawn_blocking(move || cmd.output().expect("gridloopctl runs"))
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const HOTLINE: &[&str] = &[
    "--as",
    "operator:op-7",
    "submit",
    "hotline",
    "--external-id",
    "GL-CTL-1",
    "--phone",
    "13812345678",
    "--name",
    "张三华",
    "--address",
    "城关镇幸福村3组12号",
    "--category",
    "environment",
    "--content",
    "村口垃圾堆放三天无人清运",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_hotline_then_show_the_ticket() {
    let intake = start_intake().await;

    let mut submit: Vec<&str> = HOTLINE.to_vec();
    submit.push("--json");
    let out = ctl(&intake.addr, &[], &submit).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answer: Value = serde_json::from_str(&stdout(&out)).expect("JSON on stdout");
    assert_eq!(answer["outcome"], "created");
    let ticket_id = answer["ticket_id"].as_str().unwrap().to_string();
    assert!(!ticket_id.is_empty());

    // The same work order again is a replay of the same ticket (table output this time).
    let again = ctl(&intake.addr, &[], HOTLINE).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let text = stdout(&again);
    assert!(
        text.contains(&ticket_id) && text.contains("replayed"),
        "{text}"
    );

    // A token from `gridloopctl token`, passed by GRIDLOOP_TOKEN.
    let tok = ctl(
        &intake.addr,
        &[],
        &[
            "token", "--role", "operator", "--sub", "op-7", "--ttl", "5m",
        ],
    )
    .await;
    assert_eq!(tok.status.code(), Some(0), "{}", stderr(&tok));
    let token = stdout(&tok).trim().to_string();
    let show = ctl(
        &intake.addr,
        &[("GRIDLOOP_TOKEN", &token)],
        &["ticket", "show", &ticket_id, "--json"],
    )
    .await;
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let ticket: Value = serde_json::from_str(&stdout(&show)).expect("JSON on stdout");
    assert_eq!(ticket["ticket_id"], ticket_id.as_str());
    assert_eq!(ticket["channel"], "hotline_12345");
    assert_eq!(ticket["external_id"], "GL-CTL-1");
    assert_eq!(ticket["category"]["code"], "environment");
    assert_eq!(ticket["state"], "discovered");
    assert_eq!(ticket["content"], "村口垃圾堆放三天无人清运");
    assert_eq!(ticket["masked_phone"], "138****5678");
    assert!(
        ticket["history"].as_array().is_some_and(|h| !h.is_empty()),
        "{ticket}"
    );
    // Only what the server returned: the phone in clear and the name appear nowhere.
    let all = format!("{}{}{}", stdout(&show), stdout(&out), stdout(&again));
    assert!(
        !all.contains("13812345678") && !all.contains("张三华"),
        "{all}"
    );

    // The table form of the same ticket.
    let table = ctl(
        &intake.addr,
        &[],
        &["--as", "operator", "ticket", "show", &ticket_id],
    )
    .await;
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(
        text.lines()
            .any(|l| l.starts_with("state") && l.ends_with("discovered")),
        "{text}"
    );
    assert!(text.contains("138****5678"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_have_their_exit_codes() {
    let intake = start_intake().await;

    // A bad phone: refused (4), naming the field, with the server's reason.
    let mut bad: Vec<&str> = HOTLINE.to_vec();
    let phone = bad.iter().position(|a| *a == "13812345678").unwrap();
    bad[phone] = "12812345678";
    let out = ctl(&intake.addr, &[], &bad).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("INVALID_ARGUMENT"), "{err}");
    assert!(err.contains("\n  caller_phone: "), "{err}");
    assert!(err.contains("hint: fix the fields"), "{err}");
    assert!(stdout(&out).is_empty());

    // The same as JSON on stderr for scripts.
    bad.push("--json");
    let out = ctl(&intake.addr, &[], &bad).await;
    assert_eq!(out.status.code(), Some(4));
    let err: Value = serde_json::from_str(&stderr(&out)).expect("JSON error on stderr");
    assert_eq!(err["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(err["error"]["field_violations"][0]["field"], "caller_phone");

    // An unknown ticket: not found (3).
    let out = ctl(
        &intake.addr,
        &[],
        &[
            "--as",
            "operator",
            "ticket",
            "show",
            "01900000-0000-7000-8000-000000000000",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    // A role the server does not allow: refused (4).
    let out = ctl(
        &intake.addr,
        &[],
        &["--as", "leader", "ticket", "find", "--phone", "13812345678"],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PERMISSION_DENIED"),
        "{}",
        stderr(&out)
    );

    // No token and no --as: a usage error (2) saying how to get one, nothing sent.
    let out = ctl(&intake.addr, &[], &["ticket", "show", "x"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("GRIDLOOP_TOKEN"), "{}", stderr(&out));

    // Nothing listening: unavailable (5), naming the address variable.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let out = ctl(&closed, &[], &["--as", "operator", "ticket", "show", "x"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("GRIDLOOP_INTAKE_ADDR"),
        "{}",
        stderr(&out)
    );
}
