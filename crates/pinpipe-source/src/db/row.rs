//! The rows of the three tables as values in column order ([`schema`](super::schema)'s), both ways, for
//! every backend: what a write binds ([`pin_values`], [`geo_values`], [`user_values`]) and how a read
//! maps a result row back to a [`Post`] ([`Columns`], [`post_from`], by column name). One mapping, so
//! every backend returns the same `Post` for the same rows.

use pinpipe_model::{GeoRecord, PinPost, UserRecord};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use super::schema::{GEO, Kind, PIN, Table, USER};
use super::{Post, RowCounts};
use crate::datetime;
use crate::error::{Result, SourceError};

/// One column value to write.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    /// An integer column.
    Int(i64),
    /// A double column.
    Float(f64),
    /// A text column.
    Text(&'a str),
    /// A datetime column, canonical `YYYY-MM-DD HH:MM:SS`.
    DateTime(String),
}

impl Value<'_> {
    /// Roughly how many bytes the value takes in a statement.
    pub(crate) fn size(&self) -> usize {
        match self {
            Value::Int(_) | Value::Float(_) => 8,
            Value::Text(s) => s.len(),
            Value::DateTime(s) => s.len(),
        }
    }
}

/// A pin row's values in column order.
pub(crate) fn pin_values(p: &PinPost) -> [Value<'_>; 12] {
    [
        Value::Int(p.index),
        Value::Text(&p.unique_id),
        Value::Text(&p.title),
        Value::Text(&p.description),
        Value::Text(&p.poster_name),
        Value::Text(&p.follower_count),
        Value::Text(&p.tag_list),
        Value::Text(&p.is_image_or_video),
        Value::Text(&p.image_src),
        Value::Int(p.downloaded),
        Value::Text(&p.save_location),
        Value::Text(&p.category),
    ]
}

/// A geolocation row's values in column order; its timestamp made canonical (an offset converted to
/// UTC), so every backend stores the same instant. [`SourceError::BadRow`] if it is not a datetime.
pub(crate) fn geo_values(g: &GeoRecord) -> Result<[Value<'_>; 5]> {
    Ok([
        Value::Int(g.ind),
        canonical(&GEO, g.ind, &g.timestamp)?,
        float(g.latitude),
        float(g.longitude),
        Value::Text(&g.country),
    ])
}

/// A user row's values in column order, `date_joined` made canonical as in [`geo_values`].
pub(crate) fn user_values(u: &UserRecord) -> Result<[Value<'_>; 5]> {
    Ok([
        Value::Int(u.ind),
        Value::Text(&u.first_name),
        Value::Text(&u.last_name),
        Value::Int(u.age),
        canonical(&USER, u.ind, &u.date_joined)?,
    ])
}

/// A double column's value; `-0.0` is written as `0.0`, as SQLite stores it, so that every backend reads
/// back the same value.
fn float(x: f64) -> Value<'static> {
    Value::Float(if x == 0.0 { 0.0 } else { x })
}

fn canonical(table: &Table, key: i64, text: &str) -> Result<Value<'static>> {
    datetime::canonical(text)
        .map(Value::DateTime)
        .ok_or_else(|| SourceError::BadRow {
            table: table.name,
            key,
            message: format!("not a datetime: {text:?}"),
        })
}

/// A result row whose columns a backend reads by position; errors are messages.
pub(crate) trait Columns {
    /// An integer column.
    fn int(&self, i: usize) -> Result<i64, String>;
    /// A double column.
    fn float(&self, i: usize) -> Result<f64, String>;
    /// A text column.
    fn text(&self, i: usize) -> Result<String, String>;
    /// A datetime column as `YYYY-MM-DD HH:MM:SS`.
    fn datetime(&self, i: usize) -> Result<String, String>;
}

/// The record of `table` from its columns in `row`, starting at column `first`, by name: the columns
/// are named as the record's fields (as the original's JSON names them), so serde builds any of the
/// three records. An error names the column.
fn record<T: DeserializeOwned>(
    row: &dyn Columns,
    table: &Table,
    first: usize,
) -> Result<T, String> {
    let mut fields = serde_json::Map::new();
    for (i, &(name, kind)) in table.columns.iter().enumerate() {
        let at = first + i;
        let value = match kind {
            Kind::Int => row.int(at).map(Json::from),
            Kind::Float => row.float(at).map(Json::from),
            Kind::Text => row.text(at).map(Json::from),
            Kind::DateTime => row.datetime(at).map(Json::from),
        };
        fields.insert(
            name.to_owned(),
            value.map_err(|e| format!("column {name}: {e}"))?,
        );
    }
    serde_json::from_value(Json::Object(fields)).map_err(|e| e.to_string())
}

/// The post with key `key` from a row of [`Sql::select_post`](super::schema::Sql): the pin, geo and
/// user columns in order. A value of the wrong type is a [`SourceError::BadRow`] naming its table.
pub(crate) fn post_from(row: &dyn Columns, key: i64) -> Result<Post> {
    let bad = |table: &'static str| {
        move |message| SourceError::BadRow {
            table,
            key,
            message,
        }
    };
    let geo_at = PIN.columns.len();
    let user_at = geo_at + GEO.columns.len();
    Ok(Post {
        pin: record(row, &PIN, 0).map_err(bad(PIN.name))?,
        geo: record(row, &GEO, geo_at).map_err(bad(GEO.name))?,
        user: record(row, &USER, user_at).map_err(bad(USER.name))?,
    })
}

/// The row counts from the three integers of [`Sql::count_rows`](super::schema::Sql).
pub(crate) fn counts_from([pin, geo, user]: [i64; 3]) -> RowCounts {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    RowCounts {
        pin: count(pin),
        geo: count(geo),
        user: count(user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::TABLES;

    /// Values standing in for a result row: the written values of a post, read back as they are.
    struct Written<'a>(Vec<Value<'a>>);

    impl Columns for Written<'_> {
        fn int(&self, i: usize) -> Result<i64, String> {
            match self.0.get(i) {
                Some(Value::Int(n)) => Ok(*n),
                other => Err(format!("not an int: {other:?}")),
            }
        }
        fn float(&self, i: usize) -> Result<f64, String> {
            match self.0.get(i) {
                Some(Value::Float(x)) => Ok(*x),
                other => Err(format!("not a float: {other:?}")),
            }
        }
        fn text(&self, i: usize) -> Result<String, String> {
            match self.0.get(i) {
                Some(Value::Text(s)) => Ok((*s).to_owned()),
                other => Err(format!("not text: {other:?}")),
            }
        }
        fn datetime(&self, i: usize) -> Result<String, String> {
            match self.0.get(i) {
                Some(Value::DateTime(s)) => Ok(s.clone()),
                other => Err(format!("not a datetime: {other:?}")),
            }
        }
    }

    fn kind(v: &Value<'_>) -> Kind {
        match v {
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Text(_) => Kind::Text,
            Value::DateTime(_) => Kind::DateTime,
        }
    }

    #[test]
    fn written_values_map_back_and_match_the_columns() -> Result<()> {
        let post = crate::synth::Generator::new(3, 1)
            .nth(2)
            .ok_or(SourceError::EmptySource)?;
        let mut values: Vec<Value<'_>> = pin_values(&post.pin).to_vec();
        values.extend(geo_values(&post.geo)?);
        values.extend(user_values(&post.user)?);
        let kinds: Vec<Kind> = TABLES
            .iter()
            .flat_map(|t| t.columns.iter().map(|&(_, k)| k))
            .collect();
        assert_eq!(values.iter().map(kind).collect::<Vec<_>>(), kinds);
        assert_eq!(post_from(&Written(values), 2)?, post);
        Ok(())
    }

    #[test]
    fn a_wrong_value_names_table_and_column() {
        let err = post_from(&Written(vec![Value::Int(1), Value::Int(2)]), 1)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("pinterest_data row 1: column unique_id: not text: Some(Int(2))")
        );
    }

    #[test]
    fn datetimes_are_written_canonical() {
        let geo = GeoRecord {
            ind: 4,
            timestamp: "2017-05-12T23:22:17+02:00".into(),
            latitude: 0.0,
            longitude: 0.0,
            country: String::new(),
        };
        let values = geo_values(&geo).ok().map(|v| v[1].clone());
        assert_eq!(values, Some(Value::DateTime("2017-05-12 21:22:17".into())));
        let bad = GeoRecord {
            timestamp: "soon".into(),
            ..geo
        };
        let err = geo_values(&bad).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(r#"geolocation_data row 4: not a datetime: "soon""#)
        );
    }
}
