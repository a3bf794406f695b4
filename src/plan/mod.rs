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
        Self::is_known_in(record).then(|| Self::of_record(record))
    }

    /// True when `record` holds any error field (its time alone is not an error).
    fn is_known_in(record: &ChangeOrderRecord) -> bool {
        record.http_status.is_some()
            || record.code.is_some()
            || record.error_code.is_some()
            || record.message.is_some()
            || record.request_id.is_some()
    }

    fn of_record(record: &ChangeOrderRecord) -> Self {
        Self {
            http_status: record.http_status,
            code: record.code.clone(),
            error_code: record.error_code.clone(),
            message: record.message.clone(),
            request_id: record.request_id.clone(),
            at: record.last_attempt_at.clone(),
        }
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
        ActionKind::of(
            self.action,
            self.verify_first,
            self.recorded_status,
            self.live_status.as_ref().and_then(|live| live.status),
        )
    }
}

impl ActionKind {
    /// The kind of an action from what decides it: the action, whether it verifies first,
    /// the recorded status and the live status (`plan --refresh`).
    fn of(
        action: Action,
        verify_first: bool,
        recorded_status: Option<RecordStatus>,
        live: Option<ChangeOrderStatus>,
    ) -> Self {
        match action {
            Action::NoOp => match live {
                Some(ChangeOrderStatus::Stopped) => ActionKind::AlreadyStopped,
                Some(status) if !status.is_abortable() => ActionKind::CannotAbort,
                // Recorded as ended by itself: EDAS cannot abort it.
                _ if recorded_status == Some(RecordStatus::Finished) => ActionKind::CannotAbort,
                _ => ActionKind::Unchanged,
            },
            Action::NotDeclared => ActionKind::NotDeclared,
            Action::Abort if verify_first => ActionKind::VerifyThenAbort,
            Action::Abort if recorded_status == Some(RecordStatus::Failed) => ActionKind::Retry,
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
    draft(desired, state, inputs).seal()
}

/// The plan's decisions, borrowing what they were decided from: what [`plan`] returns before
/// its strings are copied and its checksum computed. A caller that only writes the plan file
/// (or prints it as JSON) streams it from here ([`PlanDraft::write_sealed`]) and never holds
/// a [`Plan`], so the strings of 100,000 change orders are neither copied nor freed again.
pub fn draft<'a>(
    desired: &'a DesiredState,
    state: Option<&'a State>,
    inputs: &PlanInputs,
) -> PlanDraft<'a> {
    let decisions = decide(&desired.change_orders, state);
    let mut summary = PlanSummary::default();
    for decision in &decisions {
        summary.count(decision.kind());
    }
    PlanDraft {
        header: Plan {
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
            actions: Vec::new(),
            summary,
            checksum: String::new(),
        },
        decisions,
    }
}

/// A plan whose actions are still [`Decision`]s; see [`draft`].
#[derive(Debug)]
pub struct PlanDraft<'a> {
    /// Every field of the plan but `actions` (empty here) and `checksum` (not computed yet).
    header: Plan,
    decisions: Vec<Decision<'a>>,
}

impl PlanDraft<'_> {
    pub fn summary(&self) -> &PlanSummary {
        &self.header.summary
    }

    /// True when apply would send at least one request ([`Plan::will_send`]).
    pub fn will_send(&self) -> bool {
        self.header.summary.will_send() > 0
    }

    /// Writes the plan file's canonical encoding, sealed, to `out` in one pass and returns
    /// the checksum ([`file::write_sealed`]); the bytes are those of [`file::encode`] of
    /// [`PlanDraft::into_plan`] with that checksum.
    pub fn write_sealed(&self, out: impl std::io::Write) -> std::io::Result<String> {
        file::write_sealed(out, file::PlanView::of_draft(&self.header, &self.decisions))
    }

    /// The plan, its strings copied, sealed: what [`plan`] returns.
    pub fn seal(self) -> Plan {
        let mut plan = self.into_plan(String::new());
        plan.checksum = file::checksum(&plan);
        plan
    }

    /// The plan, its strings copied, with `checksum` as given (from
    /// [`PlanDraft::write_sealed`], or empty).
    pub fn into_plan(self, checksum: String) -> Plan {
        Plan {
            actions: self
                .decisions
                .iter()
                .map(|decision| decision.to_action())
                .collect(),
            checksum,
            ..self.header
        }
    }
}

/// What the planner decided for one change order, and from what: a declared entry of the
/// config (with its state record, if any) or a state record no longer declared. Everything a
/// [`PlannedAction`] holds follows from it ([`Decision::to_action`], and the plan file's
/// encoding, `file::PlanView`), so the rules below are written once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decision<'a> {
    pub(crate) source: Source<'a>,
    pub(crate) action: Action,
    pub(crate) verify_first: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Source<'a> {
    Declared {
        spec: &'a crate::config::ChangeOrderSpec,
        record: Option<&'a ChangeOrderRecord>,
    },
    NotDeclared {
        id: &'a ChangeOrderId,
        record: &'a ChangeOrderRecord,
    },
}

impl<'a> Decision<'a> {
    fn declared(
        spec: &'a crate::config::ChangeOrderSpec,
        record: Option<&'a ChangeOrderRecord>,
    ) -> Self {
        let (action, verify_first) = match record.map(|record| record.status) {
            None => (Action::Abort, false),
            Some(RecordStatus::Aborted | RecordStatus::Finished) => (Action::NoOp, false),
            Some(RecordStatus::Failed) => (Action::Abort, false),
            Some(RecordStatus::Unknown) => (Action::Abort, true),
        };
        Self {
            source: Source::Declared { spec, record },
            action,
            verify_first,
        }
    }

    fn not_declared(id: &'a ChangeOrderId, record: &'a ChangeOrderRecord) -> Self {
        Self {
            source: Source::NotDeclared { id, record },
            action: Action::NotDeclared,
            verify_first: false,
        }
    }

    pub(crate) fn id(&self) -> &'a ChangeOrderId {
        match self.source {
            Source::Declared { spec, .. } => &spec.id,
            Source::NotDeclared { id, .. } => id,
        }
    }

    pub(crate) fn recorded_status(&self) -> Option<RecordStatus> {
        match self.source {
            Source::Declared { record, .. } => record.map(|record| record.status),
            Source::NotDeclared { record, .. } => Some(record.status),
        }
    }

    /// A declared change order keeps the config's labels; one no longer declared shows what
    /// the state recorded.
    pub(crate) fn app(&self) -> Option<&'a String> {
        match self.source {
            Source::Declared { spec, .. } => spec.app.as_ref(),
            Source::NotDeclared { record, .. } => record.app.as_ref(),
        }
    }

    pub(crate) fn reason(&self) -> Option<&'a String> {
        match self.source {
            Source::Declared { spec, .. } => spec.reason.as_ref(),
            Source::NotDeclared { record, .. } => record.reason.as_ref(),
        }
    }

    pub(crate) fn operation(&self) -> RollbackOperation {
        match self.source {
            Source::Declared { spec, .. } => spec.operation,
            Source::NotDeclared { record, .. } => record.operation.unwrap_or_default(),
        }
    }

    pub(crate) fn app_id(&self) -> Option<&'a String> {
        match self.source {
            Source::Declared { spec, .. } => spec.app_id.as_ref(),
            Source::NotDeclared { .. } => None,
        }
    }

    /// A retry (declared, recorded `failed`) carries the recorded error.
    pub(crate) fn error_record(&self) -> Option<&'a ChangeOrderRecord> {
        match self.source {
            Source::Declared {
                record: Some(record),
                ..
            } if record.status == RecordStatus::Failed => {
                LastError::is_known_in(record).then_some(record)
            }
            _ => None,
        }
    }

    pub(crate) fn selected_by(&self) -> Option<&'a SelectedBy> {
        match self.source {
            Source::Declared { spec, .. } => spec.selected_by.as_ref(),
            Source::NotDeclared { .. } => None,
        }
    }

    fn kind(&self) -> ActionKind {
        ActionKind::of(self.action, self.verify_first, self.recorded_status(), None)
    }

    fn to_action(self) -> PlannedAction {
        PlannedAction {
            change_order_id: self.id().clone(),
            action: self.action,
            verify_first: self.verify_first,
            recorded_status: self.recorded_status(),
            app: self.app().cloned(),
            reason: self.reason().cloned(),
            operation: self.operation(),
            app_id: self.app_id().cloned(),
            last_error: self.error_record().map(LastError::of_record),
            live_status: None,
            selected_by: self.selected_by().cloned(),
        }
    }
}

/// Every declared change order in config order (a repeated id only at its first
/// occurrence), then every state record no longer declared, by id. The declared ids are
/// sorted (already sorted runbooks cost one pass) and merged with the state's records, which
/// are kept sorted by id: one comparison per id instead of a map lookup for each declared id
/// and a set of declared ids for the records.
fn decide<'a>(
    declared: &'a [crate::config::ChangeOrderSpec],
    state: Option<&'a State>,
) -> Vec<Decision<'a>> {
    let recorded_count = state.map_or(0, |state| state.change_orders.len());
    // The declared ids by id, then by position, so the first of equal ids comes first.
    let mut by_id: Vec<(&str, usize)> = declared
        .iter()
        .enumerate()
        .map(|(index, spec)| (spec.id.as_str(), index))
        .collect();
    by_id.sort_unstable();
    let mut records: Vec<Option<&ChangeOrderRecord>> = vec![None; declared.len()];
    let mut planned = vec![false; declared.len()];
    let mut not_declared = Vec::new();
    let mut recorded = state
        .into_iter()
        .flat_map(|state| state.change_orders.iter())
        .peekable();
    let mut previous: Option<&str> = None;
    for (id, index) in by_id {
        if previous == Some(id) {
            continue;
        }
        previous = Some(id);
        planned[index] = true;
        while let Some((recorded_id, record)) =
            recorded.next_if(|(recorded_id, _)| recorded_id.as_str() <= id)
        {
            if recorded_id.as_str() == id {
                records[index] = Some(record);
            } else {
                not_declared.push(Decision::not_declared(recorded_id, record));
            }
        }
    }
    not_declared.extend(recorded.map(|(id, record)| Decision::not_declared(id, record)));
    let mut decisions = Vec::with_capacity(declared.len().max(recorded_count));
    decisions.extend(
        declared
            .iter()
            .zip(records)
            .zip(planned)
            .filter(|(_, planned)| *planned)
            .map(|((spec, record), _)| Decision::declared(spec, record)),
    );
    decisions.append(&mut not_declared);
    decisions
}

#[cfg(test)]
mod tests;
