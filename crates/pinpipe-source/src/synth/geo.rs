//! Synthetic `geolocation_data` rows.
//!
//! - `timestamp`: uniform over 2017-10-20 00:00:00 ..= 2022-10-16 23:59:59 (the real rows' range);
//! - `latitude`, `longitude`: over the whole globe, skewed south and west like the real rows
//!   ([`skewed`]), at MySQL `FLOAT` precision (6 significant digits);
//! - `country`: Faker's list (243 names), skewed towards its start like the real rows (which show ~217
//!   of them in 1,058 rows).

use pinpipe_model::GeoRecord;
use rand::Rng;

use super::dist::{pick_skewed, round_significant, skewed};
use super::words::words;
use crate::datetime;

/// First second of the `timestamp` range, 2017-10-20 00:00:00 UTC.
pub(crate) const TIMESTAMP_FROM: i64 = 1_508_457_600;
/// Last second of the `timestamp` range, 2022-10-16 23:59:59 UTC.
pub(crate) const TIMESTAMP_TO: i64 = 1_665_964_799;
/// Significant digits of a MySQL `FLOAT`.
const FLOAT_DIGITS: i32 = 6;

/// The geolocation row of `key`.
pub(crate) fn geo(rng: &mut impl Rng, key: i64) -> GeoRecord {
    let secs = rng.random_range(TIMESTAMP_FROM..=TIMESTAMP_TO);
    let latitude = round_significant(-90.0 + 180.0 * skewed(rng), FLOAT_DIGITS);
    let longitude = round_significant(-180.0 + 360.0 * skewed(rng), FLOAT_DIGITS);
    GeoRecord {
        ind: key,
        timestamp: datetime::from_unix_seconds(secs).unwrap_or_default(),
        latitude,
        longitude,
        country: pick_skewed(rng, &words().countries).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn range_ends() {
        assert_eq!(
            datetime::from_unix_seconds(TIMESTAMP_FROM).as_deref(),
            Some("2017-10-20 00:00:00")
        );
        assert_eq!(
            datetime::from_unix_seconds(TIMESTAMP_TO).as_deref(),
            Some("2022-10-16 23:59:59")
        );
    }

    #[test]
    fn rows_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for key in 0..2000 {
            let g = geo(&mut rng, key);
            assert!((-90.0..=90.0).contains(&g.latitude));
            assert!((-180.0..=180.0).contains(&g.longitude));
            assert!(
                g.latitude
                    .to_string()
                    .trim_start_matches('-')
                    .replace('.', "")
                    .trim_start_matches('0')
                    .len()
                    <= 6
            );
            assert!(("2017-10-20".."2022-10-17").contains(&g.timestamp.as_str()));
            assert!(!g.country.is_empty());
        }
    }
}
