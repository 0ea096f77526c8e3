//! The Airflow DAG file `pinpipe airflow-dag` prints, for users who already run Airflow (MWAA
//! included): the counterpart of the original pipeline's DAG, which ran the batch notebook daily.
//!
//! The DAG has one `BashOperator` task running `pinpipe … batch` with the settings resolved when
//! the file was written (absolute paths, so the worker's working directory does not matter), with
//! Airflow's retries, `catchup=False`, `max_active_runs=1` and a fixed `start_date`. It imports
//! `DAG` and `BashOperator` from where Airflow 3 keeps them and falls back to Airflow 2's places,
//! so one file works on both.
//!
//! Settings whose name looks secret (keys, passwords, tokens) are not written into the file: a
//! comment names the variables the worker's environment must provide instead.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::cron::Cron;
use crate::error::{Result, SchedulerError};

/// What goes into the DAG file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagSpec {
    /// The DAG id: letters, digits, `_`, `-`, `.`.
    pub dag_id: String,
    /// When it runs.
    pub schedule: Cron,
    /// Task retries.
    pub retries: u32,
    /// Wait between tries.
    pub retry_delay: Duration,
    /// Airflow's `start_date`.
    pub start_date: DateTime<Utc>,
    /// The command line the task runs: program and arguments (quoted for bash when rendered).
    pub command: Vec<String>,
    /// Environment variables the task sets on top of the worker's environment.
    pub env: BTreeMap<String, String>,
    /// Written in the header, e.g. the pinpipe version.
    pub generator: String,
}

/// Parts of variable names that mark a secret.
const SECRET_MARKS: [&str; 5] = ["SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL"];

/// Whether an environment variable's name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKS.iter().any(|mark| upper.contains(mark))
}

/// The DAG file for `spec`, as Python source.
pub fn render_dag(spec: &DagSpec) -> Result<String> {
    let id_ok = !spec.dag_id.is_empty()
        && spec.dag_id.len() <= 250
        && spec
            .dag_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !id_ok {
        return Err(SchedulerError::InvalidRequest(format!(
            "DAG id {:?}: use 1 to 250 letters, digits, '_', '-' or '.'",
            spec.dag_id
        )));
    }
    // BashOperator renders its command and its env (both template fields) with Jinja. Secrets
    // are not written into the file, so not checked (nor echoed).
    let templated = |text: &str| text.contains("{{") || text.contains("{%") || text.contains("{#");
    if let Some(arg) = spec.command.iter().find(|arg| templated(arg)) {
        return Err(SchedulerError::InvalidRequest(format!(
            "{arg:?} would be read as a Jinja template by Airflow"
        )));
    }
    let command: Vec<String> = spec.command.iter().map(|a| shell_quote(a)).collect();
    let (secret, env): (BTreeMap<_, _>, BTreeMap<_, _>) =
        spec.env.iter().partition(|(name, _)| looks_secret(name));
    if let Some((name, _)) = env.iter().find(|(_, value)| templated(value)) {
        return Err(SchedulerError::InvalidRequest(format!(
            "the value of {name} would be read as a Jinja template by Airflow"
        )));
    }

    let mut py = String::new();
    let cron = spec.schedule.expression();
    let _ = write!(
        py,
        r#""""pinpipe batch on Airflow: the DAG file written by `pinpipe airflow-dag` ({generator}).

Runs `pinpipe batch` (raw objects -> Delta tables -> the nine analyses -> results/*.csv) on the
schedule {cron}, as the original pipeline's MWAA DAG ran its batch notebook. Works with Airflow
2.4+ and 3.x. Write it again with `pinpipe airflow-dag` rather than editing it.
"""

from datetime import datetime, timedelta, timezone

try:
    from airflow import DAG
except ImportError:  # Airflow 3 without the Airflow 2 names
    from airflow.sdk import DAG
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2 without the standard provider
    from airflow.operators.bash import BashOperator

# The pinpipe binary and its settings, resolved when this file was written.
COMMAND = {command}
# Settings passed as environment variables, on top of the worker's environment.
ENV = {{
"#,
        generator = spec.generator.replace("\"\"\"", "'''"),
        command = py_str(&command.join(" ")),
    );
    for (name, value) in &env {
        let _ = writeln!(py, "    {}: {},", py_str(name), py_str(value));
    }
    py.push_str("}\n");
    if !secret.is_empty() {
        py.push_str("# Secret settings, not written here: set them in the worker's environment.\n");
        for name in secret.keys() {
            let _ = writeln!(py, "#   {name}");
        }
    }
    let start = spec.start_date;
    let _ = write!(
        py,
        r#"
with DAG(
    dag_id={dag_id},
    description="pinpipe batch: raw objects -> Delta tables -> the nine analyses",
    schedule={schedule},
    start_date=datetime({y}, {mo}, {d}, {h}, {mi}, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={{
        "owner": "pinpipe",
        "retries": {retries},
        "retry_delay": timedelta(seconds={delay}),
    }},
    tags=["pinpipe"],
) as dag:
    BashOperator(
        task_id="batch",
        bash_command=COMMAND,
        env=ENV,
        append_env=True,
    )
"#,
        dag_id = py_str(&spec.dag_id),
        schedule = py_str(cron),
        y = start.year(),
        mo = start.month(),
        d = start.day(),
        h = start.hour(),
        mi = start.minute(),
        retries = spec.retries,
        delay = spec.retry_delay.as_secs_f64(),
    );
    Ok(py)
}

/// A Python string literal (a JSON string is one).
fn py_str(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `arg` as one bash word.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DagSpec {
        DagSpec {
            dag_id: "pinpipe_batch".into(),
            schedule: Cron::parse("@daily").unwrap_or_else(|e| panic!("{e}")),
            retries: 2,
            retry_delay: Duration::from_secs(300),
            start_date: DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default(),
            command: [
                "/opt/pinpipe/bin/pinpipe",
                "--lake",
                "/data/my lake",
                "--topic-prefix",
                "it's",
                "batch",
            ]
            .map(String::from)
            .to_vec(),
            env: BTreeMap::from([
                (
                    "PINPIPE_STORAGE_OPTIONS__AWS_REGION".to_owned(),
                    "eu-west-1".to_owned(),
                ),
                (
                    "PINPIPE_STORAGE_OPTIONS__AWS_SECRET_ACCESS_KEY".to_owned(),
                    "hunter2".to_owned(),
                ),
            ]),
            generator: "pinpipe 0.1.0".into(),
        }
    }

    #[test]
    fn the_dag_runs_the_batch_command_with_retries() -> Result<()> {
        let py = render_dag(&spec())?;
        assert!(
            py.contains(
                r#"COMMAND = "/opt/pinpipe/bin/pinpipe --lake '/data/my lake' --topic-prefix 'it'\\''s' batch""#
            ),
            "{py}"
        );
        for expected in [
            "from airflow import DAG\n",
            "    from airflow.sdk import DAG\n",
            "    from airflow.providers.standard.operators.bash import BashOperator\n",
            "    from airflow.operators.bash import BashOperator\n",
            r#"    dag_id="pinpipe_batch","#,
            r#"    schedule="@daily","#,
            "    start_date=datetime(2024, 1, 1, 0, 0, tzinfo=timezone.utc),",
            "    catchup=False,",
            r#"        "retries": 2,"#,
            r#"        "retry_delay": timedelta(seconds=300),"#,
            r#"    "PINPIPE_STORAGE_OPTIONS__AWS_REGION": "eu-west-1","#,
            "#   PINPIPE_STORAGE_OPTIONS__AWS_SECRET_ACCESS_KEY\n",
            "append_env=True",
        ] {
            assert!(py.contains(expected), "{expected:?} missing from\n{py}");
        }
        assert!(!py.contains("hunter2"), "secrets stay out of the file");
        Ok(())
    }

    #[test]
    fn bad_ids_and_templates_are_refused() {
        let mut bad = spec();
        bad.dag_id = "my dag".into();
        assert!(render_dag(&bad).is_err());
        let mut bad = spec();
        bad.command[2] = "/data/{{ ds }}".into();
        assert!(render_dag(&bad).is_err());
        let mut bad = spec();
        bad.env.insert(
            "PINPIPE_STORAGE_OPTIONS__AWS_ENDPOINT_URL".into(),
            "http://h:1/{{ ds }}".into(),
        );
        assert!(render_dag(&bad).is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("/usr/bin/pinpipe"), "/usr/bin/pinpipe");
        assert_eq!(shell_quote("s3://bucket/pre fix"), "'s3://bucket/pre fix'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn python_strings() {
        assert_eq!(py_str(r#"a "b" \ c"#), r#""a \"b\" \\ c""#);
        assert_eq!(py_str("é\n"), "\"é\\n\"");
        assert!(looks_secret("PINPIPE_STORAGE_OPTIONS__AWS_ACCESS_KEY_ID"));
        assert!(!looks_secret("PINPIPE_STORAGE_OPTIONS__AWS_ENDPOINT_URL"));
    }
}
