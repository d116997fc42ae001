//! `verify` from a test: each service's view compared with the stream's replay, through the
//! same code as the service binaries' `verify` subcommand.

use std::str::FromStr;
use std::time::Duration;

use gridloop_platform::verify::{self, Spec};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::System;

/// The services with a view, and how each keeps it.
pub const VIEWS: &[(&str, Spec)] = &[
    ("routing", gridloop_routing::VIEW),
    ("closure", gridloop_closure::VIEW),
    ("tracker", gridloop_tracker::VIEW),
    ("reports", gridloop_reports::VIEW),
];

impl System {
    /// Runs `verify` for `service` (one of [`VIEWS`]) against its own schema.
    pub async fn verify(&self, service: &str) -> Result<(), gridloop_platform::Error> {
        let (_, spec) = VIEWS
            .iter()
            .find(|(name, _)| *name == service)
            .unwrap_or_else(|| panic!("no view for {service}"));
        let opts = PgConnectOptions::from_str(&self.env.database_url)
            .expect("test database url")
            .options([("search_path", service)]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(opts)
            .await
            .expect("connect to the service's schema");
        let out = verify::run(service, &pool, &self.bus, spec, Duration::from_secs(30)).await;
        pool.close().await;
        out
    }
}
