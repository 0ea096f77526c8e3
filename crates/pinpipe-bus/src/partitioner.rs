//! Where a record goes: Kafka's default partitioner for keyed records, and Kinesis's MD5 hash-key
//! ranges for stream records, so a key lands where the real services would put it.

use md5::{Digest, Md5};

/// Kafka's partition for a keyed record: `toPositive(murmur2(key)) % partitions`.
pub fn kafka_partition_for_key(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

/// Kafka's murmur2 (the Java client's `Utils.murmur2`).
fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, byte) in tail.iter().enumerate().rev() {
            h ^= u32::from(*byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Kinesis shard index for a partition key: the MD5 of the key as a 128-bit hash key, placed
/// in the shard whose evenly split hash-key range holds it.
pub fn shard_for_partition_key(partition_key: &str, shards: u32) -> u32 {
    let digest = Md5::digest(partition_key.as_bytes());
    let hash = u128::from_be_bytes(digest.into());
    shard_for_hash(hash, shards)
}

/// The shard index whose evenly split hash-key range holds the 128-bit `hash` (an MD5, or
/// Kinesis's `ExplicitHashKey`).
pub fn shard_for_hash(hash: u128, shards: u32) -> u32 {
    let shards = shards.max(1);
    u32::try_from(hash / shard_width(shards)).map_or(shards - 1, |i| i.min(shards - 1))
}

/// The width of every shard's hash-key range but the last: `floor(2^128 / shards)`, as Kinesis
/// splits the key space (the last shard also takes the remainder). Saturates for one shard, whose
/// range is the whole space.
fn shard_width(shards: u32) -> u128 {
    let n = u128::from(shards.max(1));
    // floor(2^128 / n) = floor((2^128 - 1) / n), plus one when n divides 2^128.
    (u128::MAX / n).saturating_add(u128::from(u128::MAX % n == n - 1))
}

/// The inclusive hash-key range of shard `index` of `shards`, as Kinesis's `HashKeyRange`.
pub fn shard_hash_range(index: u32, shards: u32) -> (u128, u128) {
    let shards = shards.max(1);
    let width = shard_width(shards);
    let start = width.saturating_mul(u128::from(index));
    let end = if index + 1 >= shards {
        u128::MAX
    } else {
        start + width - 1
    };
    (start, end)
}

/// Kinesis's name for shard `index`: `shardId-000000000000`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Test vectors from Kafka's UtilsTest.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn keyed_partitions_are_stable_and_in_range() {
        for key in [&b"a"[..], b"user-17", b""] {
            let p = kafka_partition_for_key(key, 6);
            assert!((0..6).contains(&p));
            assert_eq!(p, kafka_partition_for_key(key, 6));
        }
    }

    #[test]
    fn shards_follow_md5_hash_key_ranges() {
        // MD5("a") = 0cc175b9...: in the first of two halves; MD5("b") = 92eb5ffe...: the second.
        assert_eq!(shard_for_partition_key("a", 2), 0);
        assert_eq!(shard_for_partition_key("b", 2), 1);
        assert_eq!(shard_for_partition_key("anything", 1), 0);
        for shards in [1, 3, 4, 7] {
            for key in ["a", "b", "pin", "geo", "user", "12345"] {
                let i = shard_for_partition_key(key, shards);
                let (start, end) = shard_hash_range(i, shards);
                let hash = u128::from_be_bytes(Md5::digest(key.as_bytes()).into());
                assert!(
                    start <= hash && hash <= end,
                    "{key} in shard {i} of {shards}"
                );
            }
        }
    }

    #[test]
    fn hash_ranges_split_like_kinesis() {
        // Kinesis (and kinesalite) split 2^128 evenly: two shards meet at 2^127.
        assert_eq!(shard_hash_range(0, 2), (0, (1 << 127) - 1));
        assert_eq!(shard_hash_range(1, 2), (1 << 127, u128::MAX));
        assert_eq!(shard_hash_range(1, 4).0, 1 << 126);
        assert_eq!(shard_hash_range(1, 3).0, u128::MAX / 3);
        assert_eq!(shard_for_hash((1 << 127) - 1, 2), 0);
        assert_eq!(shard_for_hash(1 << 127, 2), 1);
        assert_eq!(shard_for_hash(u128::MAX, 1), 0);
        assert_eq!(shard_hash_range(0, 1), (0, u128::MAX));
    }

    #[test]
    fn hash_ranges_cover_the_whole_key_space() {
        for shards in [1, 2, 3, 5] {
            assert_eq!(shard_hash_range(0, shards).0, 0);
            assert_eq!(shard_hash_range(shards - 1, shards).1, u128::MAX);
            for i in 1..shards {
                assert_eq!(
                    shard_hash_range(i - 1, shards).1 + 1,
                    shard_hash_range(i, shards).0
                );
            }
        }
    }

    #[test]
    fn shard_ids_look_like_kinesis() {
        assert_eq!(shard_id(0), "shardId-000000000000");
        assert_eq!(shard_id(12), "shardId-000000000012");
    }
}
