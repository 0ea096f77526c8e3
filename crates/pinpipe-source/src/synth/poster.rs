//! Posters: who pinned a post, and their follower count as Pinterest shows it.
//!
//! Each category has a pool of posters (one per 2 of its keys); a pin draws one, the busiest much more
//! often ([`pool_pick`]), so poster names repeat across keys with the same follower count, as in the
//! real rows (a 9.5% sample of the original holds 825 posters for 1,059 pins, the busiest 16 times;
//! these settings give ~840 and ~11). A poster is a pure function of `(seed, category, poster number)`,
//! so the pool costs no memory.
//!
//! Follower counts (SPEC §1, real rows): `"<1..999>k"` 75%, `"0".."999"` 17.5%, `"<1..15>M"` 7.5% of
//! posters; the `"User Info Error"` sentinel belongs to the broken pins (see [`super::pin`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::dist::{mix, pick, skewed, weighted};
use super::words::words;

/// Keys per poster in a category's pool.
const KEYS_PER_POSTER: u64 = 2;
/// How strongly pins favour a category's first posters: poster `floor(pool * u^POOL_SKEW)`.
const POOL_SKEW: f64 = 2.5;

/// The poster number of a pin in a category of `block_len` keys.
pub(crate) fn pool_pick(rng: &mut impl Rng, block_len: u64) -> u64 {
    let pool = (block_len / KEYS_PER_POSTER).max(1);
    ((rng.random::<f64>().powf(POOL_SKEW) * pool as f64) as u64).min(pool - 1)
}

/// A poster's name and follower count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Poster {
    /// As shown on Pinterest; ~2% end in a space, as some real ones do.
    pub name: String,
    /// `"437"`, `"12k"` or `"3M"`.
    pub follower_count: String,
}

/// Poster number `id` of category `category` under `seed`.
pub(crate) fn poster(seed: u64, category: usize, id: u64) -> Poster {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, category as u64, id));
    let name = name(&mut rng);
    let follower_count = follower_count(&mut rng);
    Poster {
        name,
        follower_count,
    }
}

/// The shapes of posters' names.
#[derive(Clone, Copy)]
enum NameShape {
    Person,
    FirstName,
    Brand,
    BrandWithTopic,
}

fn name(rng: &mut impl Rng) -> String {
    let w = words();
    let shapes = [
        (NameShape::Person, 30),
        (NameShape::FirstName, 10),
        (NameShape::Brand, 35),
        (NameShape::BrandWithTopic, 25),
    ];
    let mut name = match weighted(rng, &shapes).unwrap_or(NameShape::Brand) {
        NameShape::Person => format!("{} {}", pick(rng, &w.first_names), pick(rng, &w.last_names)),
        NameShape::FirstName => pick(rng, &w.first_names).to_owned(),
        NameShape::Brand => format!("{} {}", pick(rng, &w.brands), pick(rng, &w.poster_suffixes)),
        NameShape::BrandWithTopic => format!(
            "{} {} | {}",
            pick(rng, &w.brands),
            pick(rng, &w.brands),
            pick(rng, &w.poster_suffixes)
        ),
    };
    if rng.random_bool(0.02) {
        name.push(' ');
    }
    name
}

/// How a follower count is written.
#[derive(Clone, Copy)]
enum Magnitude {
    Plain,
    Thousands,
    Millions,
}

/// Millions as the real rows show them (2M and 5M most often), extended to 15M.
const MILLIONS: [(u32, u32); 15] = [
    (1, 11),
    (2, 30),
    (3, 5),
    (4, 5),
    (5, 20),
    (6, 2),
    (7, 2),
    (8, 4),
    (9, 2),
    (10, 2),
    (11, 1),
    (12, 1),
    (13, 1),
    (14, 1),
    (15, 1),
];

fn follower_count(rng: &mut impl Rng) -> String {
    let magnitudes = [
        (Magnitude::Thousands, 750),
        (Magnitude::Plain, 175),
        (Magnitude::Millions, 75),
    ];
    match weighted(rng, &magnitudes).unwrap_or(Magnitude::Thousands) {
        // Real plain counts are skewed low (median ~160), like the other fields.
        Magnitude::Plain => format!("{}", ((skewed(rng) * 1000.0) as u32).min(999)),
        // Real thousands are about log-uniform over 1..999 (median ~40k).
        Magnitude::Thousands => {
            let k = 999_f64.powf(rng.random::<f64>()).round() as u32;
            format!("{}k", k.clamp(1, 999))
        }
        Magnitude::Millions => format!("{}M", weighted(rng, &MILLIONS).unwrap_or(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posters_are_pure_functions_of_their_ids() {
        assert_eq!(poster(1, 2, 3), poster(1, 2, 3));
        assert_ne!(poster(1, 2, 3), poster(1, 2, 4));
        assert_ne!(poster(1, 2, 3), poster(2, 2, 3));
    }

    #[test]
    fn follower_counts_have_the_real_formats() {
        let (mut k, mut m, mut plain) = (0, 0, 0);
        for id in 0..4000 {
            let count = poster(9, 0, id).follower_count;
            if let Some(n) = count.strip_suffix('k') {
                assert!(
                    n.parse::<u32>().is_ok_and(|n| (1..=999).contains(&n)),
                    "{count}"
                );
                k += 1;
            } else if let Some(n) = count.strip_suffix('M') {
                assert!(
                    n.parse::<u32>().is_ok_and(|n| (1..=15).contains(&n)),
                    "{count}"
                );
                m += 1;
            } else {
                assert!(count.parse::<u32>().is_ok_and(|n| n <= 999), "{count}");
                plain += 1;
            }
        }
        assert!((2800..3200).contains(&k), "{k}");
        assert!((560..840).contains(&plain), "{plain}");
        assert!((220..380).contains(&m), "{m}");
    }
}
