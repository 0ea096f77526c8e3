//! Times `SourceDb::init` by hand (not a test): `cargo run --release -p pinpipe-source --example
//! init_bench -- [rows] [database URL or path]`, default 1,000,000 rows in a temporary SQLite file.
//! A server URL (`postgres://…`, `mysql://…`) names an existing database; its three tables are replaced.

use std::path::PathBuf;
use std::time::Instant;

use pinpipe_source::{SourceDb, SourceError, redact_url};

fn main() -> Result<(), SourceError> {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let temp = std::env::temp_dir().join(format!("pinpipe-init-bench-{}", std::process::id()));
    let given = args.next();
    let url = given
        .clone()
        .unwrap_or_else(|| temp.join("source.db").display().to_string());
    let mut db = SourceDb::open(&url)?;
    let started = Instant::now();
    db.init(rows, 42, &mut |n| {
        if n % 250_000 == 0 {
            eprintln!("{n} rows, {:.1?}", started.elapsed());
        }
    })?;
    let elapsed = started.elapsed();
    let size = match url.split_once("://") {
        Some(("postgres" | "postgresql" | "mysql" | "mariadb", _)) => String::new(),
        _ => {
            let path = PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(&url));
            let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            format!(", {:.0} MiB", bytes as f64 / 1048576.0)
        }
    };
    println!(
        "init {rows} rows ({} table rows) into {} in {elapsed:.2?}: {:.0} rows/s{size}",
        rows * 3,
        redact_url(&url),
        rows as f64 / elapsed.as_secs_f64(),
    );
    for key in [0, rows / 2] {
        if let Some(post) = db.fetch(i64::try_from(key).unwrap_or(0))? {
            println!(
                "{}",
                serde_json::to_string_pretty(&post).unwrap_or_default()
            );
        }
    }
    drop(db);
    if given.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    Ok(())
}
