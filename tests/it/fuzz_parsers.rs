//! Parser fuzzing on stable Rust (docs/RELIABILITY.md): arbitrary bytes and structured mutations of
//! valid documents go into every parser that reads something a person or a crash could have
//! damaged: the config (`config::parse` on text, `cli::settings::load_config` on a file for bytes
//! that are not UTF-8), the plan file (`plan::file::decode`), the state file (`LocalStore::read`),
//! the journal (`parse_journal_bytes`, `LocalStore::read_journal`), the aliyun CLI profile file
//! (`resolve_credentials`), endpoints, durations and retry hints, the EDAS wire bodies (serde_json
//! into the wire types) and the outcome policy (`classify_abort`, `classify_info` on any status,
//! headers and body).
//!
//! The properties, for every input: no panic (a panic fails the test); an answer within a
//! generous time bound (inputs are bounded in size, so a slow answer means a runaway parser);
//! every error has a non-empty message that names the file when the parser was given a path;
//! every config error carries `path:line:column` with a line that exists in the text; and what
//! a parser accepts survives a write and a read back unchanged. YAML alias bombs, deep nesting
//! and huge scalars must be refused with an error, not expanded.
//!
//! Inputs a run once found interesting are kept in `tests/data/fuzz/` and replayed by
//! `every_kept_input_is_answered_without_panic`; add a crashing input there with the bug it
//! found in its name.
//!
//! CI runs a few hundred cases per property. A long run, by hand (release build, many cases):
//!
//! ```text
//! PROPTEST_CASES=50000 CARGO_TARGET_DIR=/work/tgt-fuzz cargo test --release --test it fuzz_parsers::
//! ```

use edas_rollback::cli::settings::load_config;
use edas_rollback::config::duration::parse_duration;
use edas_rollback::config::{
    self, ApplySettings, ChangeOrderSpec, ConfigErrors, DesiredState, Provider,
};
use edas_rollback::edas::credentials::{ChainFiles, ChainOutcome, Source, resolve_chain};
use edas_rollback::edas::endpoint::Endpoint;
use edas_rollback::edas::outcome::{
    InfoOutcome, Outcome, RawResponse, ResponseHeaders, classify_abort, classify_info,
};
use edas_rollback::edas::wire::{
    AbortResponse, ChangeOrderInfoResponse, ErrorResponse, parse_retry_after,
};
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::plan::file::{PlanFileError, decode, encode};
use edas_rollback::plan::{Plan, PlanInputs, plan};
use edas_rollback::state::journal::{JournalRecord, RequestKind, fold, parse_journal_bytes};
use edas_rollback::state::store::LocalStore;
use edas_rollback::state::{ChangeOrderRecord, RecordStatus, RollbackStatus, State};
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Far above what any bounded input here needs even in a debug build on a busy machine; only a
/// runaway parser (exponential expansion, a loop) gets near it.
const ANSWER_BOUND: Duration = Duration::from_secs(20);

/// Longer than any config error line needs: gutter, 120 characters of source, an underline
/// and its label.
const MAX_RENDERED_LINE_CHARS: usize = 500;

const LINEAGE: &str = "3f0c6a52-0000-4000-8000-000000000001";
const INCIDENT: &str = include_str!("../../examples/incident.yaml");

/// The case count for one property: `PROPTEST_CASES` when set (long runs), else `default`.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        // Failures are kept as named files in tests/data/fuzz/, not in proptest's own files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn assert_quick(started: Instant, what: &str, input: &[u8]) {
    let elapsed = started.elapsed();
    assert!(
        elapsed < ANSWER_BOUND,
        "{what} took {elapsed:?} on {} bytes: {:?}",
        input.len(),
        String::from_utf8_lossy(&input[..input.len().min(300)])
    );
}

// ---------------------------------------------------------------------------------------------
// Seeds: valid documents of each kind.

/// A config using every key, so mutations reach every checker.
const FULL_CONFIG: &str = "version: 1
provider:
  region: cn-hangzhou
  endpoint: http://127.0.0.1:8080/
  profile: oncall
apply:
  parallelism: 4
  requests_per_second: 5
  request_timeout: 1m30s
state: runs/incident.state.json
change_orders:
  - id: 6b55106c-c7f2-40f7-a1d4-0928700aaaaa
    app: checkout
    reason: \"INC-2042: broke payments\"
  - {id: co-2, app: cart}
  - id: 'co-3'
";

fn record(status: RecordStatus) -> ChangeOrderRecord {
    let mut record = ChangeOrderRecord::new(status);
    record.attempts = 2;
    record.last_attempt_at = Some("2026-11-27T10:00:00Z".into());
    record.request_id = Some("57F146F6-3C94-4D2E-9A11-A66EF4B90001".into());
    record.http_status = Some(200);
    record.code = Some("200".into());
    record.message = Some("success".into());
    record.rollback_change_order_id = Some("4f038ddf-b27b-4a8c-9e22-88e443750001".into());
    record.rollback_status = Some(RollbackStatus::Running);
    record.app = Some("checkout".into());
    record.reason = Some("INC-2042 — broke payments".into());
    record
}

fn seed_state() -> State {
    let mut state = State::new_empty(LINEAGE, "0.1.0");
    state.serial = 7;
    state
        .change_orders
        .insert(ChangeOrderId::new("co-1"), record(RecordStatus::Aborted));
    state
        .change_orders
        .insert(ChangeOrderId::new("co-2"), record(RecordStatus::Failed));
    state.change_orders.insert(
        ChangeOrderId::new("co-3"),
        ChangeOrderRecord::new(RecordStatus::Unknown),
    );
    state
}

fn seed_state_json() -> String {
    serde_json::to_string_pretty(&seed_state()).unwrap() + "\n"
}

fn seed_journal_records() -> Vec<JournalRecord> {
    vec![
        JournalRecord::Begin {
            lineage: LINEAGE.into(),
            serial: 7,
            at: "2026-11-27T10:00:00Z".into(),
            operation: "apply".into(),
            endpoint: None,
        },
        JournalRecord::Intent {
            change_order_id: ChangeOrderId::new("co-1"),
            attempt: 1,
            at: "2026-11-27T10:00:01Z".into(),
            request: RequestKind::Abort,
            operation: None,
            app: Some("checkout".into()),
            reason: Some("bad release".into()),
        },
        JournalRecord::Intent {
            change_order_id: ChangeOrderId::new("co-2"),
            attempt: 3,
            at: "2026-11-27T10:00:02Z".into(),
            request: RequestKind::Verify,
            operation: None,
            app: None,
            reason: None,
        },
        JournalRecord::Response {
            change_order_id: ChangeOrderId::new("co-1"),
            at: "2026-11-27T10:00:03Z".into(),
            status: RecordStatus::Aborted,
            http_status: Some(200),
            request_id: Some("r-1".into()),
            trace_id: Some("t-1".into()),
            code: Some("200".into()),
            error_code: None,
            message: Some("success".into()),
            rollback_change_order_id: Some("rb-1".into()),
            confirmed_by_status: false,
            change_order_status: None,
        },
        JournalRecord::RollbackStatus {
            change_order_id: ChangeOrderId::new("co-1"),
            at: "2026-11-27T10:01:00Z".into(),
            rollback_status: RollbackStatus::Succeeded,
        },
    ]
}

fn seed_journal() -> String {
    seed_journal_records()
        .iter()
        .map(|record| serde_json::to_string(record).unwrap() + "\n")
        .collect()
}

const ABORT_BODY: &str = r#"{"Code": 200, "Message": "success", "RequestId": "57F146F6-3C94-4D2E", "TraceId": "0b59000b15947", "ErrorCode": "success", "Data": {"ChangeOrderId": "4f038ddf-b27b"}}"#;
const INFO_BODY: &str = r#"{"Code": 200, "Message": "success", "RequestId": "r-1", "changeOrderInfo": {"ChangeOrderId": "co-1", "Status": 6, "CoType": "Deploy", "BatchCount": 2, "SupportRollback": true, "PipelineInfoList": {"PipelineInfo": []}}}"#;
const ERROR_BODY: &str = r#"{"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched with our calculation. server string to sign is:PUT\napplication/json\n\n\nDate\nx-acs-security-token:CAIS\n/p?a=b", "RequestId": "r-2", "HostId": "edas.aliyuncs.com", "Recommend": "https://api.aliyun.com"}"#;

// ---------------------------------------------------------------------------------------------
// Structured mutations.

/// Byte strings that mean something to YAML or JSON parsers, or to people's terminals.
const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "*zz",
    "<<: *a\n",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    ":",
    ": ",
    "- ",
    ",",
    "#",
    "|\n",
    ">-\n",
    "? ",
    "!!binary ",
    "!tag ",
    "%YAML 1.2\n",
    "---\n",
    "...\n",
    "\t",
    "\r",
    "\r\n",
    "\n",
    "\0",
    "\\",
    "\\u0000",
    "\\ud800",
    "\u{feff}",
    "\u{202e}",
    "\u{2028}",
    "é",
    "😀",
    "e\u{301}",
    "\u{7f}",
    "\u{1b}[31m",
    "null",
    "~",
    "true",
    "-1",
    "0",
    "-0",
    "1e400",
    "0x1F",
    "0o17",
    ".inf",
    ".nan",
    "18446744073709551616",
    "-9223372036854775809",
    "99999999999999999999999999999999",
    "4294967296",
    "\"format_version\": 2",
    "\"event\":\"begin\"",
    "\"status\":\"aborted\"",
    "version: 1\n",
    "id: ",
    "change_orders:\n",
];

#[derive(Clone, Debug)]
enum Mutation {
    Truncate(Index),
    FlipBit(Index, u8),
    InsertBytes(Index, Vec<u8>),
    InsertToken(Index, Index),
    Delete(Index, usize),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    /// A run of one byte: a very long line, or deep nesting when the byte is a bracket.
    InsertRun(Index, u8, usize),
    /// `- ` lines indented ever deeper: deep block nesting.
    InsertIndentedRun(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Truncate),
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        2 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::InsertBytes(at, bytes)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(at, token)| Mutation::InsertToken(at, token)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(at, count)| Mutation::Delete(at, count)),
        2 => any::<Index>().prop_map(Mutation::DuplicateLine),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (
            any::<Index>(),
            prop::sample::select(vec![b'a', b' ', b'[', b'{', b'-', b'9', b'"', b'\n', b'&']),
            prop_oneof![1usize..300, 1000usize..70_000],
        )
            .prop_map(|(at, byte, count)| Mutation::InsertRun(at, byte, count)),
        1 => (any::<Index>(), 1usize..200).prop_map(|(at, depth)| Mutation::InsertIndentedRun(at, depth)),
    ]
}

/// Start offsets of lines (each line includes its `\n`).
fn line_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'\n' {
            ranges.push(start..index + 1);
            start = index + 1;
        }
    }
    if start < bytes.len() {
        ranges.push(start..bytes.len());
    }
    ranges
}

fn apply_mutation(bytes: &mut Vec<u8>, mutation: &Mutation) {
    // An offset in 0..=len, so insertions can go at the end.
    let at = |index: &Index, len: usize| index.index(len + 1);
    match mutation {
        Mutation::Truncate(index) => {
            let cut = at(index, bytes.len());
            bytes.truncate(cut);
        }
        Mutation::FlipBit(index, bit) => {
            if !bytes.is_empty() {
                let position = index.index(bytes.len());
                bytes[position] ^= 1 << bit;
            }
        }
        Mutation::InsertBytes(index, inserted) => {
            let position = at(index, bytes.len());
            bytes.splice(position..position, inserted.iter().copied());
        }
        Mutation::InsertToken(index, token) => {
            let position = at(index, bytes.len());
            let token = TOKENS[token.index(TOKENS.len())].as_bytes();
            bytes.splice(position..position, token.iter().copied());
        }
        Mutation::Delete(index, count) => {
            if !bytes.is_empty() {
                let start = index.index(bytes.len());
                let end = (start + count).min(bytes.len());
                bytes.drain(start..end);
            }
        }
        Mutation::DuplicateLine(index) => {
            let lines = line_ranges(bytes);
            if !lines.is_empty() {
                let line = lines[index.index(lines.len())].clone();
                let copy = bytes[line.clone()].to_vec();
                bytes.splice(line.start..line.start, copy);
            }
        }
        Mutation::SwapLines(a, b) => {
            let lines = line_ranges(bytes);
            if lines.len() >= 2 {
                let (mut first, mut second) = (
                    lines[a.index(lines.len())].clone(),
                    lines[b.index(lines.len())].clone(),
                );
                if first.start > second.start {
                    std::mem::swap(&mut first, &mut second);
                }
                if first != second {
                    let mut swapped = bytes[..first.start].to_vec();
                    swapped.extend_from_slice(&bytes[second.clone()]);
                    swapped.extend_from_slice(&bytes[first.end..second.start]);
                    swapped.extend_from_slice(&bytes[first.clone()]);
                    swapped.extend_from_slice(&bytes[second.end..]);
                    *bytes = swapped;
                }
            }
        }
        Mutation::InsertRun(index, byte, count) => {
            let position = at(index, bytes.len());
            bytes.splice(position..position, std::iter::repeat_n(*byte, *count));
        }
        Mutation::InsertIndentedRun(index, depth) => {
            let position = at(index, bytes.len());
            let mut nested = Vec::new();
            for level in 0..*depth {
                nested.extend(std::iter::repeat_n(b' ', level * 2));
                nested.extend_from_slice(b"- ");
                nested.push(b'\n');
            }
            bytes.splice(position..position, nested);
        }
    }
}

fn mutated(seed: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (seed, proptest::collection::vec(mutation(), 1..6)).prop_map(|(mut bytes, mutations)| {
        for mutation in &mutations {
            apply_mutation(&mut bytes, mutation);
        }
        bytes
    })
}

fn config_seed() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        INCIDENT.as_bytes().to_vec(),
        FULL_CONFIG.as_bytes().to_vec(),
    ])
}

/// Tokens of YAML and JSON strung together: reaches deeper into a parser than random bytes.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            3 => prop::sample::select(TOKENS).prop_map(|token| token.as_bytes().to_vec()),
            2 => "[a-z_]{1,12}".prop_map(String::into_bytes),
            1 => "[ \n]{1,4}".prop_map(String::into_bytes),
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..2048)
}

// ---------------------------------------------------------------------------------------------
// The checks each parser's answer must pass.

/// `config::parse` on text: an answer in time; on error, each message is non-empty and placed
/// (`path:line:column`, with a line the text has).
fn check_config_text(text: &str) {
    let path = Path::new("runbooks/fuzzed.yaml");
    let started = Instant::now();
    let result = config::parse(path, text);
    assert_quick(started, "config::parse", text.as_bytes());
    if let Err(errors) = result {
        check_config_errors(path, text, &errors);
    }
}

fn check_config_errors(path: &Path, text: &str, errors: &ConfigErrors) {
    assert!(!errors.errors.is_empty(), "an error report with no error");
    let rendered = errors.to_string();
    let shown = path.display().to_string();
    assert!(rendered.contains(&shown), "{rendered}");
    // Source lines are cropped to 120 characters and quoted values to 60, so no printed line
    // grows with the input.
    for line in rendered.lines() {
        assert!(
            line.chars().count() <= MAX_RENDERED_LINE_CHARS,
            "a rendered line of {} characters: {}",
            line.chars().count(),
            &line[..line.len().min(300)]
        );
    }
    // Lines as YAML counts them (`\n`, `\r\n` or a lone `\r`); an error may point just past
    // the last line break.
    let line_count = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .matches('\n')
        .count()
        + 1;
    for error in &errors.errors {
        assert!(!error.message.trim().is_empty(), "{rendered}");
        let position = error
            .position
            .unwrap_or_else(|| panic!("a config error without line:column: {rendered}"));
        assert!(
            position.line >= 1 && position.line <= line_count && position.column >= 1,
            "position {position:?} outside a text of {line_count} lines: {rendered}"
        );
        if errors.errors.len() <= config::error::MAX_RENDERED_ERRORS {
            let placed = format!("{shown}:{}:{}", position.line, position.column);
            assert!(rendered.contains(&placed), "no `{placed}` in {rendered}");
        }
    }
}

/// A temp directory reused by every case of one property: rewriting one file per case keeps
/// the suite fast.
struct Files {
    _dir: tempfile::TempDir,
    config: PathBuf,
    store: LocalStore,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("fuzzed.yaml");
        let store = LocalStore::new(dir.path().join("fuzzed.state.json"));
        Self {
            _dir: dir,
            config,
            store,
        }
    }

    /// `load_config` on a file of these bytes: on error, the whole chain names the file; a
    /// config that loads hashes the bytes it read and parses as the text path does.
    fn check_config_file(&self, bytes: &[u8]) {
        std::fs::write(&self.config, bytes).unwrap();
        let started = Instant::now();
        let result = load_config(&self.config);
        assert_quick(started, "load_config", bytes);
        match result {
            Ok(loaded) => {
                let text = std::str::from_utf8(bytes).expect("a loaded config is UTF-8");
                assert_eq!(Ok(loaded.desired), config::parse(&self.config, text));
            }
            Err(error) => {
                let chain = format!("{error:#}");
                assert!(!chain.trim().is_empty());
                assert!(
                    chain.contains(&self.config.display().to_string()),
                    "the error does not name the file: {chain}"
                );
                if let Some(errors) = error.downcast_ref::<ConfigErrors>() {
                    let text = String::from_utf8_lossy(bytes);
                    check_config_errors(&self.config, &text, errors);
                    if std::str::from_utf8(bytes).is_err() {
                        // The caret sits under the bad byte, shown as `�`.
                        let error = &errors.errors[0];
                        let column = error.position.unwrap().column;
                        let under_caret = error.marks[0].source_line.chars().nth(column - 1);
                        assert_eq!(under_caret, Some('\u{fffd}'), "{errors}");
                    }
                }
            }
        }
    }

    /// `LocalStore::read` on a state file of these bytes: an error names the file; a state
    /// that reads back survives a write and a read unchanged.
    fn check_state_file(&self, bytes: &[u8]) {
        let path = self.store.state_path();
        std::fs::write(path, bytes).unwrap();
        let started = Instant::now();
        let result = self.store.read();
        assert_quick(started, "LocalStore::read", bytes);
        match result {
            Ok(Some(state)) => {
                let written = serde_json::to_vec_pretty(&state).unwrap();
                std::fs::write(path, &written).unwrap();
                assert_eq!(self.store.read().unwrap(), Some(state));
            }
            Ok(None) => panic!("a state file that exists was read as absent"),
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains(&path.display().to_string()),
                    "the error does not name the file: {message}"
                );
            }
        }
    }

    /// `LocalStore::read_journal` on a journal of these bytes: an error names the file and the
    /// line.
    fn check_journal_file(&self, bytes: &[u8]) {
        let path = self.store.journal_path();
        std::fs::write(&path, bytes).unwrap();
        if let Err(error) = self.store.read_journal() {
            let message = error.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("line "), "{message}");
        }
    }
}

/// `parse_journal_bytes`: an error names a line the input has; what parses folds without a
/// panic and round-trips through its text.
fn check_journal(bytes: &[u8]) {
    let started = Instant::now();
    let result = parse_journal_bytes(bytes);
    assert_quick(started, "parse_journal_bytes", bytes);
    match result {
        Ok(parsed) => {
            let _ = fold(State::new_empty(LINEAGE, "0.1.0"), &parsed.records);
            let _ = fold(seed_state(), &parsed.records);
            let text: String = parsed
                .records
                .iter()
                .map(|record| serde_json::to_string(record).unwrap() + "\n")
                .collect();
            let again = parse_journal_bytes(text.as_bytes()).unwrap();
            assert_eq!(again.records, parsed.records);
            assert_eq!(again.torn_last_line, None);
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains(&format!("line {}", error.line())),
                "{message}"
            );
            let lines = bytes.split(|byte| *byte == b'\n').count();
            assert!(
                (1..=lines).contains(&error.line()),
                "line {} of {lines}: {message}",
                error.line()
            );
        }
    }
}

/// The wire types: decoding never panics, and what decodes encodes and decodes to itself.
fn check_wire(bytes: &[u8]) {
    fn round_trip<T>(bytes: &[u8])
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        if let Ok(value) = serde_json::from_slice::<T>(bytes) {
            let written = serde_json::to_vec(&value).unwrap();
            assert_eq!(serde_json::from_slice::<T>(&written).unwrap(), value);
        }
    }
    round_trip::<AbortResponse>(bytes);
    round_trip::<ChangeOrderInfoResponse>(bytes);
    round_trip::<ErrorResponse>(bytes);
}

/// Both classifiers on one response: no panic, the status is recorded, and every reason given
/// is a non-empty sentence.
fn check_classify(status: u16, headers: &[(String, Vec<u8>)], body: &[u8]) {
    let response = RawResponse {
        status,
        headers: ResponseHeaders::from_pairs(headers.iter().map(|(name, value)| (name, value))),
        body: bytes::Bytes::copy_from_slice(body),
    };
    let started = Instant::now();
    let abort = classify_abort(Ok(&response));
    let info = classify_info(Ok(&response));
    assert_quick(started, "classify", body);
    let (details, reason) = match &abort {
        Outcome::Done { details, .. }
        | Outcome::Failed { details }
        | Outcome::Fatal { details, .. } => (details, None),
        Outcome::Retry {
            details, reason, ..
        }
        | Outcome::Verify { details, reason } => (details, Some(reason)),
    };
    assert_eq!(details.http_status, Some(status));
    assert!(reason.is_none_or(|reason| !reason.trim().is_empty()));
    let (details, reason) = match &info {
        InfoOutcome::Done { details, .. }
        | InfoOutcome::Failed { details }
        | InfoOutcome::Fatal { details, .. } => (details, None),
        InfoOutcome::Retry {
            details, reason, ..
        }
        | InfoOutcome::Verify { details, reason } => (details, Some(reason)),
    };
    assert_eq!(details.http_status, Some(status));
    assert!(reason.is_none_or(|reason| !reason.trim().is_empty()));
    if let Some(message) = &details.message {
        assert!(
            !message.contains("x-acs-security-token:CAIS"),
            "a security token echoed by the server was kept: {message}"
        );
    }
}

fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("x-acs-retry-after".to_string()),
        Just("x-acs-request-id".to_string()),
        Just("content-type".to_string()),
        "[a-z-]{1,20}",
    ];
    let value = prop_oneof![
        "[0-9]{1,25}".prop_map(String::into_bytes),
        Just(b"-5".to_vec()),
        Just(b" 2000 ".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec((name, value), 0..4)
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => prop::sample::select(vec![200u16, 201, 204, 299, 302, 400, 403, 404, 408, 429, 500, 502, 503, 504]),
        1 => 100u16..1000,
        1 => any::<u16>(),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => mutated(prop::sample::select(vec![
            ABORT_BODY.as_bytes().to_vec(),
            INFO_BODY.as_bytes().to_vec(),
            ERROR_BODY.as_bytes().to_vec(),
        ])),
        1 => arbitrary_bytes(),
        1 => token_soup(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(cases(384))]

    #[test]
    fn a_mutated_config_is_parsed_or_refused_with_a_placed_error(bytes in mutated(config_seed())) {
        check_config_text(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn config_token_soup_is_parsed_or_refused_with_a_placed_error(bytes in token_soup()) {
        check_config_text(&String::from_utf8_lossy(&bytes));
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn a_config_file_of_any_bytes_is_loaded_or_refused_naming_the_file(
        bytes in prop_oneof![mutated(config_seed()), arbitrary_bytes()],
    ) {
        thread_local!(static FILES: Files = Files::new());
        FILES.with(|files| files.check_config_file(&bytes));
    }

    #[test]
    fn a_state_file_of_any_bytes_is_read_or_refused_naming_the_file(
        bytes in prop_oneof![
            4 => mutated(Just(seed_state_json().into_bytes())),
            1 => arbitrary_bytes(),
            1 => token_soup(),
        ],
    ) {
        thread_local!(static FILES: Files = Files::new());
        FILES.with(|files| files.check_state_file(&bytes));
    }
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn a_journal_of_any_bytes_is_parsed_or_refused_naming_the_line(
        bytes in prop_oneof![
            4 => mutated(Just(seed_journal().into_bytes())),
            1 => arbitrary_bytes(),
            1 => token_soup(),
        ],
    ) {
        check_journal(&bytes);
        thread_local!(static FILES: Files = Files::new());
        FILES.with(|files| files.check_journal_file(&bytes));
    }

    #[test]
    fn wire_bodies_of_any_bytes_decode_or_fail_without_panic(bytes in body()) {
        check_wire(&bytes);
    }

    #[test]
    fn any_status_headers_and_body_are_classified(
        status in status(),
        headers in headers(),
        body in body(),
    ) {
        check_classify(status, &headers, &body);
    }
}

// ---------------------------------------------------------------------------------------------
// The aliyun CLI profile file and the small text parsers.

const SECRET: &str = "SeCrEt-7f3a9c1e5b";
const TOKEN: &str = "ToKeN-CAIS-2d8e4b6a";

fn aliyun_config_seed() -> String {
    format!(
        r#"{{
  "current": "oncall",
  "profiles": [
    {{"name": "default", "mode": "AK", "access_key_id": "LTAI-default", "access_key_secret": "{SECRET}"}},
    {{"name": "oncall", "mode": "StsToken", "access_key_id": "STS.oncall", "access_key_secret": "{SECRET}", "sts_token": "{TOKEN}", "region_id": "cn-hangzhou"}}
  ],
  "meta_path": ""
}}
"#
    )
}

/// `resolve_chain` on a profile file of these bytes: an error names the file and never
/// holds the secret or the token, whatever the damage around them.
fn check_aliyun_config(bytes: &[u8], profile: Option<&str>) {
    let path = Path::new("/home/oncall/.aliyun/config.json");
    let text = String::from_utf8_lossy(bytes);
    let no_environment = |_: &str| None;
    let files = ChainFiles {
        aliyun_config: Some((path, &text)),
        ..ChainFiles::none()
    };
    match resolve_chain(&no_environment, &files, profile) {
        Ok(ChainOutcome::Found(resolved)) => {
            if let Source::Static(credentials) = resolved.source {
                assert!(!credentials.access_key_id.trim().is_empty());
                assert!(!credentials.access_key_secret.is_empty());
            }
        }
        Ok(ChainOutcome::Remote { .. }) => panic!("a profile file present is never skipped"),
        Err(error) => {
            let message = format!("{error} {error:?}");
            assert!(message.contains(&path.display().to_string()), "{message}");
            // A mutation may cut the secret short; no 6-character piece of it may show.
            // Names and modes are echoed on purpose (to say which exist, which is wrong), so
            // a mutation that copies secret text into such a field is not a leak (found by a
            // 50,000-case run).
            let names = non_secret_values(&text);
            for secret in [SECRET, TOKEN] {
                for piece in secret.as_bytes().windows(6) {
                    let piece = std::str::from_utf8(piece).unwrap();
                    if names.iter().any(|name| name.contains(piece)) {
                        continue;
                    }
                    assert!(!message.contains(piece), "`{piece}` leaked: {message}");
                }
            }
        }
    }
}

/// The values of every `"key": "value"` in a (possibly damaged) profile file whose key is not
/// `access_key_secret` or `sts_token`.
fn non_secret_values(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        let key = &after[..close];
        rest = &after[close + 1..];
        let Some(value) = rest
            .trim_start()
            .strip_prefix(':')
            .and_then(|value| value.trim_start().strip_prefix('"'))
        else {
            continue;
        };
        let value = value.split('"').next().unwrap_or("");
        if key != "access_key_secret" && key != "sts_token" {
            values.push(value.to_string());
        }
    }
    values
}

proptest! {
    #![proptest_config(cases(384))]

    #[test]
    fn a_damaged_aliyun_profile_file_is_refused_naming_it_and_never_showing_a_secret(
        bytes in prop_oneof![
            4 => mutated(Just(aliyun_config_seed().into_bytes())),
            1 => token_soup(),
        ],
        profile in prop::sample::select(vec![None, Some("oncall"), Some("default"), Some("missing")]),
    ) {
        check_aliyun_config(&bytes, profile);
    }

    #[test]
    fn endpoints_durations_and_retry_hints_of_any_text_parse_or_fail_without_panic(
        text in prop_oneof![
            ".{0,40}",
            "(https?://)?[a-z0-9.:\\[\\]@/?#%-]{0,40}",
            "[0-9]{0,25}(ms|s|m|h|us|ns|d|y)?([0-9]{0,25}(ms|s|m|h))?",
        ],
    ) {
        let _ = Endpoint::parse(&text);
        if let Some(normalized) = config::normalize_endpoint(&text) {
            // What the config accepts, the client can reach.
            prop_assert!(Endpoint::parse(&normalized).is_ok(), "`{}` accepted but not parsed", normalized);
        }
        let _ = parse_duration(&text);
        if let Ok(duration) = config::parse_config_duration(&text) {
            prop_assert!(!duration.is_zero());
        }
        let _ = parse_retry_after(&text);
    }
}

// ---------------------------------------------------------------------------------------------
// The plan file.

fn seed_plan() -> Plan {
    let desired = DesiredState {
        selectors: Vec::new(),
        version: 1,
        provider: Provider {
            region: "cn-hangzhou".into(),
            endpoint: None,
            profile: None,
            signature_algorithm: Default::default(),
            endpoint_type: Default::default(),
        },
        apply: ApplySettings::default(),
        state: None,
        state_name: None,
        change_orders: ["co-1", "co-2", "co-3", "co-new"]
            .into_iter()
            .map(|id| ChangeOrderSpec {
                id: ChangeOrderId::new(id),
                app: Some(format!("café-{id}")),
                reason: Some("INC-2042 — \"quoted\"".into()),
                operation: Default::default(),
                app_id: None,
                selected_by: None,
            })
            .collect(),
    };
    let mut state = seed_state();
    state.change_orders.insert(
        ChangeOrderId::new("co-gone"),
        ChangeOrderRecord::new(RecordStatus::Aborted),
    );
    plan(
        &desired,
        Some(&state),
        &PlanInputs {
            created_at: "2026-11-28T01:00:00Z".into(),
            config_path: "incident.yaml".into(),
            config_sha256: "ab".repeat(32),
            endpoint: "https://edas.cn-hangzhou.aliyuncs.com".into(),
            tool_version: "0.1.0".into(),
        },
    )
}

/// `plan::file::decode` on these bytes: an error names the file; a plan it accepts is the
/// seed plan itself, since any change of content breaks the checksum.
fn check_plan_file(bytes: &[u8], original: &Plan) {
    let path = Path::new("incident.plan.json");
    let text = String::from_utf8_lossy(bytes);
    let started = Instant::now();
    let result = decode(path, &text);
    assert_quick(started, "plan::file::decode", bytes);
    match result {
        Ok(plan) => assert_eq!(&plan, original, "an edited plan was accepted: {text}"),
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains("incident.plan.json"), "{message}");
        }
    }
}

proptest! {
    #![proptest_config(cases(384))]

    #[test]
    fn a_damaged_plan_file_is_refused_naming_it_unless_its_content_is_unchanged(
        bytes in prop_oneof![
            4 => mutated(Just(encode(&seed_plan()).into_bytes())),
            1 => token_soup(),
        ],
    ) {
        thread_local!(static SEED: Plan = seed_plan());
        SEED.with(|seed| check_plan_file(&bytes, seed));
    }

    #[test]
    fn a_plan_of_a_newer_format_is_refused_as_newer_whatever_else_changed(
        version in 2u32..,
        extra in proptest::option::of("[a-z_]{1,10}"),
        drop_actions in any::<bool>(),
    ) {
        let mut value = serde_json::to_value(seed_plan()).unwrap();
        value["format_version"] = version.into();
        if let Some(key) = extra {
            value[format!("new_{key}")] = serde_json::json!({"nested": [1, 2]});
        }
        if drop_actions {
            value.as_object_mut().unwrap().remove("actions");
        }
        let text = serde_json::to_string_pretty(&value).unwrap();
        match decode(Path::new("incident.plan.json"), &text) {
            Err(PlanFileError::NewerFormat { found, .. }) => prop_assert_eq!(found, version),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

#[test]
fn a_plan_file_with_any_checksum_digit_changed_is_refused_as_modified() {
    let original = seed_plan();
    let text = encode(&original);
    let start = text.find(&original.checksum).unwrap();
    for offset in 0..original.checksum.len() {
        for digit in "0123456789abcdefABCDEF ".chars() {
            let mut tampered = text.clone();
            let at = start + offset;
            if tampered[at..].starts_with(digit) {
                continue;
            }
            tampered.replace_range(at..at + 1, &digit.to_string());
            assert!(
                matches!(
                    decode(Path::new("p.json"), &tampered),
                    Err(PlanFileError::ChecksumMismatch { .. })
                ),
                "checksum digit {offset} set to `{digit}` was accepted"
            );
        }
    }
}

#[test]
fn every_truncation_of_a_plan_file_is_refused_naming_it() {
    let original = seed_plan();
    let text = encode(&original);
    let bytes = text.as_bytes();
    for cut in 0..bytes.len() {
        check_plan_file(&bytes[..cut], &original);
        // Only the final newline may go.
        if cut + 1 < bytes.len() {
            assert!(
                decode(Path::new("p.json"), &String::from_utf8_lossy(&bytes[..cut])).is_err(),
                "a plan cut at {cut} was accepted"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exhaustive truncation: a crash or a full disk can cut a file at any byte.

#[test]
fn every_truncation_of_a_valid_config_is_parsed_or_refused_with_a_placed_error() {
    for seed in [INCIDENT, FULL_CONFIG] {
        let bytes = seed.as_bytes();
        for cut in 0..=bytes.len() {
            check_config_text(&String::from_utf8_lossy(&bytes[..cut]));
        }
    }
}

#[test]
fn every_truncation_of_a_valid_config_file_is_loaded_or_refused_naming_the_file() {
    // Cutting inside `—` or `é` leaves bytes that are not UTF-8: the file loader's error.
    let files = Files::new();
    let bytes = INCIDENT.as_bytes();
    for cut in 0..=bytes.len() {
        files.check_config_file(&bytes[..cut]);
    }
}

#[test]
fn every_truncation_of_a_state_file_is_refused_naming_the_file() {
    let files = Files::new();
    let json = seed_state_json();
    let bytes = json.as_bytes();
    for cut in 0..bytes.len() {
        files.check_state_file(&bytes[..cut]);
        // Only the whole document (or it without its final newline) is a state.
        if cut + 1 < bytes.len() {
            assert!(
                files.store.read().is_err(),
                "a state cut at {cut} was accepted"
            );
        }
    }
}

#[test]
fn every_truncation_of_a_journal_parses_to_a_prefix_of_its_records() {
    let records = seed_journal_records();
    let text = seed_journal();
    let bytes = text.as_bytes();
    for cut in 0..=bytes.len() {
        check_journal(&bytes[..cut]);
        let parsed = parse_journal_bytes(&bytes[..cut]).unwrap();
        assert!(records.starts_with(&parsed.records), "cut at {cut}");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile YAML: expansion bombs, deep nesting, huge scalars.

/// The billion laughs: nine levels of nine aliases, 9^9 strings if expanded.
fn billion_laughs(consumer: &str) -> String {
    let mut text = String::from("version: 1\nprovider: {region: cn-hangzhou}\nanchors:\n");
    text.push_str("  - &l0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for level in 1..9 {
        let previous = format!("*l{}", level - 1);
        let row = [previous.as_str(); 9].join(", ");
        text.push_str(&format!("  - &l{level} [{row}]\n"));
    }
    text.push_str(consumer);
    text
}

fn assert_refused_quickly(what: &str, text: &str) -> ConfigErrors {
    let path = Path::new("bomb.yaml");
    let started = Instant::now();
    let result = config::parse(path, text);
    assert_quick(started, what, text.as_bytes());
    let errors = match result {
        Ok(desired) => panic!(
            "{what} was accepted: {} change orders",
            desired.change_orders.len()
        ),
        Err(errors) => errors,
    };
    check_config_errors(path, text, &errors);
    errors
}

#[test]
fn a_billion_laughs_is_refused_quickly_wherever_it_is_used() {
    for consumer in [
        "change_orders: *l8\n",
        "change_orders:\n  - id: co-1\n    reason: *l8\n",
        "change_orders: []\nstate: *l8\n",
        "change_orders: [*l8, *l8, *l8]\n",
    ] {
        assert_refused_quickly(consumer, &billion_laughs(consumer));
    }
}

#[test]
fn a_billion_laughs_where_every_level_is_a_valid_list_is_refused_by_the_alias_budget() {
    // Each level is a list of change orders, so the types never stop the expansion: only the
    // parser's alias budget can, and must.
    let mut text = String::from(
        "version: 1\nprovider: {region: cn-hangzhou}\nx-levels:\n  - &c0 {id: co-1}\n",
    );
    for level in 1..12 {
        let previous = format!("*c{}", level - 1);
        text.push_str(&format!(
            "  - &c{level} [{}]\n",
            [previous.as_str(); 9].join(", ")
        ));
    }
    text.push_str("change_orders: *c11\n");
    assert_refused_quickly("nested list bomb", &text);
}

#[test]
fn thousands_of_aliases_to_one_large_anchor_are_refused() {
    // 100 KiB of reason copied 5,000 times would be half a gigabyte of strings.
    let reason = "r".repeat(100 * 1024);
    let mut text = format!(
        "version: 1\nprovider: {{region: cn-hangzhou}}\nchange_orders:\n  - &big {{id: co-0, reason: {reason}}}\n"
    );
    for _ in 0..5_000 {
        text.push_str("  - *big\n");
    }
    let errors = assert_refused_quickly("alias fan-out", &text);
    assert!(
        errors.errors.len() <= 5_001,
        "{} errors for one anchor",
        errors.errors.len()
    );
}

#[test]
fn deep_nesting_is_refused_not_recursed_into() {
    for (what, text) in [
        (
            "flow lists",
            format!("change_orders: {}", "[".repeat(100_000)),
        ),
        (
            "flow mappings",
            format!("provider: {}", "{a: ".repeat(20_000)),
        ),
        (
            "block lists",
            (0..2_000)
                .map(|level| format!("{}- \n", "  ".repeat(level)))
                .collect::<String>(),
        ),
    ] {
        assert_refused_quickly(what, &text);
    }
}

#[test]
fn merge_key_chains_are_refused_or_bounded() {
    let mut text =
        String::from("version: 1\nprovider: {region: cn-hangzhou}\nx:\n  - &m0 {a: 1}\n");
    for level in 1..40 {
        text.push_str(&format!(
            "  - &m{level} {{<<: [*m{}, *m{}]}}\n",
            level - 1,
            level - 1
        ));
    }
    text.push_str("change_orders: [*m39]\n");
    assert_refused_quickly("merge chain", &text);
}

#[test]
fn very_long_lines_and_scalars_are_answered_quickly() {
    let long_id = "a".repeat(1_000_000);
    let text = format!(
        "version: 1\nprovider: {{region: cn-hangzhou}}\nchange_orders:\n  - id: {long_id}\n    reason: {}\n",
        "é".repeat(200_000)
    );
    let started = Instant::now();
    let result = config::parse(Path::new("long.yaml"), &text);
    assert_quick(started, "long lines", b"");
    assert_eq!(result.unwrap().change_orders.len(), 1);

    let text = format!(
        "version: 1\nprovider: {{region: {}}}\nchange_orders: []\n",
        "X".repeat(1_000_000)
    );
    // Regression: the headline echoed the whole value and the underline ran its whole
    // width past the cropped source line (a megabyte of `X` and of `^`).
    let errors = assert_refused_quickly("a long bad value", &text);
    assert!(
        errors.to_string().len() < 2_000,
        "a long value is cropped when shown"
    );
}

// ---------------------------------------------------------------------------------------------
// Kept inputs.

/// Every file in `tests/data/fuzz/` goes to the parser its extension names: `.yaml` the
/// config (as a file, so bytes that are not UTF-8 are kept), `.plan.json` the plan file (which
/// must be refused: only the untouched seed plan may decode), `.state.json` the state loader,
/// `.journal` the journal, `.body` the wire types and both classifiers (at 200 and 503).
#[test]
fn every_kept_input_is_answered_without_panic() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let files = Files::new();
    let mut replayed = 0;
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".yaml") {
            files.check_config_file(&bytes);
            check_config_text(&String::from_utf8_lossy(&bytes));
        } else if name.ends_with(".plan.json") {
            check_plan_file(&bytes, &seed_plan());
            assert!(
                decode(&path, &String::from_utf8_lossy(&bytes)).is_err(),
                "{name}"
            );
        } else if name.ends_with(".state.json") {
            files.check_state_file(&bytes);
        } else if name.ends_with(".journal") {
            check_journal(&bytes);
            files.check_journal_file(&bytes);
        } else if name.ends_with(".body") {
            check_wire(&bytes);
            check_classify(200, &[], &bytes);
            check_classify(503, &[], &bytes);
        } else {
            continue;
        }
        replayed += 1;
    }
    assert!(replayed > 0, "no kept inputs in {}", directory.display());
}
