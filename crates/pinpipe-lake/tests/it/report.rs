//! The HTML report: escaping, charts, and the page written into the lake.

use pinpipe_lake::report::render_report;
use pinpipe_lake::{
    AnalysisResult, LakeSummary, QuarantineCount, REPORT_PATH, run_analyses, write_report,
};

use crate::common::{Backend, TestLake, TestResult, backend_tests, put_peer_fixtures};

fn result(number: u8, columns: &[&str], rows: Vec<Vec<String>>) -> AnalysisResult {
    AnalysisResult {
        number,
        file: "most_followed_user_by_country.csv",
        title: "Most followed <user>".to_owned(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows,
    }
}

fn summary() -> LakeSummary {
    LakeSummary {
        location: "/tmp/<lake>".into(),
        tables: vec![("tables/pin".into(), 3)],
        quarantine: vec![QuarantineCount {
            table: "user".into(),
            reason: "pin record in user topic".into(),
            count: 4,
        }],
    }
}

#[test]
fn report_escapes_markup_and_is_self_contained() {
    let rows = vec![vec![
        "Cote d'Ivoire".to_owned(),
        "<script>x</script>".to_owned(),
        "12".to_owned(),
    ]];
    let html = render_report(
        &summary(),
        &[result(
            3,
            &["country", "poster_name", "follower_count"],
            rows,
        )],
        "now",
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"));
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(html.contains("Cote d&#39;Ivoire"));
    assert!(html.contains("/tmp/&lt;lake&gt;"));
    assert!(html.contains("Most followed &lt;user&gt;"));
    assert!(html.contains("pin record in user topic"));
    assert!(html.contains("<svg"));
    assert!(!html.contains("<link") && !html.contains(" src=") && !html.contains("@import"));
}

#[test]
fn long_results_chart_their_largest_values() {
    let rows: Vec<Vec<String>> = (0..40)
        .map(|i| vec![format!("c{i}"), i.to_string()])
        .collect();
    let html = render_report(&summary(), &[result(1, &["country", "n"], rows)], "now");
    assert_eq!(html.matches("<rect").count(), 25);
    assert!(html.contains(">c39</text>"));
    assert!(!html.contains(">c0</text>"));
    assert!(html.contains("25 largest of 40"));
    // The table still has every row.
    assert!(html.contains("<td>c0</td>"));
}

#[test]
fn results_without_numbers_or_rows_get_no_chart() {
    let text = vec![vec!["a".to_owned(), "x".to_owned()]];
    let html = render_report(
        &summary(),
        &[result(1, &["a", "b"], text), result(2, &["a", "b"], vec![])],
        "now",
    );
    assert!(!html.contains("<svg"));
}

backend_tests! {
    async fn report_is_written_into_the_lake(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        put_peer_fixtures(&lake).await?;
        lake.batch().await?;
        let results = run_analyses(&lake.lake, "tables").await?;
        assert_eq!(
            write_report(&lake.lake, "tables", &results).await?,
            REPORT_PATH
        );
        let html = lake.get_text(REPORT_PATH).await?;
        for r in &results {
            assert!(html.contains(&format!("id=\"analysis-{}\"", r.number)));
        }
        assert!(
            html.contains("<td>tables/pin</td><td class=\"num\">1058</td>"),
            "row counts"
        );
        assert!(
            html.contains("pin record in user topic"),
            "quarantine summary"
        );
        Ok(())
    }
}
