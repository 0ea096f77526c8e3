//! What can go wrong answering the API, and how it is answered: JSON in the REST Proxy's error
//! envelope (`{"error_code", "message"}`), as the gateway's other routes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API request that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The request carries no valid API key.
    #[error("Forbidden: missing or invalid x-api-key")]
    Forbidden,
    /// The topics or streams could not be read.
    #[error("the bus: {0}")]
    Bus(#[from] pinpipe_bus::BusError),
    /// The lake could not be read.
    #[error("the lake: {0}")]
    Lake(#[from] pinpipe_lake::LakeError),
    /// The run history could not be read.
    #[error("the run history: {0}")]
    History(#[from] pinpipe_scheduler::SchedulerError),
    /// A result file is not the CSV the batch job writes.
    #[error("results/{file}: {source}")]
    Results {
        /// The file.
        file: String,
        /// What is wrong with it.
        source: csv::Error,
    },
    /// A blocking read did not finish.
    #[error("a background read failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, code) = match self {
            UiError::Forbidden => (StatusCode::FORBIDDEN, 40301),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, 50001),
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "web UI: cannot answer");
        }
        let body = json!({ "error_code": code, "message": self.to_string() });
        (status, Json(body)).into_response()
    }
}
