//! The write-ahead journal's record format and its pure fold into a [`State`].
//!
//! During apply, `<state>.journal` receives JSON lines: one `begin` naming the state it
//! belongs to, then an `intent` before each request leaves (durable before sending) and a
//! `response` as each outcome arrives. The state after a run, or after a crash, is
//! `fold(state, journal)`.

use super::model::{RecordStatus, RollbackStatus, State};
use crate::ids::ChangeOrderId;
use serde::{Deserialize, Serialize};

/// The request an intent announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// `AbortAndRollbackChangeOrder`: changes the world; an intent without a response makes
    /// the change order `unknown`.
    Abort,
    /// `GetChangeOrderInfo`: read only.
    Verify,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum JournalRecord {
    /// The first line: the state this journal applies to. A journal whose lineage differs
    /// from the state's is never folded.
    Begin {
        lineage: String,
        serial: u64,
        at: String,
        operation: String,
    },
    Intent {
        change_order_id: ChangeOrderId,
        attempt: u32,
        at: String,
        request: RequestKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Response {
        change_order_id: ChangeOrderId,
        at: String,
        status: RecordStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        http_status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rollback_change_order_id: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        confirmed_by_status: bool,
    },
    RollbackStatus {
        change_order_id: ChangeOrderId,
        at: String,
        rollback_status: RollbackStatus,
    },
}

/// Folds journal records into a state. Pure. See the module docs for the rules.
pub fn fold(state: State, records: &[JournalRecord]) -> State {
    let _ = records;
    // Implemented by the state module owner; see issue 2.
    state
}
