//! What can go wrong, the exit code each failure means, and how it is told to the user: the
//! gRPC status message, the fields a server named as bad, and a hint on what to fix.

use std::fmt;

use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    pub const OK: u8 = 0;
    /// Anything not below (an internal server error, an unreadable file).
    pub const OTHER: u8 = 1;
    /// The command line is wrong (also: no token and no way to mint one).
    pub const USAGE: u8 = 2;
    /// The ticket, task, device, worker or grid does not exist.
    pub const NOT_FOUND: u8 = 3;
    /// The server refused: invalid argument, failed precondition, permission, authentication,
    /// already exists.
    pub const REFUSED: u8 = 4;
    /// The service is unreachable or unavailable; retrying may help.
    pub const UNAVAILABLE: u8 = 5;
}

/// A failed command.
#[derive(Debug)]
pub enum CtlError {
    /// The user must change the command line or the environment.
    Usage(String),
    /// A local problem: a file that cannot be read or parsed, output that cannot be written.
    Local(String),
    /// A server (or the connection to it) answered with a status.
    Status {
        /// The service called ("intake", ...).
        service: &'static str,
        /// Where it was called.
        addr: String,
        status: tonic::Status,
    },
}

pub type CtlResult<T = ()> = Result<T, CtlError>;

/// An address or token that cannot be used is the command line's (or environment's) mistake.
impl From<gridloop_client::connect::ConnectError> for CtlError {
    fn from(e: gridloop_client::connect::ConnectError) -> Self {
        CtlError::usage(e.to_string())
    }
}

impl CtlError {
    pub fn usage(msg: impl Into<String>) -> Self {
        Self::Usage(msg.into())
    }

    pub fn local(msg: impl Into<String>) -> Self {
        Self::Local(msg.into())
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::Local(_) => exit::OTHER,
            Self::Status { status, .. } => code_exit(status.code()),
        }
    }

    /// Fields the server named as bad (`google.rpc.BadRequest`), as (field, why).
    pub fn bad_fields(&self) -> Vec<(String, String)> {
        match self {
            Self::Status { status, .. } => status
                .get_details_bad_request()
                .map(|b| {
                    b.field_violations
                        .into_iter()
                        .map(|v| (v.field, v.description))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// What to do about it, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        let Self::Status {
            service,
            addr,
            status,
        } = self
        else {
            return None;
        };
        let env = format!("GRIDLOOP_{}_ADDR", service.to_ascii_uppercase());
        Some(match status.code() {
            Code::Unavailable | Code::DeadlineExceeded => {
                format!(
                    "is the {service} service running at {addr}? (set {env} to point elsewhere)"
                )
            }
            Code::Unauthenticated => "pass --token or GRIDLOOP_TOKEN, or --as ROLE[:SUB] with \
                 GRIDLOOP_JWT_SECRET set (`. .local/env`)"
                .into(),
            Code::PermissionDenied => {
                "call with a token of a role allowed to do this (see the command's --help)".into()
            }
            Code::InvalidArgument => "fix the fields named above and try again".into(),
            Code::FailedPrecondition => {
                "the ticket is not at the step this needs; see `gridloopctl timeline <ticket>`"
                    .into()
            }
            _ => return None,
        })
    }

    /// The error as JSON, for `--json` callers (written to stderr).
    pub fn to_json(&self) -> serde_json::Value {
        let fields: Vec<_> = self
            .bad_fields()
            .into_iter()
            .map(|(field, description)| json!({"field": field, "description": description}))
            .collect();
        let (code, message) = match self {
            Self::Usage(m) => ("USAGE".to_string(), m.clone()),
            Self::Local(m) => ("LOCAL".to_string(), m.clone()),
            Self::Status { status, .. } => (code_name(status.code()), status.message().to_string()),
        };
        json!({"error": {
            "code": code,
            "exit_code": self.exit_code(),
            "message": message,
            "field_violations": fields,
            "hint": self.hint(),
        }})
    }
}

/// Exit code of a gRPC status code.
pub fn code_exit(code: Code) -> u8 {
    match code {
        Code::Ok => exit::OK,
        Code::NotFound => exit::NOT_FOUND,
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::AlreadyExists
        | Code::OutOfRange => exit::REFUSED,
        Code::Unavailable | Code::DeadlineExceeded => exit::UNAVAILABLE,
        _ => exit::OTHER,
    }
}

/// `INVALID_ARGUMENT` style name of a code.
fn code_name(code: Code) -> String {
    let debug = format!("{code:?}");
    // "InvalidArgument" -> "INVALID_ARGUMENT"
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) | Self::Local(m) => write!(f, "{m}"),
            Self::Status {
                service, status, ..
            } => {
                let msg = status.message();
                let msg = if msg.is_empty() { "(no message)" } else { msg };
                write!(f, "{service}: {} — {msg}", code_name(status.code()))?;
                for (field, why) in self.bad_fields() {
                    write!(f, "\n  {field}: {why}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    fn status_err(status: tonic::Status) -> CtlError {
        CtlError::Status {
            service: "intake",
            addr: "127.0.0.1:50051".into(),
            status,
        }
    }

    #[test]
    fn codes_map_to_exit_codes() {
        assert_eq!(code_exit(Code::NotFound), 3);
        for c in [
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::AlreadyExists,
        ] {
            assert_eq!(code_exit(c), 4, "{c:?}");
        }
        assert_eq!(code_exit(Code::Unavailable), 5);
        assert_eq!(code_exit(Code::DeadlineExceeded), 5);
        assert_eq!(code_exit(Code::Internal), 1);
        assert_eq!(code_exit(Code::Unknown), 1);
        assert_eq!(CtlError::usage("x").exit_code(), 2);
        assert_eq!(CtlError::local("x").exit_code(), 1);
    }

    #[test]
    fn bad_request_fields_are_shown() {
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "invalid argument: caller_phone: not a phone number",
            ErrorDetails::with_bad_request(vec![FieldViolation::new(
                "caller_phone",
                "not a phone number",
            )]),
        );
        let err = status_err(status);
        assert_eq!(err.exit_code(), 4);
        let text = err.to_string();
        assert!(text.starts_with("intake: INVALID_ARGUMENT"), "{text}");
        assert!(
            text.contains("\n  caller_phone: not a phone number"),
            "{text}"
        );
        let json = err.to_json();
        assert_eq!(json["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(
            json["error"]["field_violations"][0]["field"],
            "caller_phone"
        );
        assert_eq!(json["error"]["exit_code"], 4);
    }

    #[test]
    fn unavailable_names_the_env_var() {
        let err = status_err(tonic::Status::unavailable("tcp connect error"));
        assert_eq!(err.exit_code(), 5);
        assert!(err.hint().unwrap().contains("GRIDLOOP_INTAKE_ADDR"));
    }
}
