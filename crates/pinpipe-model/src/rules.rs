//! The text rules of SPEC §5 as data and pure functions: white space, sentinels, follower counts,
//! save locations. They work on `&str` and never allocate.

/// Placeholder values the original scraper wrote when it could not read a field; a field holding
/// one of them (after trimming) is null in the cleaned pin table. Each entry is `(field, value)`.
///
/// The list is data, not code: add an entry here and [`is_sentinel`] honours it everywhere.
pub const SENTINELS: &[(&str, &str)] = &[
    ("title", "No Title Data Available"),
    ("description", "No description available Story format"),
    ("description", "No description available"),
    ("poster_name", "User Info Error"),
    ("follower_count", "User Info Error"),
    ("tag_list", "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"),
    ("image_src", "Image src error."),
];

/// The prefix the original puts before every `save_location` path; the cleaned column drops it.
pub const SAVE_LOCATION_PREFIX: &str = "Local save in ";

/// Whether `value` (already trimmed) is a [`SENTINELS`] placeholder for `field`.
pub fn is_sentinel(field: &str, value: &str) -> bool {
    SENTINELS.iter().any(|&(f, v)| f == field && v == value)
}

/// `s` without leading and trailing Unicode white space (U+00A0 included); `None` if nothing is left.
pub(crate) fn clean_text(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

/// A cleaned save location (`"Local save in /data/art"` → `"/data/art"`); other values are kept.
/// `s` is already trimmed; `None` if nothing is left.
pub(crate) fn save_location(s: &str) -> Option<&str> {
    clean_text(s.strip_prefix(SAVE_LOCATION_PREFIX).unwrap_or(s))
}

/// At most this many fractional digits are read in a follower count (`"1.25k"` has 2).
const MAX_FRACTION_DIGITS: u32 = 18;

/// A follower count as Pinterest shows it, as a number: plain digits (`"437"`), or digits with an
/// optional decimal part followed by `k` (×1,000) or `M` (×1,000,000) (`"12k"`, `"1.5M"`), rounded to
/// the nearest integer (halves away from zero). Suffixes are case-insensitive.
///
/// `None` for anything else, including a plain decimal (`"1.5"` is not a number of followers), a sign,
/// separators, white space (trim first) and values beyond `i64`. The `"User Info Error"` sentinel is
/// also `None` here; the cleaner nulls it before calling this.
pub fn parse_follower_count(s: &str) -> Option<i64> {
    let (number, multiplier) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1_000),
        b'm' | b'M' => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some(_) if multiplier == 1 => return None,
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return None,
        None => (number, ""),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) {
        return None;
    }
    let whole: i128 = whole.parse::<i64>().ok()?.into();
    let mut total = whole.checked_mul(multiplier)?;
    if !fraction.is_empty() {
        let places = u32::try_from(fraction.len())
            .ok()
            .filter(|&p| p <= MAX_FRACTION_DIGITS)?;
        let scale = 10_i128.pow(places);
        let fraction: i128 = fraction.parse::<i64>().ok()?.into();
        total += (fraction * multiplier + scale / 2) / scale;
    }
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_match_exact_field_and_value() {
        assert!(is_sentinel("title", "No Title Data Available"));
        assert!(is_sentinel(
            "description",
            "No description available Story format"
        ));
        assert!(is_sentinel("description", "No description available"));
        assert!(is_sentinel("poster_name", "User Info Error"));
        assert!(is_sentinel("follower_count", "User Info Error"));
        assert!(is_sentinel("tag_list", "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"));
        assert!(is_sentinel("image_src", "Image src error."));
        // Only for its own field, and only the whole value.
        assert!(!is_sentinel("title", "User Info Error"));
        assert!(!is_sentinel(
            "description",
            "No description available at all"
        ));
        assert!(!is_sentinel("image_src", "image src error."));
    }

    #[test]
    fn clean_text_trims_unicode_white_space() {
        assert_eq!(clean_text("  Jane\u{a0}"), Some("Jane"));
        assert_eq!(clean_text("\u{2003}x\n\t"), Some("x"));
        assert_eq!(clean_text("a b"), Some("a b"));
    }

    #[test]
    fn clean_text_empty_is_none() {
        assert_eq!(clean_text(""), None);
        assert_eq!(clean_text(" \u{a0}\n"), None);
    }

    #[test]
    fn save_location_drops_prefix() {
        assert_eq!(save_location("Local save in /data/art"), Some("/data/art"));
        assert_eq!(save_location("/elsewhere"), Some("/elsewhere"));
        assert_eq!(save_location("Local save in "), None);
        assert_eq!(
            save_location("local save in /data/art"),
            Some("local save in /data/art")
        );
    }

    #[test]
    fn follower_count_plain_digits() {
        assert_eq!(parse_follower_count("437"), Some(437));
        assert_eq!(parse_follower_count("0"), Some(0));
        assert_eq!(parse_follower_count("007"), Some(7));
    }

    #[test]
    fn follower_count_thousands() {
        assert_eq!(parse_follower_count("5k"), Some(5_000));
        assert_eq!(parse_follower_count("136k"), Some(136_000));
        assert_eq!(parse_follower_count("2K"), Some(2_000));
    }

    #[test]
    fn follower_count_millions() {
        assert_eq!(parse_follower_count("12M"), Some(12_000_000));
        assert_eq!(parse_follower_count("1m"), Some(1_000_000));
    }

    #[test]
    fn follower_count_decimal_mantissa_rounds_to_nearest() {
        assert_eq!(parse_follower_count("1.5k"), Some(1_500));
        assert_eq!(parse_follower_count("2.25M"), Some(2_250_000));
        assert_eq!(parse_follower_count("1.2345k"), Some(1_235));
        assert_eq!(parse_follower_count("1.2344k"), Some(1_234));
        assert_eq!(parse_follower_count("0.0001k"), Some(0));
        assert_eq!(parse_follower_count("0.0005k"), Some(1));
    }

    #[test]
    fn follower_count_unknown_formats() {
        for s in [
            "",
            "abc",
            "12x",
            "1.5",
            "k",
            "M",
            ".5k",
            "5.k",
            "-5",
            "+5",
            "1,234",
            "1 k",
            " 5",
            "1.5.5k",
            "User Info Error",
            "٣",
            "5kk",
        ] {
            assert_eq!(parse_follower_count(s), None, "{s:?}");
        }
    }

    #[test]
    fn follower_count_overflow_is_unknown() {
        assert_eq!(parse_follower_count("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_follower_count("9223372036854775808"), None);
        assert_eq!(parse_follower_count("9223372036854775M"), None);
        assert_eq!(parse_follower_count("1.0000000000000000001k"), None);
    }
}
