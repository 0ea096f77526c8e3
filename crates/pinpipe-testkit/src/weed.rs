//! [`PrivateS3`]: a SeaweedFS S3 server of a test's own, which the test can stop and start again to
//! see what its clients do while the object store is gone. The shared server ([`Server::S3`]) must
//! never go away: every other test uses it.
//!
//! The server runs the command line of the header of `scripts/servers` ("A test that runs its OWN
//! SeaweedFS") on free ports of 127.0.0.1, with its data and logs in a temporary directory. It is
//! ready when an object PUT succeeds; SeaweedFS accepts anonymous requests, so the probe is a
//! plain HTTP/1.1 PUT over a TCP stream.
//!
//! [`Server::S3`]: crate::Server::S3

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::daemon::{Daemon, free_ports, http_status};
use crate::{HOW_TO_START, skip_or_panic};

/// The environment variable holding the path of the `weed` binary (`scripts/servers` exports it).
pub const WEED_BIN_VAR: &str = "PINPIPE_WEED_BIN";

/// The bucket a private server holds from its first start on.
const BUCKET: &str = "pinpipe-private";

/// The object PUT to find out whether the server stores objects.
const PROBE_KEY: &str = ".pinpipe-ready";

/// Longest wait for a start: the first takes 3 to 9 s (until the volume server has registered),
/// a restart on existing data about 3 s (the master's Raft election, shortened by
/// `-master.electionTimeout=1s` from 17 s with the default 10 s).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The ports of one server, all distinct.
#[derive(Clone, Copy, Debug)]
struct Ports {
    master: u16,
    master_grpc: u16,
    volume: u16,
    volume_grpc: u16,
    filer: u16,
    filer_grpc: u16,
    s3: u16,
    s3_grpc: u16,
}

impl Ports {
    /// Eight ports free now, all distinct.
    fn free() -> Ports {
        let [
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
        ] = free_ports();
        Ports {
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
        }
    }

    fn all(self) -> [u16; 8] {
        [
            self.master,
            self.master_grpc,
            self.volume,
            self.volume_grpc,
            self.filer,
            self.filer_grpc,
            self.s3,
            self.s3_grpc,
        ]
    }
}

/// A SeaweedFS of a test's own (master, volume server, filer and S3 gateway in one process),
/// holding the bucket [`PrivateS3::bucket`]. Killed, and its data removed, when dropped.
#[derive(Debug)]
pub struct PrivateS3 {
    bin: PathBuf,
    ports: Ports,
    daemon: Daemon,
}

impl PrivateS3 {
    /// Starts a server and waits until it stores objects; `None` when the developer chose to skip
    /// server tests.
    ///
    /// # Panics
    /// When [`WEED_BIN_VAR`] is unset and server tests are not skipped (the message says how to
    /// set it), or when the server is not ready within 60 s (the message ends with its log).
    pub fn start() -> Option<PrivateS3> {
        let Some(bin) = std::env::var_os(WEED_BIN_VAR).filter(|bin| !bin.is_empty()) else {
            return skip_or_panic(&format!(
                "this test runs a SeaweedFS of its own and needs the weed binary in \
                 {WEED_BIN_VAR}. {HOW_TO_START}"
            ));
        };
        let ports = Ports::free();
        let mut server = PrivateS3 {
            bin: PathBuf::from(bin),
            ports,
            daemon: Daemon::new(format!("SeaweedFS at {}", endpoint(ports)), "pinpipe-weed"),
        };
        server.start_again();
        Some(server)
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`: the same after a restart.
    pub fn endpoint(&self) -> String {
        endpoint(self.ports)
    }

    /// The bucket the server holds.
    pub fn bucket(&self) -> &'static str {
        BUCKET
    }

    /// Kills the server and waits until it has exited; its data stays for
    /// [`PrivateS3::start_again`]. SIGKILL, because SeaweedFS's graceful stop can hang for 20 s and
    /// more; acknowledged objects survive it.
    pub fn stop(&mut self) {
        self.daemon.stop();
    }

    /// Starts the server (stopping it first if it runs) on the same ports and data, and waits until
    /// it stores objects.
    ///
    /// # Panics
    /// When the server cannot be started, exits, or is not ready within 60 s; the message ends
    /// with its log.
    pub fn start_again(&mut self) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.s3));
        let mut command = self.command();
        self.daemon
            .start(&mut command, READY_TIMEOUT, |_| probe(address));
    }

    /// The command line of the header of `scripts/servers`.
    fn command(&self) -> Command {
        let dir = self.daemon.dir().display();
        let p = self.ports;
        let mut command = Command::new(&self.bin);
        command.arg(format!("-logdir={dir}")).arg("server").args([
            format!("-dir={dir}"),
            "-ip=127.0.0.1".to_owned(),
            "-ip.bind=127.0.0.1".to_owned(),
            format!("-master.port={}", p.master),
            format!("-master.port.grpc={}", p.master_grpc),
            format!("-volume.port={}", p.volume),
            format!("-volume.port.grpc={}", p.volume_grpc),
            "-filer".to_owned(),
            format!("-filer.port={}", p.filer),
            format!("-filer.port.grpc={}", p.filer_grpc),
            format!("-filer.localSocket={dir}/filer.sock"),
            "-s3".to_owned(),
            format!("-s3.port={}", p.s3),
            format!("-s3.port.grpc={}", p.s3_grpc),
            format!("-s3.localSocket={dir}/s3.sock"),
            "-s3.port.iceberg=0".to_owned(),
            "-s3.port.lance=0".to_owned(),
            "-master.telemetry=false".to_owned(),
            "-master.electionTimeout=1s".to_owned(),
            "-master.volumeSizeLimitMB=32".to_owned(),
            "-volume.max=1000".to_owned(),
            "-volume.preStopSeconds=0".to_owned(),
        ]);
        command
    }

    /// Removes the gRPC sockets weed leaves in the temporary directory, named after their ports.
    fn remove_sockets(&self) {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        let endings = self.ports.all().map(|port| format!("-{port}.sock"));
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("seaweedfs-") && endings.iter().any(|end| name.ends_with(end)) {
                // Best effort, as the rest of the clean-up.
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        // The daemon removes its directory when dropped, after this.
        self.stop();
        self.remove_sockets();
    }
}

/// The S3 endpoint of a server on `ports`.
fn endpoint(ports: Ports) -> String {
    format!("http://127.0.0.1:{}", ports.s3)
}

/// Creates the bucket at the S3 `address` (it may exist already) and PUTs an object in it.
fn probe(address: SocketAddr) -> Result<(), String> {
    let bucket = http_status(address, "PUT", &format!("/{BUCKET}"), b"")
        .map_err(|e| format!("creating the bucket: {e}"))?;
    if !matches!(bucket, 200 | 409) {
        return Err(format!("creating the bucket answered {bucket}"));
    }
    match http_status(
        address,
        "PUT",
        &format!("/{BUCKET}/{PROBE_KEY}"),
        b"ready\n",
    ) {
        Ok(200) => Ok(()),
        Ok(status) => Err(format!("an object PUT answered {status}")),
        Err(e) => Err(format!("an object PUT: {e}")),
    }
}
