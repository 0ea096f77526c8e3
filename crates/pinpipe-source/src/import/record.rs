//! One exported record as a source row: which table it belongs to, and its fields read leniently
//! (numbers sent as strings are accepted, JSON `null` counts as absent, datetimes in any accepted form
//! are stored as `YYYY-MM-DD HH:MM:SS`).

use std::fmt;

use pinpipe_model::{GeoRecord, PinPost, UserRecord};
use serde_json::{Map, Value};

use crate::datetime;

/// The table a record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `pinterest_data`.
    Pin,
    /// `geolocation_data`.
    Geo,
    /// `user_data`.
    User,
}

impl Kind {
    /// Every kind, in import order.
    pub(crate) const ALL: [Kind; 3] = [Kind::Pin, Kind::Geo, Kind::User];

    /// `pin`, `geo` or `user`, as the export files are named.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Pin => "pin",
            Kind::Geo => "geo",
            Kind::User => "user",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A record read as its table's row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Row {
    /// A pin row.
    Pin(PinPost),
    /// A geolocation row.
    Geo(GeoRecord),
    /// A user row.
    User(UserRecord),
}

/// Fields only a record of one table has (after dropping nulls), to tell another table's record apart.
const MARKERS: [(Kind, &[&str]); 3] = [
    (
        Kind::Pin,
        &["index", "unique_id", "tag_list", "poster_name"],
    ),
    (
        Kind::User,
        &["first_name", "last_name", "age", "date_joined"],
    ),
    (
        Kind::Geo,
        &["country", "latitude", "longitude", "timestamp"],
    ),
];

/// The table whose fields `record` has, if any.
pub(crate) fn detect(record: &Map<String, Value>) -> Option<Kind> {
    MARKERS
        .iter()
        .find(|(_, fields)| fields.iter().any(|f| field(record, f).is_some()))
        .map(|&(kind, _)| kind)
}

/// `record` read as a row of `kind`; the error says which field is wrong and how.
pub(crate) fn parse(kind: Kind, record: &Map<String, Value>) -> Result<Row, String> {
    let r = Fields(record);
    Ok(match kind {
        Kind::Pin => Row::Pin(PinPost {
            index: r.int("index")?,
            unique_id: r.text("unique_id")?,
            title: r.text("title")?,
            description: r.text("description")?,
            poster_name: r.text("poster_name")?,
            follower_count: r.text("follower_count")?,
            tag_list: r.text("tag_list")?,
            is_image_or_video: r.text("is_image_or_video")?,
            image_src: r.text("image_src")?,
            downloaded: r.int("downloaded")?,
            save_location: r.text("save_location")?,
            category: r.text("category")?,
        }),
        Kind::Geo => Row::Geo(GeoRecord {
            ind: r.int("ind")?,
            timestamp: r.datetime("timestamp")?,
            latitude: r.float("latitude")?,
            longitude: r.float("longitude")?,
            country: r.text("country")?,
        }),
        Kind::User => Row::User(UserRecord {
            ind: r.int("ind")?,
            first_name: r.text("first_name")?,
            last_name: r.text("last_name")?,
            age: r.int("age")?,
            date_joined: r.datetime("date_joined")?,
        }),
    })
}

/// A field's value; `null` counts as absent.
fn field<'a>(record: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    record.get(name).filter(|v| !v.is_null())
}

/// Typed, lenient access to a record's fields.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, name: &str) -> Result<&Value, String> {
        field(self.0, name).ok_or_else(|| format!("missing {name:?}"))
    }

    /// An integer: a JSON integer, a float without fraction, a string of one, or a boolean (0/1).
    fn int(&self, name: &str) -> Result<i64, String> {
        let value = self.get(name)?;
        let parsed = match value {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        };
        parsed.ok_or_else(|| format!("{name:?} is not an integer: {value}"))
    }

    /// A number: a JSON number or a string of one.
    fn float(&self, name: &str) -> Result<f64, String> {
        let value = self.get(name)?;
        let parsed = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        parsed
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("{name:?} is not a number: {value}"))
    }

    /// Text: a JSON string as it is, or a number's text.
    fn text(&self, name: &str) -> Result<String, String> {
        match self.get(name)? {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(format!("{name:?} is not text: {other}")),
        }
    }

    /// A datetime in any accepted form, as `YYYY-MM-DD HH:MM:SS`.
    fn datetime(&self, name: &str) -> Result<String, String> {
        let text = self.text(name)?;
        datetime::canonical(&text).ok_or_else(|| format!("{name:?} is not a datetime: {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn detects_tables_ignoring_nulls() {
        let merged = object(json!({"ind": null, "index": 5730, "first_name": null, "title": "x"}));
        assert_eq!(detect(&merged), Some(Kind::Pin));
        let geo = object(json!({"ind": 1, "country": "Albania"}));
        assert_eq!(detect(&geo), Some(Kind::Geo));
        let user = object(json!({"ind": 1, "age": 20}));
        assert_eq!(detect(&user), Some(Kind::User));
        assert_eq!(detect(&object(json!({"ind": 1}))), None);
    }

    #[test]
    fn lenient_fields() {
        let user = object(json!({
            "ind": "12", "first_name": "Abigail", "last_name": "Ali", "age": 20.0,
            "date_joined": "2015-10-24T11:23:51"
        }));
        let row = parse(Kind::User, &user);
        assert_eq!(
            row,
            Ok(Row::User(UserRecord {
                ind: 12,
                first_name: "Abigail".into(),
                last_name: "Ali".into(),
                age: 20,
                date_joined: "2015-10-24 11:23:51".into(),
            }))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let geo = object(
            json!({"ind": 1, "timestamp": "later", "latitude": 1, "longitude": 2, "country": "X"}),
        );
        assert_eq!(
            parse(Kind::Geo, &geo),
            Err(r#""timestamp" is not a datetime: "later""#.to_owned())
        );
        let geo = object(json!({"ind": null, "country": "X"}));
        assert_eq!(parse(Kind::Geo, &geo), Err(r#"missing "ind""#.to_owned()));
        let user = object(json!({"ind": 1.5}));
        assert_eq!(
            parse(Kind::User, &user),
            Err(r#""ind" is not an integer: 1.5"#.to_owned())
        );
        let geo = object(
            json!({"ind": 1, "timestamp": "2020-01-01 00:00:00", "latitude": [], "longitude": 2, "country": "X"}),
        );
        assert_eq!(
            parse(Kind::Geo, &geo),
            Err(r#""latitude" is not a number: []"#.to_owned())
        );
    }
}
