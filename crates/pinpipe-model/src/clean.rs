//! One record → one cleaned row (SPEC §5): checks that the record is an object of the right table,
//! then reads each table's row as a plain struct that borrows its text from the parsed JSON.

use std::borrow::Cow;

use crate::fields::{self, Object};
use crate::json::Record;
use crate::{CleanError, Table, rules};

/// `record` as a JSON object, or [`CleanError::NotAnObject`].
pub(crate) fn object<'r, 'a>(record: &'r Record<'a>) -> Result<&'r Object<'a>, CleanError> {
    match record {
        Record::Object(obj) => Ok(obj),
        Record::Other(kind) => Err(CleanError::NotAnObject(kind)),
    }
}

/// The table a field name belongs to, for fields found in one table only (`ind` is in two).
fn owner(field: &str) -> Option<Table> {
    match field {
        "index" | "unique_id" | "title" | "description" | "poster_name" | "follower_count"
        | "tag_list" | "is_image_or_video" | "image_src" | "downloaded" | "save_location"
        | "category" => Some(Table::Pin),
        "latitude" | "longitude" | "country" | "timestamp" => Some(Table::Geo),
        "first_name" | "last_name" | "age" | "date_joined" => Some(Table::User),
        _ => None,
    }
}

/// Rejects a record that arrived in `topic` but is another table's: it has no non-null field of
/// `topic`'s own and at least one of another table's. With fields of several other tables, the one
/// with the most wins (ties in [`Table::ALL`] order). A record with any field of its own table is
/// read as that table's (other fields are ignored), so a stray extra field never rejects a row.
pub(crate) fn check_topic(topic: Table, obj: &Object<'_>) -> Result<(), CleanError> {
    let mut counts = [0_usize; Table::ALL.len()];
    for (field, value) in obj.iter() {
        if let Some(t) = owner(field).filter(|_| !value.is_null()) {
            counts[t as usize] += 1;
        }
    }
    if counts[topic as usize] > 0 {
        return Ok(());
    }
    let mut found = None;
    let mut most = 0;
    for t in Table::ALL {
        if counts[t as usize] > most {
            most = counts[t as usize];
            found = Some(t);
        }
    }
    match found {
        Some(found) => Err(CleanError::OtherTable { found, topic }),
        None => Ok(()),
    }
}

/// Cleaned text: borrowed from the record, or owned when a scalar was written as text.
pub(crate) type Text<'a> = Option<Cow<'a, str>>;

/// A cleaned pin row, in [`Table::Pin`] column order.
#[derive(Debug, PartialEq)]
pub(crate) struct PinRow<'a> {
    pub ind: i64,
    pub unique_id: Text<'a>,
    pub title: Text<'a>,
    pub description: Text<'a>,
    pub follower_count: Option<i64>,
    pub poster_name: Text<'a>,
    pub tag_list: Text<'a>,
    pub is_image_or_video: Text<'a>,
    pub image_src: Text<'a>,
    pub save_location: Text<'a>,
    pub category: Text<'a>,
    pub downloaded: Option<bool>,
}

impl<'a> PinRow<'a> {
    /// Reads a pin record: key `index`, sentinels nulled, counts and flags converted.
    pub(crate) fn read(obj: &'a Object<'_>) -> Result<Self, CleanError> {
        let ind = fields::key(obj, "index")?;
        let save_location = match fields::text(obj, "save_location")? {
            Some(Cow::Borrowed(s)) => rules::save_location(s).map(Cow::Borrowed),
            other => other,
        };
        Ok(PinRow {
            ind,
            unique_id: fields::text(obj, "unique_id")?,
            title: fields::text(obj, "title")?,
            description: fields::text(obj, "description")?,
            follower_count: fields::follower_count(obj, "follower_count")?,
            poster_name: fields::text(obj, "poster_name")?,
            tag_list: fields::text(obj, "tag_list")?,
            is_image_or_video: fields::text(obj, "is_image_or_video")?,
            image_src: fields::text(obj, "image_src")?,
            save_location,
            category: fields::text(obj, "category")?,
            downloaded: fields::boolean(obj, "downloaded")?,
        })
    }
}

/// A cleaned geo row, in [`Table::Geo`] column order.
#[derive(Debug, PartialEq)]
pub(crate) struct GeoRow<'a> {
    pub ind: i64,
    pub country: Text<'a>,
    /// `[latitude, longitude]`.
    pub coordinates: Option<[f64; 2]>,
    pub timestamp: Option<i64>,
}

impl<'a> GeoRow<'a> {
    /// Reads a geo record: coordinates are null only when both are absent; one alone is rejected.
    pub(crate) fn read(obj: &'a Object<'_>) -> Result<Self, CleanError> {
        let ind = fields::key(obj, "ind")?;
        let country = fields::text(obj, "country")?;
        let coordinates = match (
            fields::float(obj, "latitude")?,
            fields::float(obj, "longitude")?,
        ) {
            (Some(lat), Some(lon)) => Some([lat, lon]),
            (None, None) => None,
            (None, Some(_)) => {
                return Err(CleanError::HalfCoordinates {
                    missing: "latitude",
                    given: "longitude",
                });
            }
            (Some(_), None) => {
                return Err(CleanError::HalfCoordinates {
                    missing: "longitude",
                    given: "latitude",
                });
            }
        };
        let timestamp = fields::timestamp(obj, "timestamp")?;
        Ok(GeoRow {
            ind,
            country,
            coordinates,
            timestamp,
        })
    }
}

/// A cleaned user row; `user_name` is made from the two name parts by [`UserRow::user_name`].
#[derive(Debug, PartialEq)]
pub(crate) struct UserRow<'a> {
    pub ind: i64,
    pub first_name: Text<'a>,
    pub last_name: Text<'a>,
    pub age: Option<i64>,
    pub date_joined: Option<i64>,
}

impl<'a> UserRow<'a> {
    /// Reads a user record.
    pub(crate) fn read(obj: &'a Object<'_>) -> Result<Self, CleanError> {
        Ok(UserRow {
            ind: fields::key(obj, "ind")?,
            first_name: fields::text(obj, "first_name")?,
            last_name: fields::text(obj, "last_name")?,
            age: fields::int(obj, "age")?,
            date_joined: fields::timestamp(obj, "date_joined")?,
        })
    }

    /// `first_name + " " + last_name`; one alone when the other is missing; `None` when both are.
    /// `buf` is scratch space, reused across rows so that joining allocates nothing.
    pub(crate) fn user_name<'s>(&'s self, buf: &'s mut String) -> Option<&'s str> {
        match (&self.first_name, &self.last_name) {
            (Some(first), Some(last)) => {
                buf.clear();
                buf.push_str(first);
                buf.push(' ');
                buf.push_str(last);
                Some(buf)
            }
            (Some(one), None) | (None, Some(one)) => Some(one),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{obj, reason};
    use serde_json::{Value, json};

    fn pin() -> Value {
        json!({
            "index": 7528, "unique_id": "fbe53c66-3442-4773-b19e-d3ec6f54dddf",
            "title": "No Title Data Available", "description": "No description available Story format",
            "poster_name": "User Info Error", "follower_count": "User Info Error",
            "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e", "is_image_or_video": "multi-video(story page format)",
            "image_src": "Image src error.", "downloaded": 0, "save_location": "Local save in /data/mens-fashion",
            "category": "mens-fashion"
        })
    }

    #[test]
    fn not_an_object_names_the_kind() {
        let parsed = |text| Record::parse(text).expect("JSON");
        assert_eq!(
            reason(object(&parsed("[1, 2]"))),
            "not a JSON object: got array"
        );
        assert_eq!(
            reason(object(&parsed("\"x\""))),
            "not a JSON object: got string"
        );
        assert_eq!(
            reason(object(&parsed("null"))),
            "not a JSON object: got null"
        );
        assert_eq!(
            reason(object(&parsed("3"))),
            "not a JSON object: got number"
        );
    }

    #[test]
    fn pin_in_user_topic_is_rejected() {
        let o = obj(pin());
        assert_eq!(
            reason(check_topic(Table::User, &o)),
            "pin record in user topic"
        );
        assert_eq!(
            reason(check_topic(Table::Geo, &o)),
            "pin record in geo topic"
        );
        assert_eq!(check_topic(Table::Pin, &o), Ok(()));
    }

    #[test]
    fn geo_in_user_topic_is_rejected() {
        let o = obj(
            json!({"ind": 1, "latitude": 1.0, "longitude": 2.0, "country": "Albania", "timestamp": "2020-01-01 00:00:00"}),
        );
        assert_eq!(
            reason(check_topic(Table::User, &o)),
            "geo record in user topic"
        );
    }

    #[test]
    fn user_in_pin_topic_is_rejected() {
        let o = obj(json!({"ind": 1, "first_name": "A", "age": 20}));
        assert_eq!(
            reason(check_topic(Table::Pin, &o)),
            "user record in pin topic"
        );
    }

    #[test]
    fn merged_schema_nulls_do_not_count_as_fields() {
        // A pin exported with the user table's merged schema: every user field present but null.
        let mut v = pin();
        for f in ["ind", "first_name", "last_name", "age", "date_joined"] {
            v[f] = Value::Null;
        }
        assert_eq!(
            reason(check_topic(Table::User, &obj(v))),
            "pin record in user topic"
        );
        // A user row exported with pin fields all null is a user row.
        let u = obj(
            json!({"ind": 1, "first_name": "A", "index": null, "title": null, "category": null}),
        );
        assert_eq!(check_topic(Table::User, &u), Ok(()));
    }

    #[test]
    fn own_field_keeps_record_despite_foreign_extras() {
        let o = obj(json!({"ind": 1, "first_name": "A", "country": "Albania", "latitude": 1.0}));
        assert_eq!(check_topic(Table::User, &o), Ok(()));
    }

    #[test]
    fn record_with_only_a_key_is_its_topics() {
        let o = obj(json!({"ind": 3}));
        for t in Table::ALL {
            assert_eq!(check_topic(t, &o), Ok(()));
        }
    }

    #[test]
    fn mixed_foreign_record_is_named_by_majority() {
        let o = obj(json!({"ind": 1, "first_name": "A", "latitude": 1.0, "longitude": 2.0}));
        assert_eq!(
            reason(check_topic(Table::Pin, &o)),
            "geo record in pin topic"
        );
        let tie = obj(json!({"ind": 1, "first_name": "A", "latitude": 1.0}));
        assert_eq!(
            reason(check_topic(Table::Pin, &tie)),
            "geo record in pin topic"
        );
    }

    #[test]
    fn pin_sentinels_are_nulled() {
        let o = obj(pin());
        let row = PinRow::read(&o).map_err(|e| e.to_string());
        let expected = PinRow {
            ind: 7528,
            unique_id: Some("fbe53c66-3442-4773-b19e-d3ec6f54dddf".into()),
            title: None,
            description: None,
            follower_count: None,
            poster_name: None,
            tag_list: None,
            is_image_or_video: Some("multi-video(story page format)".into()),
            image_src: None,
            save_location: Some("/data/mens-fashion".into()),
            category: Some("mens-fashion".into()),
            downloaded: Some(false),
        };
        assert_eq!(row, Ok(expected));
    }

    #[test]
    fn pin_short_description_sentinel_is_nulled() {
        let mut v = pin();
        v["description"] = json!("No description available");
        let o = obj(v);
        assert_eq!(PinRow::read(&o).ok().map(|r| r.description), Some(None));
    }

    #[test]
    fn pin_key_is_index_not_ind() {
        let mut v = pin();
        v["ind"] = v["index"].take();
        let o = obj(v);
        assert_eq!(reason(PinRow::read(&o)), "missing key \"index\"");
    }

    #[test]
    fn pin_save_location_other_values_kept() {
        let mut v = pin();
        v["save_location"] = json!("  /mnt/pins ");
        let o = obj(v);
        assert_eq!(
            PinRow::read(&o).ok().and_then(|r| r.save_location),
            Some("/mnt/pins".into())
        );
    }

    #[test]
    fn pin_first_bad_field_is_the_reason() {
        let mut v = pin();
        v["follower_count"] = json!("lots");
        v["downloaded"] = json!(7);
        let o = obj(v);
        assert_eq!(
            reason(PinRow::read(&o)),
            "unknown follower_count format: \"lots\""
        );
    }

    #[test]
    fn geo_coordinates_are_latitude_then_longitude() {
        let o = obj(
            json!({"ind": "5", "latitude": "-88.4642", "longitude": -171.061, "country": " Albania ",
                           "timestamp": "2022-05-27 11:30:59"}),
        );
        let row = GeoRow::read(&o).map_err(|e| e.to_string());
        let expected = GeoRow {
            ind: 5,
            country: Some("Albania".into()),
            coordinates: Some([-88.4642, -171.061]),
            timestamp: Some(1_653_651_059_000_000),
        };
        assert_eq!(row, Ok(expected));
    }

    #[test]
    fn geo_coordinates_null_when_both_absent() {
        let o = obj(json!({"ind": 5, "latitude": null, "country": "Albania"}));
        assert_eq!(GeoRow::read(&o).ok().map(|r| r.coordinates), Some(None));
    }

    #[test]
    fn geo_one_coordinate_missing_rejects() {
        let o = obj(json!({"ind": 5, "longitude": 1.0}));
        assert_eq!(
            reason(GeoRow::read(&o)),
            "missing latitude (longitude is given)"
        );
        let o = obj(json!({"ind": 5, "latitude": 1.0, "longitude": ""}));
        assert_eq!(
            reason(GeoRow::read(&o)),
            "missing longitude (latitude is given)"
        );
    }

    #[test]
    fn user_name_joins_trimmed_parts() {
        let o = obj(json!({"ind": 1, "first_name": "Jane ", "last_name": "\u{a0}Doe  "}));
        let row = UserRow::read(&o).ok();
        let mut buf = String::new();
        assert_eq!(
            row.as_ref().and_then(|r| r.user_name(&mut buf)),
            Some("Jane Doe")
        );
    }

    #[test]
    fn user_name_one_missing_is_the_other() {
        let mut buf = String::new();
        let o = obj(json!({"ind": 1, "first_name": "Jane", "last_name": null}));
        let row = UserRow::read(&o).ok();
        assert_eq!(
            row.as_ref().and_then(|r| r.user_name(&mut buf)),
            Some("Jane")
        );
        let o = obj(json!({"ind": 1, "first_name": " ", "last_name": "Doe"}));
        let row = UserRow::read(&o).ok();
        assert_eq!(
            row.as_ref().and_then(|r| r.user_name(&mut buf)),
            Some("Doe")
        );
    }

    #[test]
    fn user_name_both_missing_is_null() {
        let mut buf = String::new();
        let o = obj(json!({"ind": 1, "age": 20}));
        let row = UserRow::read(&o).ok();
        assert_eq!(
            row.as_ref().map(|r| r.user_name(&mut buf).is_none()),
            Some(true)
        );
    }

    #[test]
    fn user_age_string_and_wrong_kind() {
        let o = obj(json!({"ind": 1, "age": "20"}));
        assert_eq!(UserRow::read(&o).ok().and_then(|r| r.age), Some(20));
        let o = obj(json!({"ind": 1, "age": "abc"}));
        assert_eq!(
            reason(UserRow::read(&o)),
            "wrong kind for age: expected an integer, got \"abc\""
        );
    }
}
