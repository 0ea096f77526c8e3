//! Synthetic `user_data` rows.
//!
//! The real rows hold few distinct users, each under several keys: a 9.5% sample of the original shows
//! 883 distinct users in 1,060 rows, the most frequent 11 times, and the most frequent are the "first"
//! ones (`Aaron Abbott`, 20, joined 2015-10-23). So users come from a pool of `rows / 2` users; a key
//! draws pool member `floor(pool * u^1.9)` (these settings give ~890 distinct in such a sample, the
//! busiest ~16 times). Member `j` is a pure function of `(seed, j)`, like posters.
//!
//! Each of a member's fields sits at a position in its range: with probability 0.7 the member's own
//! position `(j / pool)^(2.7 / 1.9)`, otherwise an independent [`skewed`] draw. Over keys every field is
//! then skewed exactly like the real ones, and fields correlate (age with join date ~0.5, real 0.47):
//!
//! - `first_name`, `last_name`: Faker's sorted lists (690 and 1,000 names); with the pool, a 9.5% sample
//!   shows ~800 distinct full names in 1,060 rows (real: 812): names repeat across keys;
//! - `age`: 20 ..= 60 (`20 + round(40 * position)`: ~20% are 20, ~10% are 21, as in the real rows);
//! - `date_joined`: 2015-10-21 00:00:00 ..= 2017-10-18 23:59:59.

use pinpipe_model::UserRecord;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::dist::{SKEW, mix, skewed};
use super::words::words;
use crate::datetime;

/// First second of the `date_joined` range, 2015-10-21 00:00:00 UTC.
pub(crate) const JOINED_FROM: i64 = 1_445_385_600;
/// Last second of the `date_joined` range, 2017-10-18 23:59:59 UTC.
pub(crate) const JOINED_TO: i64 = 1_508_371_199;
/// Youngest age.
pub(crate) const AGE_MIN: i64 = 20;
/// Oldest age.
pub(crate) const AGE_MAX: i64 = 60;
/// Keys per member of the user pool.
const KEYS_PER_USER: u64 = 2;
/// How strongly keys favour the pool's first members.
const POOL_SKEW: f64 = 1.9;
/// How often a field sits at the member's own position rather than an independent one.
const AT_POSITION: f64 = 0.7;
/// Tells the user pool's seeds from the posters'.
const USER_POOL: u64 = u64::MAX;

/// The user row of `key` in a table of `rows` keys.
pub(crate) fn user(rng: &mut impl Rng, seed: u64, rows: u64, key: i64) -> UserRecord {
    let pool = (rows / KEYS_PER_USER).max(1);
    let member = ((rng.random::<f64>().powf(POOL_SKEW) * pool as f64) as u64).min(pool - 1);
    UserRecord {
        ind: key,
        ..pool_member(seed, pool, member)
    }
}

/// Member `j` of a pool of `pool` users (its `ind` is 0).
fn pool_member(seed: u64, pool: u64, j: u64) -> UserRecord {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, USER_POOL, j));
    let own = ((j as f64 + 0.5) / pool as f64).powf(SKEW / POOL_SKEW);
    let mut position = || {
        if rng.random_bool(AT_POSITION) {
            own
        } else {
            skewed(&mut rng)
        }
    };
    let w = words();
    let at = |list: &[&'static str], p: f64| {
        let i = ((p * list.len() as f64) as usize).min(list.len().saturating_sub(1));
        list.get(i).copied().unwrap_or_default()
    };
    let first_name = at(&w.first_names, position()).to_owned();
    let last_name = at(&w.last_names, position()).to_owned();
    let age = (AGE_MIN + (position() * (AGE_MAX - AGE_MIN) as f64).round() as i64).min(AGE_MAX);
    let span = (JOINED_TO - JOINED_FROM) as f64;
    let joined = (JOINED_FROM + (position() * span) as i64).min(JOINED_TO);
    UserRecord {
        ind: 0,
        first_name,
        last_name,
        age,
        date_joined: datetime::from_unix_seconds(joined).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn range_ends() {
        assert_eq!(
            datetime::from_unix_seconds(JOINED_FROM).as_deref(),
            Some("2015-10-21 00:00:00")
        );
        assert_eq!(
            datetime::from_unix_seconds(JOINED_TO).as_deref(),
            Some("2017-10-18 23:59:59")
        );
    }

    #[test]
    fn users_repeat_and_stay_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let rows: Vec<UserRecord> = (0..11_154).map(|k| user(&mut rng, 3, 11_154, k)).collect();
        let distinct: BTreeSet<(&str, &str, i64, &str)> = rows
            .iter()
            .map(|u| {
                (
                    u.first_name.as_str(),
                    u.last_name.as_str(),
                    u.age,
                    u.date_joined.as_str(),
                )
            })
            .collect();
        assert!(
            distinct.len() < 11_154 / 2,
            "{} distinct users",
            distinct.len()
        );
        for (k, u) in rows.iter().enumerate() {
            assert_eq!(u.ind, k as i64);
            assert!((AGE_MIN..=AGE_MAX).contains(&u.age));
            assert!(("2015-10-21".."2017-10-19").contains(&u.date_joined.as_str()));
        }
        let twenty = rows.iter().filter(|u| u.age == 20).count() as f64 / rows.len() as f64;
        assert!((0.15..0.25).contains(&twenty), "{twenty}");
    }

    #[test]
    fn members_are_pure_functions_of_their_ids() {
        assert_eq!(pool_member(1, 100, 7), pool_member(1, 100, 7));
        assert_ne!(pool_member(1, 100, 7), pool_member(2, 100, 7));
    }
}
