//! The nine analyses in one pass over the tables, their `geo` and `user` sides held in memory.
//!
//! `geo` and `user` are read as streams of batches, and each row is kept only as what the
//! analyses use of it, indexed by `ind`: its country (a number naming it), its year, its age group
//! and join year, about 40 bytes a post with the index. Then `pin` streams by, and each pin is
//! joined to its geo and user rows (inner joins: a pin without one is left out of the analyses that
//! need it) and feeds every analysis's accumulator at once; no pin is kept. A key held by several
//! rows of a table joins with each of them, as the SQL join does. Follower counts are kept as
//! counts per value for the medians, so memory grows with the number of keys, not with their text.
//!
//! The rules are [`super::sql`]'s, kept the same way: a row takes part in an analysis only when
//! none of the values it uses is null, year ranges are inclusive, ties are kept, the median is the
//! lower one (position ceil(n/2) of the n sorted values), and every result is sorted by all its
//! columns.

use std::collections::{BTreeMap, BTreeSet};

// foldhash rather than std's SipHash: every pin is looked up in two indexes of millions of keys;
// it is seeded at random per process, as std's is.
use foldhash::HashMap;

use futures::StreamExt;

use chrono::{DateTime, Datelike};
use deltalake::arrow::array::{Array, AsArray, RecordBatch};
use deltalake::arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use deltalake::datafusion::execution::SendableRecordBatchStream;
use deltalake::datafusion::prelude::SessionContext;

use super::{ANALYSES, AnalysisResult};
use crate::error::{LakeError, Result};

/// Analysis 2's years.
const POST_YEARS: std::ops::RangeInclusive<i32> = 2018..=2022;
/// Analyses 7 to 9's years.
const JOIN_YEARS: std::ops::RangeInclusive<i32> = 2015..=2020;

/// The age group of `age`, `None` for ages in no group.
fn age_group(age: i64) -> Option<&'static str> {
    match age {
        18..=24 => Some("18-24"),
        25..=35 => Some("25-35"),
        36..=50 => Some("36-50"),
        51.. => Some("50+"),
        _ => None,
    }
}

/// The UTC year of a timestamp in microseconds.
fn year(micros: i64) -> Option<i32> {
    DateTime::from_timestamp_micros(micros).map(|t| t.year())
}

/// Text values the analyses group by (countries, categories), each kept once and named by a
/// number.
#[derive(Default)]
struct Names {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    /// The number of `name`, given it on first sight.
    fn id(&mut self, name: &str) -> Result<u32> {
        if let Some(id) = self.ids.get(name) {
            return Ok(*id);
        }
        let id = u32::try_from(self.names.len()).map_err(|_| {
            LakeError::Internal("more than 2^32 distinct countries and categories".into())
        })?;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        Ok(id)
    }

    /// The name numbered `id`.
    fn get(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }
}

/// A geo row as the analyses use it.
#[derive(Clone, Copy)]
struct Geo {
    country: Option<u32>,
    year: Option<i32>,
}

/// A user row as the analyses use it.
#[derive(Clone, Copy)]
struct User {
    age_group: Option<&'static str>,
    join_year: Option<i32>,
}

/// Rows of a table by key: the first row of each key, and the others of keys held more than once.
struct Index<T> {
    first: HashMap<i64, T>,
    more: HashMap<i64, Vec<T>>,
}

impl<T> Default for Index<T> {
    fn default() -> Self {
        Self {
            first: HashMap::default(),
            more: HashMap::default(),
        }
    }
}

impl<T: Copy> Index<T> {
    fn insert(&mut self, key: i64, row: T) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.first.entry(key) {
            slot.insert(row);
        } else {
            self.more.entry(key).or_default().push(row);
        }
    }

    /// Every row of `key`.
    fn get(&self, key: i64) -> impl Iterator<Item = T> + '_ {
        let first = self.first.get(&key).copied();
        let more = self.more.get(&key).into_iter().flatten().copied();
        first.into_iter().chain(more)
    }
}

/// How many times each follower count was seen: what a median needs, in the memory of the
/// distinct counts.
type Tally = HashMap<i64, u64>;

/// What the analyses gather as the pins go by; countries and categories by their [`Names`].
#[derive(Default)]
struct Accumulators {
    /// 1: posts per (country, category).
    by_country: HashMap<(u32, u32), i64>,
    /// 2: posts per (year, category).
    by_year: HashMap<(i32, u32), i64>,
    /// 3: per country, the highest follower count and the posters who have it.
    most_followed: HashMap<u32, (i64, BTreeSet<String>)>,
    /// 5: posts per (age group, category).
    by_age: HashMap<(&'static str, u32), i64>,
    /// 6: follower counts per age group.
    followers_by_age: HashMap<&'static str, Tally>,
    /// 8: follower counts per join year.
    followers_by_year: HashMap<i32, Tally>,
    /// 9: follower counts per (age group, join year).
    followers_by_age_year: HashMap<(&'static str, i32), Tally>,
}

impl Accumulators {
    fn pin_geo(&mut self, pin: &Pin<'_>, geo: Geo) {
        if let (Some(country), Some(category)) = (geo.country, pin.category) {
            *self.by_country.entry((country, category)).or_default() += 1;
        }
        if let (Some(year), Some(category)) = (geo.year, pin.category)
            && POST_YEARS.contains(&year)
        {
            *self.by_year.entry((year, category)).or_default() += 1;
        }
        if let (Some(country), Some(poster), Some(followers)) =
            (geo.country, pin.poster, pin.followers)
        {
            let (most, posters) = self
                .most_followed
                .entry(country)
                .or_insert_with(|| (followers, BTreeSet::new()));
            if followers > *most {
                *most = followers;
                posters.clear();
            }
            if followers == *most && !posters.contains(poster) {
                posters.insert(poster.to_owned());
            }
        }
    }

    fn pin_user(&mut self, pin: &Pin<'_>, user: User) {
        if let (Some(group), Some(category)) = (user.age_group, pin.category) {
            *self.by_age.entry((group, category)).or_default() += 1;
        }
        let Some(followers) = pin.followers else {
            return;
        };
        let seen = |tally: &mut Tally| *tally.entry(followers).or_default() += 1;
        if let Some(group) = user.age_group {
            seen(self.followers_by_age.entry(group).or_default());
        }
        let Some(year) = user.join_year.filter(|y| JOIN_YEARS.contains(y)) else {
            return;
        };
        seen(self.followers_by_year.entry(year).or_default());
        if let Some(group) = user.age_group {
            seen(self.followers_by_age_year.entry((group, year)).or_default());
        }
    }
}

/// A pin as the analyses use it.
struct Pin<'a> {
    category: Option<u32>,
    poster: Option<&'a str>,
    followers: Option<i64>,
}

/// Runs the nine analyses over the tables `pin`, `geo` and `user` registered in `ctx`.
pub async fn run(ctx: &SessionContext) -> Result<Vec<AnalysisResult>> {
    let stream = |sql: &'static str| async move { ctx.sql(sql).await?.execute_stream().await };
    let mut names = Names::default();

    let mut geo_by_key = Index::default();
    let mut geos = stream("SELECT ind, country, \"timestamp\" FROM geo").await?;
    while let Some(batch) = next(&mut geos).await? {
        let (ind, country, time) = (ints(&batch, 0)?, strings(&batch, 1)?, times(&batch, 2)?);
        for i in 0..batch.num_rows() {
            let geo = Geo {
                country: if country.is_valid(i) {
                    Some(names.id(country.value(i))?)
                } else {
                    None
                },
                year: time.is_valid(i).then(|| year(time.value(i))).flatten(),
            };
            geo_by_key.insert(ind.value(i), geo);
        }
    }

    let mut user_by_key = Index::default();
    let mut joined_by_year: BTreeMap<i32, i64> = BTreeMap::new();
    let mut users = stream("SELECT ind, age, date_joined FROM \"user\"").await?;
    while let Some(batch) = next(&mut users).await? {
        let (ind, age, joined) = (ints(&batch, 0)?, ints(&batch, 1)?, times(&batch, 2)?);
        for i in 0..batch.num_rows() {
            let user = User {
                age_group: age.is_valid(i).then(|| age_group(age.value(i))).flatten(),
                join_year: joined.is_valid(i).then(|| year(joined.value(i))).flatten(),
            };
            if let Some(year) = user.join_year.filter(|y| JOIN_YEARS.contains(y)) {
                *joined_by_year.entry(year).or_default() += 1;
            }
            user_by_key.insert(ind.value(i), user);
        }
    }

    let mut acc = Accumulators::default();
    let mut pins = stream("SELECT ind, category, poster_name, follower_count FROM pin").await?;
    while let Some(batch) = next(&mut pins).await? {
        let (ind, category, poster, followers) = (
            ints(&batch, 0)?,
            strings(&batch, 1)?,
            strings(&batch, 2)?,
            ints(&batch, 3)?,
        );
        for i in 0..batch.num_rows() {
            let pin = Pin {
                category: if category.is_valid(i) {
                    Some(names.id(category.value(i))?)
                } else {
                    None
                },
                poster: poster.is_valid(i).then(|| poster.value(i)),
                followers: followers.is_valid(i).then(|| followers.value(i)),
            };
            let key = ind.value(i);
            for geo in geo_by_key.get(key) {
                acc.pin_geo(&pin, geo);
            }
            for user in user_by_key.get(key) {
                acc.pin_user(&pin, user);
            }
        }
    }
    Ok(results(acc, &names, &joined_by_year))
}

/// The next batch of `stream`.
async fn next(stream: &mut SendableRecordBatchStream) -> Result<Option<RecordBatch>> {
    Ok(stream.next().await.transpose()?)
}

/// Every analysis's rows from the accumulators, sorted.
fn results(
    acc: Accumulators,
    names: &Names,
    joined_by_year: &BTreeMap<i32, i64>,
) -> Vec<AnalysisResult> {
    let name = |id: &u32| names.get(*id);
    let highest = acc.most_followed.values().map(|(most, _)| *most).max();
    let rows: [Vec<Vec<String>>; 9] = [
        top_per_group(
            acc.by_country
                .iter()
                .map(|((country, category), n)| (name(country), name(category), *n)),
        ),
        sorted(acc.by_year.iter().map(|((y, c), n)| (*y, name(c), *n)))
            .map(|(year, category, n)| vec![year.to_string(), category.to_owned(), n.to_string()])
            .collect(),
        sorted(
            acc.most_followed
                .iter()
                .flat_map(|(country, (most, posters))| {
                    posters
                        .iter()
                        .map(move |poster| (name(country), poster.as_str(), *most))
                }),
        )
        .map(|(country, poster, n)| vec![country.to_owned(), poster.to_owned(), n.to_string()])
        .collect(),
        sorted(
            acc.most_followed
                .iter()
                .filter(|(_, (most, _))| Some(*most) == highest)
                .map(|(country, (most, _))| (name(country), *most)),
        )
        .map(|(country, n)| vec![country.to_owned(), n.to_string()])
        .collect(),
        top_per_group(
            acc.by_age
                .iter()
                .map(|((group, category), n)| (*group, name(category), *n)),
        ),
        medians(acc.followers_by_age)
            .map(|(group, m)| vec![group.to_owned(), m.to_string()])
            .collect(),
        joined_by_year
            .iter()
            .map(|(year, n)| vec![year.to_string(), n.to_string()])
            .collect(),
        medians(acc.followers_by_year)
            .map(|(year, m)| vec![year.to_string(), m.to_string()])
            .collect(),
        medians(acc.followers_by_age_year)
            .map(|((group, year), m)| vec![group.to_owned(), year.to_string(), m.to_string()])
            .collect(),
    ];
    ANALYSES
        .iter()
        .zip(rows)
        .map(|(spec, rows)| spec.result(rows))
        .collect()
}

/// `items`, sorted.
fn sorted<K: Ord>(items: impl Iterator<Item = K>) -> impl Iterator<Item = K> {
    let mut items: Vec<K> = items.collect();
    items.sort_unstable();
    items.into_iter()
}

/// Per group, the members with the most posts (ties kept), from (group, member, posts), sorted.
fn top_per_group<'a>(counts: impl Iterator<Item = (&'a str, &'a str, i64)>) -> Vec<Vec<String>> {
    let counts: Vec<(&str, &str, i64)> = counts.collect();
    let mut most: HashMap<&str, i64> = HashMap::default();
    for (group, _, n) in &counts {
        let m = most.entry(group).or_insert(*n);
        *m = (*m).max(*n);
    }
    sorted(
        counts
            .into_iter()
            .filter(|(group, _, n)| most.get(group) == Some(n)),
    )
    .map(|(group, member, n)| vec![group.to_owned(), member.to_owned(), n.to_string()])
    .collect()
}

/// Each group's lower median (the value at position ceil(n/2) of its n sorted values), sorted by
/// group.
fn medians<K: Ord>(tallies: HashMap<K, Tally>) -> impl Iterator<Item = (K, i64)> {
    let mut out: Vec<(K, i64)> = tallies
        .into_iter()
        .filter_map(|(key, tally)| Some((key, lower_median(tally)?)))
        .collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out.into_iter()
}

/// The value at position ceil(n/2) of the n values `tally` counts; `None` when it counts none.
fn lower_median(tally: Tally) -> Option<i64> {
    let position = tally.values().sum::<u64>().div_ceil(2);
    let mut values: Vec<(i64, u64)> = tally.into_iter().collect();
    values.sort_unstable();
    let mut seen = 0;
    values.into_iter().find_map(|(value, times)| {
        seen += times;
        (position > 0 && seen >= position).then_some(value)
    })
}

fn ints(batch: &RecordBatch, column: usize) -> Result<&deltalake::arrow::array::Int64Array> {
    batch
        .column(column)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| wrong_type(batch, column))
}

fn times(
    batch: &RecordBatch,
    column: usize,
) -> Result<&deltalake::arrow::array::TimestampMicrosecondArray> {
    batch
        .column(column)
        .as_primitive_opt::<TimestampMicrosecondType>()
        .ok_or_else(|| wrong_type(batch, column))
}

/// A text column as DataFusion reads it: plain strings, or views (how it reads Parquet).
enum Strings<'a> {
    Plain(&'a deltalake::arrow::array::StringArray),
    View(&'a deltalake::arrow::array::StringViewArray),
}

impl<'a> Strings<'a> {
    fn is_valid(&self, i: usize) -> bool {
        match self {
            Strings::Plain(a) => a.is_valid(i),
            Strings::View(a) => a.is_valid(i),
        }
    }

    fn value(&self, i: usize) -> &'a str {
        match self {
            Strings::Plain(a) => a.value(i),
            Strings::View(a) => a.value(i),
        }
    }
}

fn strings(batch: &RecordBatch, column: usize) -> Result<Strings<'_>> {
    let array = batch.column(column);
    array
        .as_string_opt::<i32>()
        .map(Strings::Plain)
        .or_else(|| array.as_string_view_opt().map(Strings::View))
        .ok_or_else(|| wrong_type(batch, column))
}

fn wrong_type(batch: &RecordBatch, column: usize) -> LakeError {
    let field = batch.schema_ref().field(column).clone();
    LakeError::Internal(format!(
        "column {} is {}, not what the analyses read",
        field.name(),
        field.data_type()
    ))
}
