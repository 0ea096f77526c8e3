//! What a failed Kinesis call means for the bus: a missing stream, a bad request, a backend to
//! retry later ([`BusError::Unavailable`], which the gateway answers with 503), or a refusal that
//! a retry will not fix ([`BusError::Kinesis`]).

use std::error::Error;

use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};

use super::KinesisBus;
use crate::{BusError, with_causes};

/// Error codes of a call over a limit or of a stream between states; the SDK has already retried
/// the throttling ones.
const TRY_LATER: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "KMSThrottlingException",
    "ResourceInUseException",
];

/// Error codes of a request Kinesis refuses as malformed.
const INVALID: &[&str] = &[
    "InvalidArgumentException",
    "ValidationException",
    "ExpiredIteratorException",
];

impl KinesisBus {
    /// The bus error for a failed call about `stream` (`None` for a call about no stream):
    /// `ResourceNotFoundException` means that stream is missing.
    pub(super) fn error<E>(&self, stream: Option<&str>, err: SdkError<E>) -> BusError
    where
        E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    {
        let endpoint = &self.endpoint;
        match &err {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("UnknownError");
                let message = service.err().message().unwrap_or_default();
                let detail = format!("{code}: {message}");
                match stream {
                    Some(stream) if code == "ResourceNotFoundException" => {
                        BusError::StreamNotFound(stream.to_owned())
                    }
                    _ if INVALID.contains(&code) => BusError::InvalidRequest(detail),
                    _ if TRY_LATER.contains(&code) || service.raw().status().is_server_error() => {
                        BusError::Unavailable(format!("Kinesis at {endpoint}: {detail}"))
                    }
                    _ => BusError::Kinesis(format!("Kinesis at {endpoint}: {detail}")),
                }
            }
            // Configuration, not the endpoint: a bad endpoint URL, no credentials in the chain.
            SdkError::ConstructionFailure(_) => BusError::Kinesis(format!(
                "cannot build a request to Kinesis at {endpoint}: {}",
                with_causes(&err)
            )),
            SdkError::DispatchFailure(f) if f.is_user() || f.is_other() => {
                BusError::Kinesis(format!(
                    "cannot send a request to Kinesis at {endpoint}: {}",
                    with_causes(&err)
                ))
            }
            // Timeouts, connection failures and unreadable answers, after the SDK's retries.
            _ => {
                let timed_out = matches!(&err, SdkError::TimeoutError(_))
                    || matches!(&err, SdkError::DispatchFailure(f) if f.is_timeout());
                let what = if timed_out {
                    "did not answer in time"
                } else {
                    "cannot be reached"
                };
                BusError::Unavailable(format!(
                    "Kinesis at {endpoint} {what}: {}",
                    with_causes(&err)
                ))
            }
        }
    }
}
