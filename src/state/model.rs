//! The state model (docs/CONTRACT.md, "Files"; docs/state-store.md): what is known to have happened
//! to each change order. Pure data; reading and writing files is `store`'s job.

use crate::edas::request::RollbackOperation;
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The newest state format this build reads and writes. A newer file is refused, never
/// overwritten.
pub const STATE_FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format_version: u32,
    /// A UUID fixed when the state is created; a plan made against one lineage never applies
    /// to another.
    pub lineage: String,
    /// +1 on every write that changes content.
    pub serial: u64,
    pub tool_version: String,
    #[serde(default)]
    pub change_orders: BTreeMap<ChangeOrderId, ChangeOrderRecord>,
}

impl State {
    /// A state that has never been written: serial 0.
    pub fn new_empty(lineage: impl Into<String>, tool_version: impl Into<String>) -> Self {
        Self {
            format_version: STATE_FORMAT_VERSION,
            lineage: lineage.into(),
            serial: 0,
            tool_version: tool_version.into(),
            change_orders: BTreeMap::new(),
        }
    }

    /// This state without the change orders `ids` (`state rm`). Ids it does not hold are
    /// returned, and nothing is removed then, so a typo never half-applies.
    pub fn without(&self, ids: &[ChangeOrderId]) -> Result<State, Vec<ChangeOrderId>> {
        let missing: Vec<ChangeOrderId> = ids
            .iter()
            .filter(|id| !self.change_orders.contains_key(*id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        let mut state = self.clone();
        for id in ids {
            state.change_orders.remove(id);
        }
        Ok(state)
    }

    /// True when `other` differs in content (anything but serial and tool version), i.e. when
    /// saving `other` over `self` must bump the serial.
    pub fn content_differs(&self, other: &State) -> bool {
        self.format_version != other.format_version
            || self.lineage != other.lineage
            || self.change_orders != other.change_orders
    }
}

/// What is known about one change order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// The service confirmed the abort (or its status shows it stopped).
    Aborted,
    /// The service refused, or retries ran out; the plan offers a retry.
    Failed,
    /// A request may have been sent and its outcome is not known; the next apply asks
    /// `GetChangeOrderInfo` before sending anything.
    Unknown,
    /// The change order had already ended by itself (status 2, 3, 7 or 10, in
    /// `change_order_status`) when asked: EDAS cannot abort it, so nothing is sent again and
    /// the plan converges (docs/APPLY.md). `state rm` forgets it.
    Finished,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Aborted => "aborted",
            RecordStatus::Failed => "failed",
            RecordStatus::Unknown => "unknown",
            RecordStatus::Finished => "finished",
        }
    }
}

/// How the rollback change order that an abort started ended (`apply --wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    Running,
    Succeeded,
    /// The rollback change order ended in status 7: some batches rolled back, not all.
    PartiallySucceeded,
    Failed,
    TimedOut,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeOrderRecord {
    pub status: RecordStatus,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_change_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_status: Option<RollbackStatus>,
    /// The call last sent for it: `abort_and_rollback` (AbortAndRollbackChangeOrder) or
    /// `rollback` (RollbackChangeOrder). Absent in records written before it existed (they
    /// were all `abort_and_rollback`) and when only `GetChangeOrderInfo` was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<RollbackOperation>,
    /// The change order's own status when it was last seen by `GetChangeOrderInfo` and is
    /// recorded `finished` (or `aborted` from status 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_order_status: Option<ChangeOrderStatus>,
    /// Set when `aborted` was concluded from `GetChangeOrderInfo` (status 6) rather than from
    /// the abort's own response, e.g. after a lost response.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmed_by_status: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The endpoint the last response came from (the run's `begin` record names it), so a
    /// record can never pass for an answer from another service, e.g. a simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl ChangeOrderRecord {
    pub fn new(status: RecordStatus) -> Self {
        Self {
            status,
            attempts: 0,
            last_attempt_at: None,
            request_id: None,
            trace_id: None,
            http_status: None,
            code: None,
            error_code: None,
            message: None,
            rollback_change_order_id: None,
            rollback_status: None,
            operation: None,
            change_order_status: None,
            confirmed_by_status: false,
            app: None,
            reason: None,
            endpoint: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(ids: &[&str]) -> State {
        let mut state = State::new_empty("lineage", "0.1.0");
        for id in ids {
            state.change_orders.insert(
                ChangeOrderId::new(*id),
                ChangeOrderRecord::new(RecordStatus::Aborted),
            );
        }
        state
    }

    #[test]
    fn without_removes_the_named_change_orders_and_changes_content() {
        let state = state_with(&["a", "b", "c"]);
        let removed = state
            .without(&[ChangeOrderId::new("a"), ChangeOrderId::new("c")])
            .unwrap();
        assert_eq!(removed, state_with(&["b"]));
        assert!(state.content_differs(&removed));
    }

    #[test]
    fn without_an_id_the_state_lacks_removes_nothing_and_names_it() {
        let state = state_with(&["a"]);
        assert_eq!(
            state.without(&[ChangeOrderId::new("a"), ChangeOrderId::new("zz")]),
            Err(vec![ChangeOrderId::new("zz")])
        );
    }

    #[test]
    fn serial_and_tool_version_are_not_content() {
        let state = state_with(&["a"]);
        let mut other = state.clone();
        other.serial = 9;
        other.tool_version = "2.0.0".into();
        assert!(!state.content_differs(&other));
    }
}
