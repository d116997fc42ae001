//! The routing binary's command line: the platform's settings and routing's addresses. Routing
//! has no settings of its own; its rules are data (grids, rosters, routing rules).

use std::net::SocketAddr;

use clap::Parser;
use gridloop_platform::Config;
use gridloop_platform::config::SharedArgs;
use gridloop_platform::ops::Command;

#[derive(Parser, Debug)]
#[command(
    name = "gridloop-routing",
    version,
    about = "gridloop routing: grids, workers and tasks (派单)"
)]
pub struct Cli {
    #[command(flatten)]
    pub shared: SharedArgs,
    /// gRPC listen address.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_ROUTING_ADDR",
        default_value = "127.0.0.1:50052"
    )]
    pub addr: SocketAddr,
    /// Admin listen address: Prometheus text at /metrics, `ok` at /healthz.
    #[arg(
        long,
        help_heading = "Listen",
        env = "GRIDLOOP_ROUTING_ADMIN_ADDR",
        default_value = "127.0.0.1:51052"
    )]
    pub admin_addr: SocketAddr,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    pub fn config(&self) -> Config {
        Config::new("routing", self.shared.clone(), self.addr, self.admin_addr)
    }
}
