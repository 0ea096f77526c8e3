//! `SourceDb::import_dir` on every backend, on the real rows of `fixtures/peer-raw`: what it reads, what
//! it writes, that the rows read back exactly as from SQLite, and its errors.

use std::path::{Path, PathBuf};

use pinpipe_source::{ImportSummary, RowCounts, SourceError};

use crate::backend::{conformance, io_error};
use crate::{all_posts, json, sqlite_reference};

fn fixtures() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/peer-raw"
    ))
    .to_path_buf()
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), SourceError> {
    std::fs::write(dir.join(name), text).map_err(|e| io_error(name, e))
}

conformance! {
    /// Every deployment at once: counts, skips, keys in all three tables, and every post equal to
    /// SQLite's (Cyrillic, emoji, U+00A0, trailing spaces, floats, datetimes).
    fn all_deployments_match_sqlite(t) {
        let summary = t.db.import_dir(&fixtures())?;
        assert_eq!(summary.files.len(), 12);
        assert!(summary.files[0].ends_with("54F-A/pin.jsonl"));
        assert!(summary.files[11].ends_with("chemi5t/user.jsonl"));
        assert_eq!(summary.records, 6_257);
        assert_eq!(
            summary.rows,
            RowCounts {
                pin: 1_058,
                geo: 1_059,
                user: 1_060
            }
        );
        assert_eq!(summary.skipped.get("pin record in user file"), Some(&5));
        assert_eq!(summary.skipped.get("geo record in user file"), Some(&1));
        let skipped: u64 = summary.skipped.values().sum();
        assert_eq!(
            summary.duplicates + skipped + 1_058 + 1_059 + 1_060,
            summary.records
        );
        assert_eq!(t.db.row_counts()?, summary.rows);

        let keys = t.db.keys()?;
        assert_eq!(keys.len(), 1_058);
        assert_eq!((keys.first(), keys.last()), (Some(&4), Some(&10_997)));

        let mut reference = sqlite_reference()?;
        reference.import_dir(&fixtures())?;
        let want = all_posts(&reference)?;
        let got = all_posts(&t.db)?;
        assert_eq!(got, want);
        assert_eq!(json(&got), json(&want));
        Ok(())
    }

    /// Datetimes written with `T` read back with a space; floats as written.
    fn rows_read_back_as_the_original_sends_them(t) {
        t.db.import_dir(&fixtures().join("ChefData"))?;
        let post = t.db.fetch(9314)?.ok_or(SourceError::MissingKey(9314))?;
        assert_eq!(post.geo.timestamp, "2020-10-20 07:10:24");
        assert_eq!(
            post.geo.country,
            "British Indian Ocean Territory (Chagos Archipelago)"
        );
        assert_eq!(
            (post.geo.latitude, post.geo.longitude),
            (-42.0773, -163.698)
        );
        let json = serde_json::to_string(&post.geo).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"ind":9314,"timestamp":"2020-10-20 07:10:24","latitude":-42.0773,"longitude":-163.698,"country":"British Indian Ocean Territory (Chagos Archipelago)"}"#
        );
        let user = t.db.fetch(10_673)?.map(|p| p.user);
        assert_eq!(
            user.map(|u| u.date_joined).as_deref(),
            Some("2017-05-12 21:22:17")
        );
        Ok(())
    }

    /// The `*_consumer.json` layout, and unicode text kept to the last character.
    fn consumer_layout_and_unicode(t) {
        let summary = t.db.import_dir(&fixtures().join("RegnixS"))?;
        assert!(
            summary
                .files
                .iter()
                .all(|f| f.to_string_lossy().ends_with("_consumer.json"))
        );
        assert_eq!(summary.skipped.values().sum::<u64>(), 2);
        let pin = t.db.fetch(10_794)?.map(|p| p.pin);
        assert_eq!(pin.as_ref().map(|p| p.title.as_str()), Some("TireBuyer"));
        assert_eq!(pin.map(|p| p.follower_count).as_deref(), Some("437"));

        t.db.import_dir(&fixtures().join("54F-A"))?;
        let pin = t
            .db
            .fetch(6717)?
            .map(|p| p.pin)
            .ok_or(SourceError::MissingKey(6717))?;
        assert!(pin.title.starts_with("〚 Уютные шведские коттеджи"));
        assert!(pin.description.ends_with("On…\u{a0}"));
        Ok(())
    }

    /// A second import of the same files replaces every row with itself.
    fn importing_twice_changes_nothing(t) {
        let first: ImportSummary = t.db.import_dir(&fixtures())?;
        let before = t.db.fetch(5730)?;
        let second = t.db.import_dir(&fixtures())?;
        assert_eq!(first, second);
        assert_eq!(t.db.row_counts()?, first.rows);
        assert_eq!(t.db.fetch(5730)?, before);
        Ok(())
    }

    /// A bad record is named by file and line, and nothing is written.
    fn errors_name_file_line_and_problem_and_write_nothing(t) {
        let dir = tempfile::tempdir().map_err(|e| io_error("tempdir", e))?;
        let good = r#"{"ind": 1, "first_name": "A", "last_name": "B", "age": 20, "date_joined": "2015-10-24 11:23:51"}"#;
        let lines: Vec<String> = (0..16)
            .map(|i| good.replace("\"ind\": 1", &format!("\"ind\": {i}")))
            .chain([r#"{"ind": null, "first_name": "A", "last_name": "B", "age": 20, "date_joined": "2015-10-24 11:23:51"}"#.to_owned()])
            .collect();
        write(dir.path(), "user.jsonl", &lines.join("\n"))?;
        let err = t.db.import_dir(dir.path()).err().map(|e| e.to_string());
        let want = format!(
            "{}: missing \"ind\"",
            dir.path().join("user.jsonl:17").display()
        );
        assert_eq!(err, Some(want));
        assert_eq!(t.db.row_counts()?, RowCounts::default());

        write(dir.path(), "user.jsonl", good)?;
        write(
            dir.path(),
            "geo.jsonl",
            r#"{"ind": 1, "timestamp": "2020-13-01 00:00:00", "latitude": 1, "longitude": 2, "country": "X"}"#,
        )?;
        let err = t
            .db
            .import_dir(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.ends_with(r#"geo.jsonl:1: "timestamp" is not a datetime: "2020-13-01 00:00:00""#),
            "{err}"
        );

        let nothing = tempfile::tempdir().map_err(|e| io_error("tempdir", e))?;
        let err = t.db.import_dir(nothing.path()).err();
        assert!(
            matches!(err, Some(SourceError::NothingToImport(_))),
            "{err:?}"
        );
        let err = t.db.import_dir(&nothing.path().join("missing")).err();
        assert!(matches!(err, Some(SourceError::Io { .. })), "{err:?}");
        assert_eq!(t.db.row_counts()?, RowCounts::default());
        Ok(())
    }
}
