//! The write-ahead journal's record format and its pure fold into a [`State`].
//!
//! During apply, `<state>.journal` receives JSON lines: one `begin` naming the state it
//! belongs to, then an `intent` before each request leaves (durable before sending) and a
//! `response` as each outcome arrives. The state after a run, or after a crash, is
//! `fold(state, journal)`.
//!
//! Everything here is pure: no clock, no files. Parsing tolerates the one damage a crash can
//! do to an append-only file (a torn last line) and reports anything else with its line
//! number. Reading and writing the journal file is `store`'s job.

use super::model::{ChangeOrderRecord, RecordStatus, RollbackStatus, State};
use crate::edas::request::RollbackOperation;
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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
        /// Where this run sends its requests; folded into each record it answers
        /// (`ChangeOrderRecord::endpoint`). Absent in journals written before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    Intent {
        change_order_id: ChangeOrderId,
        /// The change order's attempt number counted over its whole history: the state's
        /// `attempts` before the run plus the attempts made in this run (so the first abort of
        /// a never-tried change order is 1). Fold keeps the largest seen, which makes folding
        /// the same journal twice harmless.
        attempt: u32,
        at: String,
        request: RequestKind,
        /// For an abort: the call sent (`abort_and_rollback` or `rollback`). Absent in journals
        /// written before it existed, which only sent `abort_and_rollback`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<RollbackOperation>,
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
        /// The change order's status as `GetChangeOrderInfo` gave it, when that decided the
        /// record (`finished`, or `aborted` from status 6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        change_order_status: Option<ChangeOrderStatus>,
    },
    RollbackStatus {
        change_order_id: ChangeOrderId,
        at: String,
        rollback_status: RollbackStatus,
    },
    /// An abort intent written ahead of its request whose request was never sent, because the
    /// run stopped first (Ctrl-C or a fatal error). The fold treats that intent as never
    /// written. If this record is lost in a crash the intent folds to `unknown` instead, and
    /// the next apply asks `GetChangeOrderInfo` first: never a duplicate abort.
    Withdrawn {
        change_order_id: ChangeOrderId,
        attempt: u32,
        at: String,
    },
}

impl JournalRecord {
    /// The change order a record is about; `None` for `begin`.
    pub fn change_order_id(&self) -> Option<&ChangeOrderId> {
        match self {
            JournalRecord::Begin { .. } => None,
            JournalRecord::Intent {
                change_order_id, ..
            }
            | JournalRecord::Response {
                change_order_id, ..
            }
            | JournalRecord::RollbackStatus {
                change_order_id, ..
            }
            | JournalRecord::Withdrawn {
                change_order_id, ..
            } => Some(change_order_id),
        }
    }
}

/// Why a journal cannot be folded into a state.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FoldError {
    /// Folding it would write one state's history into another.
    #[error(
        "the journal belongs to state lineage `{journal}`, not to this state's lineage `{state}`"
    )]
    LineageMismatch { journal: String, state: String },
    #[error("the journal does not start with a `begin` record (record {index} is `{found}`)")]
    MissingBegin { index: usize, found: &'static str },
}

/// Folds journal records into a state. Pure.
///
/// - `begin` must name the state's lineage; anything else is an error, never a merge.
/// - `intent` for an abort: the change order becomes `unknown` (a request may be on the
///   wire), `attempts` becomes the intent's `attempt` if larger, `last_attempt_at` is set,
///   and `app`/`reason` are taken from the intent when it has them.
/// - `intent` for a verify changes nothing: asking is harmless.
/// - `response`: status and every detail field are the response's (a later one wins);
///   `rollback_status` is cleared, since it described an earlier abort's rollback.
/// - `rollback_status` sets it.
///
/// An intent without a later response leaves `unknown`: the crash case, which the next plan
/// turns into an abort with `verify_first`. Records of different change orders commute, so
/// the interleaving of parallel requests does not matter; and since every rule sets values
/// rather than adding to them, folding the same journal twice gives the same state.
///
/// Copies what it keeps from `records`; [`fold_owned`] moves it instead.
pub fn fold(state: State, records: &[JournalRecord]) -> Result<State, FoldError> {
    fold_owned(state, records.to_vec())
}

/// [`fold`], taking the records: their strings move into the state instead of being copied
/// (the end of an apply run folds every record it wrote, and needs them no more).
pub fn fold_owned(mut state: State, records: Vec<JournalRecord>) -> Result<State, FoldError> {
    if let Some(first) = records.first()
        && !matches!(first, JournalRecord::Begin { .. })
    {
        return Err(FoldError::MissingBegin {
            index: 0,
            found: first.event_name(),
        });
    }
    let withdrawn: BTreeSet<(ChangeOrderId, u32)> = withdrawn_intents(&records)
        .into_iter()
        .map(|(id, attempt)| (id.clone(), attempt))
        .collect();
    // The endpoint the journal's run sent to, stamped on every response it folds.
    let mut run_endpoint: Option<String> = None;
    for record in records {
        match record {
            JournalRecord::Intent {
                ref change_order_id,
                attempt,
                ..
            } if !withdrawn.is_empty()
                && withdrawn.contains(&(change_order_id.clone(), attempt)) => {}
            JournalRecord::Begin {
                lineage, endpoint, ..
            } => {
                if lineage != state.lineage {
                    return Err(FoldError::LineageMismatch {
                        journal: lineage,
                        state: state.lineage.clone(),
                    });
                }
                run_endpoint = endpoint;
            }
            JournalRecord::Intent {
                change_order_id,
                attempt,
                at,
                request: RequestKind::Abort,
                operation,
                app,
                reason,
            } => {
                let entry = state
                    .change_orders
                    .entry(change_order_id)
                    .or_insert_with(|| ChangeOrderRecord::new(RecordStatus::Unknown));
                entry.status = RecordStatus::Unknown;
                entry.attempts = entry.attempts.max(attempt);
                entry.last_attempt_at = Some(at);
                entry.operation = Some(operation.unwrap_or_default());
                if app.is_some() {
                    entry.app = app;
                }
                if reason.is_some() {
                    entry.reason = reason;
                }
            }
            JournalRecord::Intent {
                request: RequestKind::Verify,
                ..
            } => {}
            JournalRecord::Response {
                change_order_id,
                at: _,
                status,
                http_status,
                request_id,
                trace_id,
                code,
                error_code,
                message,
                rollback_change_order_id,
                confirmed_by_status,
                change_order_status,
            } => {
                let entry = state
                    .change_orders
                    .entry(change_order_id)
                    .or_insert_with(|| ChangeOrderRecord::new(status));
                // The recorded rollback status described an earlier abort's rollback;
                // `rollback_status` records after this response set it again.
                entry.rollback_status = None;
                entry.status = status;
                entry.http_status = http_status;
                entry.request_id = request_id;
                entry.trace_id = trace_id;
                entry.code = code;
                entry.error_code = error_code;
                entry.message = message;
                entry.rollback_change_order_id = rollback_change_order_id;
                entry.confirmed_by_status = confirmed_by_status;
                entry.change_order_status = change_order_status;
                entry.endpoint.clone_from(&run_endpoint);
            }
            JournalRecord::RollbackStatus {
                change_order_id,
                rollback_status,
                ..
            } => {
                // A rollback status for a change order the state has never seen means the
                // journal lost its abort records; `unknown` makes the next apply ask first.
                let entry = state
                    .change_orders
                    .entry(change_order_id)
                    .or_insert_with(|| ChangeOrderRecord::new(RecordStatus::Unknown));
                entry.rollback_status = Some(rollback_status);
            }
            // Its intent was skipped above; nothing else to undo.
            JournalRecord::Withdrawn { .. } => {}
        }
    }
    Ok(state)
}

/// The change orders that an abort intent in `records` left without a later response: the
/// ones a crash left `unknown`.
pub fn unanswered_aborts(records: &[JournalRecord]) -> BTreeSet<ChangeOrderId> {
    let withdrawn = withdrawn_intents(records);
    let mut open = BTreeSet::new();
    for record in records {
        match record {
            JournalRecord::Intent {
                change_order_id,
                attempt,
                ..
            } if withdrawn.contains(&(change_order_id, *attempt)) => {}
            JournalRecord::Intent {
                change_order_id,
                request: RequestKind::Abort,
                ..
            } => {
                open.insert(change_order_id.clone());
            }
            JournalRecord::Response {
                change_order_id,
                status,
                ..
            } => {
                if *status == RecordStatus::Unknown {
                    open.insert(change_order_id.clone());
                } else {
                    open.remove(change_order_id);
                }
            }
            _ => {}
        }
    }
    open
}

/// The (change order, attempt) pairs whose intents were withdrawn.
fn withdrawn_intents(records: &[JournalRecord]) -> BTreeSet<(&ChangeOrderId, u32)> {
    records
        .iter()
        .filter_map(|record| match record {
            JournalRecord::Withdrawn {
                change_order_id,
                attempt,
                ..
            } => Some((change_order_id, *attempt)),
            _ => None,
        })
        .collect()
}

/// The journal's JSON lines, written by hand: each record exactly as `serde_json::to_vec`
/// writes it (the tests compare them byte for byte), in a fraction of the instructions (two
/// records per change order; the derived serializer cost ~3,400 instructions a record).
impl JournalRecord {
    /// Appends the record's JSON and a newline to `out`.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        let mut object = JsonObject::open(out, self.event_name());
        match self {
            JournalRecord::Begin {
                lineage,
                serial,
                at,
                operation,
                endpoint,
            } => {
                object.string("lineage", lineage);
                object.number("serial", *serial);
                object.string("at", at);
                object.string("operation", operation);
                object.optional_string("endpoint", endpoint.as_deref());
            }
            JournalRecord::Intent {
                change_order_id,
                attempt,
                at,
                request,
                operation,
                app,
                reason,
            } => {
                object.string("change_order_id", change_order_id.as_str());
                object.number("attempt", u64::from(*attempt));
                object.string("at", at);
                object.string(
                    "request",
                    match request {
                        RequestKind::Abort => "abort",
                        RequestKind::Verify => "verify",
                    },
                );
                object.optional_string("operation", operation.map(RollbackOperation::as_str));
                object.optional_string("app", app.as_deref());
                object.optional_string("reason", reason.as_deref());
            }
            JournalRecord::Response {
                change_order_id,
                at,
                status,
                http_status,
                request_id,
                trace_id,
                code,
                error_code,
                message,
                rollback_change_order_id,
                confirmed_by_status,
                change_order_status,
            } => {
                object.string("change_order_id", change_order_id.as_str());
                object.string("at", at);
                object.string("status", status.as_str());
                if let Some(http_status) = http_status {
                    object.number("http_status", u64::from(*http_status));
                }
                object.optional_string("request_id", request_id.as_deref());
                object.optional_string("trace_id", trace_id.as_deref());
                object.optional_string("code", code.as_deref());
                object.optional_string("error_code", error_code.as_deref());
                object.optional_string("message", message.as_deref());
                object.optional_string(
                    "rollback_change_order_id",
                    rollback_change_order_id.as_deref(),
                );
                if *confirmed_by_status {
                    object.key("confirmed_by_status");
                    object.out.extend_from_slice(b"true");
                }
                if let Some(status) = change_order_status {
                    object.key("change_order_status");
                    let code = i32::from(*status);
                    if code < 0 {
                        object.out.push(b'-');
                    }
                    push_decimal(object.out, u64::from(code.unsigned_abs()));
                }
            }
            JournalRecord::RollbackStatus {
                change_order_id,
                at,
                rollback_status,
            } => {
                object.string("change_order_id", change_order_id.as_str());
                object.string("at", at);
                object.string(
                    "rollback_status",
                    match rollback_status {
                        RollbackStatus::Running => "running",
                        RollbackStatus::Succeeded => "succeeded",
                        RollbackStatus::PartiallySucceeded => "partially_succeeded",
                        RollbackStatus::Failed => "failed",
                        RollbackStatus::TimedOut => "timed_out",
                    },
                );
            }
            JournalRecord::Withdrawn {
                change_order_id,
                attempt,
                at,
            } => {
                object.string("change_order_id", change_order_id.as_str());
                object.number("attempt", u64::from(*attempt));
                object.string("at", at);
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

/// A JSON object being written: `{"event":"…"` is out, each field adds `,"key":value`.
struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> JsonObject<'a> {
    fn open(out: &'a mut Vec<u8>, event: &str) -> Self {
        out.extend_from_slice(b"{\"event\":");
        push_json_string(out, event);
        Self { out }
    }

    fn key(&mut self, key: &str) {
        self.out.extend_from_slice(b",\"");
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_string(self.out, value);
    }

    fn optional_string(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.string(key, value);
        }
    }

    fn number(&mut self, key: &str, value: u64) {
        self.key(key);
        push_decimal(self.out, value);
    }
}

pub(crate) fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Whether `bytes` holds a byte JSON must escape (below 0x20, `"` or `\`), eight bytes at a
/// time: a byte below 0x20, or one equal to `"` or `\` after an xor, sets its top bit in
/// `(word - 0x20…) & !word & 0x80…` (the classic "has less than" test, exact for bytes below
/// 0x80; bytes from 0x80 have their own top bit set and are masked out by `!word`).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |word: u64, limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        if below(word, 0x20) | below(word ^ (ONES * 0x22), 1) | below(word ^ (ONES * 0x5c), 1) != 0
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
}

/// A JSON string as serde_json escapes it: `"` and `\`, the short escapes `\b \f \n \r \t`,
/// other control characters below 0x20 as `\u00xx`; everything else as it is.
pub(crate) fn push_json_string(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = value.as_bytes();
    // Nearly every value (ids, times, request ids) needs no escape: checked eight bytes at a
    // time, then copied whole.
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut plain_from = 0;
    let mut unicode = *b"\\u0000";
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                unicode[4] = HEX[usize::from(byte >> 4)];
                unicode[5] = HEX[usize::from(byte & 0xf)];
                &unicode
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..index]);
        out.extend_from_slice(escape);
        plain_from = index + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

impl JournalRecord {
    fn event_name(&self) -> &'static str {
        match self {
            JournalRecord::Begin { .. } => "begin",
            JournalRecord::Intent { .. } => "intent",
            JournalRecord::Response { .. } => "response",
            JournalRecord::RollbackStatus { .. } => "rollback_status",
            JournalRecord::Withdrawn { .. } => "withdrawn",
        }
    }
}

/// A journal read back from its file.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedJournal {
    pub records: Vec<JournalRecord>,
    /// The last line, when a crash tore it (no final newline, or not a whole record). It was
    /// dropped: it was never made durable, so the request it announced was never sent, or
    /// its response will be asked for again.
    pub torn_last_line: Option<TornLine>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornLine {
    /// 1-based.
    pub line: usize,
    pub bytes: usize,
}

/// A journal that is damaged in a way a crash cannot explain.
#[derive(Debug, thiserror::Error)]
pub enum JournalParseError {
    #[error("line {line} is not a journal record: {source}")]
    BadRecord {
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("line {line} is not UTF-8 (byte {byte} of the line)")]
    NotUtf8 { line: usize, byte: usize },
}

impl JournalParseError {
    pub fn line(&self) -> usize {
        match self {
            JournalParseError::BadRecord { line, .. } | JournalParseError::NotUtf8 { line, .. } => {
                *line
            }
        }
    }
}

/// Parses journal text. See [`parse_journal_bytes`].
pub fn parse_journal(text: &str) -> Result<ParsedJournal, JournalParseError> {
    parse_journal_bytes(text.as_bytes())
}

/// Parses a journal file's bytes: one JSON record per line. The last line is dropped (and
/// reported) when it has no newline or does not parse, since a crash mid-write tears exactly
/// that line, possibly inside a UTF-8 character; a bad line anywhere else is an error naming
/// its number. Blank lines are skipped.
pub fn parse_journal_bytes(bytes: &[u8]) -> Result<ParsedJournal, JournalParseError> {
    let mut records = Vec::new();
    let mut torn_last_line = None;
    let mut lines = bytes.split_inclusive(|byte| *byte == b'\n').peekable();
    let mut number = 0;
    while let Some(raw) = lines.next() {
        number += 1;
        let is_last = lines.peek().is_none();
        let complete = raw.ends_with(b"\n");
        let content = raw.strip_suffix(b"\n").unwrap_or(raw);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if is_last && !complete {
            torn_last_line = Some(TornLine {
                line: number,
                bytes: raw.len(),
            });
            break;
        }
        let text = match std::str::from_utf8(content) {
            Ok(text) => text,
            Err(error) if is_last => {
                let _ = error;
                torn_last_line = Some(TornLine {
                    line: number,
                    bytes: raw.len(),
                });
                break;
            }
            Err(error) => {
                return Err(JournalParseError::NotUtf8 {
                    line: number,
                    byte: error.valid_up_to() + 1,
                });
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<JournalRecord>(text) {
            Ok(record) => records.push(record),
            Err(_) if is_last => {
                torn_last_line = Some(TornLine {
                    line: number,
                    bytes: raw.len(),
                });
            }
            Err(source) => {
                return Err(JournalParseError::BadRecord {
                    line: number,
                    source,
                });
            }
        }
    }
    Ok(ParsedJournal {
        records,
        torn_last_line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LINEAGE: &str = "3f0c6a52-0000-4000-8000-000000000001";

    fn id(text: &str) -> ChangeOrderId {
        ChangeOrderId::new(text)
    }

    fn begin() -> JournalRecord {
        JournalRecord::Begin {
            lineage: LINEAGE.into(),
            serial: 0,
            at: "2026-11-27T10:00:00Z".into(),
            operation: "apply".into(),
            endpoint: None,
        }
    }

    fn intent(co: &str, attempt: u32, request: RequestKind) -> JournalRecord {
        JournalRecord::Intent {
            change_order_id: id(co),
            attempt,
            at: format!("2026-11-27T10:00:0{attempt}Z"),
            request,
            operation: None,
            app: Some("checkout".into()),
            reason: Some("bad release".into()),
        }
    }

    fn response(co: &str, status: RecordStatus, request_id: &str) -> JournalRecord {
        JournalRecord::Response {
            change_order_id: id(co),
            at: "2026-11-27T10:00:09Z".into(),
            status,
            http_status: Some(200),
            request_id: Some(request_id.into()),
            trace_id: None,
            code: Some("200".into()),
            error_code: None,
            message: Some(format!("answer {request_id}")),
            rollback_change_order_id: Some(format!("rb-{co}")),
            confirmed_by_status: false,
            change_order_status: None,
        }
    }

    fn empty() -> State {
        State::new_empty(LINEAGE, "0.1.0")
    }

    #[test]
    fn an_abort_intent_without_a_response_leaves_the_change_order_unknown() {
        let state = fold(empty(), &[begin(), intent("a", 1, RequestKind::Abort)]).unwrap();
        let record = &state.change_orders[&id("a")];
        assert_eq!(record.status, RecordStatus::Unknown);
        assert_eq!(record.attempts, 1);
        assert_eq!(
            record.last_attempt_at.as_deref(),
            Some("2026-11-27T10:00:01Z")
        );
        assert_eq!(record.app.as_deref(), Some("checkout"));
        assert_eq!(record.reason.as_deref(), Some("bad release"));
    }

    fn withdrawn(co: &str, attempt: u32) -> JournalRecord {
        JournalRecord::Withdrawn {
            change_order_id: id(co),
            attempt,
            at: "2026-11-27T10:00:02Z".to_string(),
        }
    }

    #[test]
    fn a_withdrawn_intent_leaves_the_record_as_it_was_before_it() {
        let before = fold(
            empty(),
            &[
                begin(),
                intent("a", 1, RequestKind::Abort),
                response("a", RecordStatus::Failed, "req-1"),
            ],
        )
        .unwrap();
        let records = [
            begin(),
            intent("a", 2, RequestKind::Abort),
            intent("b", 1, RequestKind::Abort),
            withdrawn("a", 2),
            withdrawn("b", 1),
        ];
        let after = fold(before.clone(), &records).unwrap();
        assert_eq!(
            after, before,
            "neither a retry nor a new change order was sent"
        );
        assert!(unanswered_aborts(&records).is_empty());
    }

    #[test]
    fn withdrawing_one_attempt_leaves_another_attempts_intent_in_force() {
        let records = [
            begin(),
            intent("a", 1, RequestKind::Abort),
            intent("a", 2, RequestKind::Abort),
            withdrawn("a", 2),
        ];
        let state = fold(empty(), &records).unwrap();
        assert_eq!(state.change_orders[&id("a")].status, RecordStatus::Unknown);
        assert_eq!(unanswered_aborts(&records), BTreeSet::from([id("a")]));
    }

    #[test]
    fn a_response_replaces_status_and_every_detail_and_the_later_one_wins() {
        let mut failed = response("a", RecordStatus::Failed, "r1");
        if let JournalRecord::Response { code, .. } = &mut failed {
            *code = Some("500".into());
        }
        let mut aborted = response("a", RecordStatus::Aborted, "r2");
        if let JournalRecord::Response { trace_id, code, .. } = &mut aborted {
            *trace_id = Some("t2".into());
            *code = None;
        }
        let state = fold(
            empty(),
            &[
                begin(),
                intent("a", 1, RequestKind::Abort),
                failed,
                intent("a", 2, RequestKind::Abort),
                aborted,
            ],
        )
        .unwrap();
        let record = &state.change_orders[&id("a")];
        assert_eq!(record.status, RecordStatus::Aborted);
        assert_eq!(record.request_id.as_deref(), Some("r2"));
        assert_eq!(record.trace_id.as_deref(), Some("t2"));
        assert_eq!(record.code, None, "a detail the response lacks is cleared");
        assert_eq!(record.attempts, 2);
    }

    #[test]
    fn a_verify_intent_changes_no_status() {
        let mut start = empty();
        start
            .change_orders
            .insert(id("a"), ChangeOrderRecord::new(RecordStatus::Failed));
        let state = fold(
            start.clone(),
            &[begin(), intent("a", 3, RequestKind::Verify)],
        )
        .unwrap();
        assert_eq!(state, start);
    }

    #[test]
    fn a_rollback_status_is_recorded_and_cleared_by_a_later_response() {
        let records = [
            begin(),
            intent("a", 1, RequestKind::Abort),
            response("a", RecordStatus::Aborted, "r1"),
            JournalRecord::RollbackStatus {
                change_order_id: id("a"),
                at: "2026-11-27T10:01:00Z".into(),
                rollback_status: RollbackStatus::Succeeded,
            },
        ];
        let state = fold(empty(), &records).unwrap();
        assert_eq!(
            state.change_orders[&id("a")].rollback_status,
            Some(RollbackStatus::Succeeded)
        );
        let mut other = response("a", RecordStatus::Aborted, "r2");
        if let JournalRecord::Response {
            rollback_change_order_id,
            ..
        } = &mut other
        {
            *rollback_change_order_id = Some("rb-other".into());
        }
        let state = fold(state, &[begin(), other]).unwrap();
        assert_eq!(state.change_orders[&id("a")].rollback_status, None);
    }

    #[test]
    fn a_journal_of_another_lineage_is_never_folded() {
        let other = State::new_empty("another-lineage", "0.1.0");
        assert_eq!(
            fold(other, &[begin(), intent("a", 1, RequestKind::Abort)]),
            Err(FoldError::LineageMismatch {
                journal: LINEAGE.into(),
                state: "another-lineage".into()
            })
        );
    }

    #[test]
    fn a_journal_that_does_not_start_with_begin_is_refused() {
        assert_eq!(
            fold(empty(), &[intent("a", 1, RequestKind::Abort)]),
            Err(FoldError::MissingBegin {
                index: 0,
                found: "intent"
            })
        );
    }

    #[test]
    fn unanswered_aborts_are_the_intents_without_a_later_answer() {
        let records = [
            begin(),
            intent("a", 1, RequestKind::Abort),
            intent("b", 1, RequestKind::Abort),
            response("a", RecordStatus::Aborted, "r1"),
            intent("c", 1, RequestKind::Verify),
        ];
        assert_eq!(unanswered_aborts(&records), BTreeSet::from([id("b")]));
    }

    fn to_lines(records: &[JournalRecord]) -> String {
        records
            .iter()
            .map(|record| serde_json::to_string(record).unwrap() + "\n")
            .collect()
    }

    #[test]
    fn a_journal_round_trips_through_its_text() {
        let records = vec![
            begin(),
            intent("a", 1, RequestKind::Abort),
            response("a", RecordStatus::Aborted, "r1"),
        ];
        let parsed = parse_journal(&to_lines(&records)).unwrap();
        assert_eq!(parsed.records, records);
        assert_eq!(parsed.torn_last_line, None);
    }

    #[test]
    fn a_last_line_without_newline_is_dropped_as_torn() {
        let records = vec![begin(), intent("a", 1, RequestKind::Abort)];
        let mut text = to_lines(&records);
        text.push_str(&serde_json::to_string(&response("a", RecordStatus::Aborted, "r")).unwrap());
        let parsed = parse_journal(&text).unwrap();
        assert_eq!(parsed.records, records);
        assert_eq!(parsed.torn_last_line.map(|torn| torn.line), Some(3));
    }

    #[test]
    fn a_last_line_cut_inside_a_utf8_character_is_dropped_as_torn() {
        let mut bytes = to_lines(&[begin()]).into_bytes();
        bytes.extend_from_slice("{\"event\":\"intent\",\"app\":\"caf".as_bytes());
        bytes.push(0xC3);
        let parsed = parse_journal_bytes(&bytes).unwrap();
        assert_eq!(parsed.records, vec![begin()]);
        assert_eq!(parsed.torn_last_line.map(|torn| torn.line), Some(2));
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_an_error_naming_its_line() {
        let text = format!(
            "{}{{\"event\":\"intent\"}}\n{}",
            to_lines(&[begin()]),
            to_lines(&[intent("a", 1, RequestKind::Abort)])
        );
        let error = parse_journal(&text).unwrap_err();
        assert_eq!(error.line(), 2);
        assert!(
            error
                .to_string()
                .starts_with("line 2 is not a journal record")
        );
    }

    #[test]
    fn a_non_utf8_line_in_the_middle_is_an_error_naming_its_line() {
        let mut bytes = to_lines(&[begin()]).into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\n");
        bytes.extend_from_slice(to_lines(&[begin()]).as_bytes());
        let error = parse_journal_bytes(&bytes).unwrap_err();
        assert_eq!(error.line(), 2);
    }

    /// Per change order: intents and responses in a plausible order.
    fn change_order_history(co: String) -> impl Strategy<Value = Vec<JournalRecord>> {
        let step = prop_oneof![
            Just(0u8), // abort intent
            Just(1u8), // verify intent
            Just(2u8), // response aborted
            Just(3u8), // response failed
            Just(4u8), // rollback status
        ];
        proptest::collection::vec(step, 0..6).prop_map(move |steps| {
            let mut attempt = 0;
            steps
                .into_iter()
                .enumerate()
                .map(|(index, step)| match step {
                    0 => {
                        attempt += 1;
                        intent(&co, attempt, RequestKind::Abort)
                    }
                    1 => intent(&co, attempt, RequestKind::Verify),
                    2 => response(&co, RecordStatus::Aborted, &format!("r{index}")),
                    3 => response(&co, RecordStatus::Failed, &format!("r{index}")),
                    _ => JournalRecord::RollbackStatus {
                        change_order_id: id(&co),
                        at: "2026-11-27T10:02:00Z".into(),
                        rollback_status: RollbackStatus::Running,
                    },
                })
                .collect()
        })
    }

    fn histories() -> impl Strategy<Value = Vec<Vec<JournalRecord>>> {
        (1usize..5).prop_flat_map(|count| {
            (0..count)
                .map(|index| change_order_history(format!("co-{index}")))
                .collect::<Vec<_>>()
        })
    }

    /// Merges per-change-order histories in an order chosen by `picks`, keeping each one's
    /// own order.
    fn interleave(histories: &[Vec<JournalRecord>], picks: &[usize]) -> Vec<JournalRecord> {
        let mut cursors = vec![0; histories.len()];
        let mut merged = vec![begin()];
        let mut picks = picks.iter().cycle();
        while cursors
            .iter()
            .zip(histories)
            .any(|(cursor, history)| *cursor < history.len())
        {
            let live: Vec<usize> = (0..histories.len())
                .filter(|index| cursors[*index] < histories[*index].len())
                .collect();
            let choice = live[picks.next().copied().unwrap_or(0) % live.len()];
            merged.push(histories[choice][cursors[choice]].clone());
            cursors[choice] += 1;
        }
        merged
    }

    proptest! {
        #[test]
        fn the_interleaving_of_different_change_orders_does_not_matter(
            histories in histories(),
            picks_a in proptest::collection::vec(0usize..8, 1..20),
            picks_b in proptest::collection::vec(0usize..8, 1..20),
        ) {
            let a = fold(empty(), &interleave(&histories, &picks_a)).unwrap();
            let b = fold(empty(), &interleave(&histories, &picks_b)).unwrap();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn folding_a_journal_twice_gives_the_same_state(
            histories in histories(),
            picks in proptest::collection::vec(0usize..8, 1..20),
        ) {
            // Every rule sets values rather than adding to them, so this holds for any
            // journal, answered or not: the case that matters is a crash between saving the
            // fold and removing the journal, after which the next command folds it again.
            let journal = interleave(&histories, &picks);
            let once = fold(empty(), &journal).unwrap();
            let twice = fold(once.clone(), &journal).unwrap();
            prop_assert_eq!(&once, &twice);
        }

        #[test]
        fn every_change_order_with_an_unanswered_abort_ends_unknown(
            histories in histories(),
            picks in proptest::collection::vec(0usize..8, 1..20),
        ) {
            let journal = interleave(&histories, &picks);
            let state = fold(empty(), &journal).unwrap();
            for id in unanswered_aborts(&journal) {
                prop_assert_eq!(state.change_orders[&id].status, RecordStatus::Unknown);
            }
        }

        #[test]
        fn any_truncation_of_a_journal_parses_to_a_prefix_of_its_records(
            histories in histories(),
            cut in 0usize..4000,
        ) {
            let journal = interleave(&histories, &[0]);
            let text = to_lines(&journal);
            let bytes = &text.as_bytes()[..cut.min(text.len())];
            let parsed = parse_journal_bytes(bytes).unwrap();
            prop_assert!(journal.starts_with(&parsed.records));
            prop_assert_eq!(parsed.torn_last_line.is_some(), !bytes.is_empty() && !bytes.ends_with(b"\n"));
        }
    }

    fn json_line(record: &JournalRecord) -> String {
        let mut line = Vec::new();
        record.write_json_line(&mut line);
        String::from_utf8(line).unwrap()
    }

    fn serde_line(record: &JournalRecord) -> String {
        format!("{}\n", serde_json::to_string(record).unwrap())
    }

    #[test]
    fn every_record_is_written_exactly_as_serde_json_writes_it() {
        let full_response = JournalRecord::Response {
            change_order_id: id("co-\"quoted\"\\"),
            at: "2026-11-27T10:00:09.123Z".into(),
            status: RecordStatus::Finished,
            http_status: Some(404),
            request_id: Some("req\u{1}\u{1f}\u{7f}\u{8}\u{c}\n\r\t".into()),
            trace_id: Some("trace/é中😀".into()),
            code: Some("Code".into()),
            error_code: Some("Error.Code".into()),
            message: Some(String::new()),
            rollback_change_order_id: Some("rb".into()),
            confirmed_by_status: true,
            change_order_status: Some(ChangeOrderStatus::from(-7)),
        };
        let records = [
            begin(),
            JournalRecord::Begin {
                lineage: LINEAGE.into(),
                serial: u64::MAX,
                at: "t".into(),
                operation: "apply".into(),
                endpoint: Some("http://127.0.0.1:8080".into()),
            },
            intent("a", 1, RequestKind::Abort),
            intent("b", 4_294_967_295, RequestKind::Verify),
            JournalRecord::Intent {
                change_order_id: id("c"),
                attempt: 0,
                at: "t".into(),
                request: RequestKind::Abort,
                operation: Some(RollbackOperation::Rollback),
                app: None,
                reason: None,
            },
            response("a", RecordStatus::Aborted, "req-1"),
            full_response,
            JournalRecord::Response {
                change_order_id: id("d"),
                at: "t".into(),
                status: RecordStatus::Unknown,
                http_status: None,
                request_id: None,
                trace_id: None,
                code: None,
                error_code: None,
                message: None,
                rollback_change_order_id: None,
                confirmed_by_status: false,
                change_order_status: Some(ChangeOrderStatus::Stopped),
            },
            withdrawn("a", 2),
        ]
        .into_iter()
        .chain(
            [
                RollbackStatus::Running,
                RollbackStatus::Succeeded,
                RollbackStatus::PartiallySucceeded,
                RollbackStatus::Failed,
                RollbackStatus::TimedOut,
            ]
            .map(|rollback_status| JournalRecord::RollbackStatus {
                change_order_id: id("a"),
                at: "t".into(),
                rollback_status,
            }),
        );
        for record in records {
            let line = json_line(&record);
            assert_eq!(line, serde_line(&record));
            assert_eq!(parse_journal(&line).unwrap().records, vec![record]);
        }
    }

    #[test]
    fn the_escape_check_finds_every_byte_json_escapes_at_every_position() {
        for byte in 0..=u8::MAX {
            let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
            for length in [1, 7, 8, 9, 16, 17] {
                for at in 0..length {
                    let mut bytes = vec![b'a'; length];
                    bytes[at] = byte;
                    assert_eq!(
                        needs_escape(&bytes),
                        expected,
                        "byte {byte:#x} at {at}/{length}"
                    );
                    // Neighbours at and above 0x80 (UTF-8) change nothing.
                    bytes
                        .iter_mut()
                        .filter(|b| **b == b'a')
                        .for_each(|b| *b = 0xe9);
                    assert_eq!(needs_escape(&bytes), expected, "byte {byte:#x} among 0xe9");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_text_in_a_record_is_written_as_serde_json_writes_it(
            text in any::<String>(),
            number in any::<u32>(),
            status in any::<i32>(),
        ) {
            let record = JournalRecord::Response {
                change_order_id: id(&text),
                at: text.clone(),
                status: RecordStatus::Failed,
                http_status: Some(number as u16),
                request_id: Some(text.clone()),
                trace_id: None,
                code: None,
                error_code: None,
                message: Some(format!("{text}\u{0}{text}")),
                rollback_change_order_id: None,
                confirmed_by_status: false,
                change_order_status: Some(ChangeOrderStatus::from(status)),
            };
            prop_assert_eq!(json_line(&record), serde_line(&record));
        }
    }
}
