//! Times `SourceDb::init` by hand (not a test): `cargo run --release -p pinpipe-source --example
//! init_bench -- [rows] [database path]`, default 1,000,000 rows in a temporary file.

use std::time::Instant;

use pinpipe_source::{SourceDb, SourceError};

fn main() -> Result<(), SourceError> {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("pinpipe-init-bench-{}", std::process::id()));
    let path = args
        .next()
        .unwrap_or_else(|| dir.join("source.db").display().to_string());
    let mut db = SourceDb::open(&path)?;
    let started = Instant::now();
    db.init(rows, 42, &mut |n| {
        if n % 250_000 == 0 {
            eprintln!("{n} rows, {:.1?}", started.elapsed());
        }
    })?;
    let elapsed = started.elapsed();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "init {rows} rows ({} table rows) in {elapsed:.2?}: {:.0} rows/s, {:.0} MiB",
        rows * 3,
        rows as f64 / elapsed.as_secs_f64(),
        size as f64 / 1048576.0
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
    if std::env::args().nth(2).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
