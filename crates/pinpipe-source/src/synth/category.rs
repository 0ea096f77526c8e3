//! Which category a key belongs to: the keys are split into 13 contiguous blocks in
//! [`CATEGORIES`](super::CATEGORIES) order, sized as in the original's 11,154 rows.

use super::words::CATEGORIES;

/// The row count of the original database.
pub const ORIGINAL_ROWS: u64 = 11_154;

/// Where each category's block ends (exclusive) in the original's 11,154 keys, measured on the real
/// rows (the midpoint between the last key seen in one category and the first seen in the next).
const ORIGINAL_BLOCK_ENDS: [u64; 13] = [
    881, 1637, 2620, 3467, 4330, 5080, 5845, 6728, 7573, 8474, 9464, 10297, 11154,
];

/// The 13 category blocks of a table of `rows` keys: the original's block sizes, scaled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryBlocks {
    ends: [u64; 13],
}

impl CategoryBlocks {
    /// The blocks for keys `0..rows`.
    pub fn new(rows: u64) -> CategoryBlocks {
        let ends = ORIGINAL_BLOCK_ENDS.map(|end| {
            let scaled = u128::from(end) * u128::from(rows) / u128::from(ORIGINAL_ROWS);
            u64::try_from(scaled).unwrap_or(rows)
        });
        CategoryBlocks { ends }
    }

    /// The index into [`CATEGORIES`] of `key`'s category (the last category for keys past the end).
    pub fn index_of(&self, key: u64) -> usize {
        self.ends
            .partition_point(|&end| end <= key)
            .min(CATEGORIES.len() - 1)
    }

    /// `key`'s category name.
    pub fn category_of(&self, key: u64) -> &'static str {
        CATEGORIES[self.index_of(key)]
    }

    /// The keys of category `index` (empty for a bad index).
    pub fn keys_of(&self, index: usize) -> std::ops::Range<u64> {
        let start = index
            .checked_sub(1)
            .and_then(|i| self.ends.get(i))
            .copied()
            .unwrap_or(0);
        let end = self.ends.get(index).copied().unwrap_or(start);
        start..end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_blocks() {
        let blocks = CategoryBlocks::new(ORIGINAL_ROWS);
        assert_eq!(blocks.category_of(0), "art");
        assert_eq!(blocks.category_of(880), "art");
        assert_eq!(blocks.category_of(881), "beauty");
        assert_eq!(blocks.category_of(6717), "home-decor");
        assert_eq!(blocks.category_of(10_997), "vehicles");
        assert_eq!(blocks.category_of(11_153), "vehicles");
        assert_eq!(blocks.keys_of(12), 10_297..11_154);
    }

    #[test]
    fn blocks_cover_every_key_in_order() {
        for rows in [0, 1, 12, 13, 100, 11_154, 1_000_000] {
            let blocks = CategoryBlocks::new(rows);
            let total: u64 = (0..13)
                .map(|i| blocks.keys_of(i))
                .map(|r| r.end - r.start)
                .sum();
            assert_eq!(total, rows);
            let mut last = 0;
            for key in (0..rows).step_by(7) {
                let i = blocks.index_of(key);
                assert!(i >= last);
                assert!(blocks.keys_of(i).contains(&key));
                last = i;
            }
        }
    }
}
