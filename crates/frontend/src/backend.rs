//! The seam between HTTP and whatever executes booking requests.
//!
//! The HTTP layer ([`crate::http`]) hands every parsed request to a [`Backend`] and renders what comes back. In
//! standalone mode the backend drives one replica ([`crate::standalone`]); in replicated mode (later) it will hand the
//! request to the sequencer and vote on the replicas' results. Either way a [`BackendError`] means "no trustworthy
//! answer in time", and [`crate::http`] turns it into a `ServiceUnavailable` fault in exactly one place.
//!
//! This module deliberately knows nothing about sockets, SOAP or HTTP.

use std::future::Future;

/// Executes booking requests somewhere and returns their canonical answers.
///
/// Implementations must be cheap to call concurrently from many connection tasks: the hot path of every SOAP
/// request goes through [`Backend::answer`].
pub trait Backend: Send + Sync + 'static {
    /// Executes `request` once (in the total order, when there is one) and returns its answer, handing `request`
    /// back with it so that a caller who needs it afterwards (to render the answer) does not copy it first.
    ///
    /// Domain rejections (sold out, unknown movie, ...) are `Ok` responses with a rejection code; `Err` means the
    /// request may or may not have taken effect and the client must be told the service is unavailable.
    fn answer(&self, request: booking::Request) -> impl Future<Output = Result<Answered, BackendError>> + Send;

    /// [`Backend::answer`] without the request.
    fn execute(
        &self,
        request: booking::Request,
    ) -> impl Future<Output = Result<booking::Response, BackendError>> + Send {
        async move { self.answer(request).await.map(|answered| answered.response) }
    }

    /// The backend's state as one JSON object for `GET /status`, or `None` when it has nothing to say beyond
    /// "up" (the route then answers `{"component":"frontend"}`).
    fn status(&self) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }
}

/// A request together with its canonical answer (see [`Backend::answer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The request as it was submitted.
    pub request: booking::Request,
    /// Its answer.
    pub response: booking::Response,
}

/// Why a backend could not produce an answer. Every variant becomes a `ServiceUnavailable` SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No answer arrived within the request timeout; the request may still take effect later (it may already be
    /// ordered, and the front end does not withdraw it), so the fault says the outcome is unknown.
    #[error(
        "no agreeing answer from the replicas within {timeout_ms} ms; the outcome is unknown (the request may still \
         take effect): check before retrying"
    )]
    Timeout { timeout_ms: u64 },
    /// Too many requests are already waiting for the replicas; this one was not queued at all.
    #[error("too many requests waiting for the replicas ({queued} queued)")]
    Overloaded { queued: usize },
    /// The replica answered with bytes that are not a valid response encoding.
    #[error("the replica sent an undecodable result for job {job_id}: {reason}")]
    BadResult { job_id: u64, reason: String },
    /// The backend is shutting down (its driver task has stopped).
    #[error("the front end is shutting down")]
    Stopped,
}
