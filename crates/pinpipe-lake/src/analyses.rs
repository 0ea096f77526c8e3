//! The nine analyses of SPEC §6 as DataFusion SQL over the cleaned Delta tables, written as CSV.
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

use deltalake::arrow::record_batch::RecordBatch;
use deltalake::arrow::util::display::{ArrayFormatter, FormatOptions};
use deltalake::datafusion::prelude::SessionContext;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use pinpipe_model::Table;

use crate::csv::to_csv;
use crate::delta::table_path;
use crate::error::{LakeError, Result};
use crate::location::Lake;
use crate::session::new_session;

/// The folder of the results inside the lake.
pub const RESULTS_DIR: &str = "results";

/// One analysis's result, as written to its CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisResult {
    /// The analysis's number in SPEC §6 (1 to 9).
    pub number: u8,
    /// The file name under `results/`.
    pub file: &'static str,
    /// What the analysis shows.
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows as text (integers in decimal), sorted.
    pub rows: Vec<Vec<String>>,
}

/// An analysis: where it goes, what it is called, its columns and its query.
struct Analysis {
    number: u8,
    file: &'static str,
    title: &'static str,
    columns: &'static [&'static str],
    sql: fn() -> String,
}

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

const ANALYSES: [Analysis; 9] = [
    Analysis {
        number: 1,
        file: "popular_category_by_country.csv",
        title: "Most popular category by country",
        columns: &["country", "category", "category_count"],
        sql: || {
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
    },
    Analysis {
        number: 2,
        file: "posts_per_category_by_year.csv",
        title: "Posts per category by year, 2018–2022",
        columns: &["post_year", "category", "category_count"],
        sql: || {
            let posts = facts(
                &[(POST_YEAR, "post_year"), ("p.category", "category")],
                PIN_GEO,
                &[POST_YEARS],
            );
            count(&posts, &["post_year", "category"], "category_count")
        },
    },
    Analysis {
        number: 3,
        file: "most_followed_user_by_country.csv",
        title: "Most followed user by country",
        columns: &["country", "poster_name", "follower_count"],
        sql: most_followed_user_by_country,
    },
    Analysis {
        number: 4,
        file: "country_with_most_followed_user.csv",
        title: "Country with the most followed user",
        columns: &["country", "follower_count"],
        sql: || {
            let countries = distinct(
                &most_followed_user_by_country(),
                &["country", "follower_count"],
            );
            top(&countries, &[], "follower_count")
        },
    },
    Analysis {
        number: 5,
        file: "popular_category_by_age_group.csv",
        title: "Most popular category by age group",
        columns: &["age_group", "category", "category_count"],
        sql: || {
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
    },
    Analysis {
        number: 6,
        file: "median_followers_by_age_group.csv",
        title: "Median follower count by age group",
        columns: &["age_group", "median_follower_count"],
        sql: || {
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
    },
    Analysis {
        number: 7,
        file: "users_joined_by_year.csv",
        title: "Users joined per year, 2015–2020",
        columns: &["post_year", "number_users_joined"],
        sql: || {
            let users = facts(&[(JOIN_YEAR, "post_year")], USER, &[JOIN_YEARS]);
            count(&users, &["post_year"], "number_users_joined")
        },
    },
    Analysis {
        number: 8,
        file: "median_followers_by_join_year.csv",
        title: "Median follower count by join year, 2015–2020",
        columns: &["post_year", "median_follower_count"],
        sql: || {
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
    },
    Analysis {
        number: 9,
        file: "median_followers_by_age_group_and_join_year.csv",
        title: "Median follower count by age group and join year, 2015–2020",
        columns: &["age_group", "post_year", "median_follower_count"],
        sql: || {
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
    },
];

impl Analysis {
    /// The full query: exactly the analysis's columns, sorted by all of them.
    fn query(&self) -> String {
        let columns = self.columns.join(", ");
        format!(
            "SELECT {columns} FROM ({}) AS result ORDER BY {columns}",
            (self.sql)()
        )
    }

    async fn run(&self, ctx: &SessionContext) -> Result<AnalysisResult> {
        let batches = ctx.sql(&self.query()).await?.collect().await?;
        Ok(AnalysisResult {
            number: self.number,
            file: self.file,
            title: self.title.to_owned(),
            columns: self.columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: text_rows(&batches)?,
        })
    }
}

/// Runs the nine analyses over the cleaned tables in `tables_dir` and writes each one's CSV to
/// `results/<file>`. Fails with [`LakeError::TableMissing`] before the batch job has run.
pub async fn run_analyses(lake: &Lake, tables_dir: &str) -> Result<Vec<AnalysisResult>> {
    let ctx = new_session()?;
    for table in Table::ALL {
        let path = table_path(tables_dir, table);
        if !crate::session::register_table(&ctx, lake, table.name(), &path).await? {
            return Err(LakeError::TableMissing { path });
        }
    }
    let store = lake.store();
    let mut results = Vec::with_capacity(ANALYSES.len());
    for analysis in &ANALYSES {
        let result = analysis.run(&ctx).await?;
        let csv = to_csv(&result.columns, &result.rows);
        let path = Path::from(format!("{RESULTS_DIR}/{}", result.file));
        store.put(&path, PutPayload::from(csv.into_bytes())).await?;
        tracing::info!(
            file = result.file,
            rows = result.rows.len(),
            "analysis written"
        );
        results.push(result);
    }
    Ok(results)
}

/// The rows of `batches` as text: integers in decimal, text as is, null as the empty string.
pub fn text_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            rows.push(formatters.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    Ok(rows)
}
