//! The simulator's counters as data: what `GET /__sim/stats` serves and
//! [`Simulator::stats`](super::Simulator::stats) returns. Tests use them to prove that no
//! change order was aborted twice or missed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the simulator has seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    pub totals: Totals,
    /// Keyed by change order id; includes the rollback change orders the simulator created.
    pub change_orders: BTreeMap<String, ChangeOrderStats>,
}

/// Counts over all requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    /// Every API request that arrived (not counting `/__sim/stats`).
    pub requests: u64,
    /// Requests refused with `SignatureDoesNotMatch`.
    pub signature_failures: u64,
    /// Requests refused for any other authentication or validation reason (unknown key,
    /// token, missing header, skewed date, reused nonce, wrong path or action).
    pub rejected: u64,
    /// Requests answered `Throttling.User`.
    pub throttled: u64,
    /// Requests answered HTTP 503.
    pub unavailable: u64,
    /// Connections reset without a response (drop faults).
    pub dropped: u64,
    /// Requests held without an answer (scripted timeouts).
    pub timed_out: u64,
    /// Authenticated abort requests.
    pub aborts_received: u64,
    /// Aborts that moved a change order to status 6.
    pub aborts_committed: u64,
    /// Authenticated `GetChangeOrderInfo` requests.
    pub info_requests: u64,
    /// Authenticated `ListRecentChangeOrder` requests (including throttled ones).
    pub list_requests: u64,
    /// Authenticated `ListApplication` requests (including throttled ones).
    pub application_list_requests: u64,
    /// Requests naming a change order that does not exist.
    pub unknown_change_orders: u64,
    /// Authenticated requests signed with signature V3 (ACS3-HMAC-SHA256).
    pub signed_v3: u64,
    /// Authenticated requests signed with ROA signature v1 (HMAC-SHA1).
    pub signed_roa_v1: u64,
}

/// Counts and state of one change order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangeOrderStats {
    /// Authenticated abort requests naming it (including throttled and failed ones).
    pub aborts_received: u64,
    /// Of `aborts_received`, those that were `RollbackChangeOrder` (ECS) rather than
    /// `AbortAndRollbackChangeOrder` (ACK).
    #[serde(default)]
    pub rollback_requests: u64,
    /// Aborts that moved it to status 6: more than 1 means it was aborted twice.
    pub aborts_committed: u64,
    pub info_requests: u64,
    /// Its status now (docs/CONTRACT.md, "Change order statuses").
    pub status: i32,
    /// The rollback change order created by its abort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_change_order_id: Option<String>,
    /// For a rollback change order: the change order whose abort created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
}
