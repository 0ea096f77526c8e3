//! `/api/results`: the nine analyses as the last batch run wrote them under `results/` (SPEC §6),
//! with their titles and columns; an analysis not written yet is left out.

use chrono::{DateTime, Utc};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use pinpipe_lake::analyses::ANALYSES;
use pinpipe_lake::{Lake, LakeError, RESULTS_DIR};
use serde::Serialize;

use crate::error::UiError;

/// The results view.
#[derive(Clone, Serialize)]
pub struct ResultsView {
    analyses: Vec<AnalysisView>,
    /// When the newest result file was written (for the overview).
    #[serde(skip)]
    pub updated: Option<DateTime<Utc>>,
}

impl ResultsView {
    /// How many result files there are.
    pub fn files(&self) -> usize {
        self.analyses.len()
    }
}

#[derive(Clone, Serialize)]
struct AnalysisView {
    number: u8,
    title: &'static str,
    file: &'static str,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Reads every result file there is.
pub async fn read(lake: &Lake) -> Result<ResultsView, UiError> {
    let store = lake.store();
    let mut analyses = Vec::new();
    let mut updated: Option<DateTime<Utc>> = None;
    for spec in ANALYSES {
        let path = Path::from(format!("{RESULTS_DIR}/{}", spec.file));
        let object = match store.get(&path).await {
            Ok(object) => object,
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(LakeError::from(e).into()),
        };
        updated = updated.max(Some(object.meta.last_modified));
        let bytes = object.bytes().await.map_err(LakeError::from)?;
        let (columns, rows) = parse_csv(&bytes).map_err(|source| UiError::Results {
            file: spec.file.to_owned(),
            source,
        })?;
        analyses.push(AnalysisView {
            number: spec.number,
            title: spec.title,
            file: spec.file,
            columns,
            rows,
        });
    }
    Ok(ResultsView { analyses, updated })
}

/// The header and rows of a CSV file.
fn parse_csv(bytes: &[u8]) -> Result<(Vec<String>, Vec<Vec<String>>), csv::Error> {
    let mut reader = csv::Reader::from_reader(bytes);
    let columns = reader.headers()?.iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|record| Ok(record?.iter().map(str::to_owned).collect()))
        .collect::<Result<_, csv::Error>>()?;
    Ok((columns, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_files_read_back_as_written() {
        let columns = vec!["country".to_owned(), "category".to_owned()];
        let rows = vec![
            vec!["Côte d'Ivoire".to_owned(), "art, \"modern\"".to_owned()],
            vec!["Chad".to_owned(), String::new()],
        ];
        let text = pinpipe_lake::csv::to_csv(&columns, &rows);
        let parsed = parse_csv(text.as_bytes()).expect("csv");
        assert_eq!(parsed, (columns, rows));
    }
}
