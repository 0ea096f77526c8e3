//! Opening PostgreSQL and MySQL/MariaDB databases that cannot be opened: clear errors naming the URL
//! with its password masked, never a panic.

use std::time::{Duration, Instant};

use pinpipe_source::{SourceDb, SourceError};
use pinpipe_testkit::Server;

use crate::backend::{io_error, with_database};
use crate::closed_port;

/// `SourceDb::open(url)`'s error, shown, checked to hide `secret` also in its debug form.
fn open_error(url: &str, secret: &str) -> Option<(SourceError, String)> {
    let err = SourceDb::open(url).err()?;
    let shown = err.to_string();
    assert!(!shown.contains(secret), "{shown}");
    assert!(!format!("{err:?}").contains(secret), "{err:?}");
    Some((err, shown))
}

#[test]
fn unreachable_servers_are_named_without_the_password() {
    let port = closed_port();
    for scheme in ["postgres", "postgresql", "mysql", "mariadb"] {
        let url = format!("{scheme}://app:s3cret@127.0.0.1:{port}/pins");
        let err = open_error(&url, "s3cret");
        let shown = err.as_ref().map(|(_, s)| s.as_str()).unwrap_or_default();
        assert!(
            matches!(err, Some((SourceError::Connect { .. }, _))),
            "{shown}"
        );
        let named = format!(
            "cannot connect to the source database {scheme}://app:***@127.0.0.1:{port}/pins: "
        );
        assert!(shown.starts_with(&named), "{shown}");
    }
}

#[test]
fn bad_server_urls_are_errors() {
    for url in [
        "postgres://app:s3cret@127.0.0.1:notaport/pins",
        "mysql://app:s3cret@127.0.0.1:99999/pins",
        "mysql://app:s3cret@[::1/pins",
        "postgres://app:s3cret@127.0.0.1/pins?sslmode=sometimes",
    ] {
        let err = open_error(url, "s3cret");
        let shown = err.as_ref().map(|(_, s)| s.as_str()).unwrap_or_default();
        assert!(
            matches!(err, Some((SourceError::Connect { .. }, _))),
            "{url}: {shown}"
        );
        assert!(shown.contains("app:***@"), "{shown}");
    }
}

#[test]
fn a_missing_database_is_named() {
    for server in [Server::Postgres, Server::Mysql] {
        let Some(admin) = server.address() else {
            continue;
        };
        let url = with_database(&admin, "pinpipe_no_such_database");
        let err = SourceDb::open(&url).err();
        let shown = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(matches!(err, Some(SourceError::Connect { .. })), "{shown}");
        assert!(shown.contains("pinpipe_no_such_database"), "{shown}");
    }
}

#[test]
fn a_silent_server_times_out() -> Result<(), SourceError> {
    // Never accepted: connections complete into the backlog and then hear nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| io_error("bind", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| io_error("bind", e))?
        .port();
    let started = Instant::now();
    let opening = ["postgres", "mysql"].map(|scheme| {
        std::thread::spawn(move || {
            let url = format!("{scheme}://app:s3cret@127.0.0.1:{port}/pins");
            SourceDb::open(&url).err().map(|e| e.to_string())
        })
    });
    for (scheme, opened) in ["postgres", "mysql"].into_iter().zip(opening) {
        let want = format!(
            "cannot connect to the source database {scheme}://app:***@127.0.0.1:{port}/pins: no answer within 10 s"
        );
        assert_eq!(opened.join().ok().flatten(), Some(want));
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(listener);
    Ok(())
}
