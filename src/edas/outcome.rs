//! The one pure policy that classifies the result of one request (DESIGN 3, issue 3).

use std::time::Duration;

/// What the service said, in the words the state records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseDetails {
    pub http_status: Option<u16>,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub code: Option<String>,
    pub error_code: Option<String>,
    pub message: Option<String>,
}

/// The decision for one `AbortAndRollbackChangeOrder` attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 2xx with body `Code` 200.
    Aborted {
        details: ResponseDetails,
        rollback_change_order_id: Option<String>,
    },
    /// Throttled, or never sent: try again later. `after` is the server's `x-acs-retry-after`.
    Retry {
        details: ResponseDetails,
        after: Option<Duration>,
        throttled: bool,
        reason: String,
    },
    /// Sent, outcome unknown (timeout or reset after sending, HTTP 5xx): ask
    /// `GetChangeOrderInfo` before sending again.
    Verify {
        details: ResponseDetails,
        reason: String,
    },
    /// A business error: the service refused this change order. No retry.
    Failed { details: ResponseDetails },
    /// Credentials, signature or permission: every other request would fail the same way.
    Fatal {
        details: ResponseDetails,
        /// The server's string to sign from a `SignatureDoesNotMatch`, to compare with ours.
        server_string_to_sign: Option<String>,
    },
}
