//! Reading the datetimes of SPEC §5 as UTC instants (microseconds since the epoch), without regexes.

use chrono::NaiveDate;

/// Microseconds per second.
const MICROS: i64 = 1_000_000;

/// A datetime as microseconds since 1970-01-01 00:00:00 UTC.
///
/// Accepts `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`, then optional fractional seconds
/// (`.` and 1 to 9 digits; digits beyond microseconds are truncated), then an optional zone: `Z`, or an
/// offset `+HH:MM`, `-HH:MM`, `+HHMM`, `-HHMM`. Without a zone the time is UTC. An offset is converted
/// to UTC, which may move the instant into another day or year. `T` and `Z` may be lower case.
/// `None` for anything else, including impossible dates and times (`2021-02-29`, `24:00:00`) and
/// surrounding white space (trim first).
pub fn parse_utc_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = number(&b[0..4])?;
    let month = number(&b[5..7])?;
    let day = number(&b[8..10])?;
    let hour = number(&b[11..13])?;
    let minute = number(&b[14..16])?;
    let second = number(&b[17..19])?;

    let mut rest = &b[19..];
    let mut micros = 0;
    if let Some(after_dot) = rest.strip_prefix(b".") {
        let len = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&len) {
            return None;
        }
        let kept = &after_dot[..len.min(6)];
        micros = number(kept)? * 10_u32.pow(6 - u32::try_from(kept.len()).ok()?);
        rest = &after_dot[len..];
    }
    let offset_seconds = offset(rest)?;

    let local = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?
        .and_hms_micro_opt(hour, minute, second, micros)?;
    local
        .and_utc()
        .timestamp_micros()
        .checked_sub(i64::from(offset_seconds) * MICROS)
}

/// The value of an all-ASCII-digit slice (non-empty, at most 9 digits).
fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0_u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// The zone suffix as seconds east of UTC: empty or `Z` is 0; `±HH:MM` or `±HHMM`.
fn offset(zone: &[u8]) -> Option<i32> {
    let (sign, hhmm) = match zone {
        [] | [b'Z' | b'z'] => return Some(0),
        [b'+', rest @ ..] => (1, rest),
        [b'-', rest @ ..] => (-1, rest),
        _ => return None,
    };
    let (hours, minutes) = match hhmm {
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (number(&[*h1, *h2])?, number(&[*m1, *m2])?),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * i32::try_from(hours * 3600 + minutes * 60).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    /// `s` (RFC 3339) as epoch microseconds, via chrono, to compare against.
    fn at(s: &str) -> i64 {
        match DateTime::parse_from_rfc3339(s) {
            Ok(t) => t.with_timezone(&Utc).timestamp_micros(),
            Err(e) => panic!("bad test datetime {s}: {e}"),
        }
    }

    #[test]
    fn space_separated() {
        assert_eq!(
            parse_utc_micros("2017-10-20 12:34:56"),
            Some(at("2017-10-20T12:34:56Z"))
        );
        assert_eq!(parse_utc_micros("1970-01-01 00:00:00"), Some(0));
    }

    #[test]
    fn t_separated() {
        assert_eq!(
            parse_utc_micros("2017-05-12T21:22:17"),
            Some(at("2017-05-12T21:22:17Z"))
        );
        assert_eq!(
            parse_utc_micros("2017-05-12t21:22:17"),
            Some(at("2017-05-12T21:22:17Z"))
        );
    }

    #[test]
    fn fractional_seconds_keep_microseconds() {
        let base = at("2020-01-01T00:00:00Z");
        assert_eq!(
            parse_utc_micros("2020-01-01 00:00:00.5"),
            Some(base + 500_000)
        );
        assert_eq!(
            parse_utc_micros("2020-01-01T00:00:00.123456"),
            Some(base + 123_456)
        );
        // Nanoseconds are truncated to microseconds.
        assert_eq!(
            parse_utc_micros("2020-01-01T00:00:00.123456789"),
            Some(base + 123_456)
        );
        assert_eq!(
            parse_utc_micros("2020-01-01T00:00:00.000001Z"),
            Some(base + 1)
        );
    }

    #[test]
    fn zulu_is_utc() {
        assert_eq!(
            parse_utc_micros("2020-06-01T10:00:00Z"),
            parse_utc_micros("2020-06-01 10:00:00")
        );
        assert_eq!(
            parse_utc_micros("2020-06-01T10:00:00z"),
            parse_utc_micros("2020-06-01 10:00:00")
        );
    }

    #[test]
    fn offsets_convert_to_utc() {
        let utc = parse_utc_micros("2020-06-01T08:30:00");
        assert_eq!(parse_utc_micros("2020-06-01T10:00:00+01:30"), utc);
        assert_eq!(parse_utc_micros("2020-06-01T10:00:00+0130"), utc);
        assert_eq!(parse_utc_micros("2020-06-01T05:00:00-03:30"), utc);
        assert_eq!(parse_utc_micros("2020-06-01 05:00:00.000-0330"), utc);
        assert_eq!(parse_utc_micros("2020-06-01T08:30:00-00:00"), utc);
    }

    #[test]
    fn offset_crosses_year_boundary() {
        assert_eq!(
            parse_utc_micros("2020-12-31T23:30:00-01:00"),
            Some(at("2021-01-01T00:30:00Z"))
        );
        assert_eq!(
            parse_utc_micros("2021-01-01 00:15:00+02:00"),
            Some(at("2020-12-31T22:15:00Z"))
        );
    }

    #[test]
    fn before_epoch_is_negative() {
        assert_eq!(parse_utc_micros("1969-12-31 23:59:59"), Some(-MICROS));
    }

    #[test]
    fn malformed_datetimes_are_none() {
        for s in [
            "",
            "2020-01-01",
            "2020-01-01 00:00",
            "2020/01/01 00:00:00",
            "2020-01-01_00:00:00",
            "20-01-01 00:00:00",
            "2020-1-01 00:00:00",
            "2020-13-01 00:00:00",
            "2021-02-29 00:00:00",
            "2020-01-01 24:00:00",
            "2020-01-01 00:60:00",
            "2020-01-01 00:00:60",
            "2020-01-01 00:00:00.",
            "2020-01-01 00:00:00.1234567890",
            "2020-01-01 00:00:00 ",
            " 2020-01-01 00:00:00",
            "2020-01-01 00:00:00+1",
            "2020-01-01 00:00:00+01",
            "2020-01-01 00:00:00+24:00",
            "2020-01-01 00:00:00+01:60",
            "2020-01-01 00:00:00+01:00Z",
            "2020-01-01 00:00:00 UTC",
            "+020-01-01 00:00:00",
            "2020-01-01 0a:00:00",
            "2020-01-01 00:00:00.5x",
            "２０２０-01-01 00:00:00",
        ] {
            assert_eq!(parse_utc_micros(s), None, "{s:?}");
        }
    }
}
