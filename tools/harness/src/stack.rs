//! The run's own PostgreSQL cluster, nats-server and five services, in a fresh temporary
//! directory: data, configuration and one log file per process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::procs::{self, Proc, Spec};
use crate::rng::Rng;

/// The services, in start order (each migrates its schema and ensures the stream).
pub const SERVICES: [&str; 5] = ["intake", "routing", "closure", "tracker", "reports"];

/// What a tool asks of its stack.
#[derive(Clone, Debug)]
pub struct Options {
    /// Names the run's directory (`/var/tmp/gridloop-<name>-…`) and NATS server.
    pub name: String,
    /// Directory holding PostgreSQL's `initdb` and `postgres`.
    pub pg_bin: PathBuf,
    /// The nats-server binary, version 2.10 or newer.
    pub nats_server: PathBuf,
    /// Directory holding the service binaries.
    pub bin_dir: PathBuf,
    /// PostgreSQL settings (`name=value`) on top of the durable defaults.
    pub pg_settings: Vec<String>,
    /// A fixed admin port per service, for tools that scrape `/metrics`; otherwise any free one.
    pub admin_ports: bool,
}

/// Everything running, by role.
pub struct Stack {
    pub dir: PathBuf,
    pub postgres: Arc<Proc>,
    pub nats: Arc<Proc>,
    /// In [`SERVICES`] order.
    pub services: Vec<Arc<Proc>>,
    pub pg_port: u16,
    pub nats_port: u16,
    /// gRPC port per service, in [`SERVICES`] order.
    pub ports: Vec<u16>,
    /// Admin (`/metrics`) port per service, in [`SERVICES`] order; 0 when any free one.
    pub admin_ports: Vec<u16>,
    pub jwt_secret: String,
    bin_dir: PathBuf,
    reports_http_port: u16,
}

impl Stack {
    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.pg_port)
    }

    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.nats_port)
    }

    pub fn port(&self, service: &str) -> u16 {
        let i = SERVICES.iter().position(|s| *s == service).unwrap_or(0);
        self.ports[i]
    }

    pub fn admin_port(&self, service: &str) -> u16 {
        let i = SERVICES.iter().position(|s| *s == service).unwrap_or(0);
        self.admin_ports[i]
    }

    pub fn binary(&self, service: &str) -> PathBuf {
        self.bin_dir.join(format!("gridloop-{service}"))
    }

    /// Every process, for the chaos schedule: the services, nats-server, the postmaster.
    pub fn all(&self) -> Vec<Arc<Proc>> {
        let mut v = self.services.clone();
        v.push(self.nats.clone());
        v.push(self.postgres.clone());
        v
    }

    /// A service's environment, as its binary reads it (crates/platform/src/config.rs).
    pub fn env(&self, service: &str) -> Vec<(String, String)> {
        let mut env = vec![
            ("GRIDLOOP_DATABASE_URL".into(), self.database_url()),
            ("GRIDLOOP_NATS_URL".into(), self.nats_url()),
            ("GRIDLOOP_STREAM".into(), "TICKETS".into()),
            ("GRIDLOOP_SUBJECT_PREFIX".into(), "tickets".into()),
            ("GRIDLOOP_JWT_SECRET".into(), self.jwt_secret.clone()),
            ("GRIDLOOP_DB_MAX_CONNECTIONS".into(), "8".into()),
            ("RUST_LOG".into(), "info".into()),
            // Plain log files, searchable by ticket id.
            ("NO_COLOR".into(), "1".into()),
            (
                format!("GRIDLOOP_{}_ADDR", service.to_ascii_uppercase()),
                format!("127.0.0.1:{}", self.port(service)),
            ),
            // Port 0 when nothing scrapes the admin port: any free one, so replicas never collide.
            (
                format!("GRIDLOOP_{}_ADMIN_ADDR", service.to_ascii_uppercase()),
                format!("127.0.0.1:{}", self.admin_port(service)),
            ),
        ];
        if service == "reports" {
            env.push((
                "GRIDLOOP_REPORTS_HTTP_ADDR".into(),
                format!("127.0.0.1:{}", self.reports_http_port),
            ));
        }
        env
    }

    /// Creates the directory, the cluster and the NATS configuration; starts PostgreSQL and
    /// NATS, migrates every schema and starts the five services.
    pub async fn start(options: &Options) -> anyhow::Result<Stack> {
        // Every process runs from `/`: relative paths given on the command line would not
        // resolve there.
        let absolute = |p: &Path| {
            std::fs::canonicalize(p).with_context(|| format!("no such path: {}", p.display()))
        };
        let options = &Options {
            pg_bin: absolute(&options.pg_bin)?,
            nats_server: absolute(&options.nats_server)?,
            bin_dir: absolute(&options.bin_dir)?,
            ..options.clone()
        };
        let dir = temp_dir(&options.name)?;
        let _ = crate::WORKDIR.set(dir.clone());
        say!("working directory {}", dir.display());
        let mut rng = Rng::new(Rng::fresh_seed());
        let mut taken = Vec::new();
        let pg_port = procs::free_port(&mut taken, &mut rng)?;
        let nats_port = procs::free_port(&mut taken, &mut rng)?;
        let reports_http_port = procs::free_port(&mut taken, &mut rng)?;
        let mut ports = Vec::new();
        let mut admin_ports = Vec::new();
        for _ in SERVICES {
            ports.push(procs::free_port(&mut taken, &mut rng)?);
            admin_ports.push(if options.admin_ports {
                procs::free_port(&mut taken, &mut rng)?
            } else {
                0
            });
        }

        let postgres = start_postgres(options, &dir, pg_port).await?;
        let nats = start_nats(options, &dir, nats_port).await?;
        let mut stack = Stack {
            dir,
            postgres,
            nats,
            services: Vec::new(),
            pg_port,
            nats_port,
            ports,
            admin_ports,
            jwt_secret: format!("{}-{:016x}", options.name, rng.next_u64()),
            bin_dir: options.bin_dir.clone(),
            reports_http_port,
        };
        for s in SERVICES {
            stack.migrate(s).await?;
        }
        for s in SERVICES {
            let spec = Spec {
                name: s.to_string(),
                program: stack.binary(s),
                args: Vec::new(),
                env: stack.env(s),
                log: stack.dir.join(format!("{s}.log")),
                pid_file: None,
                as_postgres: false,
            };
            stack.services.push(Proc::start(spec)?);
        }
        for s in SERVICES {
            if !procs::wait_port(stack.port(s), Duration::from_secs(60)).await {
                bail!("{s} did not listen within 60 s (log: {s}.log)");
            }
        }
        say!(
            "postgres :{pg_port}, nats :{nats_port}, services {}",
            SERVICES
                .iter()
                .zip(&stack.ports)
                .map(|(s, p)| format!("{s} :{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(stack)
    }

    async fn migrate(&self, service: &str) -> anyhow::Result<()> {
        let out = tokio::process::Command::new(self.binary(service))
            .arg("migrate")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env(service))
            .output()
            .await
            .with_context(|| format!("running {} migrate", self.binary(service).display()))?;
        if !out.status.success() {
            bail!(
                "{service} migrate failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

/// A fresh directory the `postgres` user can reach (when we are root, it runs the cluster).
fn temp_dir(name: &str) -> anyhow::Result<PathBuf> {
    let base = ["/var/tmp", "/tmp"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let dir = base.join(format!("gridloop-{name}-{stamp}-{}", std::process::id()));
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

async fn start_postgres(options: &Options, dir: &Path, port: u16) -> anyhow::Result<Arc<Proc>> {
    let pg_bin = &options.pg_bin;
    let data = dir.join("pg");
    std::fs::create_dir(&data)?;
    if procs::is_root() {
        let ok = std::process::Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&data)
            .status()?
            .success();
        if !ok {
            bail!("cannot hand {} to the postgres user", data.display());
        }
    }
    let data_s = data.display().to_string();
    let out = procs::command(
        &pg_bin.join("initdb"),
        &[
            "-D".into(),
            data_s.clone(),
            "--auth=trust".into(),
            "-U".into(),
            "postgres".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-locale".into(),
            "--no-sync".into(),
        ],
        true,
    )
    .output()
    .context("running initdb")?;
    if !out.status.success() {
        bail!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let opt = |k: &str| ["-c".to_string(), k.to_string()];
    let mut args = vec!["-D".into(), data_s.clone(), "-p".into(), port.to_string()];
    args.extend(["-k".into(), data_s]);
    for o in [
        "listen_addresses=127.0.0.1",
        "synchronous_commit=on",
        "fsync=on",
        "max_connections=200",
    ]
    .into_iter()
    .chain(options.pg_settings.iter().map(String::as_str))
    {
        args.extend(opt(o));
    }
    let spec = Spec {
        name: "postgres".into(),
        program: pg_bin.join("postgres"),
        args,
        env: Vec::new(),
        log: dir.join("postgres.log"),
        pid_file: Some(data.join("postmaster.pid")),
        as_postgres: true,
    };
    let p = Proc::start(spec)?;
    if !procs::wait_port(port, Duration::from_secs(30)).await {
        bail!("postgres did not listen within 30 s (log: postgres.log)");
    }
    Ok(p)
}

async fn start_nats(options: &Options, dir: &Path, port: u16) -> anyhow::Result<Arc<Proc>> {
    let conf = dir.join("nats.conf");
    let store = dir.join("nats-store");
    std::fs::write(
        &conf,
        format!(
            "server_name: gridloop-{}\nlisten: 127.0.0.1:{port}\n\
             jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
            options.name,
            store.display()
        ),
    )?;
    let spec = Spec {
        name: "nats".into(),
        program: options.nats_server.clone(),
        args: vec!["-c".into(), conf.display().to_string()],
        env: Vec::new(),
        log: dir.join("nats.log"),
        pid_file: None,
        as_postgres: false,
    };
    let p = Proc::start(spec)?;
    if !procs::wait_port(port, Duration::from_secs(30)).await {
        bail!("nats-server did not listen within 30 s (log: nats.log)");
    }
    Ok(p)
}
