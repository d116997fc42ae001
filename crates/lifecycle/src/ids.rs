//! Typed ids: a ticket and a worker are UUIDs, parsed once at the edge (the inbox, the gRPC
//! handlers) so that inside a service an id is always valid and a ticket id cannot be passed
//! where a worker id is meant. Each is serde-transparent (a UUID string), and with the `sqlx`
//! feature a PostgreSQL `uuid`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An id that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {raw:?} is not a UUID")]
pub struct IdError {
    pub what: &'static str,
    pub raw: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// Parses the wire form (any form [`Uuid::parse_str`] takes).
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                Uuid::parse_str(raw).map($name).map_err(|_| IdError {
                    what: $what,
                    raw: raw.to_owned(),
                })
            }

            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A ticket (诉求 / 工单), named by intake when it is submitted.
    TicketId,
    "ticket id"
);
uuid_id!(
    /// A grid worker (网格员), named by routing when the worker is registered.
    WorkerId,
    "worker id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_wire_form() {
        let raw = "0190a0b6-7c1e-7a00-8000-000000000001";
        let id = TicketId::parse(raw).unwrap();
        assert_eq!(id.to_string(), raw);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{raw}\""));
        let err = WorkerId::parse("w-42").unwrap_err();
        assert_eq!(err.to_string(), "worker id \"w-42\" is not a UUID");
    }
}
