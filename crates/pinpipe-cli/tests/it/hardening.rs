//! `pinpipe serve` as an operator and a hostile client find it: a start-up that refuses what would
//! open it to anyone, and a flood of slow clients under the common 1,024 open-file limit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{Server, free_port, pinpipe};

#[test]
fn an_empty_api_key_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let output = pinpipe(dir.path())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--api-key",
            "",
        ])
        .output()
        .expect("run pinpipe serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("empty api_keys"), "{stderr}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens"
    );
}

#[test]
fn listening_beyond_loopback_without_keys_is_warned_about() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let log = dir.path().join("serve.log");
    let mut child = pinpipe(dir.path())
        .args([
            "--log",
            "warn",
            "serve",
            "--listen",
            &format!("0.0.0.0:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start pinpipe serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while Instant::now() < deadline && !text.contains("without API keys") {
        std::thread::sleep(Duration::from_millis(100));
        text = std::fs::read_to_string(&log).unwrap_or_default();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("without API keys"), "{text}");
}

/// A client that sent the headers of a 1,000-byte body and one byte of it.
fn slow_client(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(
            b"POST /topics/pinpipe.pin HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 1000\r\n\r\n{",
        )
        .expect("write");
    stream
}

#[test]
fn a_flood_of_slow_clients_under_1024_open_files_leaves_the_gateway_answering() {
    // This test's own end of 1,100 connections needs more than the usual limit.
    rlimit::increase_nofile_limit(8192).expect("raise this test's open-file limit");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut serve = Command::new("prlimit");
    serve
        .args(["--nofile=1024:1024", "--"])
        .arg(env!("CARGO_BIN_EXE_pinpipe"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("PINPIPE_GATEWAY__HEADER_READ_TIMEOUT", "3s")
        .env("PINPIPE_GATEWAY__BODY_READ_TIMEOUT", "3s")
        .stdin(Stdio::null());
    let server = Server::spawn(&mut serve, port);
    let mut flood: Vec<TcpStream> = (0..1100).map(|_| slow_client(port)).collect();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for _ in 0..3 {
        let started = Instant::now();
        let health = client
            .get(format!("{}/health", server.url))
            .send()
            .expect("health answers");
        assert_eq!(health.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    let produced = client
        .post(format!("{}/topics/pinpipe.pin", server.url))
        .header("content-type", "application/vnd.kafka.json.v2+json")
        .body(r#"{"records":[{"value":{"honest":true}}]}"#)
        .send()
        .expect("produce");
    assert_eq!(produced.status(), 200);
    // Within the timeouts (or to make room), the gateway closed every slow client.
    std::thread::sleep(Duration::from_secs(5));
    let mut closed = 0;
    for stream in &mut flood {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let mut answer = Vec::new();
        match stream.read_to_end(&mut answer) {
            Ok(_) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, flood.len(), "slow clients still open");
}
