//! Planning (DESIGN 3): a pure function from desired state × recorded state to a [`Plan`],
//! and the plan file. No network, no clock (the timestamp is an input), no filesystem.
//! The plan holds every decision; apply carries it out and decides nothing new.

use crate::ids::ChangeOrderId;
use serde::{Deserialize, Serialize};

/// The newest plan file format this build reads and writes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What will happen to one change order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Send `AbortAndRollbackChangeOrder` (after `GetChangeOrderInfo` when `verify_first`).
    Abort,
    /// Already aborted: nothing is sent.
    NoOp,
    /// In state but no longer declared: listed, never touched.
    NotDeclared,
}

/// The last recorded error of a change order that will be retried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAction {
    pub change_order_id: ChangeOrderId,
    pub action: Action,
    /// Ask `GetChangeOrderInfo` before sending anything: a request may already have been sent.
    pub verify_first: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set when the change order failed before and this is a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
}

/// The state version a plan was made against. `lineage: None, serial: 0` means no state
/// file existed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateVersion {
    pub lineage: Option<String>,
    pub serial: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReference {
    pub path: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub to_abort: usize,
    pub to_retry: usize,
    pub to_verify: usize,
    pub unchanged: usize,
    pub not_declared: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub tool_version: String,
    pub created_at: String,
    pub config: ConfigReference,
    pub state: StateVersion,
    pub region: String,
    pub endpoint: String,
    pub actions: Vec<PlannedAction>,
    pub summary: PlanSummary,
    /// sha256 over the canonical encoding of everything above.
    pub checksum: String,
}
