//! One raw record parsed the way the cleaners read it: its top-level object's fields in one
//! vector, their text borrowed from the line wherever it has no escapes.
//!
//! serde_json's `Value` copies every key and string and sorts the keys in a `BTreeMap`; for a
//! record of a dozen fields that is read once and thrown away, that was the largest cost of the
//! batch job's cleaning (the profile in the README's performance section). [`Record`] keeps what
//! `Value` means — the same numbers, the last of duplicate keys wins, nested arrays and objects as
//! `Value`s (they are only ever shown in a reason) — without the copies.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A field's value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    /// Text, borrowed from the record unless it had escapes.
    Str(Cow<'a, str>),
    /// An array or an object.
    Nested(Value),
}

impl Json<'_> {
    /// Whether this is JSON `null`.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

/// Its compact JSON text, as `Value`'s `Display` writes it.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) => write!(f, "{n}"),
            Json::Str(s) => write!(f, "{}", Value::from(s.as_ref())),
            Json::Nested(v) => write!(f, "{v}"),
        }
    }
}

/// A record's top-level object: its fields in order, duplicates included.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Object<'a> {
    fields: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// The value of `name`: the last one when the key is repeated, as JSON parsers keep.
    pub(crate) fn get(&self, name: &str) -> Option<&Json<'a>> {
        self.fields
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Each key once, with its value (the last one when repeated).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.fields
            .iter()
            .enumerate()
            .filter(|(i, (key, _))| !self.fields[i + 1..].iter().any(|(k, _)| k == key))
            .map(|(_, (key, value))| (key.as_ref(), value))
    }
}

impl<'a> From<serde_json::Map<String, Value>> for Object<'a> {
    fn from(map: serde_json::Map<String, Value>) -> Self {
        Object {
            fields: map
                .into_iter()
                .map(|(key, value)| (Cow::Owned(key), Json::from(value)))
                .collect(),
        }
    }
}

impl From<Value> for Json<'_> {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::Str(Cow::Owned(s)),
            nested => Json::Nested(nested),
        }
    }
}

/// A parsed record: an object, or the kind of JSON value it is instead.
#[derive(Debug, PartialEq)]
pub(crate) enum Record<'a> {
    Object(Object<'a>),
    Other(&'static str),
}

impl<'a> Record<'a> {
    /// Parses one record (the whole text: trailing characters are an error, as for `Value`).
    pub(crate) fn parse(text: &'a str) -> Result<Record<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl<'de> Deserialize<'de> for Record<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(Key(key)) = map.next_key()? {
            fields.push((key, map.next_value()?));
        }
        Ok(Record::Object(Object { fields }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Record::Other("array"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Record::Other("boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Record::Other("number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Record::Other("number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Record::Other("number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Record::Other("string"))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Record::Other("null"))
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor).map(Key)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        // JSON text has no NaN or infinity, so this is never `Null`.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Json::Nested)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Json::Nested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Object<'_> {
        match Record::parse(text) {
            Ok(Record::Object(o)) => o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_text_is_borrowed_and_escaped_text_decoded() {
        let o = object(r#"{"a": "plain", "b": "tab\there", "c\u0041": 1}"#);
        assert!(matches!(
            o.get("a"),
            Some(Json::Str(Cow::Borrowed("plain")))
        ));
        assert_eq!(o.get("b"), Some(&Json::Str("tab\there".into())));
        assert_eq!(o.get("cA"), Some(&Json::Number(1.into())));
    }

    #[test]
    fn values_mean_what_serde_json_values_mean() {
        let text = r#"{"n": -3, "u": 18446744073709551615, "f": 1.5e3, "t": true, "z": null,
                       "s": "é\"", "a": [1, {"x": 2}], "o": {"k": [null]}}"#;
        let value: Value = serde_json::from_str(text).expect("value");
        let o = object(text);
        for (key, expected) in value.as_object().expect("object") {
            let got = o.get(key).expect("field");
            assert_eq!(got, &Json::from(expected.clone()), "{key}");
            assert_eq!(got.to_string(), expected.to_string(), "{key}");
        }
    }

    #[test]
    fn the_last_of_repeated_keys_wins_and_is_listed_once() {
        let o = object(r#"{"a": 1, "b": 2, "a": 3}"#);
        assert_eq!(o.get("a"), Some(&Json::Number(3.into())));
        let keys: Vec<(&str, String)> = o.iter().map(|(k, v)| (k, v.to_string())).collect();
        assert_eq!(keys, [("b", "2".to_owned()), ("a", "3".to_owned())]);
    }

    #[test]
    fn other_values_are_told_by_kind_and_bad_json_is_an_error() {
        for (text, kind) in [
            ("[1, 2]", "array"),
            ("\"x\"", "string"),
            ("3", "number"),
            ("-3.5", "number"),
            ("true", "boolean"),
            ("null", "null"),
        ] {
            assert_eq!(
                Record::parse(text).ok(),
                Some(Record::Other(kind)),
                "{text}"
            );
        }
        for bad in ["", "{\"a\": 1", "{\"a\": 1} x", "[1,]", "{\"a\" 1}"] {
            assert!(Record::parse(bad).is_err(), "{bad:?}");
        }
    }
}
