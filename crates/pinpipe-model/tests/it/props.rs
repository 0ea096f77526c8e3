//! Property tests of the cleaning rules (SPEC §5): whatever a record holds, [`TableBuilder`] never
//! panics and accounts for every record as one row or one reject; records built from valid values
//! are cleaned as SPEC §5 says; follower counts and datetimes in every accepted format read back as
//! the numbers and instants they were made from; the quarantine keeps every reject as it was.
//!
//! The expected values are computed here from how each input was built (not with the crate's own
//! helpers), so a rule that drifts from the SPEC fails here.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use chrono::{DateTime, Datelike, Timelike};
use pinpipe_model::{
    Rejected, Table, TableBuilder, parse_follower_count, parse_utc_micros, quarantine_batch,
    quarantine_schema,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // A failure prints its smallest input; no regression file is written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every reject kind `CleanError::kind` documents.
const KINDS: [&str; 10] = [
    "invalid_json",
    "not_an_object",
    "other_table",
    "missing_key",
    "non_integer_key",
    "wrong_kind",
    "follower_count_format",
    "datetime",
    "half_coordinates",
    "too_large",
];

/// The sentinels of SPEC §5, written out again from the SPEC.
const SPEC_SENTINELS: [(&str, &str); 7] = [
    ("title", "No Title Data Available"),
    ("description", "No description available Story format"),
    ("description", "No description available"),
    ("poster_name", "User Info Error"),
    ("follower_count", "User Info Error"),
    ("tag_list", "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"),
    ("image_src", "Image src error."),
];

/// Characters with Unicode's White_Space property, U+00A0 among them.
const WHITE_SPACE: [char; 14] = [
    ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2003}',
    '\u{2028}', '\u{202f}', '\u{205f}', '\u{3000}',
];

// ---------------------------------------------------------------------------------------------
// Any input: no panic, every record accounted for.
// ---------------------------------------------------------------------------------------------

/// Pieces of JSON (and of almost-JSON) that reach the parser's and the cleaners' corners.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    " ",
    "\n",
    "\u{a0}",
    "\"ind\"",
    "\"index\"",
    "\"title\"",
    "\"description\"",
    "\"follower_count\"",
    "\"downloaded\"",
    "\"save_location\"",
    "\"timestamp\"",
    "\"latitude\"",
    "\"longitude\"",
    "\"country\"",
    "\"first_name\"",
    "\"last_name\"",
    "\"age\"",
    "\"date_joined\"",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "7",
    "1.5",
    "20.0",
    "-0",
    "1e999",
    "-1e999",
    "1e-999",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "123456789012345678901234567890",
    "NaN",
    "Infinity",
    "\"\\ud800\"",
    "\"\\udc00\\ud800\"",
    "\"\\u0000\"",
    "\"\\u00a0\"",
    "\"\u{0}\"",
    "\u{0}",
    "\\",
    "\"\\\"",
    "\"\\x\"",
    "\"\"",
    "\"  \"",
    "{}",
    "[]",
    "\"12k\"",
    "\"1.5M\"",
    "\"9223372036854775807k\"",
    "\"User Info Error\"",
    "\"No Title Data Available\"",
    "\"2020-01-01 00:00:00\"",
    "\"2021-02-29 00:00:00\"",
    "\"2020-01-01T00:00:00+24:00\"",
    "\"Local save in \"",
    "\"5\"",
    "\"5.5\"",
    "\u{1F600}",
    "\"\u{1F600}\"",
];

fn fragments() -> impl Strategy<Value = String> {
    prop::collection::vec(select(FRAGMENTS), 0..40).prop_map(|f| f.concat())
}

/// An object whose fields are the tables' field names with fragment values: reaches the cleaners.
fn object_of_fragments() -> BoxedStrategy<String> {
    const NAMES: &[&str] = &[
        "ind",
        "index",
        "title",
        "description",
        "poster_name",
        "follower_count",
        "tag_list",
        "downloaded",
        "save_location",
        "timestamp",
        "latitude",
        "longitude",
        "country",
        "first_name",
        "last_name",
        "age",
        "date_joined",
        "extra",
    ];
    let value = prop_oneof![
        select(FRAGMENTS).prop_map(str::to_owned),
        fragments(),
        json_value().prop_map(|v| v.to_string()),
    ];
    prop::collection::vec((select(NAMES), value), 0..12)
        .prop_map(|pairs| {
            let body: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", body.join(","))
        })
        .boxed()
}

/// Arrays and objects nested up to a few thousand levels deep, closed or not.
fn deep_nesting() -> impl Strategy<Value = String> {
    (0usize..3000, any::<bool>(), any::<bool>()).prop_map(|(depth, objects, closed)| {
        let (open, close) = if objects {
            ("{\"ind\":", "}")
        } else {
            ("[", "]")
        };
        let mut s = open.repeat(depth);
        s.push('1');
        if closed {
            s.push_str(&close.repeat(depth));
        }
        s
    })
}

/// Any JSON value, with the strings, numbers and shapes the cleaners care about.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|x| json!(x)),
        ".{0,12}".prop_map(Value::String),
        select(
            &[
                "12k",
                "1.5M",
                "User Info Error",
                "2020-01-01 00:00:00",
                " 5 ",
                "",
                "\u{a0}"
            ][..]
        )
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,12}", inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A valid record of some table, as text, then mutated character by character.
fn mutated_record() -> BoxedStrategy<String> {
    let record = prop_oneof![
        pin_case().prop_map(|c| c.json),
        geo_case().prop_map(|c| c.json),
        user_case().prop_map(|c| c.json),
    ];
    let edit = (any::<prop::sample::Index>(), 0u8..3, any::<char>());
    (record, prop::collection::vec(edit, 0..6))
        .prop_map(|(record, edits)| {
            let mut chars: Vec<char> = record.chars().collect();
            for (at, op, c) in edits {
                if chars.is_empty() {
                    chars.push(c);
                    continue;
                }
                let i = at.index(chars.len());
                match op {
                    0 => chars[i] = c,
                    1 => {
                        chars.remove(i);
                    }
                    _ => chars.insert(i, c),
                }
            }
            chars.into_iter().collect()
        })
        .boxed()
}

/// A valid record with one field's value replaced by any JSON value.
fn record_with_replaced_field() -> BoxedStrategy<String> {
    let record = prop_oneof![
        pin_case().prop_map(|c| c.json),
        geo_case().prop_map(|c| c.json),
        user_case().prop_map(|c| c.json),
    ];
    (record, any::<prop::sample::Index>(), json_value())
        .prop_map(|(record, at, value)| {
            let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(&record) else {
                return record;
            };
            let Some(key) = obj.keys().nth(at.index(obj.len().max(1))).cloned() else {
                return record;
            };
            obj.insert(key, value);
            Value::Object(obj).to_string()
        })
        .boxed()
}

fn any_input() -> BoxedStrategy<String> {
    prop_oneof![
        1 => any::<String>(),
        1 => fragments(),
        2 => object_of_fragments(),
        1 => deep_nesting(),
        1 => json_value().prop_map(|v| v.to_string()),
        2 => mutated_record(),
        3 => record_with_replaced_field(),
        1 => pin_case().prop_map(|c| c.json),
        1 => geo_case().prop_map(|c| c.json),
        1 => user_case().prop_map(|c| c.json),
    ]
    .boxed()
}

/// The key a record has by SPEC §5 (an integer, integral number or integer string), or `None`
/// when it is missing or not an integer: an independent statement of which keys are accepted.
fn spec_key(record: &Value, table: Table) -> Option<i64> {
    let field = if table == Table::Pin { "index" } else { "ind" };
    match record.get(field)? {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            let bound = 2f64.powi(63);
            let integral = n.is_f64() && f.fract() == 0.0 && (-bound..bound).contains(&f);
            integral.then_some(f as i64)
        }),
        Value::String(s) => s.trim_matches(char::is_whitespace).parse().ok(),
        _ => None,
    }
}

fn ints(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    let col = batch.column_by_name(column).expect(column);
    col.as_primitive::<Int64Type>().iter().collect()
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let col = batch.column_by_name(column).expect(column);
    col.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

fn bools(batch: &RecordBatch, column: &str) -> Vec<Option<bool>> {
    let col = batch.column_by_name(column).expect(column);
    col.as_boolean().iter().collect()
}

fn times(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    let col = batch.column_by_name(column).expect(column);
    col.as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect()
}

fn coordinates(batch: &RecordBatch) -> Vec<Option<Vec<f64>>> {
    let list = batch.column_by_name("coordinates").expect("coordinates");
    let list = list.as_list::<i32>();
    (0..list.len())
        .map(|i| {
            (!list.is_null(i)).then(|| {
                let pair = list.value(i);
                pair.as_primitive::<Float64Type>().values().to_vec()
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the text, every record becomes exactly one row or one reject; a reject says why,
    /// keeps the text whole, and the batch has the table's schema.
    #[test]
    fn push_raw_accounts_for_every_record(
        inputs in prop::collection::vec(any_input(), 1..8),
        table in select(&Table::ALL[..]),
    ) {
        let mut builder = TableBuilder::new(table);
        for (i, raw) in inputs.iter().enumerate() {
            builder.push_raw(raw, "fuzz.jsonl", i as i64);
        }
        let (batch, rejected) = builder.finish();
        prop_assert_eq!(batch.schema(), table.schema());
        prop_assert_eq!(batch.num_rows() + rejected.len(), inputs.len());

        let mut rejected_at = vec![None; inputs.len()];
        let mut last = -1;
        for r in &rejected {
            prop_assert!(r.position > last, "rejects in push order");
            last = r.position;
            let i = usize::try_from(r.position).expect("position");
            prop_assert!(i < inputs.len());
            prop_assert_eq!(&r.raw, &inputs[i], "the raw text is kept whole");
            prop_assert_eq!(r.table, table);
            prop_assert_eq!(&r.source, "fuzz.jsonl");
            prop_assert!(!r.reason.trim().is_empty());
            prop_assert!(KINDS.contains(&r.kind), "kind {}", r.kind);
            rejected_at[i] = Some(r);
        }

        // Rows are the accepted records, in order, each with the key SPEC §5 reads from it.
        let keys = ints(&batch, "ind");
        let mut row = 0;
        for (i, raw) in inputs.iter().enumerate() {
            let parsed = serde_json::from_str::<Value>(raw);
            match (rejected_at[i], &parsed) {
                (Some(r), Err(_)) => prop_assert_eq!(r.kind, "invalid_json"),
                (None, Err(e)) => prop_assert!(false, "invalid JSON accepted ({e}): {raw:?}"),
                (Some(r), Ok(v)) if !v.is_object() => prop_assert_eq!(r.kind, "not_an_object"),
                (None, Ok(v)) if !v.is_object() => prop_assert!(false, "non-object accepted: {raw:?}"),
                (Some(r), Ok(_)) => prop_assert!(r.kind != "invalid_json" && r.kind != "not_an_object"),
                (None, Ok(v)) => {
                    prop_assert_eq!(keys[row], spec_key(v, table), "key of {:?}", raw);
                    row += 1;
                }
            }
        }
        prop_assert_eq!(row, batch.num_rows());

        // The quarantine table holds every reject as it is.
        let quarantine = quarantine_batch(&rejected);
        prop_assert_eq!(quarantine.num_rows(), rejected.len());
        prop_assert_eq!(
            strings(&quarantine, "raw"),
            rejected.iter().map(|r| Some(r.raw.clone())).collect::<Vec<_>>()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Valid records: cleaned as SPEC §5 says.
// ---------------------------------------------------------------------------------------------

/// White space to put around a value.
fn pad() -> impl Strategy<Value = String> {
    prop::collection::vec(select(&WHITE_SPACE[..]), 0..3).prop_map(String::from_iter)
}

/// Text with no white space at either end (possibly empty): any characters, NUL and controls
/// included, and the kinds of text the real data has.
fn core_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..16).prop_map(|c| String::from_iter(c)
            .trim_matches(char::is_whitespace)
            .to_owned()),
        select(
            &[
                "Cottages",
                "PUFIK Interiors",
                "Всё о дизайне",
                "Ελληνικά",
                "🎄 ideas",
                "a\u{a0}b",
                "tab\tinside",
                "nul\u{0}inside",
                "Scandinavian Cottage,Swedish Cottage",
                "image",
                "multi-video(story page format)",
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

/// One field of a record: its JSON value (`None`: left out) and its expected cleaned value.
type Case<T> = (Option<Value>, Option<T>);

/// A text field: absent, null, blank, padded text (sentinels included), or a number or boolean
/// (kept as its JSON text).
fn text_field(field: &'static str) -> BoxedStrategy<Case<String>> {
    let sentinels: Vec<&str> = SPEC_SENTINELS.iter().map(|&(_, v)| v).collect();
    let core = prop_oneof![4 => core_text(), 1 => select(sentinels).prop_map(str::to_owned)];
    prop_oneof![
        1 => Just((None, None)),
        1 => Just((Some(Value::Null), None)),
        6 => (pad(), core, pad()).prop_map(move |(a, core, b)| {
            let sentinel = SPEC_SENTINELS.contains(&(field, core.as_str()));
            let expected = (!core.is_empty() && !sentinel).then(|| core.clone());
            (Some(json!(format!("{a}{core}{b}"))), expected)
        }),
        1 => any::<i64>().prop_map(|n| (Some(json!(n)), Some(n.to_string()))),
        1 => any::<bool>().prop_map(|b| (Some(json!(b)), Some(b.to_string()))),
    ]
    .boxed()
}

/// A key: a JSON integer, an integer string (padded, maybe with `+`), or an integral float.
fn key_field() -> impl Strategy<Value = (Value, i64)> {
    prop_oneof![
        any::<i64>().prop_map(|n| (json!(n), n)),
        (any::<i64>(), pad(), pad()).prop_map(|(n, a, b)| (json!(format!("{a}{n}{b}")), n)),
        (0..i64::MAX).prop_map(|n| (json!(format!("+{n}")), n)),
        // Written `n.0`, anywhere floats hold integers exactly (16 digits are read exactly since
        // serde_json's `float_roundtrip`; without it `-1887272781083419.0` read as
        // `-1887272781083419.2` and the key was refused as non-integer).
        (-(1i64 << 53)..(1i64 << 53)).prop_map(|n| (json!(n as f64), n)),
    ]
}

/// A follower count as the real data writes it (and with decimals), its sentinel, or a number.
fn follower_count_field() -> BoxedStrategy<Case<i64>> {
    let text = prop_oneof![
        (0i64..1000).prop_map(|n| (n.to_string(), n)),
        (0i64..1_000_000_000).prop_map(|n| (n.to_string(), n)),
        (1i64..1000, select(&["k", "K"][..])).prop_map(|(k, s)| (format!("{k}{s}"), k * 1000)),
        (1i64..16, select(&["M", "m"][..])).prop_map(|(m, s)| (format!("{m}{s}"), m * 1_000_000)),
        // Mantissas whose value is a whole number of followers: no rounding.
        (0i64..1000, 1u32..4)
            .prop_flat_map(|(whole, places)| { (Just(whole), Just(places), 0..10i64.pow(places)) })
            .prop_map(|(whole, places, fraction)| {
                let text = format!("{whole}.{fraction:0w$}k", w = places as usize);
                (text, whole * 1000 + fraction * 10i64.pow(3 - places))
            }),
        (0i64..16, 1u32..7)
            .prop_flat_map(|(whole, places)| { (Just(whole), Just(places), 0..10i64.pow(places)) })
            .prop_map(|(whole, places, fraction)| {
                let text = format!("{whole}.{fraction:0w$}M", w = places as usize);
                (text, whole * 1_000_000 + fraction * 10i64.pow(6 - places))
            }),
    ];
    prop_oneof![
        1 => Just((None, None)),
        1 => Just((Some(Value::Null), None)),
        1 => pad().prop_map(|p| (Some(json!(p)), None)),
        1 => (pad(), pad()).prop_map(|(a, b)| (Some(json!(format!("{a}User Info Error{b}"))), None)),
        1 => (0..i64::MAX).prop_map(|n| (Some(json!(n)), Some(n))),
        6 => (pad(), text, pad()).prop_map(|(a, (t, n), b)| (Some(json!(format!("{a}{t}{b}"))), Some(n))),
    ]
    .boxed()
}

fn downloaded_field() -> impl Strategy<Value = Case<bool>> {
    select(
        &[
            (None, None),
            (Some(0), Some(false)),
            (Some(1), Some(true)),
            (Some(2), Some(false)),
            (Some(3), Some(true)),
            (Some(4), Some(false)),
            (Some(5), Some(true)),
            (Some(6), Some(false)),
            (Some(7), Some(true)),
            (Some(8), None),
            (Some(9), None),
        ][..],
    )
    .prop_map(|(form, expected)| {
        let value = form.map(|f| match f {
            0 => json!(0),
            1 => json!(1),
            2 => json!("0"),
            3 => json!(" 1\u{a0}"),
            4 => json!(false),
            5 => json!(true),
            6 => json!("FALSE"),
            7 => json!("True"),
            8 => Value::Null,
            _ => json!("  "),
        });
        (value, expected)
    })
}

/// `save_location`: the original's `"Local save in <path>"` (the prefix dropped), or other text.
fn save_location_field() -> impl Strategy<Value = Case<String>> {
    let path = prop_oneof![
        select(&["/data/art", "/data/home-decor", "/mnt/pins", "x"][..]).prop_map(str::to_owned),
        core_text().prop_filter("non-empty", |s| !s.is_empty()),
    ];
    prop_oneof![
        Just((None, None)),
        (pad(), path.clone(), pad())
            .prop_map(|(a, p, b)| { (Some(json!(format!("{a}Local save in {p}{b}"))), Some(p)) }),
        (pad(), path, pad())
            .prop_filter("not the prefix", |(_, p, _)| !p
                .starts_with("Local save in "))
            .prop_map(|(a, p, b)| (Some(json!(format!("{a}{p}{b}"))), Some(p))),
    ]
}

/// Seconds of the UTC instants generated: from year 0002 to year 9995, so that any offset keeps
/// the local time within four-digit years.
const SECONDS: std::ops::Range<i64> = -62_104_060_800..253_244_160_000;

/// A datetime text in one of SPEC §5's formats, and the instant it names (epoch microseconds).
fn datetime_text() -> BoxedStrategy<(String, i64)> {
    (
        SECONDS,
        0u32..1_000_000_000,
        select(&[" ", "T", "t"][..]),
        prop_oneof![Just(0usize), 1usize..10],
        prop_oneof![
            Just(None),
            Just(Some("Z")),
            Just(Some("z")),
            Just(Some("+:")),
            Just(Some("-:")),
            Just(Some("+")),
            Just(Some("-")),
        ],
        0i32..24,
        0i32..60,
    )
        .prop_map(|(secs, nanos, sep, digits, zone, oh, om)| {
            let offset = match zone {
                Some(z) if z.starts_with('-') => -(oh * 3600 + om * 60),
                Some(z) if z.starts_with('+') => oh * 3600 + om * 60,
                _ => 0,
            };
            let local = DateTime::from_timestamp(secs + i64::from(offset), nanos)
                .expect("in range")
                .naive_utc();
            let mut text = format!(
                "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
                local.year(),
                local.month(),
                local.day(),
                local.hour(),
                local.minute(),
                local.second()
            );
            let mut micros = 0;
            if digits > 0 {
                let fraction = format!("{nanos:09}");
                text.push('.');
                text.push_str(&fraction[..digits]);
                let kept = &fraction[..digits.min(6)];
                micros = kept.parse::<i64>().expect("digits") * 10i64.pow(6 - kept.len() as u32);
            }
            match zone {
                Some(z @ ("Z" | "z")) => text.push_str(z),
                Some(z) => {
                    text.push_str(&z[..1]);
                    let colon = if z.ends_with(':') { ":" } else { "" };
                    text.push_str(&format!("{oh:02}{colon}{om:02}"));
                }
                None => {}
            }
            (text, secs * 1_000_000 + micros)
        })
        .boxed()
}

fn datetime_field() -> BoxedStrategy<Case<i64>> {
    prop_oneof![
        1 => Just((None, None)),
        1 => Just((Some(Value::Null), None)),
        1 => pad().prop_map(|p| (Some(json!(p)), None)),
        6 => (pad(), datetime_text(), pad())
            .prop_map(|(a, (t, at), b)| (Some(json!(format!("{a}{t}{b}"))), Some(at))),
    ]
    .boxed()
}

/// A coordinate as a JSON number or a numeric string.
fn coordinate(range: std::ops::Range<f64>) -> impl Strategy<Value = (Value, f64)> {
    let x = prop_oneof![3 => range, 1 => -1e300..1e300f64, 1 => Just(0.0)];
    (x, any::<bool>(), pad(), pad()).prop_map(|(x, as_text, a, b)| {
        let value = if as_text {
            json!(format!("{a}{x}{b}"))
        } else {
            json!(x)
        };
        (value, x)
    })
}

/// An integer as a JSON number or an integer string.
fn int_field() -> impl Strategy<Value = Case<i64>> {
    prop_oneof![
        Just((None, None)),
        Just((Some(Value::Null), None)),
        any::<i64>().prop_map(|n| (Some(json!(n)), Some(n))),
        (any::<i64>(), pad(), pad())
            .prop_map(|(n, a, b)| (Some(json!(format!("{a}{n}{b}"))), Some(n))),
    ]
}

/// A field that belongs to no table: ignored by the cleaners.
fn extra_field() -> impl Strategy<Value = Option<(String, Value)>> {
    prop::option::of((
        select(&["extra", "_id", "source", "ind_"][..]).prop_map(str::to_owned),
        json_value(),
    ))
}

/// A record of one table built from valid values: its JSON text and the row SPEC §5 makes of it.
#[derive(Clone, Debug)]
struct RecordCase<R> {
    json: String,
    row: R,
}

fn finish_record<R>(
    fields: Vec<(&str, Option<Value>)>,
    extra: Option<(String, Value)>,
    pretty: bool,
    row: R,
) -> RecordCase<R> {
    let mut obj = Map::new();
    for (name, value) in fields {
        if let Some(v) = value {
            obj.insert(name.to_owned(), v);
        }
    }
    if let Some((name, value)) = extra {
        obj.insert(name, value);
    }
    let value = Value::Object(obj);
    let json = if pretty {
        serde_json::to_string_pretty(&value).expect("json")
    } else {
        value.to_string()
    };
    RecordCase { json, row }
}

#[derive(Clone, Debug, PartialEq)]
struct PinExpected {
    ind: i64,
    unique_id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    follower_count: Option<i64>,
    poster_name: Option<String>,
    tag_list: Option<String>,
    is_image_or_video: Option<String>,
    image_src: Option<String>,
    save_location: Option<String>,
    category: Option<String>,
    downloaded: Option<bool>,
}

fn pin_case() -> BoxedStrategy<RecordCase<PinExpected>> {
    (
        (
            key_field(),
            text_field("unique_id"),
            text_field("title"),
            text_field("description"),
        ),
        (
            follower_count_field(),
            text_field("poster_name"),
            text_field("tag_list"),
        ),
        (
            text_field("is_image_or_video"),
            text_field("image_src"),
            save_location_field(),
        ),
        (
            text_field("category"),
            downloaded_field(),
            extra_field(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                ((key, ind), uid, title, description),
                (follower, poster, tags),
                (kind, image, save),
                (category, downloaded, extra, pretty),
            )| {
                let row = PinExpected {
                    ind,
                    unique_id: uid.1,
                    title: title.1,
                    description: description.1,
                    follower_count: follower.1,
                    poster_name: poster.1,
                    tag_list: tags.1,
                    is_image_or_video: kind.1,
                    image_src: image.1,
                    save_location: save.1,
                    category: category.1,
                    downloaded: downloaded.1,
                };
                let fields = vec![
                    ("index", Some(key)),
                    ("unique_id", uid.0),
                    ("title", title.0),
                    ("description", description.0),
                    ("poster_name", poster.0),
                    ("follower_count", follower.0),
                    ("tag_list", tags.0),
                    ("is_image_or_video", kind.0),
                    ("image_src", image.0),
                    ("downloaded", downloaded.0),
                    ("save_location", save.0),
                    ("category", category.0),
                ];
                finish_record(fields, extra, pretty, row)
            },
        )
        .boxed()
}

#[derive(Clone, Debug, PartialEq)]
struct GeoExpected {
    ind: i64,
    country: Option<String>,
    coordinates: Option<[f64; 2]>,
    timestamp: Option<i64>,
}

fn geo_case() -> BoxedStrategy<RecordCase<GeoExpected>> {
    let coordinates = prop_oneof![
        Just(None),
        (coordinate(-90.0..90.0), coordinate(-180.0..180.0)).prop_map(Some),
    ];
    (
        key_field(),
        text_field("country"),
        coordinates,
        any::<bool>(),
        datetime_field(),
        extra_field(),
        any::<bool>(),
    )
        .prop_map(
            |((key, ind), country, coords, null_coords, timestamp, extra, pretty)| {
                let (lat, lon, pair) = match coords {
                    Some(((lat, y), (lon, x))) => (Some(lat), Some(lon), Some([y, x])),
                    None if null_coords => (Some(Value::Null), Some(Value::Null), None),
                    None => (None, None, None),
                };
                let row = GeoExpected {
                    ind,
                    country: country.1,
                    coordinates: pair,
                    timestamp: timestamp.1,
                };
                let fields = vec![
                    ("ind", Some(key)),
                    ("timestamp", timestamp.0),
                    ("latitude", lat),
                    ("longitude", lon),
                    ("country", country.0),
                ];
                finish_record(fields, extra, pretty, row)
            },
        )
        .boxed()
}

#[derive(Clone, Debug, PartialEq)]
struct UserExpected {
    ind: i64,
    user_name: Option<String>,
    age: Option<i64>,
    date_joined: Option<i64>,
}

fn user_case() -> BoxedStrategy<RecordCase<UserExpected>> {
    (
        key_field(),
        text_field("first_name"),
        text_field("last_name"),
        int_field(),
        datetime_field(),
        extra_field(),
        any::<bool>(),
    )
        .prop_map(|((key, ind), first, last, age, joined, extra, pretty)| {
            let user_name = match (&first.1, &last.1) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (Some(one), None) | (None, Some(one)) => Some(one.clone()),
                (None, None) => None,
            };
            let row = UserExpected {
                ind,
                user_name,
                age: age.1,
                date_joined: joined.1,
            };
            let fields = vec![
                ("ind", Some(key)),
                ("first_name", first.0),
                ("last_name", last.0),
                ("age", age.0),
                ("date_joined", joined.0),
            ];
            finish_record(fields, extra, pretty, row)
        })
        .boxed()
}

/// Pushes `records` into a fresh builder of `table`, requiring every one to be accepted.
fn clean_all(table: Table, records: &[&str]) -> Result<RecordBatch, TestCaseError> {
    let mut builder = TableBuilder::new(table);
    for (i, raw) in records.iter().enumerate() {
        builder.push_raw(raw, "valid.jsonl", i as i64);
    }
    let (batch, rejected) = builder.finish();
    let reasons: Vec<(&str, &str)> = rejected
        .iter()
        .map(|r| (r.reason.as_str(), r.raw.as_str()))
        .collect();
    prop_assert!(rejected.is_empty(), "valid records rejected: {reasons:?}");
    prop_assert_eq!(batch.schema(), table.schema());
    prop_assert_eq!(batch.num_rows(), records.len());
    Ok(batch)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn valid_pins_are_cleaned_as_the_spec_says(cases in prop::collection::vec(pin_case(), 1..5)) {
        let texts: Vec<&str> = cases.iter().map(|c| c.json.as_str()).collect();
        let batch = clean_all(Table::Pin, &texts)?;
        let got: Vec<PinExpected> = (0..batch.num_rows())
            .map(|i| {
                let s = |c: &str| strings(&batch, c)[i].clone();
                PinExpected {
                    ind: ints(&batch, "ind")[i].expect("ind is never null"),
                    unique_id: s("unique_id"),
                    title: s("title"),
                    description: s("description"),
                    follower_count: ints(&batch, "follower_count")[i],
                    poster_name: s("poster_name"),
                    tag_list: s("tag_list"),
                    is_image_or_video: s("is_image_or_video"),
                    image_src: s("image_src"),
                    save_location: s("save_location"),
                    category: s("category"),
                    downloaded: bools(&batch, "downloaded")[i],
                }
            })
            .collect();
        let expected: Vec<PinExpected> = cases.iter().map(|c| c.row.clone()).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn valid_geos_are_cleaned_as_the_spec_says(cases in prop::collection::vec(geo_case(), 1..5)) {
        let texts: Vec<&str> = cases.iter().map(|c| c.json.as_str()).collect();
        let batch = clean_all(Table::Geo, &texts)?;
        let keys = ints(&batch, "ind");
        let countries = strings(&batch, "country");
        let stamps = times(&batch, "timestamp");
        let pairs = coordinates(&batch);
        for (i, case) in cases.iter().enumerate() {
            let want = &case.row;
            prop_assert_eq!(keys[i], Some(want.ind));
            prop_assert_eq!(&countries[i], &want.country);
            prop_assert_eq!(stamps[i], want.timestamp, "timestamp of {}", case.json);
            match (&pairs[i], want.coordinates) {
                (None, None) => {}
                (Some(got), Some([lat, lon])) => {
                    prop_assert_eq!(got.len(), 2);
                    // Exactly: JSON numbers are read exactly (serde_json's `float_roundtrip`).
                    prop_assert!(got[0] == lat && got[1] == lon, "{got:?} vs {lat}, {lon}");
                }
                (got, want) => prop_assert!(false, "coordinates {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn valid_users_are_cleaned_as_the_spec_says(cases in prop::collection::vec(user_case(), 1..5)) {
        let texts: Vec<&str> = cases.iter().map(|c| c.json.as_str()).collect();
        let batch = clean_all(Table::User, &texts)?;
        let got: Vec<UserExpected> = (0..batch.num_rows())
            .map(|i| UserExpected {
                ind: ints(&batch, "ind")[i].expect("ind is never null"),
                user_name: strings(&batch, "user_name")[i].clone(),
                age: ints(&batch, "age")[i],
                date_joined: times(&batch, "date_joined")[i],
            })
            .collect();
        let expected: Vec<UserExpected> = cases.iter().map(|c| c.row.clone()).collect();
        prop_assert_eq!(got, expected);
    }

    /// A record of one table sent to another table's topic is quarantined, not read as a row of
    /// empty fields (the real data has pin rows inside the user topic).
    #[test]
    fn another_tables_record_is_quarantined(
        pin in pin_case(),
        geo in geo_case(),
        user in user_case(),
    ) {
        // Only records with at least one non-null field of their own table are recognisable.
        let own_fields = |json: &str, table: Table| {
            let v: Value = serde_json::from_str(json).expect("json");
            let own: &[&str] = match table {
                Table::Pin => &["index"],
                Table::Geo => &["latitude", "longitude", "country", "timestamp"],
                Table::User => &["first_name", "last_name", "age", "date_joined"],
            };
            own.iter().any(|f| v.get(f).is_some_and(|x| !x.is_null()))
        };
        for (json, from) in [(&pin.json, Table::Pin), (&geo.json, Table::Geo), (&user.json, Table::User)] {
            if !own_fields(json, from) {
                continue;
            }
            for topic in Table::ALL.into_iter().filter(|&t| t != from) {
                let mut builder = TableBuilder::new(topic);
                builder.push_raw(json, "wrong-topic", 0);
                let (batch, rejected) = builder.finish();
                prop_assert_eq!(batch.num_rows(), 0, "{} record read as a {} row: {}", from, topic, json);
                prop_assert_eq!(rejected.len(), 1);
                prop_assert_eq!(rejected[0].kind, "other_table", "{}", &rejected[0].reason);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// follower_count
// ---------------------------------------------------------------------------------------------

/// The exact value of `digits` (at most 30 of them) times `multiplier`, if it fits in an i64.
fn exact(digits: &str, multiplier: u128) -> Option<i64> {
    let n: u128 = digits.parse().ok()?;
    i64::try_from(n.checked_mul(multiplier)?).ok()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn follower_count_plain_k_and_m_round_trip(n in 0i64..1000, k in 0i64..9_223_372_036_854_775, m in 0i64..9_223_372_036_854) {
        prop_assert_eq!(parse_follower_count(&n.to_string()), Some(n));
        prop_assert_eq!(parse_follower_count(&format!("{k}k")), Some(k * 1000));
        prop_assert_eq!(parse_follower_count(&format!("{k}K")), Some(k * 1000));
        prop_assert_eq!(parse_follower_count(&format!("{m}M")), Some(m * 1_000_000));
        prop_assert_eq!(parse_follower_count(&format!("{m}m")), Some(m * 1_000_000));
    }

    /// Digits with any suffix: the exact value when it fits in an i64, never a wrapped one.
    #[test]
    fn follower_count_is_exact_or_none_never_overflowed(
        digits in "[0-9]{1,30}",
        suffix in select(&["", "k", "K", "M", "m"][..]),
    ) {
        let multiplier = match suffix {
            "k" | "K" => 1000,
            "M" | "m" => 1_000_000,
            _ => 1,
        };
        prop_assert_eq!(parse_follower_count(&format!("{digits}{suffix}")), exact(&digits, multiplier));
    }

    /// A decimal mantissa is rounded to the nearest follower: within half a follower of the
    /// exact value.
    #[test]
    fn follower_count_decimal_mantissa_rounds_to_nearest(
        whole in 0u64..1_000_000_000_000,
        fraction in "[0-9]{1,18}",
        suffix in select(&["k", "K", "M", "m"][..]),
    ) {
        let multiplier: u128 = if suffix.eq_ignore_ascii_case("k") { 1000 } else { 1_000_000 };
        let got = parse_follower_count(&format!("{whole}.{fraction}{suffix}"));
        let got = got.map(|g| u128::try_from(g).expect("non-negative"));
        prop_assert!(got.is_some(), "{}.{}{} unread", whole, fraction, suffix);
        let got = got.unwrap_or_default();
        let scale = 10u128.pow(fraction.len() as u32);
        // exact value × scale = (whole × scale + fraction) × multiplier
        let exact_scaled = (u128::from(whole) * scale + fraction.parse::<u128>().expect("digits")) * multiplier;
        let diff = (got * scale).abs_diff(exact_scaled);
        prop_assert!(2 * diff <= scale, "{}.{}{} read as {}", whole, fraction, suffix, got);
        // Halves round up.
        prop_assert!(2 * diff < scale || got * scale > exact_scaled);
    }

    #[test]
    fn follower_count_never_panics_nor_goes_negative(s in prop_oneof![
        any::<String>(),
        "[0-9.kKmM+ -]{0,25}",
        "[0-9]{15,25}(\\.[0-9]{0,25})?[kKmM]?",
    ]) {
        if let Some(n) = parse_follower_count(&s) {
            prop_assert!(n >= 0, "{s:?} read as {n}");
            // Only the formats of SPEC §5: digits, one optional decimal part, a k/M suffix.
            prop_assert!(s.bytes().all(|b| b.is_ascii_digit() || b".kKmM".contains(&b)), "{s:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Datetimes
// ---------------------------------------------------------------------------------------------

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

proptest! {
    #![proptest_config(config())]

    /// Every accepted format of a random instant parses back to that instant.
    #[test]
    fn datetimes_in_every_format_parse_to_their_instant((text, at) in datetime_text()) {
        prop_assert_eq!(parse_utc_micros(&text), Some(at), "{}", text);
    }

    /// Impossible dates and times are unparseable, not moved to a neighbouring day.
    #[test]
    fn impossible_dates_and_times_are_none(
        year in 0u32..10000,
        month in 0u32..100,
        day in 0u32..100,
        hour in 0u32..100,
        minute in 0u32..100,
        second in 0u32..100,
    ) {
        let text = format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
        let valid = (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24 && minute < 60 && second < 60;
        prop_assert_eq!(parse_utc_micros(&text).is_some(), valid, "{}", text);
    }

    #[test]
    fn datetime_parsing_never_panics(s in prop_oneof![
        any::<String>(),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[ Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?",
        "[0-9 :.Tt+Zz\u{e9}\u{1F600}-]{0,32}",
        (datetime_text(), any::<prop::sample::Index>(), any::<char>()).prop_map(|((t, _), at, c)| {
            let mut chars: Vec<char> = t.chars().collect();
            let i = at.index(chars.len());
            chars[i] = c;
            chars.into_iter().collect()
        }),
    ]) {
        let _ = parse_utc_micros(&s);
    }
}

// ---------------------------------------------------------------------------------------------
// Quarantine
// ---------------------------------------------------------------------------------------------

fn rejected() -> impl Strategy<Value = Rejected> {
    (
        select(&Table::ALL[..]),
        any::<String>(),
        any::<i64>(),
        any::<String>(),
        select(&KINDS[..]),
        any::<String>(),
    )
        .prop_map(|(table, source, position, reason, kind, raw)| Rejected {
            table,
            source,
            position,
            reason,
            kind,
            raw,
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn quarantine_batch_has_one_row_per_reject_with_its_values(rows in prop::collection::vec(rejected(), 0..8)) {
        let batch = quarantine_batch(&rows);
        prop_assert_eq!(batch.schema(), quarantine_schema());
        prop_assert_eq!(batch.num_rows(), rows.len());
        let column = |f: fn(&Rejected) -> String| rows.iter().map(|r| Some(f(r))).collect::<Vec<_>>();
        prop_assert_eq!(strings(&batch, "table"), column(|r| r.table.name().to_owned()));
        prop_assert_eq!(strings(&batch, "source"), column(|r| r.source.clone()));
        prop_assert_eq!(strings(&batch, "reason"), column(|r| r.reason.clone()));
        prop_assert_eq!(strings(&batch, "raw"), column(|r| r.raw.clone()));
        prop_assert_eq!(
            ints(&batch, "position"),
            rows.iter().map(|r| Some(r.position)).collect::<Vec<_>>()
        );
        for column in batch.columns() {
            prop_assert_eq!(column.null_count(), 0);
        }
    }
}
