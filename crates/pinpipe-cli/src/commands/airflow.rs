//! `pinpipe airflow-dag`: prints an Airflow DAG file that runs `pinpipe batch` with these
//! settings, for users who run Airflow (MWAA included) — the original's DAG file, regenerated.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use pinpipe_scheduler::{DagSpec, render_dag};

use super::schedule;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<()> {
    let schedule = schedule::schedule(settings)?;
    let exe = std::env::current_exe().context("cannot tell where the pinpipe binary is")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let data_dir = std::path::absolute(&settings.data_dir)
        .with_context(|| format!("data dir {}", settings.data_dir.display()))?;
    let mut lake = settings.lake_location();
    if !lake.contains("://") {
        lake = std::path::absolute(&lake)
            .with_context(|| format!("lake {lake}"))?
            .display()
            .to_string();
    }
    let command = vec![
        exe.display().to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--lake".into(),
        lake,
        "--topic-prefix".into(),
        settings.topic_prefix.clone(),
        "batch".into(),
    ];
    let env: BTreeMap<String, String> = settings
        .storage_options
        .iter()
        .map(|(key, value)| {
            (
                format!("PINPIPE_STORAGE_OPTIONS__{}", key.to_ascii_uppercase()),
                value.clone(),
            )
        })
        .collect();
    let start_date = match schedule.start_date {
        Some(start) => start,
        None => Utc
            .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
            .single()
            .context("the default start date")?,
    };
    let spec = DagSpec {
        dag_id: schedule.name,
        schedule: schedule.cron,
        retries: schedule.retries,
        retry_delay: schedule.retry_delay,
        start_date,
        command,
        env,
        generator: format!("pinpipe {}", env!("CARGO_PKG_VERSION")),
    };
    print!("{}", render_dag(&spec)?);
    Ok(())
}
