//! Golden tests: raw layouts in `fixtures/golden/<name>/raw/` and the CSVs an independent
//! implementation computed from them in `fixtures/golden/<name>/expected/`; every CSV must match
//! byte for byte. Cases are picked up as they are added. Each case runs on every backend: the raw
//! layout is uploaded through the lake's object store, and the CSVs are read back from it.

use std::path::Path;

use pinpipe_lake::raw::RAW_ROOT;
use pinpipe_lake::{BatchOptions, RESULTS_DIR, run_analyses, run_batch};

use crate::common::{Backend, TestLake, TestResult, backend_tests, fixtures_dir};

/// The topic prefix of a raw layout: the `<prefix>` of its `<prefix>.pin` folder.
fn topic_prefix(topics: &Path) -> TestResult<String> {
    for entry in std::fs::read_dir(topics)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(prefix) = name.strip_suffix(".pin") {
            return Ok(prefix.to_owned());
        }
    }
    Err(format!("no <prefix>.pin topic in {}", topics.display()).into())
}

backend_tests! {
    async fn golden_cases_match_byte_for_byte(backend: Backend) -> TestResult {
        let golden = fixtures_dir().join("golden");
        let Ok(cases) = std::fs::read_dir(&golden) else {
            eprintln!("no golden cases in {}", golden.display());
            return Ok(());
        };
        let mut dirs: Vec<_> = cases
            .filter_map(|c| c.ok().map(|c| c.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for case in dirs {
            let (raw, expected) = (case.join("raw"), case.join("expected"));
            if !raw.is_dir() || !expected.is_dir() {
                continue;
            }
            let lake = TestLake::on(&backend)?;
            let topics = if raw.join("topics").is_dir() {
                raw.join("topics")
            } else {
                raw.clone()
            };
            lake.upload_dir(&topics, RAW_ROOT).await?;
            let opts = BatchOptions {
                topic_prefix: topic_prefix(&topics)?,
                ..BatchOptions::default()
            };
            run_batch(&lake.lake, &opts).await?;
            let results = run_analyses(&lake.lake, &opts.tables_dir).await?;
            let mut compared = 0;
            for entry in std::fs::read_dir(&expected)? {
                let path = entry?.path();
                let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                    continue;
                };
                if !file.ends_with(".csv") {
                    continue;
                }
                assert!(
                    results.iter().any(|r| r.file == file),
                    "{}: no analysis writes {file}",
                    case.display()
                );
                let want = std::fs::read_to_string(&path)?;
                let got = lake.get_text(&format!("{RESULTS_DIR}/{file}")).await?;
                assert!(
                    got == want,
                    "{}: {file} differs\n--- expected\n{want}\n--- got\n{got}",
                    case.display()
                );
                compared += 1;
            }
            assert!(compared > 0, "{}: no expected CSVs", case.display());
            eprintln!("golden {}: {compared} CSVs match", case.display());
        }
        Ok(())
    }
}
