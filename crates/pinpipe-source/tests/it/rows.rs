//! Hand-made rows on every backend: values at the edges (unicode, quotes, white space, floats, large
//! keys, datetimes with offsets) read back exactly as from SQLite, writes replace by key, a failed write
//! leaves nothing behind, and only keys in all three tables are posts.

use pinpipe_source::synth::Generator;
use pinpipe_source::{Post, RowCounts, SourceError};

use crate::backend::{conformance, io_error};
use crate::{all_posts, json, sqlite_reference};

/// A synthetic post changed to `key`, with `title` and coordinates, and white space, Greek, quotes, a
/// tab, an empty tag list and a datetime with an offset elsewhere.
fn post(key: i64, title: &str, latitude: f64, longitude: f64) -> Result<Post, SourceError> {
    let mut post = Generator::new(1, key.unsigned_abs())
        .next()
        .ok_or(SourceError::EmptySource)?;
    let (pin, geo, user) = (&mut post.pin, &mut post.geo, &mut post.user);
    (pin.index, geo.ind, user.ind) = (key, key, key);
    pin.title = title.into();
    pin.description = "Cozy…\u{a0}".into();
    pin.poster_name = "Nicki ".into();
    pin.tag_list = String::new();
    (geo.latitude, geo.longitude) = (latitude, longitude);
    geo.timestamp = "2019-09-27T21:06:43+02:00".into();
    geo.country = "Cote d'Ivoire".into();
    user.first_name = "Ελένη".into();
    user.last_name = "O'Brien\t".into();
    Ok(post)
}

/// Posts at the edges, key 1 written twice in one call (the second copy wins).
fn edge_posts() -> Result<Vec<Post>, SourceError> {
    Ok(vec![
        post(1, "first copy", 1.0, 2.0)?,
        post(1, "〚 Уютные 〛 ✨ 😀👩‍👩‍👧", -71.6607, 179.99999999999997)?,
        post(2, r#"'; DROP TABLE user_data; -- "\" `x`"#, 0.1 + 0.2, -0.0)?,
        post(9_007_199_254_740_993, "line\nbreak", 1e-300, -1.5e300)?,
        post(-7, "  ", -90.0, 180.0)?,
    ])
}

conformance! {
    /// Edge values read back exactly as from SQLite; datetimes canonical in UTC.
    fn edge_values_read_back_as_from_sqlite(t) {
        let mut reference = sqlite_reference()?;
        reference.insert_posts(&edge_posts()?)?;
        t.db.insert_posts(&edge_posts()?)?;
        let want = all_posts(&reference)?;
        let got = all_posts(&t.db)?;
        assert_eq!(got, want);
        assert_eq!(json(&got), json(&want));
        assert_eq!(t.db.keys()?, vec![-7, 1, 2, 9_007_199_254_740_993]);

        let one = t.db.fetch(1)?.ok_or(SourceError::MissingKey(1))?;
        assert_eq!(one.pin.title, "〚 Уютные 〛 ✨ 😀👩‍👩‍👧");
        assert_eq!(one.pin.description, "Cozy…\u{a0}");
        assert_eq!(one.pin.poster_name, "Nicki ");
        assert_eq!(one.geo.timestamp, "2019-09-27 19:06:43");
        assert_eq!(one.geo.longitude.to_bits(), 179.99999999999997_f64.to_bits());
        let two = t.db.fetch(2)?.ok_or(SourceError::MissingKey(2))?;
        assert_eq!(two.geo.latitude.to_bits(), (0.1_f64 + 0.2).to_bits());
        assert_eq!(json(&[two]), json(&want[2..3]));
        Ok(())
    }

    /// A later write replaces the rows of its keys and keeps the others.
    fn writes_replace_by_key(t) {
        t.db.insert_posts(&edge_posts()?)?;
        let mut changed = post(2, "second", 5.5, 6.5)?;
        changed.user.age = 21;
        t.db.insert_posts(std::slice::from_ref(&changed))?;
        let mut want = changed;
        want.geo.timestamp = "2019-09-27 19:06:43".into();
        assert_eq!(t.db.fetch(2)?, Some(want));
        assert_eq!(
            t.db.row_counts()?,
            RowCounts {
                pin: 4,
                geo: 4,
                user: 4
            }
        );
        Ok(())
    }

    /// A bad row after several batches were written rolls the whole write back.
    fn a_failed_write_leaves_nothing_behind(t) {
        t.db.insert_posts(&edge_posts()?)?;
        let mut posts: Vec<Post> = Generator::new(2_500, 3).collect();
        if let Some(last) = posts.last_mut() {
            last.user.date_joined = "the day after".into();
        }
        let err = t.db.insert_posts(&posts).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(r#"user_data row 2499: not a datetime: "the day after""#)
        );
        assert_eq!(t.db.keys()?, vec![-7, 1, 2, 9_007_199_254_740_993]);
        assert_eq!(t.db.row_counts()?.pin, 4);
        Ok(())
    }

    /// A key missing from one table is not a post, but its rows count.
    fn keys_need_all_three_tables(t) {
        t.db.insert_posts(&edge_posts()?)?;
        let dir = tempfile::tempdir().map_err(|e| io_error("tempdir", e))?;
        let geo = r#"{"ind": 77, "timestamp": "2020-01-01 00:00:00", "latitude": 1.5, "longitude": 2.5, "country": "X"}"#;
        std::fs::write(dir.path().join("geo.jsonl"), geo).map_err(|e| io_error("geo.jsonl", e))?;
        t.db.import_dir(dir.path())?;
        assert_eq!(t.db.keys()?, vec![-7, 1, 2, 9_007_199_254_740_993]);
        assert_eq!(t.db.fetch(77)?, None);
        assert_eq!(
            t.db.row_counts()?,
            RowCounts {
                pin: 4,
                geo: 5,
                user: 4
            }
        );
        Ok(())
    }
}
