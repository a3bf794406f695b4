//! The plan file (`plan --out FILE`, `apply FILE`, `show FILE`): encoding, decoding, the
//! checksum that makes a hand-edited plan refusable, and the staleness check that pins a
//! plan to the state version it was made against. Pure: the caller reads and writes files.
//!
//! The canonical encoding is [`encode`]'s output: pretty JSON (two-space indent), fields in
//! declaration order, a trailing newline. The checksum is the lowercase hex sha256 of the
//! canonical encoding of the plan with `checksum` set to the empty string. Decoding
//! re-encodes what it read, so reformatting a plan file (e.g. through `jq .`) keeps it
//! valid while any change of content is refused.

use super::{
    Action, ConfigReference, Decision, LastError, LiveStatus, PLAN_FORMAT_VERSION, Plan,
    PlanSummary, PlannedAction, SelectedBy, StateVersion, is_false,
};
use crate::edas::request::RollbackOperation;
use crate::edas::signer::SignatureAlgorithm;
use crate::ids::ChangeOrderId;
use crate::state::State;
use crate::state::{ChangeOrderRecord, RecordStatus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error(
        "`{path}` is not a valid plan file: {message} at line {line}, column {column}",
        path = path.display()
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "`{path}` is a plan of format_version {found}, newer than this edas-rollback understands (up to {supported}); it was written by edas-rollback `{tool_version}`: use that version or newer",
        path = path.display()
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
        tool_version: String,
    },
    #[error(
        "`{path}` has been modified since it was saved: its checksum is `{recorded}` but its content hashes to `{computed}`; make a new plan with `edas-rollback plan --out`",
        path = path.display()
    )]
    ChecksumMismatch {
        path: PathBuf,
        recorded: String,
        computed: String,
    },
    /// A plan lists every change order once; a hand-merged file (even with a recomputed
    /// checksum) that lists one twice would send it twice. Ids compare as
    /// [`ChangeOrderId::comparison_key`] does (case does not matter).
    #[error(
        "`{path}` lists change order `{change_order_id}` twice (actions {first} and {second}); a plan names each change order once: make a new plan with `edas-rollback plan --out`",
        path = path.display()
    )]
    DuplicateChangeOrder {
        path: PathBuf,
        change_order_id: String,
        first: usize,
        second: usize,
    },
}

/// Why a saved plan no longer applies to the current state. Apply refuses it and sends
/// nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StalePlan {
    #[error(
        "Saved plan is stale: the state serial moved from {planned} to {current} since the plan was made"
    )]
    SerialMoved { planned: u64, current: u64 },
    #[error(
        "Saved plan is stale: it was made against state lineage `{planned}`, but the state has lineage `{current}` (a different state file)"
    )]
    DifferentLineage { planned: String, current: String },
    #[error(
        "Saved plan is stale: it was made with no state file, but a state has been created since (lineage `{lineage}`, serial {serial})"
    )]
    StateCreated { lineage: String, serial: u64 },
    #[error(
        "Saved plan is stale: it was made against state lineage `{lineage}` at serial {serial}, but there is no state file now"
    )]
    StateMissing { lineage: String, serial: u64 },
}

/// The provider settings a plan pins (docs/APPLY.md: apply carries out the plan as reviewed):
/// apply sends to exactly this endpoint and region, signed with this algorithm, and refuses a
/// run whose flags, environment or config say otherwise. One struct, so every pinned setting
/// is compared in the same place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedProvider {
    pub endpoint: String,
    pub region: String,
    pub signature_algorithm: SignatureAlgorithm,
}

impl PinnedProvider {
    pub fn of(plan: &Plan) -> Self {
        Self {
            endpoint: plan.endpoint.clone(),
            region: plan.region.clone(),
            signature_algorithm: plan.signature_algorithm,
        }
    }
}

/// What this run would use, for comparison with what the plan pins; the caller resolves it
/// (flags, environment, config) and says where each value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSettings {
    pub provider: PinnedProvider,
    /// Where the endpoint came from, for the message: e.g. "`--endpoint`".
    pub endpoint_source: String,
    /// The config path as given (`-c`).
    pub config_path: String,
    /// True when the plan's config path names the same file as `config_path`; the caller
    /// decides (it may resolve both paths on disk).
    pub same_config_file: bool,
    pub config_sha256: String,
}

/// Why a saved plan must not be carried out in this run: it was reviewed for another
/// endpoint, region or config. Apply refuses it before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanMismatch {
    #[error(
        "the plan was reviewed for endpoint `{planned}`, but {source_name} gives `{current}`; nothing was sent"
    )]
    Endpoint {
        planned: String,
        current: String,
        source_name: String,
    },
    #[error(
        "the plan was reviewed for region `{planned}`, but the config says `{current}`; nothing was sent"
    )]
    Region { planned: String, current: String },
    #[error(
        "the plan was made to sign with `{planned}`, but the config's `provider.signature_algorithm` is now `{current}`; nothing was sent"
    )]
    SignatureAlgorithm {
        planned: SignatureAlgorithm,
        current: SignatureAlgorithm,
    },
    #[error(
        "the plan was made from config `{planned}`, but this run reads config `{current}`; nothing was sent"
    )]
    ConfigPath { planned: String, current: String },
    #[error(
        "the config `{path}` changed since the plan was made (sha256 `{planned}` then, `{current}` now); nothing was sent"
    )]
    ConfigChanged {
        path: String,
        planned: String,
        current: String,
    },
}

/// Checks that this run would send where the plan was reviewed for, from the config it was
/// made from. Endpoint first: it is the mistake that sends real aborts to the wrong place.
pub fn check_pinned(plan: &Plan, run: &RunSettings) -> Result<(), PlanMismatch> {
    let pinned = PinnedProvider::of(plan);
    if pinned.endpoint != run.provider.endpoint {
        return Err(PlanMismatch::Endpoint {
            planned: pinned.endpoint,
            current: run.provider.endpoint.clone(),
            source_name: run.endpoint_source.clone(),
        });
    }
    if pinned.region != run.provider.region {
        return Err(PlanMismatch::Region {
            planned: pinned.region,
            current: run.provider.region.clone(),
        });
    }
    if pinned.signature_algorithm != run.provider.signature_algorithm {
        return Err(PlanMismatch::SignatureAlgorithm {
            planned: pinned.signature_algorithm,
            current: run.provider.signature_algorithm,
        });
    }
    if !run.same_config_file {
        return Err(PlanMismatch::ConfigPath {
            planned: plan.config.path.clone(),
            current: run.config_path.clone(),
        });
    }
    if plan.config.sha256 != run.config_sha256 {
        return Err(PlanMismatch::ConfigChanged {
            path: run.config_path.clone(),
            planned: plan.config.sha256.clone(),
            current: run.config_sha256.clone(),
        });
    }
    Ok(())
}

/// The canonical encoding: pretty JSON with a trailing newline.
pub fn encode(plan: &Plan) -> String {
    // ~300 bytes per action in practice; one allocation for the common case.
    let mut bytes = Vec::with_capacity(512 + plan.actions.len() * 320);
    write_canonical(&mut bytes, &PlanView::of(plan));
    // serde_json writes UTF-8 only; the fallback is never taken.
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Writes [`encode`]'s bytes to `out` as they are produced (buffered in 64 KiB).
pub fn write_encoded(out: impl Write, plan: &Plan) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(SEALING_CHUNK, out);
    pretty(&mut out, &PlanView::of(plan)).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Writes the sealed canonical encoding of the plan `view` shows to `out` in one pass and
/// returns its checksum: the encoding of the unsealed plan (`"checksum": ""`, its last field)
/// goes to `out` and to the hasher as it is produced, all but its last bytes, and the digest
/// is then written between those quotes, which is where [`encode`] of the sealed plan puts
/// it (a hex digest needs no escaping). Neither the encoding nor a copy of the plan is ever
/// held in memory; `out` gets large writes (64 KiB), so it needs no buffer of its own.
pub(crate) fn write_sealed<A: Serialize>(
    out: impl Write,
    view: PlanView<'_, A>,
) -> io::Result<String> {
    let view = PlanView {
        checksum: "",
        ..view
    };
    let mut sealing = Sealing {
        out,
        hasher: Sha256::new(),
        buffer: Vec::with_capacity(SEALING_CHUNK + 4096),
    };
    pretty(&mut sealing, &view).map_err(io::Error::from)?;
    sealing.write_all(b"\n")?;
    sealing.finish()
}

/// How the unsealed canonical encoding ends: its last field, the empty checksum.
const UNSEALED_END: &[u8] = b"\"checksum\": \"\"\n}\n";

/// Bytes passed on to the output at once by [`Sealing`].
const SEALING_CHUNK: usize = 1 << 16;

/// [`write_sealed`]'s writer: hashes everything, passes on all but the last
/// [`UNSEALED_END`]`.len()` bytes in chunks, and at the end fills in the checksum.
struct Sealing<W> {
    out: W,
    hasher: Sha256,
    buffer: Vec<u8>,
}

impl<W: Write> Sealing<W> {
    fn pass_on(&mut self) -> io::Result<()> {
        let upto = self.buffer.len().saturating_sub(UNSEALED_END.len());
        self.hasher.update(&self.buffer[..upto]);
        self.out.write_all(&self.buffer[..upto])?;
        self.buffer.drain(..upto);
        Ok(())
    }

    fn finish(mut self) -> io::Result<String> {
        if !self.buffer.ends_with(UNSEALED_END) {
            // `checksum` is the plan's last field and serde_json's pretty output is fixed;
            // only a change to `Plan` could get here (tested: `write_sealed` = `encode`).
            return Err(io::Error::other(
                "internal error: the plan's encoding does not end with its checksum",
            ));
        }
        self.hasher.update(&self.buffer);
        let checksum = hex::encode(self.hasher.finalize());
        let at = self.buffer.len() - b"\"\n}\n".len();
        self.buffer.splice(at..at, checksum.bytes());
        self.out.write_all(&self.buffer)?;
        self.out.flush()?;
        Ok(checksum)
    }
}

impl<W: Write> Write for Sealing<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    /// serde_json writes every token with `write_all`: one append, inlined, instead of the
    /// default loop over `write`.
    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= SEALING_CHUNK + UNSEALED_END.len() {
            self.pass_on()?;
        }
        Ok(())
    }

    /// Holds back the end on purpose: only [`Sealing::finish`] may write it.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Seals `plan` (sets its checksum) and returns its canonical encoding, serialising it once
/// ([`write_sealed`] into memory).
pub fn seal_and_encode(plan: &mut Plan) -> String {
    let mut bytes = Vec::with_capacity(512 + plan.actions.len() * 320);
    match write_sealed(&mut bytes, PlanView::of(plan)) {
        Ok(checksum) => {
            plan.checksum = checksum;
            // serde_json writes UTF-8 only, and the digest is ASCII; the fallback is never
            // taken.
            String::from_utf8(bytes).unwrap_or_else(|_| encode(plan))
        }
        // Writing to memory cannot fail; stay correct anyway.
        Err(_) => {
            plan.checksum = checksum(plan);
            encode(plan)
        }
    }
}

/// Lowercase hex sha256 of the canonical encoding of `plan` with its checksum emptied.
/// Hashes while encoding, so a large plan is never held twice in memory.
pub fn checksum(plan: &Plan) -> String {
    // serde_json writes token by token; hashing in 64 KiB blocks is several times faster.
    let mut hasher = io::BufWriter::with_capacity(1 << 16, HashWriter(Sha256::new()));
    write_canonical(
        &mut hasher,
        &PlanView {
            checksum: "",
            ..PlanView::of(plan)
        },
    );
    let hasher = match hasher.into_inner() {
        Ok(hasher) => hasher,
        // HashWriter never fails, so flushing cannot either.
        Err(error) => error.into_inner().into_parts().0,
    };
    hex::encode(hasher.0.finalize())
}

/// What the plan file holds, borrowed: from a [`Plan`] ([`PlanView::of`]) or from a
/// [`super::PlanDraft`]'s decisions. Every encoding of a plan goes through it, so a plan
/// streamed from its decisions and one built and then encoded give the same bytes. Its
/// fields, their order and their `skip_serializing_if` are `Plan`'s (and
/// [`PlannedAction`]'s): the bytes equal `serde_json`'s of the derived `Serialize` (tested),
/// so the checksums of plan files written before it still verify.
#[derive(Serialize)]
pub(crate) struct PlanView<'a, A> {
    format_version: u32,
    tool_version: &'a str,
    created_at: &'a str,
    config: &'a ConfigReference,
    state: &'a StateVersion,
    region: &'a str,
    endpoint: &'a str,
    signature_algorithm: SignatureAlgorithm,
    #[serde(skip_serializing_if = "is_false")]
    refreshed: bool,
    actions: A,
    summary: &'a PlanSummary,
    checksum: &'a str,
}

impl<'a> PlanView<'a, OwnedActions<'a>> {
    pub(crate) fn of(plan: &'a Plan) -> Self {
        PlanView::with_actions(plan, OwnedActions(&plan.actions))
    }
}

impl<'a, 'd> PlanView<'a, DecidedActions<'a, 'd>> {
    /// The plan of `header` (a [`Plan`] whose `actions` are ignored) with `decisions` as its
    /// actions.
    pub(crate) fn of_draft(header: &'a Plan, decisions: &'a [Decision<'d>]) -> Self {
        PlanView::with_actions(header, DecidedActions(decisions))
    }
}

impl<'a, A> PlanView<'a, A> {
    /// Every field of `plan` but its actions, which are `actions`.
    fn with_actions(plan: &'a Plan, actions: A) -> Self {
        // Destructured in full: a new field of `Plan` must be added here too.
        let Plan {
            format_version,
            tool_version,
            created_at,
            config,
            state,
            region,
            endpoint,
            signature_algorithm,
            refreshed,
            actions: _,
            summary,
            checksum,
        } = plan;
        PlanView {
            format_version: *format_version,
            tool_version,
            created_at,
            config,
            state,
            region,
            endpoint,
            signature_algorithm: *signature_algorithm,
            refreshed: *refreshed,
            actions,
            summary,
            checksum,
        }
    }
}

pub(crate) struct OwnedActions<'a>(&'a [PlannedAction]);

impl Serialize for OwnedActions<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ActionView::of))
    }
}

pub(crate) struct DecidedActions<'a, 'd>(&'a [Decision<'d>]);

impl Serialize for DecidedActions<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ActionView::of_decision))
    }
}

/// A [`PlannedAction`], borrowed; see [`PlanView`].
#[derive(Serialize)]
struct ActionView<'a> {
    change_order_id: &'a ChangeOrderId,
    action: Action,
    verify_first: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_status: Option<RecordStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a String>,
    operation: RollbackOperation,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_id: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<LastErrorView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    live_status: Option<&'a LiveStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selected_by: Option<&'a SelectedBy>,
}

impl<'a> ActionView<'a> {
    fn of(action: &'a PlannedAction) -> Self {
        // Destructured in full: a new field of `PlannedAction` must be added here too.
        let PlannedAction {
            change_order_id,
            action,
            verify_first,
            recorded_status,
            app,
            reason,
            operation,
            app_id,
            last_error,
            live_status,
            selected_by,
        } = action;
        ActionView {
            change_order_id,
            action: *action,
            verify_first: *verify_first,
            recorded_status: *recorded_status,
            app: app.as_ref(),
            reason: reason.as_ref(),
            operation: *operation,
            app_id: app_id.as_ref(),
            last_error: last_error.as_ref().map(LastErrorView::of),
            live_status: live_status.as_ref(),
            selected_by: selected_by.as_ref(),
        }
    }

    /// What [`Decision::to_action`] would give, without copying it.
    fn of_decision(decision: &'a Decision<'_>) -> Self {
        ActionView {
            change_order_id: decision.id(),
            action: decision.action,
            verify_first: decision.verify_first,
            recorded_status: decision.recorded_status(),
            app: decision.app(),
            reason: decision.reason(),
            operation: decision.operation(),
            app_id: decision.app_id(),
            last_error: decision.error_record().map(LastErrorView::of_record),
            live_status: None,
            selected_by: decision.selected_by(),
        }
    }
}

/// A [`LastError`], borrowed.
#[derive(Serialize)]
struct LastErrorView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<&'a String>,
}

impl<'a> LastErrorView<'a> {
    fn of(error: &'a LastError) -> Self {
        let LastError {
            http_status,
            code,
            error_code,
            message,
            request_id,
            at,
        } = error;
        LastErrorView {
            http_status: *http_status,
            code: code.as_ref(),
            error_code: error_code.as_ref(),
            message: message.as_ref(),
            request_id: request_id.as_ref(),
            at: at.as_ref(),
        }
    }

    /// What [`LastError::from_record`] copies.
    fn of_record(record: &'a ChangeOrderRecord) -> Self {
        LastErrorView {
            http_status: record.http_status,
            code: record.code.as_ref(),
            error_code: record.error_code.as_ref(),
            message: record.message.as_ref(),
            request_id: record.request_id.as_ref(),
            at: record.last_attempt_at.as_ref(),
        }
    }
}

/// Reads a plan file's text: refuses a newer format and a checksum that does not match the
/// content. `path` is only used in errors.
pub fn decode(path: &Path, text: &str) -> Result<Plan, PlanFileError> {
    let mut plan: Plan = match serde_json::from_str(text) {
        Ok(plan) => plan,
        // A newer format may not parse as this version's plan: say "newer", not "invalid".
        Err(source) => return Err(newer_format(path, text).unwrap_or_else(|| syntax(path, source))),
    };
    if plan.format_version > PLAN_FORMAT_VERSION {
        return Err(PlanFileError::NewerFormat {
            path: path.to_path_buf(),
            found: plan.format_version,
            supported: PLAN_FORMAT_VERSION,
            tool_version: plan.tool_version,
        });
    }
    let recorded = std::mem::take(&mut plan.checksum);
    let computed = checksum(&plan);
    if recorded != computed {
        return Err(PlanFileError::ChecksumMismatch {
            path: path.to_path_buf(),
            recorded,
            computed,
        });
    }
    plan.checksum = recorded;
    refuse_duplicates(path, &plan)?;
    Ok(plan)
}

/// Refuses a plan that lists one change order twice (actions numbered from 1).
fn refuse_duplicates(path: &Path, plan: &Plan) -> Result<(), PlanFileError> {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(plan.actions.len());
    for (index, action) in plan.actions.iter().enumerate() {
        let key = ChangeOrderId::comparison_key(action.change_order_id.as_str());
        if let Some(first) = seen.insert(key, index + 1) {
            return Err(PlanFileError::DuplicateChangeOrder {
                path: path.to_path_buf(),
                change_order_id: action.change_order_id.to_string(),
                first,
                second: index + 1,
            });
        }
    }
    Ok(())
}

fn newer_format(path: &Path, text: &str) -> Option<PlanFileError> {
    #[derive(Deserialize)]
    struct Header {
        format_version: u32,
        #[serde(default)]
        tool_version: String,
    }
    let header: Header = serde_json::from_str(text).ok()?;
    (header.format_version > PLAN_FORMAT_VERSION).then(|| PlanFileError::NewerFormat {
        path: path.to_path_buf(),
        found: header.format_version,
        supported: PLAN_FORMAT_VERSION,
        tool_version: header.tool_version,
    })
}

/// A plan applies only over the exact state version it was made against: same lineage and
/// same serial, or no state file on either side.
pub fn check_applicable(plan: &Plan, state: Option<&State>) -> Result<(), StalePlan> {
    match (&plan.state.lineage, state) {
        (None, None) => Ok(()),
        (None, Some(state)) => Err(StalePlan::StateCreated {
            lineage: state.lineage.clone(),
            serial: state.serial,
        }),
        (Some(lineage), None) => Err(StalePlan::StateMissing {
            lineage: lineage.clone(),
            serial: plan.state.serial,
        }),
        (Some(lineage), Some(state)) if *lineage != state.lineage => {
            Err(StalePlan::DifferentLineage {
                planned: lineage.clone(),
                current: state.lineage.clone(),
            })
        }
        (Some(_), Some(state)) if plan.state.serial != state.serial => {
            Err(StalePlan::SerialMoved {
                planned: plan.state.serial,
                current: state.serial,
            })
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

fn syntax(path: &Path, source: serde_json::Error) -> PlanFileError {
    let message = source.to_string();
    // serde_json appends " at line L column C"; the error names them itself.
    let message = match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message,
    };
    PlanFileError::Syntax {
        path: path.to_path_buf(),
        line: source.line(),
        column: source.column(),
        message,
        source,
    }
}

fn write_canonical<A: Serialize>(writer: &mut impl Write, plan: &PlanView<'_, A>) {
    // Serialising plain structs with string keys into an infallible writer cannot fail.
    let written = pretty(&mut *writer, plan)
        .and_then(|()| writer.write_all(b"\n").map_err(serde_json::Error::io));
    debug_assert!(written.is_ok(), "plan serialisation failed: {written:?}");
}

/// `serde_json::to_writer_pretty`, through [`Pretty`].
fn pretty<A: Serialize>(writer: impl Write, plan: &PlanView<'_, A>) -> serde_json::Result<()> {
    plan.serialize(&mut serde_json::Serializer::with_formatter(
        writer,
        Pretty::default(),
    ))
}

/// serde_json's `PrettyFormatter` with its default two-space indent, byte for byte (the same
/// methods with the same logic), except that a line break and the next line's indentation
/// are one write rather than one per level: a plan of 100,000 change orders has 1.2 million
/// lines, most three levels deep. Tested against `serde_json::to_string_pretty`.
#[derive(Default)]
struct Pretty {
    current_indent: usize,
    has_value: bool,
}

/// `,` and a line break, then enough indentation for any plan (five levels at most).
const LINE_BREAKS: &[u8] = b",\n                                ";

impl Pretty {
    /// A line break (after a comma unless `first`), then the current indentation.
    fn new_line(&self, writer: &mut (impl ?Sized + Write), first: bool) -> io::Result<()> {
        let start = usize::from(first);
        let end = 2 + 2 * self.current_indent;
        match LINE_BREAKS.get(start..end) {
            Some(line) => writer.write_all(line),
            None => {
                writer.write_all(&LINE_BREAKS[start..2])?;
                for _ in 0..self.current_indent {
                    writer.write_all(b"  ")?;
                }
                Ok(())
            }
        }
    }
}

impl serde_json::ser::Formatter for Pretty {
    #[inline]
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.current_indent += 1;
        self.has_value = false;
        writer.write_all(b"[")
    }

    #[inline]
    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.current_indent -= 1;
        if self.has_value {
            self.new_line(writer, true)?;
        }
        writer.write_all(b"]")
    }

    #[inline]
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, first)
    }

    #[inline]
    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    #[inline]
    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.current_indent += 1;
        self.has_value = false;
        writer.write_all(b"{")
    }

    #[inline]
    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.current_indent -= 1;
        if self.has_value {
            self.new_line(writer, true)?;
        }
        writer.write_all(b"}")
    }

    #[inline]
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, first)
    }

    #[inline]
    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    #[inline]
    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
