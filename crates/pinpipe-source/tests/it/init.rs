//! `SourceDb::init` on every backend: row counts, key blocks, determinism, progress, replacing, and
//! rows equal to SQLite's for the same seed.

use pinpipe_source::synth::CategoryBlocks;
use pinpipe_source::{CATEGORIES, RowCounts, SourceDb, SourceError};

use crate::backend::{conformance, io_error};
use crate::{all_posts, json, sqlite_reference};

conformance! {
    /// The same seed gives the same rows as SQLite, byte for byte; another seed other rows.
    fn same_seed_same_rows_as_sqlite(t) {
        let mut reference = sqlite_reference()?;
        reference.init(2_000, 7, &mut |_| {})?;
        let want = all_posts(&reference)?;
        t.db.init(2_000, 7, &mut |_| {})?;
        let got = all_posts(&t.db)?;
        assert_eq!(got.len(), 2_000);
        assert_eq!(got, want);
        assert_eq!(json(&got), json(&want));

        t.db.init(2_000, 8, &mut |_| {})?;
        let other = all_posts(&t.db)?;
        let same = want.iter().zip(&other).filter(|(x, y)| x == y).count();
        assert_eq!(same, 0);
        Ok(())
    }

    /// Row counts, keys `0..rows`, progress every 10,000 rows, 13 category blocks in order.
    fn counts_keys_and_category_blocks(t) {
        let mut reported = Vec::new();
        t.db.init(25_000, 1, &mut |n| reported.push(n))?;
        assert_eq!(reported, vec![10_000, 20_000, 25_000]);
        assert_eq!(
            t.db.row_counts()?,
            RowCounts {
                pin: 25_000,
                geo: 25_000,
                user: 25_000
            }
        );
        let keys = t.db.keys()?;
        assert_eq!(keys, (0..25_000).collect::<Vec<i64>>());

        let blocks = CategoryBlocks::new(25_000);
        let mut order = Vec::new();
        for key in keys.iter().step_by(97).copied().chain([0, 24_999]) {
            let post = t.db.fetch(key)?.ok_or(SourceError::MissingKey(key))?;
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

    /// `init` drops the earlier rows, down to none.
    fn init_replaces_earlier_rows(t) {
        t.db.init(500, 1, &mut |_| {})?;
        t.db.init(20, 1, &mut |_| {})?;
        assert_eq!(t.db.keys()?.len(), 20);
        t.db.init(0, 1, &mut |_| {})?;
        assert_eq!(t.db.row_counts()?, RowCounts::default());
        assert_eq!(t.db.fetch(0)?, None);
        Ok(())
    }

    /// A replacement stopped part way (here by a panic in its progress callback; in use, a failed
    /// load or Ctrl-C) leaves the old rows as they were, and the next one still replaces them.
    fn an_interrupted_init_keeps_the_old_rows(t) {
        t.db.init(50, 1, &mut |_| {})?;
        let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            t.db.init(30_000, 2, &mut |n| {
                if n >= 20_000 {
                    panic!("interrupted after {n} rows");
                }
            })
        }));
        assert!(stopped.is_err());
        assert_eq!(t.db.keys()?, (0..50).collect::<Vec<i64>>());
        assert_eq!(t.db.row_counts()?.pin, 50);
        t.db.init(20, 1, &mut |_| {})?;
        assert_eq!(t.db.keys()?.len(), 20);
        Ok(())
    }

    /// Rows outlive the handle that wrote them.
    fn reopening_keeps_rows(t) {
        t.db.init(50, 3, &mut |_| {})?;
        let first = t.db.fetch(49)?;
        assert!(first.is_some());
        let again = SourceDb::open(&t.url)?;
        assert_eq!(again.fetch(49)?, first);
        assert_eq!(again.keys()?.len(), 50);
        Ok(())
    }
}

#[test]
fn a_plain_path_opens_sqlite_with_its_directories() -> Result<(), SourceError> {
    let dir = tempfile::tempdir().map_err(|e| io_error("tempdir", e))?;
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
    let dir = tempfile::tempdir().map_err(|e| io_error("tempdir", e))?;
    let path = dir.path().join("notes.txt");
    let written = std::fs::write(&path, "not a database, just some words ".repeat(100));
    assert!(written.is_ok());
    let err = SourceDb::open(&path.display().to_string()).err();
    let shown = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(matches!(err, Some(SourceError::Open { .. })), "{shown}");
    assert!(shown.contains("notes.txt"), "{shown}");
    let err = SourceDb::open("ftp://root@127.0.0.1/pinterest").err();
    assert!(matches!(err, Some(SourceError::UnsupportedUrl { .. })));
    Ok(())
}
