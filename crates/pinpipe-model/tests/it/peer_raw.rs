//! Every record of the real raw data in `fixtures/peer-raw/` (four public deployments of the original)
//! through the matching [`TableBuilder`], with the counts the fixtures' README and a survey of the data
//! predict.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use pinpipe_model::{Rejected, Table, TableBuilder};
use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/peer-raw");

fn read(path: &str) -> String {
    let full = format!("{ROOT}/{path}");
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

/// A newline-delimited JSON file, one record per line, position = line number (1-based).
fn clean_lines(table: Table, path: &str) -> (RecordBatch, Vec<Rejected>) {
    let mut builder = TableBuilder::new(table);
    for (n, line) in read(path)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        builder.push_raw(line, path, n as i64 + 1);
    }
    builder.finish()
}

/// A REST Proxy consumer dump (`[{"topic","key","value","partition","offset"}]`), position = offset.
fn clean_envelopes(table: Table, path: &str) -> (RecordBatch, Vec<Rejected>) {
    let envelopes: Vec<Value> =
        serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut builder = TableBuilder::new(table);
    for envelope in &envelopes {
        let value = &envelope["value"];
        let offset = envelope["offset"]
            .as_i64()
            .unwrap_or_else(|| panic!("{path}: envelope without offset"));
        builder.push_raw(&value.to_string(), path, offset);
    }
    builder.finish()
}

fn null_count(batch: &RecordBatch, column: &str) -> usize {
    batch
        .column_by_name(column)
        .map_or(usize::MAX, |c| c.null_count())
}

fn strings<'a>(batch: &'a RecordBatch, column: &str) -> impl Iterator<Item = &'a str> {
    batch
        .column_by_name(column)
        .into_iter()
        .flat_map(|c| c.as_string::<i32>().iter().flatten())
}

fn reasons(rejected: &[Rejected]) -> Vec<&str> {
    rejected.iter().map(|r| r.reason.as_str()).collect()
}

/// What every cleaned pin batch of real data looks like.
fn assert_clean_pins(batch: &RecordBatch) {
    for column in [
        "unique_id",
        "title",
        "description",
        "poster_name",
        "tag_list",
        "image_src",
        "category",
    ] {
        for s in strings(batch, column) {
            assert!(
                !s.is_empty() && s.trim() == s,
                "{column}: {s:?} not trimmed"
            );
        }
    }
    for s in strings(batch, "save_location") {
        assert!(s.starts_with("/data/"), "save_location {s:?}");
    }
    for s in strings(batch, "is_image_or_video") {
        assert!(
            ["image", "video", "multi-video(story page format)"].contains(&s),
            "{s:?}"
        );
    }
    let follower_count = batch
        .column_by_name("follower_count")
        .map(|c| c.as_primitive::<Int64Type>().clone());
    assert!(follower_count.is_some_and(|c| c.iter().flatten().all(|n| n >= 0)));
    assert_eq!(null_count(batch, "ind"), 0);
    assert_eq!(null_count(batch, "category"), 0);
    assert_eq!(null_count(batch, "downloaded"), 0);
}

/// Counts of nulled fields in a pin batch: (title, description, follower_count, poster_name, tag_list, image_src).
fn pin_nulls(batch: &RecordBatch) -> [usize; 6] {
    [
        "title",
        "description",
        "follower_count",
        "poster_name",
        "tag_list",
        "image_src",
    ]
    .map(|c| null_count(batch, c))
}

#[test]
fn chemi5t_pin() {
    let (batch, rejected) = clean_lines(Table::Pin, "chemi5t/pin.jsonl");
    assert_eq!(
        (batch.num_rows(), rejected.len()),
        (1326, 0),
        "{:?}",
        reasons(&rejected)
    );
    assert_eq!(pin_nulls(&batch), [18, 116, 18, 18, 26, 34]);
    assert_clean_pins(&batch);
}

#[test]
fn chemi5t_geo() {
    let (batch, rejected) = clean_lines(Table::Geo, "chemi5t/geo.jsonl");
    assert_eq!(
        (batch.num_rows(), rejected.len()),
        (1326, 0),
        "{:?}",
        reasons(&rejected)
    );
    assert_eq!(
        [
            null_count(&batch, "coordinates"),
            null_count(&batch, "timestamp")
        ],
        [0, 0]
    );
}

#[test]
fn chemi5t_user_holds_four_pins() {
    let (batch, rejected) = clean_lines(Table::User, "chemi5t/user.jsonl");
    assert_eq!((batch.num_rows(), rejected.len()), (1325, 4));
    assert_eq!(reasons(&rejected), ["pin record in user topic"; 4]);
    for r in &rejected {
        assert_eq!(
            (r.table, r.source.as_str()),
            (Table::User, "chemi5t/user.jsonl")
        );
        assert!(r.raw.contains("\"index\""), "{}", r.raw);
    }
    assert_eq!(
        [
            null_count(&batch, "user_name"),
            null_count(&batch, "age"),
            null_count(&batch, "date_joined")
        ],
        [0; 3]
    );
}

#[test]
fn f54a_all_tables() {
    let (pins, rejected) = clean_lines(Table::Pin, "54F-A/pin.jsonl");
    assert_eq!(
        (pins.num_rows(), rejected.len()),
        (372, 0),
        "{:?}",
        reasons(&rejected)
    );
    assert_eq!(pin_nulls(&pins), [6, 33, 6, 6, 9, 10]);
    assert_clean_pins(&pins);
    let (geo, rejected) = clean_lines(Table::Geo, "54F-A/geo.jsonl");
    assert_eq!(
        (geo.num_rows(), rejected.len()),
        (372, 0),
        "{:?}",
        reasons(&rejected)
    );
    let (users, rejected) = clean_lines(Table::User, "54F-A/user.jsonl");
    assert_eq!(
        (users.num_rows(), rejected.len()),
        (371, 0),
        "{:?}",
        reasons(&rejected)
    );
}

#[test]
fn chefdata_all_tables() {
    let (pins, rejected) = clean_lines(Table::Pin, "ChefData/pin.jsonl");
    assert_eq!(
        (pins.num_rows(), rejected.len()),
        (322, 0),
        "{:?}",
        reasons(&rejected)
    );
    assert_eq!(pin_nulls(&pins), [5, 34, 5, 5, 9, 9]);
    assert_clean_pins(&pins);
    let (geo, rejected) = clean_lines(Table::Geo, "ChefData/geo.jsonl");
    assert_eq!(
        (geo.num_rows(), rejected.len()),
        (322, 0),
        "{:?}",
        reasons(&rejected)
    );
    let (users, rejected) = clean_lines(Table::User, "ChefData/user.jsonl");
    assert_eq!(
        (users.num_rows(), rejected.len()),
        (322, 0),
        "{:?}",
        reasons(&rejected)
    );
}

#[test]
fn regnixs_all_tables() {
    let (pins, rejected) = clean_envelopes(Table::Pin, "RegnixS/pin_consumer.json");
    assert_eq!(
        (pins.num_rows(), rejected.len()),
        (41, 0),
        "{:?}",
        reasons(&rejected)
    );
    assert_eq!(pin_nulls(&pins), [1; 6]);
    assert_clean_pins(&pins);
    let (geo, rejected) = clean_envelopes(Table::Geo, "RegnixS/geo_consumer.json");
    assert_eq!(
        (geo.num_rows(), rejected.len()),
        (72, 0),
        "{:?}",
        reasons(&rejected)
    );
}

#[test]
fn regnixs_user_holds_a_pin_and_a_geo() {
    let (users, rejected) = clean_envelopes(Table::User, "RegnixS/user_consumer.json");
    assert_eq!(users.num_rows(), 80);
    let mut found = reasons(&rejected);
    found.sort_unstable();
    assert_eq!(
        found,
        ["geo record in user topic", "pin record in user topic"]
    );
}

/// The same key read from a `T` export (ChefData) and a space export (54F-A) is the same instant.
#[test]
fn iso_t_and_space_datetimes_agree_across_deployments() {
    let joined = |path: &str| {
        let (batch, _) = clean_lines(Table::User, path);
        let ind = batch.column(0).as_primitive::<Int64Type>().clone();
        let date_joined = batch
            .column(3)
            .as_primitive::<TimestampMicrosecondType>()
            .clone();
        (0..batch.num_rows())
            .find(|&i| ind.value(i) == 10673)
            .map(|i| date_joined.value(i))
    };
    let chef = joined("ChefData/user.jsonl");
    assert_eq!(chef, joined("54F-A/user.jsonl"));
    // 2017-05-12 21:22:17 UTC
    assert_eq!(chef, Some(1_494_624_137_000_000));
}
