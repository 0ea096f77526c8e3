//! The nine analyses of SPEC §6 as DataFusion SQL over the cleaned tables: the engine for a
//! cluster (where the data does not fit one process), and the reference the in-memory engine
//! ([`super::memory`]) is tested against.
//!
//! Every analysis is built from a few shared pieces, so the rules hold the same way in all of them:
//!
//! - `facts`: the input rows with named columns, dropping every row where one of them is null
//!   (nulls never count as a category, poster, country or value) and applying the year range;
//! - `count`: rows per group;
//! - `top`: the rows of each group with the highest value, ties kept (`RANK() = 1`);
//! - `lower_median`: the value at 1-based position ceil(n/2) of the sorted values of each group,
//!   computed exactly with `ROW_NUMBER()` and `COUNT()` (what Spark's `percentile_approx(x, 0.5)` returns).
//!
//! Every result is then sorted by all its columns, left to right, ascending.

use deltalake::datafusion::prelude::SessionContext;

use super::{ANALYSES, AnalysisResult, Spec, text_rows};
use crate::error::Result;

/// pin ⋈ geo.
const PIN_GEO: &str = "pin AS p JOIN geo AS g ON p.ind = g.ind";
/// pin ⋈ user.
const PIN_USER: &str = "pin AS p JOIN \"user\" AS u ON p.ind = u.ind";
/// The user table alone.
const USER: &str = "\"user\" AS u";
/// The age group of `u.age`; null for ages in no group.
const AGE_GROUP: &str = "CASE WHEN u.age BETWEEN 18 AND 24 THEN '18-24' \
     WHEN u.age BETWEEN 25 AND 35 THEN '25-35' \
     WHEN u.age BETWEEN 36 AND 50 THEN '36-50' \
     WHEN u.age > 50 THEN '50+' END";
/// The year (UTC) a post was made.
const POST_YEAR: &str = "CAST(date_part('year', g.\"timestamp\") AS BIGINT)";
/// The year (UTC) a user joined.
const JOIN_YEAR: &str = "CAST(date_part('year', u.date_joined) AS BIGINT)";
/// Analysis 2's year range.
const POST_YEARS: &str = "post_year BETWEEN 2018 AND 2022";
/// Analyses 7 to 9's year range.
const JOIN_YEARS: &str = "post_year BETWEEN 2015 AND 2020";

/// `SELECT <expr> AS <name>, … FROM <from>`, keeping only rows where no column is null and every
/// condition of `filter` holds (conditions over the named columns).
fn facts(columns: &[(&str, &str)], from: &str, filter: &[&str]) -> String {
    let select: Vec<String> = columns
        .iter()
        .map(|(expr, name)| format!("{expr} AS {name}"))
        .collect();
    let mut conditions: Vec<String> = columns
        .iter()
        .map(|(_, name)| format!("{name} IS NOT NULL"))
        .collect();
    conditions.extend(filter.iter().map(|c| (*c).to_owned()));
    format!(
        "SELECT * FROM (SELECT {} FROM {from}) AS f WHERE {}",
        select.join(", "),
        conditions.join(" AND ")
    )
}

/// Rows of `source` per distinct `keys`, as column `name`.
fn count(source: &str, keys: &[&str], name: &str) -> String {
    let keys = keys.join(", ");
    format!("SELECT {keys}, COUNT(*) AS {name} FROM ({source}) AS c GROUP BY {keys}")
}

/// The rows of `source` with the highest `by` in each `groups` (in all of it if none), ties kept.
fn top(source: &str, groups: &[&str], by: &str) -> String {
    let partition = if groups.is_empty() {
        String::new()
    } else {
        format!("PARTITION BY {} ", groups.join(", "))
    };
    format!(
        "SELECT * FROM (SELECT *, RANK() OVER ({partition}ORDER BY {by} DESC) AS top_rank \
         FROM ({source}) AS t) AS r WHERE top_rank = 1"
    )
}

/// The distinct rows of `columns` of `source`.
fn distinct(source: &str, columns: &[&str]) -> String {
    format!(
        "SELECT DISTINCT {} FROM ({source}) AS d",
        columns.join(", ")
    )
}

/// The lower median of `value` per `groups`, as column `name`: the value at 1-based position
/// ceil(n/2) = (n + 1) / 2 of the group's n sorted values.
fn lower_median(source: &str, groups: &[&str], value: &str, name: &str) -> String {
    let groups = groups.join(", ");
    format!(
        "SELECT {groups}, {value} AS {name} FROM (SELECT {groups}, {value}, \
         ROW_NUMBER() OVER (PARTITION BY {groups} ORDER BY {value}) AS value_position, \
         COUNT(*) OVER (PARTITION BY {groups}) AS n FROM ({source}) AS m) AS ranked \
         WHERE value_position = (n + 1) / 2"
    )
}

/// Analysis 3 on its own, since analysis 4 builds on it.
fn most_followed_user_by_country() -> String {
    let columns = ["country", "poster_name", "follower_count"];
    let posters = facts(
        &[
            ("g.country", "country"),
            ("p.poster_name", "poster_name"),
            ("p.follower_count", "follower_count"),
        ],
        PIN_GEO,
        &[],
    );
    top(
        &distinct(&posters, &columns),
        &["country"],
        "follower_count",
    )
}

/// The query of each analysis, in SPEC §6 order, before its columns are picked and sorted.
const QUERIES: [fn() -> String; 9] = [
    || {
        let posts = facts(
            &[("g.country", "country"), ("p.category", "category")],
            PIN_GEO,
            &[],
        );
        top(
            &count(&posts, &["country", "category"], "category_count"),
            &["country"],
            "category_count",
        )
    },
    || {
        let posts = facts(
            &[(POST_YEAR, "post_year"), ("p.category", "category")],
            PIN_GEO,
            &[POST_YEARS],
        );
        count(&posts, &["post_year", "category"], "category_count")
    },
    most_followed_user_by_country,
    || {
        let countries = distinct(
            &most_followed_user_by_country(),
            &["country", "follower_count"],
        );
        top(&countries, &[], "follower_count")
    },
    || {
        let posts = facts(
            &[(AGE_GROUP, "age_group"), ("p.category", "category")],
            PIN_USER,
            &[],
        );
        top(
            &count(&posts, &["age_group", "category"], "category_count"),
            &["age_group"],
            "category_count",
        )
    },
    || {
        let posts = facts(
            &[
                (AGE_GROUP, "age_group"),
                ("p.follower_count", "follower_count"),
            ],
            PIN_USER,
            &[],
        );
        lower_median(
            &posts,
            &["age_group"],
            "follower_count",
            "median_follower_count",
        )
    },
    || {
        let users = facts(&[(JOIN_YEAR, "post_year")], USER, &[JOIN_YEARS]);
        count(&users, &["post_year"], "number_users_joined")
    },
    || {
        let posts = facts(
            &[
                (JOIN_YEAR, "post_year"),
                ("p.follower_count", "follower_count"),
            ],
            PIN_USER,
            &[JOIN_YEARS],
        );
        lower_median(
            &posts,
            &["post_year"],
            "follower_count",
            "median_follower_count",
        )
    },
    || {
        let posts = facts(
            &[
                (AGE_GROUP, "age_group"),
                (JOIN_YEAR, "post_year"),
                ("p.follower_count", "follower_count"),
            ],
            PIN_USER,
            &[JOIN_YEARS],
        );
        lower_median(
            &posts,
            &["age_group", "post_year"],
            "follower_count",
            "median_follower_count",
        )
    },
];

/// The full query of `spec`: exactly its columns, sorted by all of them.
pub fn query(spec: &Spec) -> String {
    let columns = spec.columns.join(", ");
    let inner = QUERIES[usize::from(spec.number) - 1]();
    format!("SELECT {columns} FROM ({inner}) AS result ORDER BY {columns}")
}

/// The nine analyses as SQL in `ctx`, where the tables `pin`, `geo` and `user` are registered.
pub async fn run(ctx: &SessionContext) -> Result<Vec<AnalysisResult>> {
    let mut results = Vec::with_capacity(ANALYSES.len());
    for spec in &ANALYSES {
        let batches = ctx.sql(&query(spec)).await?.collect().await?;
        results.push(spec.result(text_rows(&batches)?));
    }
    Ok(results)
}
