//! Processes the harness starts, SIGKILLs and restarts on the same port and data: the five
//! services, nats-server and the PostgreSQL postmaster.
//!
//! Each process has a wanted state. The chaos schedule kills a process and clears it; a
//! process that dies while wanted (a service that gave up because PostgreSQL was down) is
//! restarted after a second by [`supervise`], as a process manager would. Every process is
//! its own process group, so a Ctrl-C reaches only the harness, which then stops them all
//! ([`stop_all`]) — also from the panic hook.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How to start one process.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
    /// PostgreSQL as root runs under `runuser`, which forks: the postmaster's pid is the
    /// first line of this file, not our child's.
    pub pid_file: Option<PathBuf>,
    /// Run as the `postgres` user when we are root.
    pub as_postgres: bool,
}

#[derive(Debug)]
struct State {
    child: Option<Child>,
    wanted: bool,
    restart_at: Option<Instant>,
    /// Deaths not caused by the schedule.
    crashes: u32,
}

#[derive(Debug)]
pub struct Proc {
    pub spec: Spec,
    state: Mutex<State>,
}

/// Every process started, for [`stop_all`].
fn registry() -> &'static Mutex<Vec<Arc<Proc>>> {
    static ALL: OnceLock<Mutex<Vec<Arc<Proc>>>> = OnceLock::new();
    ALL.get_or_init(|| Mutex::new(Vec::new()))
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A command for `program`, as the `postgres` user when `as_postgres` and we are root.
pub fn command(program: &Path, args: &[String], as_postgres: bool) -> Command {
    let mut cmd = if as_postgres && is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).current_dir("/");
    cmd
}

/// Sends `signal` (a `kill -s` name) to `pid`.
pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Proc {
    /// Registers and starts the process.
    pub fn start(spec: Spec) -> anyhow::Result<Arc<Proc>> {
        let p = Arc::new(Proc {
            spec,
            state: Mutex::new(State {
                child: None,
                wanted: true,
                restart_at: None,
                crashes: 0,
            }),
        });
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p.clone());
        let child = p.spawn()?;
        lock(&p.state).child = Some(child);
        Ok(p)
    }

    fn spawn(&self) -> anyhow::Result<Child> {
        let s = &self.spec;
        let mut log = OpenOptions::new().create(true).append(true).open(&s.log)?;
        writeln!(
            log,
            "\n--- harness: start {}",
            chrono::Utc::now().to_rfc3339()
        )?;
        let mut cmd = command(&s.program, &s.args, s.as_postgres);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(s.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        Ok(cmd.spawn()?)
    }

    /// The pid a SIGKILL goes to: the postmaster for PostgreSQL, otherwise our child.
    pub fn target_pid(&self) -> Option<u32> {
        let st = lock(&self.state);
        let child = st.child.as_ref()?;
        match &self.spec.pid_file {
            None => Some(child.id()),
            Some(f) => postmaster_pid(f),
        }
    }

    /// The process group it runs in (our child leads it): the postmaster and every backend
    /// it forked for PostgreSQL, the process itself otherwise.
    pub fn group(&self) -> Option<u32> {
        lock(&self.state).child.as_ref().map(Child::id)
    }

    /// SIGKILL now, and leave it down until [`Proc::revive`]. Returns the pid killed.
    pub fn kill9(&self) -> Option<u32> {
        let pid = self.target_pid();
        let mut st = lock(&self.state);
        st.wanted = false;
        st.restart_at = None;
        let mut child = st.child.take()?;
        match (pid, &self.spec.pid_file) {
            (Some(pid), Some(_)) => {
                signal(pid, "KILL");
            }
            _ => {
                let _ = child.kill();
            }
        }
        reap(&mut child, Duration::from_secs(10));
        pid.or(Some(child.id()))
    }

    /// Wanted again: [`supervise`] starts it.
    pub fn revive(&self) {
        let mut st = lock(&self.state);
        st.wanted = true;
        st.restart_at = Some(Instant::now());
    }

    pub fn crashes(&self) -> u32 {
        lock(&self.state).crashes
    }

    /// One supervision step: note a death, restart when due.
    fn tend(&self) {
        let mut st = lock(&self.state);
        if let Some(c) = st.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            st.child = None;
            if st.wanted {
                st.crashes += 1;
                st.restart_at = Some(Instant::now() + Duration::from_secs(1));
                say!(
                    "{} exited by itself ({status}); restarting in 1 s",
                    self.spec.name
                );
            }
        }
        if st.wanted && st.child.is_none() && st.restart_at.is_some_and(|t| Instant::now() >= t) {
            match self.spawn() {
                Ok(c) => {
                    st.child = Some(c);
                    st.restart_at = None;
                }
                Err(e) => {
                    say!("{}: cannot start: {e}; retrying", self.spec.name);
                    st.restart_at = Some(Instant::now() + Duration::from_secs(1));
                }
            }
        }
    }

    /// Stops it for good: PostgreSQL with an immediate shutdown (SIGQUIT, which also frees
    /// its shared memory), everything else with SIGKILL.
    fn stop(&self) {
        let pid = self.target_pid();
        let mut st = lock(&self.state);
        st.wanted = false;
        let Some(mut child) = st.child.take() else {
            return;
        };
        match (pid, &self.spec.pid_file) {
            (Some(pid), Some(_)) => {
                signal(pid, "QUIT");
                if !reap(&mut child, Duration::from_secs(10)) {
                    signal(pid, "KILL");
                    let _ = child.kill();
                    reap(&mut child, Duration::from_secs(5));
                }
            }
            _ => {
                let _ = child.kill();
                reap(&mut child, Duration::from_secs(5));
            }
        }
    }
}

/// Waits up to `limit` for `child` to exit.
fn reap(child: &mut Child, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if !matches!(child.try_wait(), Ok(None)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The live postmaster's pid from `postmaster.pid`, if that process is a postgres.
fn postmaster_pid(pid_file: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(pid_file).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline)
        .contains("postgres")
        .then_some(pid)
}

/// Restarts what died by itself, until the process exits.
pub fn supervise() {
    std::thread::spawn(|| {
        loop {
            let all: Vec<Arc<Proc>> = registry().lock().unwrap_or_else(|e| e.into_inner()).clone();
            for p in all {
                p.tend();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

/// Stops every process started, services first, PostgreSQL last.
pub fn stop_all() {
    let all: Vec<Arc<Proc>> = registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
        .collect();
    for p in all.iter().rev() {
        p.stop();
    }
}

/// A free TCP port below the kernel's ephemeral range (32768–60999), where an outgoing
/// connection can never be holding it.
pub fn free_port(taken: &mut Vec<u16>, rng: &mut crate::rng::Rng) -> anyhow::Result<u16> {
    for _ in 0..1000 {
        let p = 20_000 + rng.below(12_000) as u16;
        if taken.contains(&p) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            taken.push(p);
            return Ok(p);
        }
    }
    anyhow::bail!("no free port in 20000-31999")
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub async fn wait_port(port: u16, limit: Duration) -> bool {
    let until = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < until {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
