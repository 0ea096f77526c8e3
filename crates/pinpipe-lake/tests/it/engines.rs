//! The two engines of the nine analyses agree: the in-memory one-pass engine that a run on one
//! machine uses, and the DataFusion SQL one that a cluster runs. On the golden fixtures (whose
//! expected CSVs `golden.rs` checks) and on random tables full of nulls, ties, repeated keys and
//! values at the edges of every range.

use pinpipe_lake::analyses::{memory, sql, tables_session};
use pinpipe_model::Table;
use serde_json::{Value, json};

use crate::common::{TestLake, TestResult, put_peer_fixtures};

/// A small xorshift: the same tables for the same seed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// One of `choices`, or null one time in `nulls`.
    fn pick(&mut self, choices: &[Value], nulls: u64) -> Value {
        if self.below(nulls) == 0 {
            Value::Null
        } else {
            choices[usize::try_from(self.below(choices.len() as u64)).unwrap_or(0)].clone()
        }
    }
}

fn texts(values: &[&str]) -> Vec<Value> {
    values.iter().map(|v| json!(v)).collect()
}

/// Raw lines of random records of `table`, keys in `0..keys` (some repeated, some missing).
fn random_lines(random: &mut Random, table: Table, keys: u64, count: usize) -> Vec<String> {
    let categories = texts(&["art", "diy", "quotes", "travel"]);
    let countries = texts(&["Chad", "Peru", "Fiji", "Oman", "Cote d'Ivoire"]);
    let posters = texts(&["Ann", "Bob", "Cy", "Di", "Ed ", "Flo"]);
    let followers = texts(&[
        "0",
        "7",
        "999",
        "1k",
        "12k",
        "1M",
        "1.5k",
        "User Info Error",
    ]);
    let ages: Vec<Value> = [10, 17, 18, 24, 25, 35, 36, 50, 51, 70]
        .iter()
        .map(|a| json!(a))
        .collect();
    let times = texts(&[
        "2014-12-31 23:59:59",
        "2015-01-01 00:00:00",
        "2017-06-15 12:00:00",
        "2018-01-01 00:00:00",
        "2020-12-31 23:59:59",
        "2022-12-31 23:59:59",
        "2023-01-01 00:00:00",
    ]);
    (0..count)
        .map(|_| {
            let key = random.below(keys);
            let record = match table {
                Table::Pin => json!({
                    "index": key, "category": random.pick(&categories, 8),
                    "poster_name": random.pick(&posters, 8),
                    "follower_count": random.pick(&followers, 8),
                }),
                Table::Geo => json!({
                    "ind": key, "country": random.pick(&countries, 8),
                    "timestamp": random.pick(&times, 8),
                    "latitude": 1.0, "longitude": 2.0,
                }),
                Table::User => json!({
                    "ind": key, "first_name": "A", "last_name": "B",
                    "age": random.pick(&ages, 8), "date_joined": random.pick(&times, 8),
                }),
            };
            record.to_string()
        })
        .collect()
}

async fn engines_agree(lake: &TestLake, what: &str) -> TestResult {
    let ctx = tables_session(&lake.lake, "tables").await?;
    let in_memory = memory::run(&ctx).await?;
    let in_sql = sql::run(&ctx).await?;
    for (m, s) in in_memory.iter().zip(&in_sql) {
        assert_eq!(m, s, "{what}: analysis {}", m.number);
    }
    assert_eq!(in_memory.len(), 9);
    Ok(())
}

#[tokio::test]
async fn the_engines_agree_on_random_tables() -> TestResult {
    for seed in 1..=6u64 {
        let lake = TestLake::new()?;
        let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for table in Table::ALL {
            let lines = random_lines(&mut random, table, 80, 150);
            lake.put_raw(table, 0, 0, &lines).await?;
        }
        lake.batch().await?;
        engines_agree(&lake, &format!("seed {seed}")).await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_engines_agree_on_the_peer_fixtures() -> TestResult {
    let lake = TestLake::new()?;
    put_peer_fixtures(&lake).await?;
    lake.batch().await?;
    engines_agree(&lake, "peer fixtures").await
}
