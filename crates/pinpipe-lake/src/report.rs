//! `results/report.html`: one self-contained page (inline CSS and SVG, no scripts, no network) with
//! the row counts of the tables, the quarantine by table and reason, and every analysis as a bar
//! chart and a table.

use std::fmt::Write as _;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use pinpipe_model::Table;

use crate::analyses::{AnalysisResult, RESULTS_DIR, text_rows};
use crate::delta::{QUARANTINE_PATH, table_path};
use crate::error::Result;
use crate::location::Lake;
use crate::session::{new_session, register_table};

/// The report's path inside the lake.
pub const REPORT_PATH: &str = "results/report.html";

/// Bars drawn at most per chart; longer results chart their largest values.
const MAX_BARS: usize = 25;
/// Characters of a bar label shown before it is cut (the full label is its tooltip).
const MAX_LABEL_CHARS: usize = 40;

/// What the lake holds, for the report's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LakeSummary {
    /// The lake's location.
    pub location: String,
    /// Rows per Delta table that exists, by path (`tables/pin`, …, `quarantine`).
    pub tables: Vec<(String, u64)>,
    /// Quarantined records per (table, reason), sorted.
    pub quarantine: Vec<QuarantineCount>,
}

/// Quarantined records of one table with one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineCount {
    /// The table the records arrived for.
    pub table: String,
    /// Why they were rejected.
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// Counts the rows of the cleaned tables in `tables_dir` and of the quarantine (by table and reason).
pub async fn lake_summary(lake: &Lake, tables_dir: &str) -> Result<LakeSummary> {
    let ctx = new_session()?;
    let mut tables = Vec::new();
    let count = |name: &str| format!("SELECT CAST(COUNT(*) AS BIGINT) FROM \"{name}\"");
    for table in Table::ALL {
        let path = table_path(tables_dir, table);
        if register_table(&ctx, lake, table.name(), &path).await? {
            tables.push((path, single_count(&ctx, &count(table.name())).await?));
        }
    }
    let mut quarantine = Vec::new();
    if register_table(&ctx, lake, "quarantine", QUARANTINE_PATH).await? {
        tables.push((
            QUARANTINE_PATH.to_owned(),
            single_count(&ctx, &count("quarantine")).await?,
        ));
        let sql = "SELECT \"table\", reason, CAST(COUNT(*) AS BIGINT) FROM quarantine \
                   GROUP BY \"table\", reason ORDER BY \"table\", reason";
        let batches = ctx.sql(sql).await?.collect().await?;
        for row in text_rows(&batches)? {
            if let [table, reason, n] = row.as_slice() {
                quarantine.push(QuarantineCount {
                    table: table.clone(),
                    reason: reason.clone(),
                    count: n.parse().unwrap_or(0),
                });
            }
        }
    }
    Ok(LakeSummary {
        location: lake.location().to_owned(),
        tables,
        quarantine,
    })
}

async fn single_count(
    ctx: &deltalake::datafusion::prelude::SessionContext,
    sql: &str,
) -> Result<u64> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let rows = text_rows(&batches)?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// Writes `results/report.html` for `results` and the tables in `tables_dir`; returns its path.
pub async fn write_report(
    lake: &Lake,
    tables_dir: &str,
    results: &[AnalysisResult],
) -> Result<&'static str> {
    let summary = lake_summary(lake, tables_dir).await?;
    let generated = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    let html = render_report(&summary, results, &generated);
    lake.store()
        .put(
            &Path::from(REPORT_PATH),
            PutPayload::from(html.into_bytes()),
        )
        .await?;
    Ok(REPORT_PATH)
}

/// The report page. `generated` is shown as the time it was made.
pub fn render_report(summary: &LakeSummary, results: &[AnalysisResult], generated: &str) -> String {
    let mut html = String::with_capacity(64 * 1024);
    html.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>pinpipe report</title>\n<style>\n",
        include_str!("report.css"),
        "</style>\n</head>\n<body>\n<h1>pinpipe report</h1>\n"
    ));
    let _ = writeln!(
        html,
        "<p class=\"meta\">Lake <code>{}</code> · generated {}</p>",
        escape(&summary.location),
        escape(generated)
    );
    html.push_str("<h2>Tables</h2>\n");
    let tables: Vec<Vec<String>> = summary
        .tables
        .iter()
        .map(|(path, rows)| vec![path.clone(), rows.to_string()])
        .collect();
    push_table(&mut html, &["table", "rows"], &tables);
    html.push_str("<h2>Quarantine</h2>\n");
    if summary.quarantine.is_empty() {
        html.push_str("<p>No rejected records.</p>\n");
    } else {
        let rows: Vec<Vec<String>> = summary
            .quarantine
            .iter()
            .map(|q| vec![q.table.clone(), q.reason.clone(), q.count.to_string()])
            .collect();
        push_table(&mut html, &["table", "reason", "records"], &rows);
    }
    html.push_str("<h2>Analyses</h2>\n<ol class=\"toc\">\n");
    for r in results {
        let _ = writeln!(
            html,
            "<li><a href=\"#analysis-{}\">{}</a></li>",
            r.number,
            escape(&r.title)
        );
    }
    html.push_str("</ol>\n");
    for r in results {
        push_analysis(&mut html, r);
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn push_analysis(html: &mut String, r: &AnalysisResult) {
    let _ = writeln!(
        html,
        "<section id=\"analysis-{n}\">\n<h3>{n}. {title}</h3>\n<p class=\"meta\">{dir}/{file} · {rows} row{s}</p>",
        n = r.number,
        title = escape(&r.title),
        dir = RESULTS_DIR,
        file = escape(r.file),
        rows = r.rows.len(),
        s = if r.rows.len() == 1 { "" } else { "s" },
    );
    if let Some(svg) = bar_chart(&r.rows) {
        html.push_str(&svg);
    }
    let columns: Vec<&str> = r.columns.iter().map(String::as_str).collect();
    push_table(html, &columns, &r.rows);
    html.push_str("</section>\n");
}

fn push_table(html: &mut String, columns: &[&str], rows: &[Vec<String>]) {
    html.push_str("<table>\n<thead><tr>");
    for c in columns {
        let _ = write!(html, "<th>{}</th>", escape(c));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        html.push_str("<tr>");
        for field in row {
            let numeric =
                !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit() || b == b'-');
            let class = if numeric { " class=\"num\"" } else { "" };
            let _ = write!(html, "<td{class}>{}</td>", escape(field));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
}

/// A horizontal bar chart of `rows`: each row's last column is the value, the others its label.
/// `None` if there are no rows or a value is not a number.
fn bar_chart(rows: &[Vec<String>]) -> Option<String> {
    const ROW_HEIGHT: usize = 22;
    const LABEL_WIDTH: f64 = 310.0;
    const BAR_WIDTH: f64 = 360.0;
    const WIDTH: f64 = 760.0;
    let mut bars = rows
        .iter()
        .map(|row| {
            let (value, label) = row.split_last()?;
            Some((label.join(" · "), value.parse::<f64>().ok()?))
        })
        .collect::<Option<Vec<(String, f64)>>>()?;
    if bars.is_empty() {
        return None;
    }
    let caption = if bars.len() > MAX_BARS {
        let total = bars.len();
        bars.sort_by(|a, b| b.1.total_cmp(&a.1));
        bars.truncate(MAX_BARS);
        format!("<p class=\"meta\">Chart: the {MAX_BARS} largest of {total} rows.</p>\n")
    } else {
        String::new()
    };
    let max = bars.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let height = bars.len() * ROW_HEIGHT + 8;
    let mut svg = caption;
    let _ = writeln!(
        svg,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\">"
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i * ROW_HEIGHT + 4;
        let width = if max > 0.0 {
            (value / max * BAR_WIDTH).max(1.0)
        } else {
            1.0
        };
        let shown = match label.char_indices().nth(MAX_LABEL_CHARS) {
            Some((cut, _)) => format!("{}…", &label[..cut]),
            None => label.clone(),
        };
        let _ = writeln!(
            svg,
            "<g><title>{full}: {value}</title>\
             <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{shown}</text>\
             <rect x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{width:.1}\" height=\"{bh}\" rx=\"2\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\" class=\"value\">{value}</text></g>",
            full = escape(label),
            lx = LABEL_WIDTH - 8.0,
            ty = y + 15,
            shown = escape(&shown),
            bh = ROW_HEIGHT - 6,
            vx = LABEL_WIDTH + width + 6.0,
        );
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

/// `text` safe inside HTML and SVG text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
