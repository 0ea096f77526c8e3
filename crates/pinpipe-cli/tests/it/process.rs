//! Running `pinpipe` as a child process in a temporary data directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn pinpipe(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinpipe"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .env("PINPIPE_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// `pinpipe` with the configuration file `config` and the AWS credentials the test servers take.
pub fn configured(data_dir: &Path, config: &Path) -> Command {
    let mut command = pinpipe(data_dir);
    command
        .arg("--config")
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", "pinpipe")
        .env("AWS_SECRET_ACCESS_KEY", "pinpipe")
        .env("AWS_REGION", "us-east-1");
    command
}

/// Runs `command` to its successful end; its standard output.
pub fn run(command: &mut Command) -> String {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .expect("run pinpipe");
    assert!(output.status.success(), "{command:?} failed");
    String::from_utf8(output.stdout).expect("utf-8")
}

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `pinpipe serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    pub fn start(data_dir: &Path, port: u16) -> Self {
        Self::spawn(
            pinpipe(data_dir).args(["serve", "--listen", &format!("127.0.0.1:{port}")]),
            port,
        )
    }

    /// Starts `serve_command` (a `pinpipe … serve --listen 127.0.0.1:<port>`) and waits until it
    /// answers.
    pub fn spawn(serve_command: &mut Command, port: u16) -> Self {
        let child = serve_command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pinpipe serve");
        let url = format!("http://127.0.0.1:{port}");
        let server = Self { child, url };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::blocking::Client::new();
        while Instant::now() < deadline {
            if client
                .get(format!("{}/health", self.url))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("pinpipe serve did not become healthy at {}", self.url);
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The Python interpreter with the test packages (`scripts/test` sets PINPIPE_PYTHON).
pub fn python() -> PathBuf {
    std::env::var_os("PINPIPE_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Sends SIGTERM to `child`, as a service manager stops a process.
pub fn terminate(child: &Child) {
    signal(child, "TERM");
}

/// Sends SIGINT to `child`, as Ctrl-C in a terminal does.
pub fn interrupt(child: &Child) {
    signal(child, "INT");
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status();
    assert!(
        sent.is_ok_and(|s| s.success()),
        "SIG{name} to {}",
        child.id()
    );
}
