//! The small pieces: lake locations (local and S3, and the errors of an S3 location that cannot
//! be used), raw object names and lines, the manifest, keep-last, CSV.

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use deltalake::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use pinpipe_lake::csv::to_csv;
use pinpipe_lake::delta::{keep_last, table_path};
use pinpipe_lake::location::CONDITIONAL_PUT;
use pinpipe_lake::manifest::{Manifest, manifest_path};
use pinpipe_lake::raw::{RawObject, clean_lines, object_path, parse_object_path};
use pinpipe_lake::{BatchOptions, Lake, LakeError, run_batch};
use pinpipe_model::Table;
use pinpipe_testkit::unique_name;
use url::Url;

use crate::common::{Backend, TestResult};

#[test]
fn local_paths_become_absolute_file_urls_and_are_created() -> TestResult {
    let dir = tempfile::tempdir()?;
    let location = dir.path().join("a/lake");
    let lake = Lake::open(&location.to_string_lossy(), HashMap::new())?;
    assert!(location.is_dir());
    assert_eq!(lake.root_url().scheme(), "file");
    assert!(lake.root_url().path().ends_with("/a/lake/"));
    assert_eq!(
        lake.table_uri("tables/pin"),
        format!("{}tables/pin", lake.root_url())
    );
    assert_eq!(
        lake.table_uri("quarantine"),
        format!("{}quarantine", lake.root_url())
    );
    Ok(())
}

#[test]
fn file_urls_are_accepted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = Url::from_directory_path(dir.path()).map_err(|()| "not a directory path")?;
    let lake = Lake::open(url.as_str(), HashMap::new())?;
    assert_eq!(lake.location(), url.as_str());
    assert_eq!(
        lake.table_uri("/tables//geo/"),
        format!("{}tables/geo", lake.root_url())
    );
    Ok(())
}

#[test]
fn unknown_schemes_and_empty_locations_are_location_errors() {
    // ftp and http once reached a delta-rs store that panicked on them.
    for location in [
        "",
        "  ",
        "nope://bucket/x",
        "s3://",
        "ftp://x/y",
        "http://x/y",
        "gs://bucket/x",
    ] {
        let err = Lake::open(location, HashMap::new());
        assert!(
            matches!(err, Err(LakeError::Location { .. })),
            "{location}: {err:?}"
        );
    }
}

fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn s3_lakes_commit_with_conditional_put() -> TestResult {
    let endpoint = ("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
    for scheme in ["s3", "s3a"] {
        let lake = Lake::open(&format!("{scheme}://bucket/a/lake"), options(&[endpoint]))?;
        assert_eq!(
            lake.table_uri("tables/pin"),
            format!("{scheme}://bucket/a/lake/tables/pin")
        );
        let set = lake.storage_options();
        assert_eq!(set.get(CONDITIONAL_PUT).map(String::as_str), Some("etag"));
        assert!(!set.keys().any(|k| k.contains("UNSAFE_RENAME")), "{set:?}");
    }
    // A setting of the user's is kept as given, under any of object_store's names for it.
    let lake = Lake::open(
        "s3://bucket",
        options(&[endpoint, ("aws_conditional_put", "etag")]),
    )?;
    assert_eq!(lake.storage_options().len(), 2);
    // Without conditional put, no commit could be made safely.
    let err = Lake::open(
        "s3://bucket",
        options(&[endpoint, ("conditional_put", "disabled")]),
    );
    assert!(
        matches!(&err, Err(LakeError::Location { reason, .. }) if reason.contains("disabled")),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_error_naming_the_lake() -> TestResult {
    let location = "s3://bucket/lake";
    let lake = Lake::open(location, Backend::s3_options("http://127.0.0.1:1"))?;
    let started = std::time::Instant::now();
    let err = run_batch(&lake, &BatchOptions::default()).await;
    assert!(
        matches!(&err, Err(e @ LakeError::Unavailable { location: l, .. }) if l == location && e.is_retryable()),
        "{err:?}"
    );
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    Ok(())
}

#[tokio::test]
async fn a_missing_bucket_is_a_location_error() -> TestResult {
    let Some(Backend::S3 { endpoint }) = Backend::s3() else {
        return Ok(());
    };
    let location = format!("s3://{}/lake", unique_name("no-such-bucket"));
    let lake = Lake::open(&location, Backend::s3_options(&endpoint))?;
    let err = lake.open_table("tables/pin").await;
    assert!(
        matches!(&err, Err(e @ LakeError::Location { location: l, reason })
            if *l == location && reason.contains("does not exist") && !e.is_retryable()),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn object_paths_round_trip() {
    let path = object_path("pinpipe.pin", 3, 42);
    assert_eq!(
        path,
        "raw/topics/pinpipe.pin/partition=3/pinpipe.pin+3+0000000042.json"
    );
    assert_eq!(parse_object_path(&path, "pinpipe.pin"), Ok((3, 42)));
    let big = object_path("t", 0, 12_345_678_901);
    assert_eq!(parse_object_path(&big, "t"), Ok((0, 12_345_678_901)));
}

#[test]
fn names_off_the_layout_are_refused() {
    let topic = "pinpipe.geo";
    for path in [
        "raw/topics/pinpipe.geo/pinpipe.geo+0+0000000000.json",
        "raw/topics/pinpipe.geo/partition=0/pinpipe.geo+0+0000000000.json.tmp",
        "raw/topics/pinpipe.geo/partition=0/pinpipe.geo+1+0000000000.json",
        "raw/topics/pinpipe.geo/partition=00/pinpipe.geo+0+0000000000.json",
        "raw/topics/pinpipe.geo/partition=x/pinpipe.geo+x+0000000000.json",
        "raw/topics/pinpipe.geo/partition=0/pinpipe.geo+0+000000000.json",
        "raw/topics/pinpipe.geo/partition=0/pinpipe.geo+0+00000000001.json",
        "raw/topics/pinpipe.geo/partition=0/pinpipe.geo+0+-000000001.json",
        "raw/topics/pinpipe.geo/partition=0/other+0+0000000000.json",
        "raw/topics/pinpipe.geo/partition=0/sub/pinpipe.geo+0+0000000000.json",
        "raw/topics/pinpipe.geox/partition=0/pinpipe.geo+0+0000000000.json",
    ] {
        assert!(parse_object_path(path, topic).is_err(), "{path}");
    }
}

/// Every line is a record at its offset; a blank one (a record sent with an empty value) is
/// quarantined, not dropped; the empty text after the last newline is no record.
#[test]
fn lines_get_offsets_and_blank_lines_are_quarantined() {
    let bytes = b"{\"ind\":1,\"country\":\"A\"}\r\n\n  \n{\"ind\":2}\nnot json\n";
    let (rows, rejected, records) = clean_lines(Table::Geo, bytes, "s", 100, 1024);
    assert_eq!(records, 5);
    assert_eq!(rows.num_rows(), 2);
    let positions: Vec<i64> = rejected.iter().map(|r| r.position).collect();
    assert_eq!(positions, [101, 102, 104]);
    assert!(rejected.iter().all(|r| r.source == "s"));
    assert_eq!(rejected[2].raw, "not json");
    let (_, rejected, records) = clean_lines(Table::Geo, b"\n", "s", 7, 1024);
    assert_eq!((records, rejected.len()), (1, 1), "one record, sent empty");
    let (_, _, records) = clean_lines(Table::Geo, b"", "s", 7, 1024);
    assert_eq!(records, 0, "an empty object holds no record");
    let (rows, _, records) = clean_lines(Table::Geo, b"{\"ind\":3}", "s", 7, 1024);
    assert_eq!(
        (records, rows.num_rows()),
        (1, 1),
        "the last line without its newline"
    );
}

fn object(path: &str, size: u64) -> RawObject {
    RawObject {
        path: path.to_owned(),
        topic: "t".to_owned(),
        partition: 0,
        start_offset: 0,
        size,
    }
}

#[test]
fn manifest_records_by_table_path_and_size() {
    let mut m = Manifest::default();
    let a = object("a", 10);
    m.record(Table::Pin, [&a]);
    assert!(m.contains(Table::Pin, &a));
    assert!(!m.contains(Table::Geo, &a));
    assert!(!m.contains(Table::Pin, &object("a", 11)));
    assert!(m.forget(Table::Pin));
    assert!(!m.contains(Table::Pin, &a));
    assert!(!m.forget(Table::Pin));
}

#[tokio::test]
async fn manifest_saves_loads_and_refuses_garbage() -> TestResult {
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let path = manifest_path("/tables/");
    assert_eq!(path, "_pinpipe/batch/tables/manifest.json");
    assert_eq!(Manifest::load(&store, &path).await?, Manifest::default());
    let mut m = Manifest::default();
    m.record(Table::User, [&object("x", 1)]);
    m.save(&store, &path).await?;
    assert_eq!(Manifest::load(&store, &path).await?, m);
    store
        .put(&Path::from(path.as_str()), PutPayload::from("{oops"))
        .await?;
    assert!(matches!(
        Manifest::load(&store, &path).await,
        Err(LakeError::Corrupt { .. })
    ));
    Ok(())
}

fn keyed(schema: &SchemaRef, keys: &[i64], values: &[&str]) -> TestResult<RecordBatch> {
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            Arc::new(Int64Array::from(keys.to_vec())),
            Arc::new(StringArray::from(values.to_vec())),
        ],
    )?)
}

#[test]
fn keep_last_keeps_the_last_copy_of_each_key_in_arrival_order() -> TestResult {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("ind", DataType::Int64, false),
        Field::new("v", DataType::Utf8, true),
    ]));
    let a = keyed(&schema, &[1, 2, 1], &["a1", "b1", "a2"])?;
    let b = keyed(&schema, &[3, 2], &["c1", "b2"])?;
    let kept = keep_last(&schema, &[a, b])?;
    let keys = kept.column(0).as_primitive::<Int64Type>().values().to_vec();
    let values: Vec<&str> = kept.column(1).as_string::<i32>().iter().flatten().collect();
    assert_eq!(keys, vec![1, 3, 2]);
    assert_eq!(values, vec!["a2", "c1", "b2"]);
    let unique = keyed(&schema, &[5, 6], &["x", "y"])?;
    assert_eq!(keep_last(&schema, std::slice::from_ref(&unique))?, unique);
    assert_eq!(keep_last(&schema, &[])?.num_rows(), 0);
    Ok(())
}

#[test]
fn table_paths_join_dir_and_name() {
    assert_eq!(table_path("tables", Table::Pin), "tables/pin");
    assert_eq!(table_path("/stream/", Table::User), "stream/user");
}

fn strings(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| (*f).to_owned()).collect()
}

#[test]
fn csv_quotes_only_what_needs_quoting() {
    let csv = to_csv(
        &strings(&["country", "n"]),
        &[
            strings(&["Cote d'Ivoire", "1"]),
            strings(&["Korea, Republic of", "2"]),
            strings(&["say \"hi\"", "3"]),
            strings(&["two\nlines", "4"]),
            strings(&["cr\r", "5"]),
            strings(&["Ελλάδα 🎉", ""]),
        ],
    );
    assert_eq!(
        csv,
        "country,n\nCote d'Ivoire,1\n\"Korea, Republic of\",2\n\"say \"\"hi\"\"\",3\n\
         \"two\nlines\",4\n\"cr\r\",5\nΕλλάδα 🎉,\n"
    );
    assert_eq!(to_csv(&strings(&["a", "b"]), &[]), "a,b\n");
}
