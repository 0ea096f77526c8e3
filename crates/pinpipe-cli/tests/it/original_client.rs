//! The AWS-era client, unchanged: Python `requests` posting exactly as the original script did.

use std::process::Command;

use crate::process::{Server, free_port, python, repo_root};

#[test]
fn the_original_python_client_works_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), free_port());
    let output = Command::new(python())
        .arg(repo_root().join("tests/python/original_client.py"))
        .arg(&server.url)
        .output()
        .expect("run python3 (set PINPIPE_PYTHON to an interpreter with `requests`)");
    assert!(
        output.status.success(),
        "original client failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
