//! [`PrivateKafka`]: a tansu broker of a test's own, which the test can kill and start again to see
//! what its clients do while Kafka is gone. The shared broker ([`Server::Kafka`]) must never go
//! away: every other test uses it.
//!
//! The broker runs the command line of the header of `scripts/servers` ("A test that runs its OWN
//! broker") on a free port of 127.0.0.1, its log in a temporary directory. It stores into a bucket
//! of its own on the shared SeaweedFS ([`Server::S3`]), so every record it acknowledged is still
//! there after a SIGKILL and a start again; the bucket is created with an anonymous PUT (tansu
//! does not create it; SeaweedFS accepts requests without credentials) and deleted with the
//! broker. It is ready when its log says "ready in": it answers Kafka requests from then on.
//!
//! [`Server::Kafka`]: crate::Server::Kafka
//! [`Server::S3`]: crate::Server::S3

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::daemon::{Daemon, free_ports, http_status};
use crate::{HOW_TO_START, Server, skip_or_panic, unique_name};

/// The environment variable holding the path of the `tansu` binary (`scripts/servers` exports
/// it).
pub const TANSU_BIN_VAR: &str = "PINPIPE_TANSU_BIN";

/// What tansu logs once it answers requests.
const READY_LINE: &str = "ready in";

/// Longest wait for a start; tansu is ready within 50 ms, on existing data too.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A tansu broker of a test's own, storing into a bucket of its own on the shared SeaweedFS.
/// Killed, and its bucket deleted, when dropped.
#[derive(Debug)]
pub struct PrivateKafka {
    bin: PathBuf,
    port: u16,
    /// The shared S3 endpoint, `http://host:port`.
    s3: String,
    /// The bucket holding the broker's data, also its cluster id.
    bucket: String,
    daemon: Daemon,
}

impl PrivateKafka {
    /// Creates the broker's bucket, starts the broker and waits until it is ready; `None` when the
    /// developer chose to skip server tests.
    ///
    /// # Panics
    /// When [`TANSU_BIN_VAR`] or the shared S3 server's address is unset and server tests are not
    /// skipped (the message says how to set them), when the bucket cannot be created, or when the
    /// broker is not ready within 30 s (the message ends with its log).
    pub fn start() -> Option<PrivateKafka> {
        let Some(bin) = std::env::var_os(TANSU_BIN_VAR).filter(|bin| !bin.is_empty()) else {
            return skip_or_panic(&format!(
                "this test runs a tansu broker of its own and needs the tansu binary in \
                 {TANSU_BIN_VAR}. {HOW_TO_START}"
            ));
        };
        let s3 = Server::S3.address()?;
        let bucket = unique_name("pinpipe-tansu");
        match http_status(s3_address(&s3), "PUT", &format!("/{bucket}"), b"") {
            Ok(200) => {}
            other => panic!("creating the bucket {bucket} on the S3 server {s3}: {other:?}"),
        }
        let [port] = free_ports();
        let mut broker = PrivateKafka {
            bin: PathBuf::from(bin),
            port,
            s3,
            daemon: Daemon::new(format!("tansu at 127.0.0.1:{port}"), "pinpipe-tansu"),
            bucket,
        };
        broker.start_again();
        Some(broker)
    }

    /// The bootstrap server, `127.0.0.1:PORT`: the same after a restart.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (SIGKILL: nothing it acknowledged is lost, its data is in S3) and waits
    /// until it has exited.
    pub fn stop(&mut self) {
        self.daemon.stop();
    }

    /// Starts the broker (stopping it first if it runs) on the same port and data, and waits until
    /// it is ready.
    ///
    /// # Panics
    /// When the broker cannot be started, exits, or is not ready within 30 s; the message ends
    /// with its log.
    pub fn start_again(&mut self) {
        let mut command = self.command();
        self.daemon.start(&mut command, READY_TIMEOUT, |log| {
            if log.contains(READY_LINE) {
                Ok(())
            } else {
                Err(format!("its log does not say {READY_LINE:?} yet"))
            }
        });
    }

    /// The command line of the header of `scripts/servers`, with the cluster id and storage of
    /// this broker.
    fn command(&self) -> Command {
        let listener = format!("tcp://{}", self.address());
        let mut command = Command::new(&self.bin);
        command
            .arg("broker")
            .args(["--cluster-id", &self.bucket])
            .args(["--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", &format!("s3://{}/", self.bucket)])
            .env("AWS_ENDPOINT", &self.s3)
            .env("AWS_ENDPOINT_URL", &self.s3)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "pinpipe")
            .env("AWS_SECRET_ACCESS_KEY", "pinpipe");
        command
    }
}

impl Drop for PrivateKafka {
    fn drop(&mut self) {
        self.stop();
        // Best effort, as the rest of the clean-up: SeaweedFS deletes a bucket with its objects.
        let _ = http_status(
            s3_address(&self.s3),
            "DELETE",
            &format!("/{}", self.bucket),
            b"",
        );
    }
}

/// The socket address of the S3 endpoint `http://host:port`.
fn s3_address(endpoint: &str) -> SocketAddr {
    endpoint
        .strip_prefix("http://")
        .map(|authority| authority.trim_end_matches('/'))
        .and_then(|authority| authority.to_socket_addrs().ok()?.next())
        .unwrap_or_else(|| panic!("the S3 test server {endpoint:?} is not http://host:port"))
}
