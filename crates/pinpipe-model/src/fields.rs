//! Reading one field of a JSON object as a column value: text, integer, float, boolean, datetime,
//! follower count. Each reader applies SPEC §5's conversions and says why when it cannot.
//!
//! Common to all: an absent field and a JSON `null` are the same (exports that merge schemas write
//! every field as `null`), and text that is empty after trimming counts as absent too.

use std::borrow::Cow;

use crate::error::shown;
use crate::json::Json;
pub(crate) use crate::json::Object;
use crate::{CleanError, datetime, rules};

/// The value of `field`, or `None` when it is absent or JSON `null`.
pub(crate) fn present<'a>(obj: &'a Object<'_>, field: &str) -> Option<&'a Json<'a>> {
    obj.get(field).filter(|v| !v.is_null())
}

/// `field` as cleaned text: trimmed, `None` when empty or a [`rules::SENTINELS`] value.
///
/// A JSON number or boolean is taken as its JSON text (`20` → `"20"`), as Spark reads a scalar into a
/// string column; an array or object is a [`CleanError::WrongKind`].
pub(crate) fn text<'a>(
    obj: &'a Object<'_>,
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, CleanError> {
    match present(obj, field) {
        None => Ok(None),
        Some(Json::Str(s)) => Ok(rules::clean_text(s)
            .filter(|t| !rules::is_sentinel(field, t))
            .map(Cow::Borrowed)),
        Some(v @ (Json::Number(_) | Json::Bool(_))) => Ok(Some(Cow::Owned(v.to_string()))),
        Some(v) => Err(wrong_kind(field, "text", v)),
    }
}

/// The key `field` (`index` or `ind`): required, an integer or an integer string.
pub(crate) fn key(obj: &Object<'_>, field: &'static str) -> Result<i64, CleanError> {
    let value = present(obj, field).ok_or(CleanError::MissingKey(field))?;
    match integer(value) {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(CleanError::MissingKey(field)),
        Err(NotInteger) => Err(CleanError::NonIntegerKey {
            field,
            value: shown(value),
        }),
    }
}

/// `field` as an integer: a JSON integer (or integral number such as `20.0`), or an integer string
/// (`"20"`, `"-3"`, `"+3"`).
pub(crate) fn int(obj: &Object<'_>, field: &'static str) -> Result<Option<i64>, CleanError> {
    match present(obj, field) {
        None => Ok(None),
        Some(v) => integer(v).map_err(|NotInteger| wrong_kind(field, "an integer", v)),
    }
}

/// `field` as a finite float: a JSON number or a numeric string (`"-12.5"`).
pub(crate) fn float(obj: &Object<'_>, field: &'static str) -> Result<Option<f64>, CleanError> {
    let Some(v) = present(obj, field) else {
        return Ok(None);
    };
    let parsed = match v {
        Json::Number(n) => n.as_f64(),
        Json::Str(s) => match rules::clean_text(s) {
            None => return Ok(None),
            Some(t) => t.parse::<f64>().ok(),
        },
        _ => None,
    };
    parsed
        .filter(|x| x.is_finite())
        .map(Some)
        .ok_or_else(|| wrong_kind(field, "a number", v))
}

/// `field` as a boolean: `0`/`1`, `"0"`/`"1"`, `true`/`false`, `"true"`/`"false"` (any case).
pub(crate) fn boolean(obj: &Object<'_>, field: &'static str) -> Result<Option<bool>, CleanError> {
    let Some(v) = present(obj, field) else {
        return Ok(None);
    };
    let parsed = match v {
        Json::Bool(b) => Some(*b),
        Json::Number(_) => match integer(v) {
            Ok(Some(0)) => Some(false),
            Ok(Some(1)) => Some(true),
            _ => None,
        },
        Json::Str(s) => match rules::clean_text(s) {
            None => return Ok(None),
            Some("0") => Some(false),
            Some("1") => Some(true),
            Some(t) if t.eq_ignore_ascii_case("false") => Some(false),
            Some(t) if t.eq_ignore_ascii_case("true") => Some(true),
            Some(_) => None,
        },
        _ => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| wrong_kind(field, "0 or 1", v))
}

/// `field` as a UTC instant in microseconds (formats: [`datetime::parse_utc_micros`]).
pub(crate) fn timestamp(obj: &Object<'_>, field: &'static str) -> Result<Option<i64>, CleanError> {
    match present(obj, field) {
        None => Ok(None),
        Some(v @ Json::Str(s)) => match rules::clean_text(s) {
            None => Ok(None),
            Some(t) => {
                datetime::parse_utc_micros(t)
                    .map(Some)
                    .ok_or_else(|| CleanError::Datetime {
                        field,
                        value: shown(v),
                    })
            }
        },
        Some(v) => Err(wrong_kind(field, "a datetime string", v)),
    }
}

/// `field` as a follower count ([`rules::parse_follower_count`]); its sentinel is `None`.
/// A non-negative JSON integer is taken as it is.
pub(crate) fn follower_count(
    obj: &Object<'_>,
    field: &'static str,
) -> Result<Option<i64>, CleanError> {
    let Some(v) = present(obj, field) else {
        return Ok(None);
    };
    let parsed = match v {
        Json::Str(s) => match rules::clean_text(s) {
            None => return Ok(None),
            Some(t) if rules::is_sentinel(field, t) => return Ok(None),
            Some(t) => rules::parse_follower_count(t),
        },
        Json::Number(_) => integer(v).ok().flatten().filter(|&n| n >= 0),
        _ => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| CleanError::FollowerCountFormat(shown(v)))
}

/// A value that is not an integer.
struct NotInteger;

/// `v` as an integer; `Ok(None)` for a blank string.
fn integer(v: &Json<'_>) -> Result<Option<i64>, NotInteger> {
    match v {
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            // Integral floats (`20.0`) within range; `u64`s beyond `i64::MAX` and fractions are not.
            match n.as_f64() {
                Some(f)
                    if n.is_f64()
                        && f.fract() == 0.0
                        && f >= -(2f64.powi(63))
                        && f < 2f64.powi(63) =>
                {
                    // In range and integral, so the cast is exact.
                    Ok(Some(f as i64))
                }
                _ => Err(NotInteger),
            }
        }
        Json::Str(s) => match rules::clean_text(s) {
            None => Ok(None),
            Some(t) => t.parse::<i64>().map(Some).map_err(|_| NotInteger),
        },
        _ => Err(NotInteger),
    }
}

fn wrong_kind(field: &'static str, expected: &'static str, value: &Json<'_>) -> CleanError {
    CleanError::WrongKind {
        field,
        expected,
        value: shown(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{obj, reason};
    use serde_json::json;

    #[test]
    fn null_counts_as_absent() {
        let o = obj(
            json!({"title": null, "age": null, "ind": null, "downloaded": null, "timestamp": null,
                           "latitude": null, "follower_count": null}),
        );
        assert_eq!(text(&o, "title"), Ok(None));
        assert_eq!(int(&o, "age"), Ok(None));
        assert_eq!(boolean(&o, "downloaded"), Ok(None));
        assert_eq!(timestamp(&o, "timestamp"), Ok(None));
        assert_eq!(float(&o, "latitude"), Ok(None));
        assert_eq!(follower_count(&o, "follower_count"), Ok(None));
        assert_eq!(key(&o, "ind"), Err(CleanError::MissingKey("ind")));
    }

    #[test]
    fn text_trims_and_nulls_empty() {
        let o = obj(json!({"a": "  x y \u{a0}", "b": "", "c": " \u{a0} "}));
        assert_eq!(text(&o, "a"), Ok(Some(Cow::Borrowed("x y"))));
        assert_eq!(text(&o, "b"), Ok(None));
        assert_eq!(text(&o, "c"), Ok(None));
    }

    #[test]
    fn text_nulls_sentinels_after_trimming() {
        let o = obj(
            json!({"description": "No description available\u{a0}", "title": "No description available"}),
        );
        assert_eq!(text(&o, "description"), Ok(None));
        assert_eq!(
            text(&o, "title"),
            Ok(Some(Cow::Borrowed("No description available")))
        );
    }

    #[test]
    fn text_stringifies_scalars_and_rejects_containers() {
        let o = obj(json!({"n": 20, "f": 1.5, "b": true, "a": ["x"], "o": {"x": 1}}));
        assert_eq!(text(&o, "n"), Ok(Some(Cow::Owned("20".into()))));
        assert_eq!(text(&o, "f"), Ok(Some(Cow::Owned("1.5".into()))));
        assert_eq!(text(&o, "b"), Ok(Some(Cow::Owned("true".into()))));
        assert_eq!(
            reason(text(&o, "a")),
            "wrong kind for a: expected text, got [\"x\"]"
        );
        assert_eq!(
            reason(text(&o, "o")),
            "wrong kind for o: expected text, got {\"x\":1}"
        );
    }

    #[test]
    fn key_accepts_integer_and_integer_string() {
        let o = obj(json!({"a": 5, "b": "5", "c": " 7 ", "d": 5.0, "e": -1}));
        assert_eq!(key(&o, "a"), Ok(5));
        assert_eq!(key(&o, "b"), Ok(5));
        assert_eq!(key(&o, "c"), Ok(7));
        assert_eq!(key(&o, "d"), Ok(5));
        assert_eq!(key(&o, "e"), Ok(-1));
    }

    #[test]
    fn key_rejects_fraction_and_other_kinds() {
        let o = obj(
            json!({"a": 5.5, "b": "five", "c": true, "d": [5], "e": "5.0", "f": 18446744073709551615_u64}),
        );
        assert_eq!(reason(key(&o, "a")), "non-integer key \"a\": 5.5");
        assert_eq!(reason(key(&o, "b")), "non-integer key \"b\": \"five\"");
        assert_eq!(reason(key(&o, "c")), "non-integer key \"c\": true");
        assert_eq!(reason(key(&o, "d")), "non-integer key \"d\": [5]");
        assert_eq!(reason(key(&o, "e")), "non-integer key \"e\": \"5.0\"");
        assert_eq!(
            reason(key(&o, "f")),
            "non-integer key \"f\": 18446744073709551615"
        );
    }

    #[test]
    fn key_missing_or_blank() {
        let o = obj(json!({"blank": "  "}));
        assert_eq!(reason(key(&o, "ind")), "missing key \"ind\"");
        assert_eq!(reason(key(&o, "blank")), "missing key \"blank\"");
    }

    #[test]
    fn int_accepts_numeric_strings() {
        let o = obj(json!({"age": "20", "n": 20, "blank": ""}));
        assert_eq!(int(&o, "age"), Ok(Some(20)));
        assert_eq!(int(&o, "n"), Ok(Some(20)));
        assert_eq!(int(&o, "blank"), Ok(None));
    }

    #[test]
    fn int_rejects_wrong_kind() {
        let o = obj(json!({"age": "abc", "b": false, "f": 20.5, "big": 1e300}));
        assert_eq!(
            reason(int(&o, "age")),
            "wrong kind for age: expected an integer, got \"abc\""
        );
        assert_eq!(
            reason(int(&o, "b")),
            "wrong kind for b: expected an integer, got false"
        );
        assert_eq!(
            reason(int(&o, "f")),
            "wrong kind for f: expected an integer, got 20.5"
        );
        assert!(int(&o, "big").is_err());
    }

    #[test]
    fn float_accepts_numbers_and_numeric_strings() {
        let o = obj(json!({"a": -12.5, "b": "-12.5", "c": 3, "d": " 1e2 "}));
        assert_eq!(float(&o, "a"), Ok(Some(-12.5)));
        assert_eq!(float(&o, "b"), Ok(Some(-12.5)));
        assert_eq!(float(&o, "c"), Ok(Some(3.0)));
        assert_eq!(float(&o, "d"), Ok(Some(100.0)));
    }

    #[test]
    fn float_rejects_non_numbers_and_non_finite() {
        let o = obj(json!({"a": "north", "b": "NaN", "c": "inf", "d": true}));
        assert_eq!(
            reason(float(&o, "a")),
            "wrong kind for a: expected a number, got \"north\""
        );
        assert!(float(&o, "b").is_err());
        assert!(float(&o, "c").is_err());
        assert!(float(&o, "d").is_err());
    }

    #[test]
    fn boolean_accepts_zero_one_and_true_false() {
        let o = obj(json!({"a": 0, "b": 1, "c": "0", "d": "1", "e": true, "f": "FALSE", "g": 1.0}));
        assert_eq!(boolean(&o, "a"), Ok(Some(false)));
        assert_eq!(boolean(&o, "b"), Ok(Some(true)));
        assert_eq!(boolean(&o, "c"), Ok(Some(false)));
        assert_eq!(boolean(&o, "d"), Ok(Some(true)));
        assert_eq!(boolean(&o, "e"), Ok(Some(true)));
        assert_eq!(boolean(&o, "f"), Ok(Some(false)));
        assert_eq!(boolean(&o, "g"), Ok(Some(true)));
    }

    #[test]
    fn boolean_rejects_other_values() {
        let o = obj(json!({"downloaded": 7, "s": "yes", "n": -1, "a": [1]}));
        assert_eq!(
            reason(boolean(&o, "downloaded")),
            "wrong kind for downloaded: expected 0 or 1, got 7"
        );
        assert!(boolean(&o, "s").is_err());
        assert!(boolean(&o, "n").is_err());
        assert!(boolean(&o, "a").is_err());
    }

    #[test]
    fn timestamp_reads_trimmed_text() {
        let o = obj(json!({"t": " 1970-01-01 00:00:01\u{a0}", "blank": ""}));
        assert_eq!(timestamp(&o, "t"), Ok(Some(1_000_000)));
        assert_eq!(timestamp(&o, "blank"), Ok(None));
    }

    #[test]
    fn timestamp_unparseable_names_field_and_value() {
        let o = obj(json!({"date_joined": "2020-13-01 00:00:00", "n": 1_600_000_000}));
        assert_eq!(
            reason(timestamp(&o, "date_joined")),
            "unparseable datetime in date_joined: \"2020-13-01 00:00:00\""
        );
        assert_eq!(
            reason(timestamp(&o, "n")),
            "wrong kind for n: expected a datetime string, got 1600000000"
        );
    }

    #[test]
    fn follower_count_reads_text_and_integers() {
        let o = obj(json!({"a": "1.5k", "b": "437", "c": "12M", "d": 250, "e": " 5k\u{a0}"}));
        assert_eq!(follower_count(&o, "a"), Ok(Some(1_500)));
        assert_eq!(follower_count(&o, "b"), Ok(Some(437)));
        assert_eq!(follower_count(&o, "c"), Ok(Some(12_000_000)));
        assert_eq!(follower_count(&o, "d"), Ok(Some(250)));
        assert_eq!(follower_count(&o, "e"), Ok(Some(5_000)));
    }

    #[test]
    fn follower_count_sentinel_is_null() {
        let o = obj(json!({"follower_count": "User Info Error"}));
        assert_eq!(follower_count(&o, "follower_count"), Ok(None));
    }

    #[test]
    fn follower_count_unknown_format_rejects() {
        let o = obj(json!({"a": "abc", "b": "12x", "c": "1.5", "d": -3, "e": 2.5, "f": true}));
        assert_eq!(
            reason(follower_count(&o, "a")),
            "unknown follower_count format: \"abc\""
        );
        assert_eq!(
            reason(follower_count(&o, "b")),
            "unknown follower_count format: \"12x\""
        );
        assert_eq!(
            reason(follower_count(&o, "c")),
            "unknown follower_count format: \"1.5\""
        );
        assert_eq!(
            reason(follower_count(&o, "d")),
            "unknown follower_count format: -3"
        );
        assert_eq!(
            reason(follower_count(&o, "e")),
            "unknown follower_count format: 2.5"
        );
        assert_eq!(
            reason(follower_count(&o, "f")),
            "unknown follower_count format: true"
        );
    }
}
