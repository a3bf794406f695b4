//! Planning (docs/CONTRACT.md, "Semantics"): a pure function from desired state × recorded state to
//! a [`Plan`], and the plan file ([`file`]). No network, no clock (the timestamp is an input), no
//! filesystem. The plan holds every decision; apply carries it out and decides nothing new. This
//! module must not read files, print, or know how a plan is rendered.

pub mod file;
pub(crate) mod guards;
mod refresh;
pub(crate) mod select;

use crate::config::DesiredState;
use crate::edas::request::RollbackOperation;
use crate::edas::signer::SignatureAlgorithm;
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use crate::state::{ChangeOrderRecord, RecordStatus, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub use file::{PlanFileError, StalePlan, check_applicable};
pub use refresh::{LiveStatus, cannot_abort_hint, refreshed};

/// The newest plan file format this build reads and writes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What will happen to one change order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Send `AbortAndRollbackChangeOrder` (after `GetChangeOrderInfo` when `verify_first`).
    Abort,
    /// Nothing is sent: already aborted in state, or (`plan --refresh`) the live status
    /// says it is stopped or can no longer be aborted (see [`PlannedAction::live_status`]).
    NoOp,
    /// In state but no longer declared: listed, never touched.
    NotDeclared,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Abort => "abort",
            Action::NoOp => "no-op",
            Action::NotDeclared => "not-declared",
        }
    }
}

/// The last recorded error of a change order that will be retried.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LastError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When the failed attempt was made, as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl LastError {
    /// The error fields of a record; `None` when the record holds none of them, so a plan
    /// never shows an empty error.
    pub fn from_record(record: &ChangeOrderRecord) -> Option<Self> {
        let error = Self {
            http_status: record.http_status,
            code: record.code.clone(),
            error_code: record.error_code.clone(),
            message: record.message.clone(),
            request_id: record.request_id.clone(),
            at: record.last_attempt_at.clone(),
        };
        let known = error.http_status.is_some()
            || error.code.is_some()
            || error.error_code.is_some()
            || error.message.is_some()
            || error.request_id.is_some();
        known.then_some(error)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedAction {
    pub change_order_id: ChangeOrderId,
    pub action: Action,
    /// Ask `GetChangeOrderInfo` before sending anything: a request may already have been sent.
    pub verify_first: bool,
    /// The status recorded in state when the plan was made; `None` when the change order
    /// was not in state. `failed` + `abort` is a retry; `unknown` + `abort` verifies first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_status: Option<RecordStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Which call apply sends: `abort_and_rollback` (ACK) or `rollback` (ECS). Always written,
    /// so the reviewed plan says it and the checksum covers it.
    #[serde(default)]
    pub operation: RollbackOperation,
    /// The application id from the config, for ListRecentChangeOrder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Set when the change order failed before and this is a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// What `GetChangeOrderInfo` said when the plan was made with `--refresh`; absent in a
    /// plan made without it (and in plan files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_status: Option<LiveStatus>,
    /// Set when a selector (not an explicit `change_orders:` entry) put it in the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_by: Option<SelectedBy>,
}

/// Which selector of `select:` found a change order, and what EDAS listed about it at plan
/// time; frozen into the plan (and its checksum) so reviewers see why a row is there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectedBy {
    /// The selector's index in `select:` (0-based).
    pub selector: usize,
    /// Its status in the ListRecentChangeOrder answer.
    #[schemars(with = "i32")]
    pub status: ChangeOrderStatus,
    /// Its `CreateTime`, as EDAS wrote it.
    pub create_time: String,
}

/// How a planned action reads to a person; derived, never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Not in state: abort for the first time.
    Abort,
    /// Failed before: abort again.
    Retry,
    /// Outcome of an earlier request unknown: `GetChangeOrderInfo`, then abort if still
    /// abortable.
    VerifyThenAbort,
    /// Already aborted.
    Unchanged,
    /// In state, no longer declared: kept, never touched.
    NotDeclared,
    /// `--refresh`: the live status is 6 (stopped), so there is nothing to abort.
    AlreadyStopped,
    /// `--refresh`: the live status is one EDAS cannot abort (2, 3, 7, 10, or one this tool
    /// does not know): nothing is sent, and the plan warns.
    CannotAbort,
}

impl PlannedAction {
    pub fn kind(&self) -> ActionKind {
        let live = self.live_status.as_ref().and_then(|live| live.status);
        match self.action {
            Action::NoOp => match live {
                Some(ChangeOrderStatus::Stopped) => ActionKind::AlreadyStopped,
                Some(status) if !status.is_abortable() => ActionKind::CannotAbort,
                // Recorded as ended by itself: EDAS cannot abort it.
                _ if self.recorded_status == Some(RecordStatus::Finished) => {
                    ActionKind::CannotAbort
                }
                _ => ActionKind::Unchanged,
            },
            Action::NotDeclared => ActionKind::NotDeclared,
            Action::Abort if self.verify_first => ActionKind::VerifyThenAbort,
            Action::Abort if self.recorded_status == Some(RecordStatus::Failed) => {
                ActionKind::Retry
            }
            Action::Abort => ActionKind::Abort,
        }
    }
}

/// The state version a plan was made against. `lineage: None, serial: 0` means no state
/// file existed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateVersion {
    pub lineage: Option<String>,
    pub serial: u64,
}

impl StateVersion {
    pub fn of(state: Option<&State>) -> Self {
        match state {
            Some(state) => Self {
                lineage: Some(state.lineage.clone()),
                serial: state.serial,
            },
            None => Self {
                lineage: None,
                serial: 0,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigReference {
    pub path: String,
    pub sha256: String,
}

/// Counts of the plan's actions. Each action is counted exactly once:
/// `to_abort` counts first-time aborts only, `to_retry` aborts of change orders that
/// failed before, `to_verify` aborts preceded by `GetChangeOrderInfo` (outcome unknown).
/// What will be sent is their sum, [`PlanSummary::will_send`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanSummary {
    pub to_abort: usize,
    pub to_retry: usize,
    pub to_verify: usize,
    pub unchanged: usize,
    pub not_declared: usize,
    /// `--refresh` only: pending change orders whose live status is 6 (stopped).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub already_stopped: usize,
    /// `--refresh` only: pending change orders whose live status cannot be aborted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cannot_abort: usize,
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl PlanSummary {
    /// Every change order apply will send an abort for (after verifying, for some).
    pub fn will_send(&self) -> usize {
        self.to_abort + self.to_retry + self.to_verify
    }

    pub fn declared(&self) -> usize {
        self.will_send() + self.unchanged + self.already_stopped + self.cannot_abort
    }

    fn count(&mut self, kind: ActionKind) {
        match kind {
            ActionKind::Abort => self.to_abort += 1,
            ActionKind::Retry => self.to_retry += 1,
            ActionKind::VerifyThenAbort => self.to_verify += 1,
            ActionKind::Unchanged => self.unchanged += 1,
            ActionKind::NotDeclared => self.not_declared += 1,
            ActionKind::AlreadyStopped => self.already_stopped += 1,
            ActionKind::CannotAbort => self.cannot_abort += 1,
        }
    }

    /// Counts `actions` afresh.
    pub fn of(actions: &[PlannedAction]) -> Self {
        let mut summary = Self::default();
        for action in actions {
            summary.count(action.kind());
        }
        summary
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: u32,
    pub tool_version: String,
    pub created_at: String,
    pub config: ConfigReference,
    pub state: StateVersion,
    pub region: String,
    pub endpoint: String,
    /// `provider.signature_algorithm` when the plan was made; apply signs with it and refuses
    /// the plan if the config now says otherwise. A plan written before the field existed
    /// parses, but fails its checksum (the re-encoding holds the field): make it again.
    #[serde(default)]
    pub signature_algorithm: SignatureAlgorithm,
    /// True when the plan was made with `plan --refresh` (the live statuses were read just
    /// before); `apply.require_refresh` applies only such plans. The checksum covers it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub refreshed: bool,
    /// Declared change orders in config order, then the no-longer-declared ones by id.
    pub actions: Vec<PlannedAction>,
    pub summary: PlanSummary,
    /// Hex sha256 over the canonical encoding of the plan with this field empty
    /// (see [`file::checksum`]).
    pub checksum: String,
}

impl Plan {
    /// True when apply would send at least one request.
    pub fn will_send(&self) -> bool {
        self.actions
            .iter()
            .any(|action| action.action == Action::Abort)
    }
}

/// Everything a plan records that does not come from the config or the state; the CLI
/// supplies it (the clock and the file system live there, not here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanInputs {
    /// RFC 3339.
    pub created_at: String,
    pub config_path: String,
    pub config_sha256: String,
    pub endpoint: String,
    pub tool_version: String,
}

/// Diffs the declared change orders against the recorded state (docs/CONTRACT.md, "Semantics").
/// Pure and deterministic: the same arguments give a plan that encodes to the same bytes.
///
/// Declared ids are unique once `config` has validated them; should a caller pass a
/// duplicate anyway, only its first occurrence is planned, so no id gets two actions.
pub fn plan(desired: &DesiredState, state: Option<&State>, inputs: &PlanInputs) -> Plan {
    let mut plan = unsealed(desired, state, inputs);
    plan.checksum = file::checksum(&plan);
    plan
}

/// [`plan`] and its canonical encoding ([`file::encode`]), serialising the plan once rather
/// than once for the checksum and once more for the file; for callers that write or print
/// the plan file.
pub fn plan_encoded(
    desired: &DesiredState,
    state: Option<&State>,
    inputs: &PlanInputs,
) -> (Plan, String) {
    let mut plan = unsealed(desired, state, inputs);
    let encoded = file::seal_and_encode(&mut plan);
    (plan, encoded)
}

/// The plan with an empty checksum.
fn unsealed(desired: &DesiredState, state: Option<&State>, inputs: &PlanInputs) -> Plan {
    let declared_count = desired.change_orders.len();
    let recorded_count = state.map_or(0, |state| state.change_orders.len());
    let mut declared: HashSet<&str> = HashSet::with_capacity(declared_count);
    let mut actions = Vec::with_capacity(declared_count.max(recorded_count));
    let mut summary = PlanSummary::default();

    for spec in &desired.change_orders {
        if !declared.insert(spec.id.as_str()) {
            continue;
        }
        let record = state.and_then(|state| state.change_orders.get(&spec.id));
        let recorded_status = record.map(|record| record.status);
        let (action, verify_first, last_error) = match record {
            None => (Action::Abort, false, None),
            Some(record) => match record.status {
                RecordStatus::Aborted | RecordStatus::Finished => (Action::NoOp, false, None),
                RecordStatus::Failed => (Action::Abort, false, LastError::from_record(record)),
                RecordStatus::Unknown => (Action::Abort, true, None),
            },
        };
        let planned = PlannedAction {
            change_order_id: spec.id.clone(),
            action,
            verify_first,
            recorded_status,
            app: spec.app.clone(),
            reason: spec.reason.clone(),
            operation: spec.operation,
            app_id: spec.app_id.clone(),
            last_error,
            live_status: None,
            selected_by: spec.selected_by.clone(),
        };
        summary.count(planned.kind());
        actions.push(planned);
    }

    // The state map is ordered by id, so no sort is needed for the not-declared tail.
    if let Some(state) = state {
        for (id, record) in &state.change_orders {
            if declared.contains(id.as_str()) {
                continue;
            }
            summary.count(ActionKind::NotDeclared);
            actions.push(PlannedAction {
                change_order_id: id.clone(),
                action: Action::NotDeclared,
                verify_first: false,
                recorded_status: Some(record.status),
                app: record.app.clone(),
                reason: record.reason.clone(),
                operation: record.operation.unwrap_or_default(),
                app_id: None,
                last_error: None,
                live_status: None,
                selected_by: None,
            });
        }
    }

    Plan {
        format_version: PLAN_FORMAT_VERSION,
        tool_version: inputs.tool_version.clone(),
        created_at: inputs.created_at.clone(),
        config: ConfigReference {
            path: inputs.config_path.clone(),
            sha256: inputs.config_sha256.clone(),
        },
        state: StateVersion::of(state),
        region: desired.provider.region.clone(),
        endpoint: inputs.endpoint.clone(),
        signature_algorithm: desired.provider.signature_algorithm,
        refreshed: false,
        actions,
        summary,
        checksum: String::new(),
    }
}

#[cfg(test)]
mod tests;
