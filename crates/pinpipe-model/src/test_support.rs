//! Helpers shared by the unit tests of the cleaning modules.

use serde_json::Value;

use crate::error::CleanError;
use crate::fields::Object;

/// The JSON object inside `v`.
pub(crate) fn obj(v: Value) -> Object<'static> {
    match v {
        Value::Object(m) => m.into(),
        other => panic!("test input is not an object: {other}"),
    }
}

/// The quarantine reason of a result that must be an error.
pub(crate) fn reason<T: std::fmt::Debug>(r: Result<T, CleanError>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}
