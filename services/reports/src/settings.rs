//! Reports' own settings, beyond the platform's [`gridloop_platform::Config`].

use std::net::SocketAddr;

use gridloop_platform::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Where the HTML report page listens (`GRIDLOOP_REPORTS_HTTP_ADDR`, default
    /// 127.0.0.1:8080; port 0 picks a free port).
    pub http_addr: SocketAddr,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let http_addr = match get("GRIDLOOP_REPORTS_HTTP_ADDR") {
            Some(v) => v.trim().parse().map_err(|_| {
                Error::Config(format!("GRIDLOOP_REPORTS_HTTP_ADDR: not an address: {v}"))
            })?,
            None => Settings::default().http_addr,
        };
        Ok(Settings { http_addr })
    }
}
