//! [`PinpipeOptions`]: where the lake is and how to reach it, shipped with every job in its
//! session settings (`pinpipe.lake`, `pinpipe.storage_options`), so that executors reach the
//! lake with the job's storage options, not with their own environment; and what the
//! scheduler and executors build from them: the [`Lake`], the object stores DataFusion reads
//! files with, the session.
//!
//! The settings travel in the clear inside every job and task message: run the cluster on a
//! network you trust (Ballista's REST API, which would show them, is not built in).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use ballista_core::extension::SessionConfigExt;
use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use pinpipe_lake::Lake;

use crate::error::task_error;

/// Where the lake is and how to reach it (see the module documentation).
///
/// Written out rather than with DataFusion's `extensions_options!`, whose entries leave out the
/// `pinpipe.` prefix: Ballista ships a job's settings as those entries, and an executor could not
/// tell whose keys they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinpipeOptions {
    /// The lake's root URL: `s3://bucket/prefix/` or `file:///absolute/path/`.
    pub lake: String,
    /// The lake's storage options as a JSON object (`AWS_ENDPOINT_URL`, credentials, …).
    pub storage_options: String,
}

impl ConfigExtension for PinpipeOptions {
    const PREFIX: &'static str = "pinpipe";
}

impl ExtensionOptions for PinpipeOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> DfResult<()> {
        match key {
            "lake" => self.lake = value.to_owned(),
            "storage_options" => self.storage_options = value.to_owned(),
            _ => {
                return Err(DataFusionError::Configuration(format!(
                    "no setting pinpipe.{key}"
                )));
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        let entry = |key: &str, value: &str, description| ConfigEntry {
            key: format!("{}.{key}", Self::PREFIX),
            value: Some(value.to_owned()),
            description,
        };
        vec![
            entry("lake", &self.lake, "the lake's root URL"),
            entry(
                "storage_options",
                &self.storage_options,
                "the lake's storage options (JSON)",
            ),
        ]
    }
}

impl PinpipeOptions {
    /// The options that reach `lake` from any node: its root URL (absolute), and its storage
    /// options as this process resolves them ([`Lake::portable_storage_options`]).
    pub fn for_lake(lake: &Lake) -> PinpipeOptions {
        let options: std::collections::BTreeMap<String, String> =
            lake.portable_storage_options().into_iter().collect();
        PinpipeOptions {
            lake: lake.root_url().to_string(),
            // A map of strings always serializes.
            storage_options: serde_json::to_string(&options).unwrap_or_default(),
        }
    }

    /// The options of the job `config` belongs to, if it carries any.
    fn of(config: &SessionConfig) -> Option<&PinpipeOptions> {
        config
            .options()
            .extensions
            .get::<PinpipeOptions>()
            .filter(|o| !o.lake.is_empty())
    }

    /// The lake these options name, opened once per process (and per set of options).
    fn open(&self) -> pinpipe_lake::Result<Lake> {
        static OPENED: LazyLock<Mutex<HashMap<(String, String), Lake>>> =
            LazyLock::new(Default::default);
        let key = (self.lake.clone(), self.storage_options.clone());
        let mut opened = OPENED
            .lock()
            .map_err(|_| pinpipe_lake::LakeError::Internal("lake cache poisoned".into()))?;
        if let Some(lake) = opened.get(&key) {
            return Ok(lake.clone());
        }
        let storage_options: HashMap<String, String> = if self.storage_options.is_empty() {
            HashMap::new()
        } else {
            serde_json::from_str(&self.storage_options).map_err(|e| {
                pinpipe_lake::LakeError::InvalidOptions(format!(
                    "pinpipe.storage_options is not a JSON object of strings: {e}"
                ))
            })?
        };
        let lake = Lake::open(&self.lake, storage_options)?;
        opened.insert(key, lake.clone());
        Ok(lake)
    }
}

/// The lake of the job a task belongs to.
pub(crate) fn task_lake(ctx: &TaskContext) -> DfResult<Lake> {
    let options = PinpipeOptions::of(ctx.session_config()).ok_or_else(|| {
        DataFusionError::Plan(
            "the job carries no pinpipe.lake setting: submit it with `pinpipe batch --cluster`"
                .into(),
        )
    })?;
    options.open().map_err(task_error)
}

/// The session settings every scheduler and executor starts from: Ballista's, with
/// [`PinpipeOptions`] registered so that a job's `pinpipe.*` settings are kept.
pub fn session_config() -> SessionConfig {
    SessionConfig::new_with_ballista().with_option_extension(PinpipeOptions::default())
}

/// The runtime of a job's tasks: an object store for the lake's bucket (S3), so that DataFusion
/// reads files by their full URL as the lake does; spill files under `temp_dir`.
pub fn runtime(config: &SessionConfig, temp_dir: &str) -> DfResult<Arc<RuntimeEnv>> {
    let registry = Arc::new(DefaultObjectStoreRegistry::new());
    if let Some(options) = PinpipeOptions::of(config) {
        let lake = options.open().map_err(task_error)?;
        if let Some((bucket, store)) = lake.bucket_store().map_err(task_error)? {
            registry.register_store(&bucket, store);
        }
    }
    RuntimeEnvBuilder::new()
        .with_object_store_registry(registry)
        .with_temp_file_path(temp_dir)
        .build_arc()
}

/// The scheduler's session for a job with settings `config` (Ballista's, with the job's
/// runtime): it plans SQL jobs (the nine analyses), for which it looks at the files to read.
pub fn scheduler_session(config: SessionConfig) -> DfResult<SessionState> {
    let runtime = runtime(&config, &std::env::temp_dir().display().to_string())?;
    Ok(SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .with_scalar_functions(ballista_core::extension::ballista_scalar_functions())
        .with_aggregate_functions(ballista_core::extension::ballista_aggregate_functions())
        .with_window_functions(ballista_core::extension::ballista_window_functions())
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballista_core::extension::SessionConfigHelperExt;

    #[test]
    fn options_survive_the_trip_to_an_executor() {
        let options = PinpipeOptions {
            lake: "s3://bucket/prefix/".into(),
            storage_options: r#"{"AWS_ENDPOINT_URL":"http://127.0.0.1:1"}"#.into(),
        };
        let sent = session_config().with_option_extension(options);
        // What a task carries, and how an executor reads it back.
        let pairs = sent.to_key_value_pairs();
        let received = session_config().update_from_key_value_pair(&pairs);
        let got = PinpipeOptions::of(&received).expect("pinpipe options arrive");
        assert_eq!(got.lake, "s3://bucket/prefix/");
        assert_eq!(
            got.storage_options,
            r#"{"AWS_ENDPOINT_URL":"http://127.0.0.1:1"}"#
        );
    }

    #[test]
    fn a_config_without_a_lake_has_no_options() {
        assert!(PinpipeOptions::of(&session_config()).is_none());
    }
}
