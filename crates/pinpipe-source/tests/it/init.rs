//! `SourceDb::init`: row counts, key blocks, determinism, progress.

use pinpipe_source::synth::CategoryBlocks;
use pinpipe_source::{CATEGORIES, Post, RowCounts, SourceDb, SourceError};

use crate::temp_db;

fn all_posts(db: &SourceDb) -> Result<Vec<Post>, SourceError> {
    let mut posts = Vec::new();
    for key in db.keys()? {
        posts.extend(db.fetch(key)?);
    }
    Ok(posts)
}

#[test]
fn same_seed_same_rows_other_seed_other_rows() -> Result<(), SourceError> {
    let (_a_dir, mut a) = temp_db("a.db")?;
    let (_b_dir, mut b) = temp_db("b.db")?;
    a.init(2_000, 7, &mut |_| {})?;
    b.init(2_000, 7, &mut |_| {})?;
    let rows_a = all_posts(&a)?;
    assert_eq!(rows_a.len(), 2_000);
    assert_eq!(rows_a, all_posts(&b)?);
    // Byte-identical on the wire too.
    let json = |posts: &[Post]| serde_json::to_string(posts).unwrap_or_default();
    assert_eq!(json(&rows_a), json(&all_posts(&b)?));

    b.init(2_000, 8, &mut |_| {})?;
    let rows_b = all_posts(&b)?;
    let same = rows_a.iter().zip(&rows_b).filter(|(x, y)| x == y).count();
    assert_eq!(same, 0);
    Ok(())
}

#[test]
fn counts_keys_and_category_blocks() -> Result<(), SourceError> {
    let (_dir, mut db) = temp_db("blocks.db")?;
    let mut reported = Vec::new();
    db.init(25_000, 1, &mut |n| reported.push(n))?;
    assert_eq!(reported, vec![10_000, 20_000, 25_000]);
    assert_eq!(
        db.row_counts()?,
        RowCounts {
            pin: 25_000,
            geo: 25_000,
            user: 25_000
        }
    );
    let keys = db.keys()?;
    assert_eq!(keys, (0..25_000).collect::<Vec<i64>>());

    // Categories run in 13 contiguous blocks in the listed order.
    let blocks = CategoryBlocks::new(25_000);
    let mut order = Vec::new();
    for key in keys.iter().step_by(97).copied().chain([0, 24_999]) {
        let post = db.fetch(key)?.ok_or(SourceError::MissingKey(key))?;
        assert_eq!(
            post.pin.category,
            blocks.category_of(u64::try_from(key).unwrap_or(0))
        );
        assert_eq!(post.geo.ind, key);
        assert_eq!(post.user.ind, key);
        order.push((key, post.pin.category));
    }
    order.sort();
    let mut seen: Vec<String> = order.into_iter().map(|(_, c)| c).collect();
    seen.dedup();
    assert_eq!(seen, CATEGORIES);
    Ok(())
}

#[test]
fn init_replaces_earlier_rows() -> Result<(), SourceError> {
    let (_dir, mut db) = temp_db("again.db")?;
    db.init(500, 1, &mut |_| {})?;
    db.init(20, 1, &mut |_| {})?;
    assert_eq!(db.keys()?.len(), 20);
    db.init(0, 1, &mut |_| {})?;
    assert_eq!(db.row_counts()?, RowCounts::default());
    Ok(())
}

#[test]
fn reopening_keeps_rows() -> Result<(), SourceError> {
    let dir = tempfile::tempdir().map_err(|e| SourceError::Io {
        path: "tempdir".into(),
        source: e,
    })?;
    let path = dir.path().join("deep/er/source.db");
    let plain = path.display().to_string();
    let first = {
        let mut db = SourceDb::open(&plain)?;
        db.init(50, 3, &mut |_| {})?;
        db.fetch(49)?
    };
    let db = SourceDb::open(&format!("sqlite:{plain}"))?;
    assert_eq!(db.fetch(49)?, first);
    assert!(first.is_some());
    Ok(())
}

#[test]
fn a_file_that_is_not_a_database_is_named() -> Result<(), SourceError> {
    let dir = tempfile::tempdir().map_err(|e| SourceError::Io {
        path: "tempdir".into(),
        source: e,
    })?;
    let path = dir.path().join("notes.txt");
    let written = std::fs::write(&path, "not a database, just some words ".repeat(100));
    assert!(written.is_ok());
    let err = SourceDb::open(&path.display().to_string()).err();
    let shown = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(matches!(err, Some(SourceError::Open { .. })), "{shown}");
    assert!(shown.contains("notes.txt"), "{shown}");
    let err = SourceDb::open("mysql://root@127.0.0.1/pinterest").err();
    assert!(matches!(err, Some(SourceError::UnsupportedUrl { .. })));
    Ok(())
}
