//! Test-only helpers shared by the crates' integration tests: where the real servers are.
//!
//! Tests that need a real server (Kafka, Kinesis, S3, PostgreSQL, MySQL) read its address from an
//! environment variable that `scripts/servers start` exports (and `.ci/run`, through `scripts/test`,
//! always sets). Without it the test fails and says which server it needs and how to start it;
//! nothing is skipped silently. A developer who wants to run the rest without servers sets
//! `PINPIPE_SKIP_SERVER_TESTS=1`, and each such test then passes after saying it did not run.
//!
//! A test that stops and restarts its object store runs a SeaweedFS of its own, [`PrivateS3`], from
//! the binary in [`WEED_BIN_VAR`], under the same rule; one that kills and restarts its Kafka
//! broker runs a tansu of its own, [`PrivateKafka`], from the binary in [`TANSU_BIN_VAR`].

mod daemon;
mod tansu;
mod tmpfs;
mod weed;

pub use tansu::{PrivateKafka, TANSU_BIN_VAR};
pub use tmpfs::Tmpfs;
pub use weed::{PrivateS3, WEED_BIN_VAR};

/// A real server the integration tests can need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// A Kafka-protocol broker (tansu in CI): `host:port`.
    Kafka,
    /// A Kinesis API endpoint (kinesalite in CI): `http://host:port`.
    Kinesis,
    /// An S3 API endpoint (SeaweedFS in CI): `http://host:port`, with the bucket in [`S3_BUCKET`].
    S3,
    /// A PostgreSQL server: `postgres://user@host:port/database`.
    Postgres,
    /// A MySQL or MariaDB server: `mysql://user@host:port/database`.
    Mysql,
}

/// The bucket `scripts/servers` creates on the S3 server; tests write under unique prefixes.
pub const S3_BUCKET_VAR: &str = "PINPIPE_TEST_S3_BUCKET";

impl Server {
    /// The environment variable holding this server's address.
    pub fn env_var(self) -> &'static str {
        match self {
            Server::Kafka => "PINPIPE_TEST_KAFKA",
            Server::Kinesis => "PINPIPE_TEST_KINESIS",
            Server::S3 => "PINPIPE_TEST_S3",
            Server::Postgres => "PINPIPE_TEST_POSTGRES",
            Server::Mysql => "PINPIPE_TEST_MYSQL",
        }
    }

    /// What the server is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Server::Kafka => "a Kafka broker (tansu)",
            Server::Kinesis => "a Kinesis endpoint (kinesalite)",
            Server::S3 => "an S3 server (SeaweedFS)",
            Server::Postgres => "a PostgreSQL server",
            Server::Mysql => "a MySQL/MariaDB server",
        }
    }

    /// The server's address, `None` when the developer chose to skip server tests.
    ///
    /// # Panics
    /// When the variable is unset and `PINPIPE_SKIP_SERVER_TESTS` is not `1`: the message names the
    /// server, the variable and how to start every server.
    pub fn address(self) -> Option<String> {
        if let Some(address) = std::env::var(self.env_var()).ok().filter(|a| !a.is_empty()) {
            return Some(address);
        }
        skip_or_panic(&format!(
            "this test needs {} at the address in {}. {HOW_TO_START}",
            self.describe(),
            self.env_var()
        ))
    }
}

/// How to provide every server a test can need, or to skip those tests.
const HOW_TO_START: &str = "Start every test server with \
    `eval \"$(scripts/servers start /tmp/pinpipe-servers)\"` (scripts/test does this), or set \
    PINPIPE_SKIP_SERVER_TESTS=1 to skip the tests that need one";

/// `None`, after saying that the test did not run, when the developer chose to skip server tests
/// (`PINPIPE_SKIP_SERVER_TESTS=1`).
///
/// # Panics
/// Otherwise, with `how`: what the test needs and how to provide it.
#[track_caller]
fn skip_or_panic<T>(how: &str) -> Option<T> {
    if std::env::var("PINPIPE_SKIP_SERVER_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: {how}");
        return None;
    }
    panic!("{how}");
}

/// The bucket on the S3 test server (`pinpipe-test` unless [`S3_BUCKET_VAR`] says otherwise).
pub fn s3_bucket() -> String {
    std::env::var(S3_BUCKET_VAR).unwrap_or_else(|_| "pinpipe-test".to_owned())
}

/// A name no other test run uses: `prefix` and a random suffix of lowercase hex, so that tests can
/// share one server.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_keep_the_prefix() {
        let a = unique_name("pin");
        let b = unique_name("pin");
        assert_ne!(a, b);
        assert!(a.starts_with("pin-") && a.len() == 16, "{a}");
    }
}
