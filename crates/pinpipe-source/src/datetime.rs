//! Datetimes as the source tables hold them and the emulator sends them: `YYYY-MM-DD HH:MM:SS`, UTC,
//! whole seconds (MySQL `DATETIME`, SPEC §2).

use chrono::DateTime;

/// The one format datetimes are stored and sent in.
pub(crate) const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// `secs` since 1970-01-01 00:00:00 UTC as `YYYY-MM-DD HH:MM:SS`; `None` outside chrono's range.
pub(crate) fn from_unix_seconds(secs: i64) -> Option<String> {
    DateTime::from_timestamp(secs, 0).map(|t| t.format(FORMAT).to_string())
}

/// Any datetime SPEC §5 accepts (`T` or space, fractional seconds, `Z` or an offset) in the canonical
/// form; fractional seconds are dropped, an offset is converted to UTC. `None` if `s` is not one.
pub(crate) fn canonical(s: &str) -> Option<String> {
    let micros = pinpipe_model::parse_utc_micros(s.trim())?;
    from_unix_seconds(micros.div_euclid(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let c = |s: &str| canonical(s);
        assert_eq!(
            c("2017-05-12T21:22:17").as_deref(),
            Some("2017-05-12 21:22:17")
        );
        assert_eq!(
            c("2017-05-12 21:22:17").as_deref(),
            Some("2017-05-12 21:22:17")
        );
        assert_eq!(
            c("2017-05-12T21:22:17.999Z").as_deref(),
            Some("2017-05-12 21:22:17")
        );
        assert_eq!(
            c("2017-05-12T23:22:17+02:00").as_deref(),
            Some("2017-05-12 21:22:17")
        );
        assert_eq!(
            c("1969-12-31T23:59:59.5Z").as_deref(),
            Some("1969-12-31 23:59:59")
        );
        assert_eq!(c("yesterday"), None);
        assert_eq!(c("2021-02-29 00:00:00"), None);
    }

    #[test]
    fn unix_seconds() {
        assert_eq!(from_unix_seconds(0).as_deref(), Some("1970-01-01 00:00:00"));
        assert_eq!(
            from_unix_seconds(1_508_457_600).as_deref(),
            Some("2017-10-20 00:00:00")
        );
    }
}
