//! The nine analyses in one pass over the tables held in memory.
//!
//! Only the columns the analyses read are loaded (`pin`: ind, category, poster_name,
//! follower_count; `geo`: ind, country, timestamp; `user`: ind, age, date_joined): about 60 bytes
//! a post. `geo` and `user` are indexed by `ind`; then each pin is joined to its geo and user rows
//! (inner joins: a pin without one is left out of the analyses that need it) and feeds every
//! analysis's accumulator at once. A key held by several rows of a table joins with each of them,
//! as the SQL join does.
//!
//! The rules are [`super::sql`]'s, kept the same way: a row takes part in an analysis only when
//! none of the values it uses is null, year ranges are inclusive, ties are kept, the median is the
//! lower one (position ceil(n/2) of the n sorted values), and every result is sorted by all its
//! columns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike};
use deltalake::arrow::array::{Array, AsArray, RecordBatch};
use deltalake::arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use deltalake::datafusion::prelude::SessionContext;

use super::{ANALYSES, AnalysisResult};
use crate::error::{LakeError, Result};

/// Analysis 2's years.
const POST_YEARS: std::ops::RangeInclusive<i64> = 2018..=2022;
/// Analyses 7 to 9's years.
const JOIN_YEARS: std::ops::RangeInclusive<i64> = 2015..=2020;

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
fn year(micros: i64) -> Option<i64> {
    DateTime::from_timestamp_micros(micros).map(|t| i64::from(t.year()))
}

/// A geo row as the analyses use it.
#[derive(Clone, Copy)]
struct Geo<'a> {
    country: Option<&'a str>,
    year: Option<i64>,
}

/// A user row as the analyses use it.
#[derive(Clone, Copy)]
struct User {
    age_group: Option<&'static str>,
    join_year: Option<i64>,
}

/// Rows of a table by key: the first row of each key, and the others of keys held more than once.
struct Index<T> {
    first: HashMap<i64, T>,
    more: HashMap<i64, Vec<T>>,
}

impl<T: Copy> Index<T> {
    fn new(capacity: usize) -> Self {
        Self {
            first: HashMap::with_capacity(capacity),
            more: HashMap::new(),
        }
    }

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

/// What the analyses gather as the pins go by.
#[derive(Default)]
struct Accumulators<'a> {
    /// 1: posts per (country, category).
    by_country: HashMap<(&'a str, &'a str), i64>,
    /// 2: posts per (year, category).
    by_year: HashMap<(i64, &'a str), i64>,
    /// 3: per country, the highest follower count and the posters who have it.
    most_followed: HashMap<&'a str, (i64, BTreeSet<&'a str>)>,
    /// 5: posts per (age group, category).
    by_age: HashMap<(&'static str, &'a str), i64>,
    /// 6: follower counts per age group.
    followers_by_age: HashMap<&'static str, Vec<i64>>,
    /// 8: follower counts per join year.
    followers_by_year: HashMap<i64, Vec<i64>>,
    /// 9: follower counts per (age group, join year).
    followers_by_age_year: HashMap<(&'static str, i64), Vec<i64>>,
}

impl<'a> Accumulators<'a> {
    fn pin_geo(&mut self, pin: &Pin<'a>, geo: Geo<'a>) {
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
            if followers == *most {
                posters.insert(poster);
            }
        }
    }

    fn pin_user(&mut self, pin: &Pin<'a>, user: User) {
        if let (Some(group), Some(category)) = (user.age_group, pin.category) {
            *self.by_age.entry((group, category)).or_default() += 1;
        }
        let Some(followers) = pin.followers else {
            return;
        };
        if let Some(group) = user.age_group {
            self.followers_by_age
                .entry(group)
                .or_default()
                .push(followers);
        }
        let Some(year) = user.join_year.filter(|y| JOIN_YEARS.contains(y)) else {
            return;
        };
        self.followers_by_year
            .entry(year)
            .or_default()
            .push(followers);
        if let Some(group) = user.age_group {
            self.followers_by_age_year
                .entry((group, year))
                .or_default()
                .push(followers);
        }
    }
}

/// A pin as the analyses use it.
struct Pin<'a> {
    category: Option<&'a str>,
    poster: Option<&'a str>,
    followers: Option<i64>,
}

/// Runs the nine analyses over the tables `pin`, `geo` and `user` registered in `ctx`.
pub async fn run(ctx: &SessionContext) -> Result<Vec<AnalysisResult>> {
    let collect = |sql: &'static str| async move { ctx.sql(sql).await?.collect().await };
    let pins = collect("SELECT ind, category, poster_name, follower_count FROM pin").await?;
    let geos = collect("SELECT ind, country, \"timestamp\" FROM geo").await?;
    let users = collect("SELECT ind, age, date_joined FROM \"user\"").await?;
    tokio::task::spawn_blocking(move || compute(&pins, &geos, &users)).await?
}

/// The nine analyses of these columns (see [`run`] for which).
fn compute(
    pins: &[RecordBatch],
    geos: &[RecordBatch],
    users: &[RecordBatch],
) -> Result<Vec<AnalysisResult>> {
    let rows = |batches: &[RecordBatch]| batches.iter().map(RecordBatch::num_rows).sum();
    let mut geo_by_key = Index::new(rows(geos));
    for batch in geos {
        let (ind, country, time) = (ints(batch, 0)?, strings(batch, 1)?, times(batch, 2)?);
        for i in 0..batch.num_rows() {
            let geo = Geo {
                country: country.is_valid(i).then(|| country.value(i)),
                year: time.is_valid(i).then(|| year(time.value(i))).flatten(),
            };
            geo_by_key.insert(ind.value(i), geo);
        }
    }
    let mut user_by_key = Index::new(rows(users));
    let mut joined_by_year: BTreeMap<i64, i64> = BTreeMap::new();
    for batch in users {
        let (ind, age, joined) = (ints(batch, 0)?, ints(batch, 1)?, times(batch, 2)?);
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
    for batch in pins {
        let (ind, category, poster, followers) = (
            ints(batch, 0)?,
            strings(batch, 1)?,
            strings(batch, 2)?,
            ints(batch, 3)?,
        );
        for i in 0..batch.num_rows() {
            let pin = Pin {
                category: category.is_valid(i).then(|| category.value(i)),
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
    Ok(results(acc, &joined_by_year))
}

/// Every analysis's rows from the accumulators, sorted.
fn results(acc: Accumulators<'_>, joined_by_year: &BTreeMap<i64, i64>) -> Vec<AnalysisResult> {
    let highest = acc.most_followed.values().map(|(most, _)| *most).max();
    let rows: [Vec<Vec<String>>; 9] = [
        top_per_group(&acc.by_country),
        sorted(acc.by_year.iter().map(|((y, c), n)| (*y, *c, *n)))
            .map(|(year, category, n)| vec![year.to_string(), category.to_owned(), n.to_string()])
            .collect(),
        sorted(
            acc.most_followed
                .iter()
                .flat_map(|(country, (most, posters))| {
                    posters.iter().map(move |poster| (*country, *poster, *most))
                }),
        )
        .map(|(country, poster, n)| vec![country.to_owned(), poster.to_owned(), n.to_string()])
        .collect(),
        sorted(
            acc.most_followed
                .iter()
                .filter(|(_, (most, _))| Some(*most) == highest)
                .map(|(country, (most, _))| (*country, *most)),
        )
        .map(|(country, n)| vec![country.to_owned(), n.to_string()])
        .collect(),
        top_per_group(&acc.by_age),
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

/// Per group, the members with the most posts (ties kept), as (group, member, posts), sorted.
fn top_per_group<'a>(counts: &HashMap<(&'a str, &'a str), i64>) -> Vec<Vec<String>> {
    let mut most: HashMap<&str, i64> = HashMap::new();
    for ((group, _), n) in counts {
        let m = most.entry(group).or_insert(*n);
        *m = (*m).max(*n);
    }
    sorted(
        counts
            .iter()
            .filter(|((group, _), n)| most.get(group) == Some(n))
            .map(|((group, member), n)| (*group, *member, *n)),
    )
    .map(|(group, member, n)| vec![group.to_owned(), member.to_owned(), n.to_string()])
    .collect()
}

/// Each group's lower median (the value at position ceil(n/2) of its n sorted values), sorted by
/// group.
fn medians<K: Ord>(values: HashMap<K, Vec<i64>>) -> impl Iterator<Item = (K, i64)> {
    let mut out: Vec<(K, i64)> = values
        .into_iter()
        .filter_map(|(key, mut values)| {
            let position = values.len().div_ceil(2).checked_sub(1)?;
            let (_, median, _) = values.select_nth_unstable(position);
            Some((key, *median))
        })
        .collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out.into_iter()
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
