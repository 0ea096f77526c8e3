//! The nine analyses of SPEC §6, written as CSV under `results/`.
//!
//! Two engines answer them, with the same results (tests hold them to it, and both to the golden
//! fixtures):
//!
//! - [`memory`]: one pass over the three tables' needed columns held in memory, joined by
//!   hash on `ind` — what a run on one machine uses: the tables are read once, not nine times;
//! - [`sql`]: DataFusion SQL over the Delta tables — what a cluster runs, where the tables do not
//!   fit one process.
//!
//! Every result is sorted by all its columns, left to right, ascending.

pub mod memory;
pub mod sql;

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
use crate::session::{new_session, register_table};

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

/// What an analysis is: its number, file, title and columns.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Its number in SPEC §6.
    pub number: u8,
    /// The file name under `results/`.
    pub file: &'static str,
    /// What it shows.
    pub title: &'static str,
    /// Its columns, in order.
    pub columns: &'static [&'static str],
}

impl Spec {
    /// This analysis's result with `rows`.
    pub fn result(&self, rows: Vec<Vec<String>>) -> AnalysisResult {
        AnalysisResult {
            number: self.number,
            file: self.file,
            title: self.title.to_owned(),
            columns: self.columns.iter().map(|c| (*c).to_owned()).collect(),
            rows,
        }
    }
}

/// The nine analyses, in SPEC §6 order.
pub const ANALYSES: [Spec; 9] = [
    Spec {
        number: 1,
        file: "popular_category_by_country.csv",
        title: "Most popular category by country",
        columns: &["country", "category", "category_count"],
    },
    Spec {
        number: 2,
        file: "posts_per_category_by_year.csv",
        title: "Posts per category by year, 2018–2022",
        columns: &["post_year", "category", "category_count"],
    },
    Spec {
        number: 3,
        file: "most_followed_user_by_country.csv",
        title: "Most followed user by country",
        columns: &["country", "poster_name", "follower_count"],
    },
    Spec {
        number: 4,
        file: "country_with_most_followed_user.csv",
        title: "Country with the most followed user",
        columns: &["country", "follower_count"],
    },
    Spec {
        number: 5,
        file: "popular_category_by_age_group.csv",
        title: "Most popular category by age group",
        columns: &["age_group", "category", "category_count"],
    },
    Spec {
        number: 6,
        file: "median_followers_by_age_group.csv",
        title: "Median follower count by age group",
        columns: &["age_group", "median_follower_count"],
    },
    Spec {
        number: 7,
        file: "users_joined_by_year.csv",
        title: "Users joined per year, 2015–2020",
        columns: &["post_year", "number_users_joined"],
    },
    Spec {
        number: 8,
        file: "median_followers_by_join_year.csv",
        title: "Median follower count by join year, 2015–2020",
        columns: &["post_year", "median_follower_count"],
    },
    Spec {
        number: 9,
        file: "median_followers_by_age_group_and_join_year.csv",
        title: "Median follower count by age group and join year, 2015–2020",
        columns: &["age_group", "post_year", "median_follower_count"],
    },
];

/// A session with the cleaned tables of `tables_dir` registered as `pin`, `geo` and `user`;
/// [`LakeError::TableMissing`] before the batch job has run.
pub async fn tables_session(lake: &Lake, tables_dir: &str) -> Result<SessionContext> {
    let ctx = new_session()?;
    for table in Table::ALL {
        let path = table_path(tables_dir, table);
        if !register_table(&ctx, lake, table.name(), &path).await? {
            return Err(LakeError::TableMissing { path });
        }
    }
    Ok(ctx)
}

/// Runs the nine analyses over the cleaned tables in `tables_dir` (in memory, see [`memory`]) and
/// writes each one's CSV to `results/<file>`. Fails with [`LakeError::TableMissing`] before the
/// batch job has run.
pub async fn run_analyses(lake: &Lake, tables_dir: &str) -> Result<Vec<AnalysisResult>> {
    let ctx = tables_session(lake, tables_dir).await?;
    let results = memory::run(&ctx).await?;
    write_results(lake, &results).await?;
    Ok(results)
}

/// Writes each result's CSV to `results/<file>`.
pub async fn write_results(lake: &Lake, results: &[AnalysisResult]) -> Result<()> {
    let store = lake.store();
    for result in results {
        let csv = to_csv(&result.columns, &result.rows);
        let path = Path::from(format!("{RESULTS_DIR}/{}", result.file));
        store.put(&path, PutPayload::from(csv.into_bytes())).await?;
        tracing::info!(
            file = result.file,
            rows = result.rows.len(),
            "analysis written"
        );
    }
    Ok(())
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
