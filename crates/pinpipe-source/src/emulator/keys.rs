//! [`KeySequence`]: which post the emulator sends next — a pure function of the seed and the key list.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, SourceError};

/// The ChaCha stream the emulator draws keys from; `init` draws rows from stream 0 of the same seed.
const KEY_STREAM: u64 = 1;

/// An endless sequence of keys drawn uniformly, with replacement, from a key list, as the original
/// picked a random row each time.
#[derive(Clone, Debug)]
pub struct KeySequence {
    keys: Arc<[i64]>,
    rng: ChaCha8Rng,
}

impl KeySequence {
    /// The sequence of `seed` over `keys` (in the order given; the database gives them ascending).
    /// [`SourceError::EmptySource`] when `keys` is empty.
    pub fn new(seed: u64, keys: impl Into<Arc<[i64]>>) -> Result<KeySequence> {
        let keys = keys.into();
        if keys.is_empty() {
            return Err(SourceError::EmptySource);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(KEY_STREAM);
        Ok(KeySequence { keys, rng })
    }
}

impl Iterator for KeySequence {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        let i = self.rng.random_range(0..self.keys.len() as u64);
        usize::try_from(i)
            .ok()
            .and_then(|i| self.keys.get(i))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(seed: u64, keys: &[i64], n: usize) -> Vec<i64> {
        KeySequence::new(seed, keys.to_vec())
            .map(|s| s.take(n).collect())
            .unwrap_or_default()
    }

    #[test]
    fn deterministic_per_seed_and_keys() {
        let keys: Vec<i64> = (0..11_154).collect();
        assert_eq!(take(1, &keys, 100), take(1, &keys, 100));
        assert_ne!(take(1, &keys, 100), take(2, &keys, 100));
        assert!(take(1, &keys, 1000).iter().all(|k| keys.contains(k)));
        assert_eq!(take(3, &[42], 3), vec![42, 42, 42]);
    }

    #[test]
    fn covers_the_keys() {
        let keys: Vec<i64> = (100..110).collect();
        let mut seen = take(9, &keys, 500);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, keys);
    }

    #[test]
    fn no_keys_no_sequence() {
        assert!(matches!(
            KeySequence::new(1, Vec::<i64>::new()),
            Err(SourceError::EmptySource)
        ));
    }
}
