//! What the terminal shows: tables, progress bars and errors.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use pinpipe_lake::AnalysisResult;

/// A table of `columns` and `rows` sized to the terminal.
pub fn table(columns: &[String], rows: &[Vec<String>]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(columns);
    for row in rows {
        table.add_row(row);
    }
    table
}

/// Prints each analysis under its title, as the original README showed them.
pub fn print_analyses(results: &[AnalysisResult]) {
    for result in results {
        println!("\n{}. {}  ({})", result.number, result.title, result.file);
        println!("{}", table(&result.columns, &result.rows));
    }
}

/// A bar counting up to `total` with a rate.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template =
        format!("{{spinner}} {what:<10} [{{bar:30}}] {{pos}}/{{len}} {{per_sec}} {{msg}}");
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// A spinner for work of unknown length.
pub fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    let template = format!("{{spinner}} {what:<10} {{pos}} {{msg}} ({{elapsed}})");
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A count, or `-` where it is not known (Kinesis does not count a shard's records).
pub fn or_dash(count: Option<i64>) -> String {
    count.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// An error and its causes on one line, as `{:#}` prints them, leaving out a cause whose text the
/// line already holds: errors that show their source and also return it (DataFusion's, an I/O
/// error wrapped twice) would otherwise repeat it two or three times.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}
