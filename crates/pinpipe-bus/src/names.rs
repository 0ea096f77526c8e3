//! Topic and stream name rules: Kafka's and Kinesis's, so a name is never a path.

use crate::BusError;

/// Kafka's longest topic name.
const MAX_TOPIC_NAME: usize = 249;
/// Kinesis's longest stream name.
const MAX_STREAM_NAME: usize = 128;

/// Checks a topic name against Kafka's rules: `[A-Za-z0-9._-]`, 1 to 249 characters, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), BusError> {
    validate(name, MAX_TOPIC_NAME)
}

/// Checks a stream name against Kinesis's rules: `[A-Za-z0-9._-]`, 1 to 128 characters.
pub fn validate_stream_name(name: &str) -> Result<(), BusError> {
    validate(name, MAX_STREAM_NAME)
}

fn validate(name: &str, max_len: usize) -> Result<(), BusError> {
    let invalid = |reason| {
        Err(BusError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("empty");
    }
    if name.len() > max_len {
        return invalid("too long");
    }
    if name == "." || name == ".." {
        return invalid("'.' and '..' are not allowed");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return invalid("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kafka_style_names() {
        for name in ["pinpipe.pin", "a", "0e1_x-y.z", &"x".repeat(249)] {
            assert!(validate_topic_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_paths_and_odd_characters() {
        for name in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a b",
            "ü",
            "a\0",
            &"x".repeat(250),
        ] {
            assert!(validate_topic_name(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn stream_names_are_shorter() {
        assert!(validate_stream_name(&"s".repeat(128)).is_ok());
        assert!(validate_stream_name(&"s".repeat(129)).is_err());
    }
}
