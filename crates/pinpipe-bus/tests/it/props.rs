//! Property tests of the bus's pure rules: topic and stream names (Kafka's and Kinesis's), where
//! a key lands (Kafka's partitioner, Kinesis's MD5 hash-key ranges) and the embedded log's
//! sequence numbers.

use md5::{Digest, Md5};
use pinpipe_bus::{
    BusError, kafka_partition_for_key, sequence_offset, shard_for_partition_key, shard_hash_range,
    shard_id, shard_sequence_number, validate_stream_name, validate_topic_name,
};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // A failure prints its smallest input; no regression file is written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Kafka's and Kinesis's rule, written independently: 1 to `max` characters, each an ASCII letter
/// or digit or one of `.`, `_`, `-`; not `.` or `..`.
fn is_legal_name(name: &str, max: usize) -> bool {
    let legal_char = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-';
    let count = name.chars().count();
    (1..=max).contains(&count) && name.chars().all(legal_char) && name != "." && name != ".."
}

/// Names near the rules' edges: legal characters at lengths around both limits, dots, path
/// pieces, non-ASCII letters and digits, control characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9._-]{0,8}",
        "[A-Za-z0-9._-]{120,135}",
        "[A-Za-z0-9._-]{240,255}",
        "[A-Za-z0-9._/\\\\ \u{0}\u{e9}\u{660}\u{ff10}\u{1F600}-]{0,10}",
        prop::sample::select(&[".", "..", "...", "./", "../x", "a/../b", "%2e%2e", "", " "][..])
            .prop_map(str::to_owned),
        // Multi-byte characters: 128 of them are more than 128 bytes.
        "[é]{60,130}",
    ]
}

proptest! {
    #![proptest_config(config())]

    /// A name is accepted exactly when Kafka (topics) or Kinesis (streams) would accept it, so
    /// that no name is ever a path, and a refusal is `InvalidName` naming it.
    #[test]
    fn names_are_accepted_exactly_by_the_services_rules(name in name()) {
        for (result, max) in [(validate_topic_name(&name), 249), (validate_stream_name(&name), 128)] {
            let legal = is_legal_name(&name, max);
            match result {
                Ok(()) => prop_assert!(legal, "{:?} accepted (limit {})", name, max),
                Err(BusError::InvalidName { name: refused, reason }) => {
                    prop_assert!(!legal, "{:?} refused: {} (limit {})", name, reason, max);
                    prop_assert_eq!(&refused, &name);
                    prop_assert!(!reason.is_empty());
                }
                Err(other) => prop_assert!(false, "{:?}: unexpected error {}", name, other),
            }
        }
    }

    /// A keyed record goes to a partition that exists, and always the same one.
    #[test]
    fn kafka_partition_is_in_range_and_deterministic(
        key in prop::collection::vec(any::<u8>(), 0..64),
        partitions in 1i32..10_000,
    ) {
        let p = kafka_partition_for_key(&key, partitions);
        prop_assert!((0..partitions).contains(&p), "partition {} of {}", p, partitions);
        prop_assert_eq!(p, kafka_partition_for_key(&key, partitions));
    }

    /// A partition key goes to a shard that exists, the one whose hash-key range holds the
    /// key's MD5 (as Kinesis places it).
    #[test]
    fn shard_is_the_one_whose_hash_range_holds_the_keys_md5(
        key in any::<String>(),
        shards in prop_oneof![1u32..10, 1u32..10_000, Just(u32::MAX)],
    ) {
        let index = shard_for_partition_key(&key, shards);
        prop_assert!(index < shards, "shard {} of {}", index, shards);
        prop_assert_eq!(index, shard_for_partition_key(&key, shards));
        let hash = u128::from_be_bytes(Md5::digest(key.as_bytes()).into());
        let (start, end) = shard_hash_range(index, shards);
        prop_assert!(start <= hash && hash <= end, "{:x} not in shard {}'s [{:x}, {:x}]", hash, index, start, end);
    }

    /// The hash-key ranges of a stream's shards tile the whole key space 0..=2^128-1, in order,
    /// with no gap or overlap, each as wide as an even split makes it.
    #[test]
    fn hash_ranges_tile_the_key_space(shards in prop_oneof![1u32..64, 1u32..3000]) {
        let mut next = 0u128;
        let even = u128::MAX / u128::from(shards);
        for index in 0..shards {
            let (start, end) = shard_hash_range(index, shards);
            prop_assert_eq!(start, next, "shard {} of {} starts after a gap or overlap", index, shards);
            prop_assert!(start <= end);
            let width = end - start;
            // Every shard is within one of an even split (the last takes the remainder).
            prop_assert!(width.abs_diff(even) <= u128::from(shards), "shard {} of {} has width {}", index, shards, width);
            if index + 1 == shards {
                prop_assert_eq!(end, u128::MAX);
            } else {
                next = end + 1;
            }
        }
    }

    /// A sequence number names the offset it was made from; within a shard, sequence numbers
    /// sort (as strings, as Kinesis clients compare them) like their offsets.
    #[test]
    fn sequence_numbers_round_trip_and_sort_by_offset(
        index in 0u32..=i32::MAX as u32,
        offset in 0i64..=i64::MAX,
        other in 0i64..=i64::MAX,
    ) {
        let shard = shard_id(index);
        let sequence = shard_sequence_number(&shard, offset);
        prop_assert!(sequence.is_some(), "no sequence number for {}", shard);
        let sequence = sequence.unwrap_or_default();
        prop_assert!(sequence.bytes().all(|b| b.is_ascii_digit()), "{}", sequence);
        prop_assert_eq!(sequence_offset(&sequence), Some(offset));
        let later = shard_sequence_number(&shard, other).unwrap_or_default();
        prop_assert_eq!(sequence.cmp(&later), offset.cmp(&other));
    }

    /// No shard id, however large, gives a sequence number for another offset.
    #[test]
    fn sequence_numbers_never_name_another_offset(index in any::<u32>(), offset in any::<i64>()) {
        if let Some(sequence) = shard_sequence_number(&shard_id(index), offset) {
            prop_assert_eq!(sequence_offset(&sequence), Some(offset));
        }
    }

    #[test]
    fn reading_any_text_as_a_sequence_number_never_panics(
        text in prop_oneof![any::<String>(), "[0-9é-]{0,40}"],
    ) {
        let _ = sequence_offset(&text);
        let _ = shard_sequence_number(&text, 0);
    }
}
