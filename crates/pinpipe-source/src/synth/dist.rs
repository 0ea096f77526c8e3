//! The random draws synthetic rows are made of. Every draw takes the caller's seeded generator, so a
//! row is a pure function of the seed and the draws before it.
//!
//! The real rows are skewed the same way in almost every field: sorted by value, a field's quantiles
//! at 10/25/50/75/90 % sit near 0.8/3.5/15/43/72 % of its range (countries, names, ages, join dates,
//! latitudes and longitudes alike). `u^2.7` for a uniform `u` has that shape; [`skewed`] draws it.

use rand::Rng;

/// The exponent of [`skewed`], fitted to the real rows' quantiles.
pub(crate) const SKEW: f64 = 2.7;

/// A draw from `[0, 1)` skewed towards 0 like the real rows: `u^SKEW`.
pub(crate) fn skewed(rng: &mut impl Rng) -> f64 {
    rng.random::<f64>().powf(SKEW)
}

/// An index below `len` (> 0), skewed towards 0 like the real rows.
pub(crate) fn skewed_index(rng: &mut impl Rng, len: usize) -> usize {
    // `skewed` is below 1, so the product is below `len`; `min` guards the float edge.
    ((skewed(rng) * len as f64) as usize).min(len.saturating_sub(1))
}

/// A uniformly chosen element of a slice (`""` for an empty one).
pub(crate) fn pick<'a>(rng: &mut impl Rng, items: &[&'a str]) -> &'a str {
    match items.len() {
        0 => "",
        n => items[rng.random_range(0..n)],
    }
}

/// An element of a non-empty slice chosen by [`skewed_index`].
pub(crate) fn pick_skewed<'a>(rng: &mut impl Rng, items: &[&'a str]) -> &'a str {
    match items.len() {
        0 => "",
        n => items[skewed_index(rng, n)],
    }
}

/// A choice among `(item, weight)` pairs in proportion to the weights (the first item if all are 0).
pub(crate) fn weighted<T: Copy>(rng: &mut impl Rng, choices: &[(T, u32)]) -> Option<T> {
    let total: u32 = choices.iter().map(|&(_, w)| w).sum();
    let first = choices.first().map(|&(item, _)| item);
    if total == 0 {
        return first;
    }
    let mut roll = rng.random_range(0..total);
    for &(item, weight) in choices {
        if roll < weight {
            return Some(item);
        }
        roll -= weight;
    }
    first
}

/// A well-spread 64-bit seed from three numbers (SplitMix64's finaliser over a combination), to seed
/// the generator of one pool member (a poster, a user).
pub(crate) fn mix(seed: u64, pool: u64, id: u64) -> u64 {
    let mut z = seed
        ^ pool.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ id.wrapping_mul(0xC2B2_AE3D_27D4_EB4F).rotate_left(17);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Exact powers of ten.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `x` rounded to `digits` significant digits, as MySQL's `FLOAT` shows it (6 digits: `-88.4642`).
/// The result is the double nearest that decimal, so it prints as it (`-88.4642`, not `-88.46419999`).
pub(crate) fn round_significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let shift = digits - 1 - x.abs().log10().floor() as i32;
    match usize::try_from(shift.unsigned_abs())
        .ok()
        .and_then(|i| POW10.get(i))
    {
        Some(&p) if shift >= 0 => (x * p).round() / p,
        Some(&p) => (x / p).round() * p,
        None => x,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn significant_digits_print_short() {
        assert_eq!(round_significant(-88.464_213_7, 6).to_string(), "-88.4642");
        assert_eq!(round_significant(-171.060_91, 6).to_string(), "-171.061");
        assert_eq!(round_significant(8.659_534, 6).to_string(), "8.65953");
        assert_eq!(round_significant(-5.344_449_9, 6).to_string(), "-5.34445");
        assert_eq!(
            round_significant(0.000_123_456_78, 6).to_string(),
            "0.000123457"
        );
        assert_eq!(round_significant(0.0, 6), 0.0);
        assert_eq!(round_significant(1_234_567.0, 6), 1_234_570.0);
    }

    #[test]
    fn skew_matches_the_real_quantiles() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut draws: Vec<f64> = (0..20_000).map(|_| skewed(&mut rng)).collect();
        draws.sort_by(f64::total_cmp);
        let q = |p: f64| draws[(p * draws.len() as f64) as usize];
        assert!((0.10..0.20).contains(&q(0.5)), "median {}", q(0.5));
        assert!((0.35..0.50).contains(&q(0.75)), "q75 {}", q(0.75));
        assert!(q(0.1) < 0.01);
    }

    #[test]
    fn weighted_follows_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let choices = [('a', 9), ('b', 1), ('c', 0)];
        let n = 10_000;
        let a = (0..n)
            .filter(|_| weighted(&mut rng, &choices) == Some('a'))
            .count();
        assert!((8_700..9_300).contains(&a), "{a}");
        assert_eq!(weighted(&mut rng, &[('x', 0)]), Some('x'));
        assert_eq!(weighted::<char>(&mut rng, &[]), None);
    }

    #[test]
    fn indexes_stay_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert!((0..10_000).all(|_| skewed_index(&mut rng, 7) < 7));
        assert_eq!(pick_skewed(&mut rng, &[]), "");
        assert_eq!(pick(&mut rng, &["only"]), "only");
    }
}
