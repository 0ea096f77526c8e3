//! [`CleanError`]: why a record could not be read as its table's row. Its text is the quarantine reason.

use crate::Table;
use crate::json::Json;

/// Why a record was rejected. The `Display` text is the `reason` column of the quarantine table:
/// human-readable, starting in lower case, and stable (tests and dashboards may match on it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CleanError {
    /// The text is not JSON (holds serde_json's message).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The JSON is valid but not an object; holds the kind found (`"array"`, `"string"`, …).
    #[error("not a JSON object: got {0}")]
    NotAnObject(&'static str),
    /// The record carries only another table's fields (e.g. a pin sent to the user topic).
    #[error("{found} record in {topic} topic")]
    OtherTable {
        /// The table whose fields the record has.
        found: Table,
        /// The table whose topic it arrived in.
        topic: Table,
    },
    /// The key field (`index` for pin, `ind` otherwise) is absent, null or blank.
    #[error("missing key \"{0}\"")]
    MissingKey(&'static str),
    /// The key field is present but not an integer.
    #[error("non-integer key \"{field}\": {value}")]
    NonIntegerKey {
        /// The key field.
        field: &'static str,
        /// The value found, as JSON text.
        value: String,
    },
    /// A field holds a value of a kind that cannot be converted to its column's type.
    #[error("wrong kind for {field}: expected {expected}, got {value}")]
    WrongKind {
        /// The field.
        field: &'static str,
        /// What the column accepts, e.g. `"an integer"`.
        expected: &'static str,
        /// The value found, as JSON text.
        value: String,
    },
    /// `follower_count` is neither a count (`437`, `12k`, `1.5M`) nor the sentinel.
    #[error("unknown follower_count format: {0}")]
    FollowerCountFormat(String),
    /// A datetime field is text but not a datetime in one of the accepted formats.
    #[error("unparseable datetime in {field}: {value}")]
    Datetime {
        /// The field.
        field: &'static str,
        /// The value found, as JSON text.
        value: String,
    },
    /// A geo record has one coordinate but not the other.
    #[error("missing {missing} ({given} is given)")]
    HalfCoordinates {
        /// The coordinate that is absent.
        missing: &'static str,
        /// The coordinate that is present.
        given: &'static str,
    },
    /// The record is longer than a reader keeps; only its first bytes are quarantined.
    #[error(
        "record of {size} bytes is over the limit of {limit} bytes (its first {kept} bytes are kept)"
    )]
    TooLarge {
        /// Its length in bytes.
        size: u64,
        /// The limit.
        limit: u64,
        /// How many of its first bytes are kept as its raw text.
        kept: usize,
    },
}

impl CleanError {
    /// Every [`kind`](CleanError::kind) of reason, for turning one read back as text (from another
    /// process) into its name.
    pub const KINDS: [&'static str; 10] = [
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

    /// The kind of reason, a short stable name for metrics and grouping (`invalid_json`,
    /// `not_an_object`, `other_table`, `missing_key`, `non_integer_key`, `wrong_kind`,
    /// `follower_count_format`, `datetime`, `half_coordinates`, `too_large`).
    pub fn kind(&self) -> &'static str {
        match self {
            CleanError::InvalidJson(_) => "invalid_json",
            CleanError::NotAnObject(_) => "not_an_object",
            CleanError::OtherTable { .. } => "other_table",
            CleanError::MissingKey(_) => "missing_key",
            CleanError::NonIntegerKey { .. } => "non_integer_key",
            CleanError::WrongKind { .. } => "wrong_kind",
            CleanError::FollowerCountFormat(_) => "follower_count_format",
            CleanError::Datetime { .. } => "datetime",
            CleanError::HalfCoordinates { .. } => "half_coordinates",
            CleanError::TooLarge { .. } => "too_large",
        }
    }
}

/// At most this many characters of a value are quoted in a reason (the raw record is kept whole).
const SHOWN_CHARS: usize = 80;

/// `value` as JSON text for a reason, cut to [`SHOWN_CHARS`] characters.
pub(crate) fn shown(value: &Json<'_>) -> String {
    let mut text = value.to_string();
    if let Some((cut, _)) = text.char_indices().nth(SHOWN_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reasons_start_lower_case() {
        let errors = [
            CleanError::InvalidJson("EOF".into()),
            CleanError::NotAnObject("array"),
            CleanError::OtherTable {
                found: Table::Pin,
                topic: Table::User,
            },
            CleanError::MissingKey("ind"),
            CleanError::NonIntegerKey {
                field: "ind",
                value: "5.5".into(),
            },
            CleanError::WrongKind {
                field: "age",
                expected: "an integer",
                value: "\"abc\"".into(),
            },
            CleanError::FollowerCountFormat("\"abc\"".into()),
            CleanError::Datetime {
                field: "timestamp",
                value: "\"x\"".into(),
            },
            CleanError::HalfCoordinates {
                missing: "latitude",
                given: "longitude",
            },
        ];
        for e in errors {
            assert!(CleanError::KINDS.contains(&e.kind()), "{}", e.kind());
            let reason = e.to_string();
            assert!(
                reason.starts_with(|c: char| c.is_ascii_lowercase()),
                "{reason}"
            );
        }
    }

    #[test]
    fn kinds_are_listed_once() {
        let too_large = CleanError::TooLarge {
            size: 2,
            limit: 1,
            kept: 1,
        };
        assert!(CleanError::KINDS.contains(&too_large.kind()));
        let mut kinds = CleanError::KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), CleanError::KINDS.len());
    }

    #[test]
    fn other_table_reason_names_both_tables() {
        let e = CleanError::OtherTable {
            found: Table::Pin,
            topic: Table::User,
        };
        assert_eq!(e.to_string(), "pin record in user topic");
    }

    #[test]
    fn shown_quotes_text_and_cuts_long_values() {
        let shown = |v: serde_json::Value| shown(&Json::from(v));
        assert_eq!(shown(json!("abc")), "\"abc\"");
        assert_eq!(shown(json!(5.5)), "5.5");
        let long = shown(json!("é".repeat(200)));
        assert_eq!(long.chars().count(), SHOWN_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
