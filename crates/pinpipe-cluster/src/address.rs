//! [`SchedulerAddress`]: where a scheduler listens, as users write it (`df://host:port`, or
//! `host:port`), and the URLs derived from it.

use std::fmt;
use std::str::FromStr;

use crate::error::ClusterError;

/// The scheduler's gRPC port when an address names none (Ballista's default).
pub const DEFAULT_PORT: u16 = 50050;

/// A scheduler's host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerAddress {
    /// Host name or IP address.
    pub host: String,
    /// Port of its gRPC service (and of `/pinpipe/status`).
    pub port: u16,
}

impl SchedulerAddress {
    /// The URL Ballista's gRPC clients dial.
    pub fn grpc_url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// The URL of the scheduler's status (JSON).
    pub fn status_url(&self) -> String {
        format!("http://{}:{}/pinpipe/status", self.host, self.port)
    }
}

impl fmt::Display for SchedulerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

impl FromStr for SchedulerAddress {
    type Err = ClusterError;

    /// Reads `df://host:port`, `host:port` or `host` (port 50050).
    fn from_str(text: &str) -> Result<Self, ClusterError> {
        let bad = |reason: &str| ClusterError::Address {
            address: text.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = match text.trim().split_once("://") {
            Some(("df", rest)) => rest,
            Some(_) => return Err(bad("expected df://host:port")),
            None => text.trim(),
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(bad("expected df://host:port"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
                (host, port)
            }
            _ => (rest, DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(SchedulerAddress {
            host: host.to_owned(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SchedulerAddress, ClusterError> {
        text.parse()
    }

    #[test]
    fn reads_every_form() {
        let expected = SchedulerAddress {
            host: "10.0.0.5".into(),
            port: 50051,
        };
        assert_eq!(parse("df://10.0.0.5:50051").unwrap(), expected);
        assert_eq!(parse("10.0.0.5:50051").unwrap(), expected);
        assert_eq!(parse(" df://10.0.0.5:50051/ ").unwrap(), expected);
        assert_eq!(parse("scheduler").unwrap().port, DEFAULT_PORT);
        assert_eq!(parse("df://scheduler").unwrap().host, "scheduler");
        assert_eq!(
            parse("df://10.0.0.5:50051").unwrap().to_string(),
            "df://10.0.0.5:50051"
        );
        assert_eq!(
            parse("df://h:1").unwrap().grpc_url(),
            "http://h:1".to_owned()
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for text in [
            "",
            "http://h:1",
            "df://",
            "df://:50050",
            "df://h:0",
            "df://h:99999",
            "df://h:1/x",
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains("scheduler address"), "{text}: {error}");
        }
    }
}
