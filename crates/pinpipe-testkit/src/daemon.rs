//! What the servers of a test's own ([`PrivateS3`], [`PrivateKafka`]) share: free ports, one
//! process started again and again with its output appended to one log in a temporary directory,
//! the wait until it is ready, failures that end with its log, and the anonymous HTTP/1.1 request
//! both send to SeaweedFS (which accepts requests without credentials) to create, probe and delete
//! buckets.
//!
//! [`PrivateS3`]: crate::PrivateS3
//! [`PrivateKafka`]: crate::PrivateKafka

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::unique_name;

/// How many lines of the log a failure shows.
const LOG_TAIL_LINES: usize = 30;

/// How often readiness is checked.
const READY_CHECK: Duration = Duration::from_millis(200);

/// Longest wait for one HTTP request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// `N` ports of 127.0.0.1 free now: all are bound at once, so that they differ, then released for
/// the server.
pub(crate) fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] = std::array::from_fn(|_| {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
    });
    listeners.map(|listener| {
        listener
            .local_addr()
            .unwrap_or_else(|e| panic!("address of a bound port: {e}"))
            .port()
    })
}

/// The status code of an anonymous HTTP/1.1 request `method path` with `body` to `address`.
pub(crate) fn http_status(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&address, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line)?;
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {status_line:?}")))
}

/// A server process with its log and data in a temporary directory of its own. Killed, and the
/// directory removed, when dropped.
#[derive(Debug)]
pub(crate) struct Daemon {
    /// What the server is and where, for messages: `tansu at 127.0.0.1:PORT`.
    name: String,
    dir: PathBuf,
    process: Option<Child>,
}

impl Daemon {
    /// A server not started yet, with a new temporary directory named after `prefix`.
    pub(crate) fn new(name: String, prefix: &str) -> Daemon {
        let dir = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Daemon {
            name,
            dir,
            process: None,
        }
    }

    /// The server's temporary directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server and waits until it has exited; its directory stays.
    pub(crate) fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            // Either fails only when the process has already exited and been reaped.
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts `command` (stopping the server first if it runs), its output appended to the log,
    /// and waits until `ready`, given what the process has logged so far, says it is.
    ///
    /// # Panics
    /// When the process cannot be started, exits, or is not ready within `timeout`; the message
    /// ends with the log.
    pub(crate) fn start(
        &mut self,
        command: &mut Command,
        timeout: Duration,
        mut ready: impl FnMut(&str) -> Result<(), String>,
    ) {
        self.stop();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log_path().display()));
        let start_of_run = log
            .metadata()
            .unwrap_or_else(|e| panic!("cannot read the size of the log: {e}"))
            .len();
        let output = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share the log file: {e}"));
        let process = command
            .stdout(output)
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        self.process = Some(process);

        let deadline = Instant::now() + timeout;
        loop {
            let why = match ready(&self.log_since(start_of_run)) {
                Ok(()) => return,
                Err(why) => why,
            };
            if let Some(status) = self
                .process
                .as_mut()
                .and_then(|process| process.try_wait().ok().flatten())
            {
                self.fail(&format!("exited ({status}) before it was ready"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!("not ready after {timeout:?}: {why}"));
            }
            std::thread::sleep(READY_CHECK);
        }
    }

    /// Panics with `what` and the end of the log.
    fn fail(&self, what: &str) -> ! {
        let log = self.log_since(0);
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        panic!("{}: {what}. The end of its log:\n{tail}", self.name);
    }

    /// The server's output, appended to across restarts.
    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The log from byte `offset` on; empty if it cannot be read.
    fn log_since(&self, offset: u64) -> String {
        let mut text = Vec::new();
        if let Ok(mut file) = std::fs::File::open(self.log_path()) {
            // An unreadable log shows as empty: the caller is reporting or polling already.
            let _ = file
                .seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_to_end(&mut text));
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        // Best effort: a leftover temporary directory must not fail the test.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
