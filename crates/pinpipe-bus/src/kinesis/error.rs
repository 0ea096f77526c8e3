//! What a failed Kinesis call means for the bus: a missing stream, a bad request, a backend to
//! retry later ([`BusError::Unavailable`], which the gateway answers with 503), or a refusal that
//! a retry will not fix ([`BusError::Refused`]). Both keep the SDK's error as their source.

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
        let (code, status) = match &err {
            SdkError::ServiceError(service) => (
                Some(service.err().code().unwrap_or("UnknownError").to_owned()),
                Some(service.raw().status()),
            ),
            _ => (None, None),
        };
        match (&err, code.as_deref()) {
            (SdkError::ServiceError(_), Some(code)) => match stream {
                Some(stream) if code == "ResourceNotFoundException" => {
                    BusError::StreamNotFound(stream.to_owned())
                }
                _ if INVALID.contains(&code) => BusError::InvalidRequest(with_causes(&err)),
                _ if TRY_LATER.contains(&code) || status.is_some_and(|s| s.is_server_error()) => {
                    BusError::unavailable_because(format!("Kinesis at {endpoint}: {code}"), err)
                }
                _ => BusError::refused_because(format!("Kinesis at {endpoint}: {code}"), err),
            },
            // Configuration, not the endpoint: a bad endpoint URL, no credentials in the chain.
            (SdkError::ConstructionFailure(_), _) => BusError::refused_because(
                format!("cannot build a request to Kinesis at {endpoint}"),
                err,
            ),
            (SdkError::DispatchFailure(f), _) if f.is_user() || f.is_other() => {
                BusError::refused_because(
                    format!("cannot send a request to Kinesis at {endpoint}"),
                    err,
                )
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
                BusError::unavailable_because(format!("Kinesis at {endpoint} {what}"), err)
            }
        }
    }
}
