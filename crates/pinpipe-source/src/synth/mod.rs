//! Synthetic source rows shaped like the original's (SPEC §1), calibrated on the real rows in
//! `fixtures/peer-raw/`.
//!
//! [`Generator`] makes the posts of keys `0..rows` in key order from one ChaCha8 stream seeded with
//! `seed`: the same `(rows, seed)` gives byte-identical rows on every machine, another seed other rows.
//! What each field looks like is documented where it is made: pin rows and their sentinels in
//! `pin.rs`, posters and follower counts in `poster.rs`, free text in `text.rs`, `geo.rs`, `user.rs`.
//! Categories fill 13 key blocks ([`CategoryBlocks`]).

mod category;
mod dist;
mod geo;
mod pin;
mod poster;
mod text;
mod user;
mod words;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use category::{CategoryBlocks, ORIGINAL_ROWS};
pub use words::CATEGORIES;

use crate::db::Post;

/// The row count of the original database, the default of `init`.
pub const DEFAULT_ROWS: u64 = ORIGINAL_ROWS;

/// Makes the synthetic posts of keys `0..rows`, in key order.
#[derive(Debug)]
pub struct Generator {
    rows: u64,
    next_key: u64,
    seed: u64,
    rng: ChaCha8Rng,
    blocks: CategoryBlocks,
}

impl Generator {
    /// A generator of `rows` posts under `seed`.
    pub fn new(rows: u64, seed: u64) -> Generator {
        Generator {
            rows,
            next_key: 0,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            blocks: CategoryBlocks::new(rows),
        }
    }

    /// The category blocks of this generator's keys.
    pub fn blocks(&self) -> &CategoryBlocks {
        &self.blocks
    }
}

impl Iterator for Generator {
    type Item = Post;

    fn next(&mut self) -> Option<Post> {
        if self.next_key >= self.rows {
            return None;
        }
        let key = self.next_key;
        self.next_key += 1;
        let ind = i64::try_from(key).ok()?;
        let category = self.blocks.index_of(key);
        let block = self.blocks.keys_of(category);
        let block_len = block.end - block.start;
        let rng = &mut self.rng;
        let pin = pin::pin(rng, self.seed, ind, category, block_len);
        let geo = geo::geo(rng, ind);
        let user = user::user(rng, self.seed, self.rows, ind);
        Some(Post { pin, geo, user })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.rows - self.next_key).ok();
        (left.unwrap_or(usize::MAX), left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows() {
        let a: Vec<Post> = Generator::new(300, 7).collect();
        let b: Vec<Post> = Generator::new(300, 7).collect();
        assert_eq!(a, b);
        let c: Vec<Post> = Generator::new(300, 8).collect();
        assert_ne!(a, c);
        assert_eq!(a.len(), 300);
        assert!(
            a.iter().enumerate().all(|(k, p)| p.key() == k as i64
                && p.geo.ind == k as i64
                && p.user.ind == k as i64)
        );
    }
}
