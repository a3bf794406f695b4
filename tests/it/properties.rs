//! Property tests of the pure core (docs/RELIABILITY.md): the planner, the journal fold, the
//! outcome policy and the signer. Each property states a promise the rest of the tool builds on: a
//! state is the fold of its journal whatever the crash or the interleaving; a response is
//! classified by the policy's rules and never by accident; a plan gives every declared change order
//! exactly one action and never sends an aborted one again; a signature does not depend on the
//! order in which a request was put together.
//!
//! CI runs a few hundred cases per property. A long run, by hand:
//!
//! ```text
//! PROPTEST_CASES=20000 CARGO_TARGET_DIR=/work/tgt-fuzz cargo test --release --test it properties::
//! ```

use edas_rollback::config::{ApplySettings, ChangeOrderSpec, DesiredState, Provider};
use edas_rollback::edas::credentials::Credentials;
use edas_rollback::edas::endpoint::Endpoint;
use edas_rollback::edas::outcome::{
    AbortOutcome, Accepted, FatalKind, Outcome, RawResponse, ResponseDetails, ResponseHeaders,
    classify_abort, classify_info,
};
use edas_rollback::edas::request::{Operation, build_request};
use edas_rollback::edas::secret::Secret;
use edas_rollback::edas::signer::{
    QueryPair, RequestSigner, RoaV1Signer, decode_query, string_to_sign,
};
use edas_rollback::edas::wire::{AbortData, AbortResponse, ChangeOrderInfo, Code, ErrorResponse};
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::plan::{Action, ActionKind, Plan, PlanInputs, PlanSummary, plan};
use edas_rollback::state::journal::{JournalRecord, RequestKind, fold, parse_journal};
use edas_rollback::state::{ChangeOrderRecord, RecordStatus, RollbackStatus, State};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

const LINEAGE: &str = "3f0c6a52-0000-4000-8000-000000000001";

/// The case count for one property: `PROPTEST_CASES` when set (long runs), else `default`.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// =============================================================================================
// The journal fold.

fn id(index: usize) -> ChangeOrderId {
    ChangeOrderId::new(format!("co-{index}"))
}

/// Ids are drawn from a small pool so journals and states overlap.
const ID_POOL: usize = 8;

fn record_status() -> impl Strategy<Value = RecordStatus> {
    prop_oneof![
        Just(RecordStatus::Aborted),
        Just(RecordStatus::Failed),
        Just(RecordStatus::Unknown),
    ]
}

fn rollback_status() -> impl Strategy<Value = RollbackStatus> {
    prop_oneof![
        Just(RollbackStatus::Running),
        Just(RollbackStatus::Succeeded),
        Just(RollbackStatus::Failed),
        Just(RollbackStatus::TimedOut),
    ]
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-zA-Z0-9 é-]{0,12}")
}

fn change_order_record() -> impl Strategy<Value = ChangeOrderRecord> {
    (
        record_status(),
        0u32..6,
        text(),
        text(),
        proptest::option::of(rollback_status()),
        any::<bool>(),
        text(),
        text(),
    )
        .prop_map(
            |(status, attempts, request_id, code, rollback, confirmed, app, reason)| {
                let mut record = ChangeOrderRecord::new(status);
                record.attempts = attempts;
                record.last_attempt_at = Some("2026-11-26T09:00:00Z".into());
                record.request_id = request_id;
                record.code = code;
                record.rollback_status = rollback;
                record.confirmed_by_status = confirmed;
                record.app = app;
                record.reason = reason;
                record
            },
        )
}

/// A state written by earlier runs: some of the pool's change orders, in any status.
fn start_state() -> impl Strategy<Value = State> {
    proptest::collection::btree_map(0..ID_POOL, change_order_record(), 0..6).prop_map(|records| {
        let mut state = State::new_empty(LINEAGE, "0.1.0");
        state.serial = 3;
        state.change_orders = records
            .into_iter()
            .map(|(index, record)| (id(index), record))
            .collect::<BTreeMap<_, _>>();
        state
    })
}

fn begin() -> JournalRecord {
    JournalRecord::Begin {
        lineage: LINEAGE.into(),
        serial: 3,
        at: "2026-11-27T10:00:00Z".into(),
        operation: "apply".into(),
        endpoint: None,
    }
}

/// One step of one change order's history during a run.
#[derive(Clone, Debug)]
enum Step {
    /// An abort intent followed by its response.
    Answered {
        status: RecordStatus,
        request_id: Option<String>,
        verify_first: bool,
        app: Option<String>,
    },
    /// An abort intent the crash left without a response.
    Unanswered,
    /// A lone read.
    Verify,
    Rollback(RollbackStatus),
}

fn step(answered_only: bool) -> BoxedStrategy<Step> {
    let answered = (record_status(), text(), any::<bool>(), text()).prop_map(
        |(status, request_id, verify_first, app)| Step::Answered {
            status,
            request_id,
            verify_first,
            app,
        },
    );
    if answered_only {
        prop_oneof![
            4 => answered,
            1 => Just(Step::Verify),
            1 => rollback_status().prop_map(Step::Rollback),
        ]
        .boxed()
    } else {
        prop_oneof![
            4 => answered,
            2 => Just(Step::Unanswered),
            1 => Just(Step::Verify),
            1 => rollback_status().prop_map(Step::Rollback),
        ]
        .boxed()
    }
}

/// The journal records of one change order's steps, in order.
fn history_records(index: usize, steps: &[Step]) -> Vec<JournalRecord> {
    let change_order_id = id(index);
    let mut records = Vec::new();
    let mut attempt = 0;
    let intent = |attempt: u32, request: RequestKind, app: Option<String>| JournalRecord::Intent {
        change_order_id: change_order_id.clone(),
        attempt,
        at: format!("2026-11-27T10:00:{attempt:02}Z"),
        request,
        operation: None,
        app,
        reason: Some("INC-2042".into()),
    };
    for (number, step) in steps.iter().enumerate() {
        match step {
            Step::Answered {
                status,
                request_id,
                verify_first,
                app,
            } => {
                if *verify_first {
                    records.push(intent(attempt, RequestKind::Verify, None));
                }
                attempt += 1;
                records.push(intent(attempt, RequestKind::Abort, app.clone()));
                records.push(JournalRecord::Response {
                    change_order_id: change_order_id.clone(),
                    at: format!("2026-11-27T10:01:{number:02}Z"),
                    status: *status,
                    http_status: Some(200),
                    request_id: request_id.clone(),
                    trace_id: None,
                    code: Some("200".into()),
                    error_code: None,
                    message: None,
                    rollback_change_order_id: Some(format!("rb-{index}-{number}")),
                    confirmed_by_status: *verify_first,
                    change_order_status: None,
                });
            }
            Step::Unanswered => {
                attempt += 1;
                records.push(intent(attempt, RequestKind::Abort, None));
            }
            Step::Verify => records.push(intent(attempt, RequestKind::Verify, None)),
            Step::Rollback(status) => records.push(JournalRecord::RollbackStatus {
                change_order_id: change_order_id.clone(),
                at: format!("2026-11-27T10:02:{number:02}Z"),
                rollback_status: *status,
            }),
        }
    }
    records
}

/// Per change order (distinct ids from the pool), its records during one run.
fn histories(answered_only: bool) -> impl Strategy<Value = Vec<Vec<JournalRecord>>> {
    proptest::collection::btree_map(
        0..ID_POOL,
        proptest::collection::vec(step(answered_only), 0..5),
        0..5,
    )
    .prop_map(|steps| {
        steps
            .iter()
            .map(|(index, steps)| history_records(*index, steps))
            .collect()
    })
}

/// Merges the histories in an order chosen by `picks`, keeping each one's own order: what
/// parallel requests write into one journal.
fn interleave(histories: &[Vec<JournalRecord>], picks: &[usize]) -> Vec<JournalRecord> {
    let mut cursors = vec![0; histories.len()];
    let mut merged = vec![begin()];
    let mut picks = picks.iter().cycle();
    loop {
        let live: Vec<usize> = (0..histories.len())
            .filter(|index| cursors[*index] < histories[*index].len())
            .collect();
        if live.is_empty() {
            return merged;
        }
        let choice = live[picks.next().copied().unwrap_or(0) % live.len()];
        merged.push(histories[choice][cursors[choice]].clone());
        cursors[choice] += 1;
    }
}

fn picks() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0usize..16, 1..24)
}

/// The change orders whose last abort intent has no later response in `journal`.
fn left_unanswered(journal: &[JournalRecord]) -> BTreeSet<ChangeOrderId> {
    let mut open = BTreeSet::new();
    for record in journal {
        match record {
            JournalRecord::Intent {
                change_order_id,
                request: RequestKind::Abort,
                operation: None,
                ..
            } => {
                open.insert(change_order_id.clone());
            }
            JournalRecord::Response {
                change_order_id, ..
            } => {
                open.remove(change_order_id);
            }
            _ => {}
        }
    }
    open
}

fn named_in(journal: &[JournalRecord]) -> BTreeSet<ChangeOrderId> {
    journal
        .iter()
        .filter_map(|record| match record {
            // A verify intent changes nothing, so it does not count as naming one.
            JournalRecord::Intent {
                request: RequestKind::Verify,
                operation: None,
                ..
            } => None,
            record => record.change_order_id().cloned(),
        })
        .collect()
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn folding_an_answered_journal_twice_gives_the_state_of_folding_it_once(
        state in start_state(),
        histories in histories(true),
        picks in picks(),
    ) {
        // A crash between saving the folded state and removing the journal folds it again.
        let journal = interleave(&histories, &picks);
        prop_assert!(left_unanswered(&journal).is_empty());
        let once = fold(state, &journal).unwrap();
        let twice = fold(once.clone(), &journal).unwrap();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn folding_any_journal_twice_gives_the_state_of_folding_it_once(
        state in start_state(),
        histories in histories(false),
        picks in picks(),
    ) {
        let journal = interleave(&histories, &picks);
        let once = fold(state, &journal).unwrap();
        let twice = fold(once.clone(), &journal).unwrap();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn the_interleaving_of_different_change_orders_does_not_change_the_fold(
        state in start_state(),
        histories in histories(false),
        picks_a in picks(),
        picks_b in picks(),
    ) {
        let a = fold(state.clone(), &interleave(&histories, &picks_a)).unwrap();
        let b = fold(state, &interleave(&histories, &picks_b)).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn an_abort_intent_without_a_later_response_ends_unknown(
        state in start_state(),
        histories in histories(false),
        picks in picks(),
        crashed in proptest::collection::btree_set(0..ID_POOL, 1..3),
    ) {
        let mut journal = interleave(&histories, &picks);
        // The crash: a last abort intent for these, perhaps after reads and rollback news.
        for index in &crashed {
            journal.push(JournalRecord::Intent {
                change_order_id: id(*index),
                attempt: 99,
                at: "2026-11-27T10:09:00Z".into(),
                request: RequestKind::Abort,
                operation: None,
                app: None,
                reason: None,
            });
            journal.push(JournalRecord::Intent {
                change_order_id: id(*index),
                attempt: 99,
                at: "2026-11-27T10:09:01Z".into(),
                request: RequestKind::Verify,
                operation: None,
                app: None,
                reason: None,
            });
        }
        let folded = fold(state, &journal).unwrap();
        let unanswered = left_unanswered(&journal);
        for index in &crashed {
            prop_assert!(unanswered.contains(&id(*index)));
        }
        for change_order_id in unanswered {
            let record = &folded.change_orders[&change_order_id];
            prop_assert_eq!(record.status, RecordStatus::Unknown, "{}", change_order_id);
            prop_assert!(record.attempts >= 1);
        }
    }

    #[test]
    fn fold_never_loses_a_change_order_and_leaves_the_unnamed_ones_alone(
        state in start_state(),
        histories in histories(false),
        picks in picks(),
    ) {
        let journal = interleave(&histories, &picks);
        let folded = fold(state.clone(), &journal).unwrap();
        let named = named_in(&journal);
        for (change_order_id, before) in &state.change_orders {
            let after = folded.change_orders.get(change_order_id);
            prop_assert!(after.is_some(), "{} was lost", change_order_id);
            if !named.contains(change_order_id) {
                prop_assert_eq!(after, Some(before));
            }
        }
        // Nothing appears that the state or the journal did not name.
        for change_order_id in folded.change_orders.keys() {
            prop_assert!(state.change_orders.contains_key(change_order_id) || named.contains(change_order_id));
        }
        prop_assert_eq!(&folded.lineage, &state.lineage);
        prop_assert_eq!(folded.serial, state.serial);
    }

    #[test]
    fn attempts_never_go_down_and_the_last_response_decides_the_status(
        state in start_state(),
        histories in histories(false),
        picks in picks(),
    ) {
        let journal = interleave(&histories, &picks);
        let folded = fold(state.clone(), &journal).unwrap();
        for (change_order_id, before) in &state.change_orders {
            prop_assert!(folded.change_orders[change_order_id].attempts >= before.attempts);
        }
        let mut last_word: BTreeMap<ChangeOrderId, RecordStatus> = BTreeMap::new();
        for record in &journal {
            match record {
                JournalRecord::Intent { change_order_id, request: RequestKind::Abort, .. } => {
                    last_word.insert(change_order_id.clone(), RecordStatus::Unknown);
                }
                JournalRecord::Response { change_order_id, status, .. } => {
                    last_word.insert(change_order_id.clone(), *status);
                }
                _ => {}
            }
        }
        for (change_order_id, status) in last_word {
            prop_assert_eq!(folded.change_orders[&change_order_id].status, status);
        }
    }

    #[test]
    fn a_journal_folds_the_same_after_a_trip_through_its_file_text(
        state in start_state(),
        histories in histories(false),
        picks in picks(),
    ) {
        let journal = interleave(&histories, &picks);
        let text: String = journal
            .iter()
            .map(|record| serde_json::to_string(record).unwrap() + "\n")
            .collect();
        let parsed = parse_journal(&text).unwrap();
        prop_assert_eq!(&parsed.records, &journal);
        prop_assert_eq!(fold(state.clone(), &parsed.records), fold(state, &journal));
    }
}

// =============================================================================================
// The outcome policy.

fn response(status: u16, headers: &[(String, String)], body: Vec<u8>) -> RawResponse {
    RawResponse {
        status,
        headers: ResponseHeaders::from_pairs(headers.iter().map(|(name, value)| (name, value))),
        body: bytes::Bytes::from(body),
    }
}

/// Any headers a gateway or proxy might add, including a retry hint.
fn any_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("x-acs-retry-after".to_string()),
        Just("x-acs-request-id".to_string()),
        Just("content-type".to_string()),
        "x-[a-z]{1,10}",
    ];
    proptest::collection::vec((name, "[ -~]{0,20}"), 0..4)
}

fn optional_field() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ -~]{0,30}")
}

/// The success code, in each way the service writes it.
fn success_code() -> impl Strategy<Value = Code> {
    prop_oneof![
        Just(Code::Number(200)),
        Just(Code::Text("200".into())),
        Just(Code::Text(" 200 ".into())),
    ]
}

/// An abort body with `code` and anything else in the other fields.
fn abort_body(code: impl Strategy<Value = Code>) -> impl Strategy<Value = Vec<u8>> {
    (
        code,
        optional_field(),
        optional_field(),
        optional_field(),
        optional_field(),
        proptest::option::of(optional_field()),
    )
        .prop_map(|(code, message, request_id, trace_id, error_code, data)| {
            serde_json::to_vec(&AbortResponse {
                code: Some(code),
                message,
                request_id,
                trace_id,
                error_code,
                data: data.map(|change_order_id| AbortData { change_order_id }),
            })
            .unwrap()
        })
}

/// A gateway error body with `code`.
fn error_body(code: impl Strategy<Value = Code>) -> impl Strategy<Value = Vec<u8>> {
    (code, optional_field(), optional_field()).prop_map(|(code, message, request_id)| {
        serde_json::to_vec(&ErrorResponse {
            code: Some(code),
            message,
            request_id,
            host_id: Some("edas.cn-hangzhou.aliyuncs.com".into()),
            recommend: None,
        })
        .unwrap()
    })
}

fn throttling_code() -> impl Strategy<Value = Code> {
    prop_oneof![
        Just("Throttling".to_string()),
        "Throttling\\.[A-Za-z]{1,12}",
        "Throttling[A-Za-z.]{0,12}",
    ]
    .prop_map(Code::Text)
}

fn credential_code() -> impl Strategy<Value = Code> {
    prop_oneof![
        Just("SignatureDoesNotMatch".to_string()),
        Just("InvalidAccessKeyId".to_string()),
        "InvalidAccessKeyId[A-Za-z.]{0,12}",
    ]
    .prop_map(Code::Text)
}

fn code_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorResponse>(body)
        .ok()
        .and_then(|body| body.code)
        .map(|code| code.to_string())
}

/// True when the policy names `code` before it looks at a 5xx status.
fn decided_before_the_status(code: &str) -> bool {
    code.starts_with("Throttling")
        || code == "Rejected.Throttling"
        || code == "SignatureNonceUsed"
        || FatalKind::of_code(code).is_some()
}

fn abort_details(outcome: &AbortOutcome) -> &ResponseDetails {
    outcome.details()
}

/// A 5xx body: valid shapes with any code, or anything a proxy might send.
fn server_error_body() -> impl Strategy<Value = Vec<u8>> {
    let any_code = prop_oneof![
        any::<i64>().prop_map(Code::Number),
        "[A-Za-z.]{0,20}".prop_map(Code::Text),
        success_code(),
    ];
    prop_oneof![
        abort_body(any_code.clone()),
        error_body(any_code),
        proptest::collection::vec(any::<u8>(), 0..200),
        Just(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        Just(Vec::new()),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn every_2xx_with_code_200_is_aborted_with_its_rollback_id(
        status in 200u16..300,
        headers in any_headers(),
        body in abort_body(success_code()),
    ) {
        let outcome = classify_abort(Ok(&response(status, &headers, body.clone())));
        let sent: AbortResponse = serde_json::from_slice(&body).unwrap();
        match outcome {
            Outcome::Done { details, answer: Accepted { rollback_change_order_id } } => {
                prop_assert_eq!(details.http_status, Some(status));
                prop_assert_eq!(rollback_change_order_id, sent.data.and_then(|data| data.change_order_id));
                if sent.request_id.is_some() {
                    prop_assert_eq!(details.request_id, sent.request_id);
                }
            }
            other => prop_assert!(false, "HTTP {} with Code 200 gave {:?}", status, other),
        }
    }

    #[test]
    fn every_2xx_with_code_200_and_a_status_reports_that_status(
        status in 200u16..300,
        headers in any_headers(),
        code in success_code(),
        change_order_status in any::<i32>(),
    ) {
        let body = serde_json::to_vec(&edas_rollback::edas::wire::ChangeOrderInfoResponse {
            code: Some(code),
            change_order_info: Some(ChangeOrderInfo {
                status: Some(change_order_status.into()),
                ..ChangeOrderInfo::default()
            }),
            ..Default::default()
        })
        .unwrap();
        match classify_info(Ok(&response(status, &headers, body))) {
            Outcome::Done { answer: found, .. } => prop_assert_eq!(found.code(), change_order_status),
            other => prop_assert!(false, "gave {:?}", other),
        }
    }

    #[test]
    fn any_throttling_code_is_retried_as_throttled_at_any_status(
        status in 100u16..600,
        headers in any_headers(),
        body in prop_oneof![abort_body(throttling_code()), error_body(throttling_code())],
    ) {
        let response = response(status, &headers, body);
        let abort = classify_abort(Ok(&response));
        prop_assert!(matches!(abort, Outcome::Retry { throttled: true, .. }), "{:?}", abort);
        let info = classify_info(Ok(&response));
        prop_assert!(matches!(info, Outcome::Retry { throttled: true, .. }), "{:?}", info);
    }

    #[test]
    fn a_5xx_is_verified_never_failed(
        status in 500u16..600,
        headers in any_headers(),
        body in server_error_body(),
    ) {
        let response = response(status, &headers, body.clone());
        let abort = classify_abort(Ok(&response));
        let info = classify_info(Ok(&response));
        prop_assert!(
            matches!(abort, Outcome::Verify { .. } | Outcome::Retry { .. } | Outcome::Fatal { .. }),
            "HTTP {} gave {:?}", status, abort
        );
        prop_assert!(!matches!(info, Outcome::Failed { .. } | Outcome::Done { .. }), "{:?}", info);
        let code = code_of(&body).unwrap_or_default();
        let throttle_hint = headers.iter().any(|(name, _)| name == "x-acs-retry-after");
        if !decided_before_the_status(&code) && !throttle_hint {
            prop_assert!(matches!(abort, Outcome::Verify { .. }), "HTTP {} `{}` gave {:?}", status, code, abort);
            prop_assert!(matches!(info, Outcome::Verify { .. }), "{:?}", info);
        }
    }

    #[test]
    fn a_signature_or_access_key_code_is_fatal_at_any_status_and_with_any_headers(
        status in 100u16..600,
        headers in any_headers(),
        body in prop_oneof![error_body(credential_code()), abort_body(credential_code())],
    ) {
        let response = response(status, &headers, body);
        let abort = classify_abort(Ok(&response));
        prop_assert!(matches!(abort, Outcome::Fatal { .. }), "{:?}", abort);
        let info = classify_info(Ok(&response));
        prop_assert!(matches!(info, Outcome::Fatal { .. }), "{:?}", info);
    }

    #[test]
    fn a_security_token_echoed_in_a_signature_error_is_never_kept(
        status in prop_oneof![Just(400u16), Just(403), 100u16..600],
        token in "[A-Za-z0-9+/=]{12,48}",
        escaped_newlines in any::<bool>(),
    ) {
        let newline = if escaped_newlines { "\\n" } else { "\n" };
        let message = [
            "Specified signature is not matched with our calculation. server string to sign is:PUT",
            "application/json",
            "",
            "",
            "Thu, 27 Nov 2026 10:00:00 GMT",
            "x-acs-region-id:cn-hangzhou",
            &format!("x-acs-security-token:{token}"),
            "x-acs-version:2017-08-01",
            "/pop/v5/changeorder/change_order_abort?ChangeOrderId=co-1",
        ]
        .join(newline);
        let body = serde_json::to_vec(&ErrorResponse {
            code: Some(Code::Text("SignatureDoesNotMatch".into())),
            message: Some(message),
            ..ErrorResponse::default()
        })
        .unwrap();
        let outcome = classify_abort(Ok(&response(status, &[], body)));
        let shown = format!("{outcome:?}");
        prop_assert!(!shown.contains(&token), "the token was kept: {}", shown);
        let details = abort_details(&outcome);
        prop_assert!(details.message.as_deref().is_some_and(|message| message.contains("<redacted>")));
    }
}

// =============================================================================================
// The signer.

fn header_value() -> impl Strategy<Value = String> {
    "[!-~][ -~]{0,20}[!-~]"
}

/// Distinct header names, as a request carries each once, with the ones the signer reads.
fn signed_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map(
        prop_oneof![
            Just("accept".to_string()),
            Just("content-md5".to_string()),
            Just("content-type".to_string()),
            Just("date".to_string()),
            "x-acs-[a-z-]{1,12}",
            "x-[a-z]{1,8}",
            "[a-z]{1,10}",
        ],
        header_value(),
        0..10,
    )
    .prop_map(|headers| headers.into_iter().collect())
}

fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// Query pairs with distinct keys (a request names each parameter once).
fn query_pairs() -> impl Strategy<Value = Vec<QueryPair>> {
    proptest::collection::btree_map(".{0,12}", proptest::option::of(".{0,16}"), 0..8)
        .prop_map(|pairs| pairs.into_iter().collect())
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

proptest! {
    #![proptest_config(cases(384))]

    #[test]
    fn an_encoded_query_decodes_to_its_pairs_for_any_unicode(
        pairs in proptest::collection::vec((any::<String>(), any::<String>()), 0..8),
    ) {
        let decoded = decode_query(&encode(&pairs));
        // An empty key with an empty value encodes to `=`, which is still one pair.
        let expected: Vec<QueryPair> = pairs
            .into_iter()
            .map(|(key, value)| (key, Some(value)))
            .collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn the_string_to_sign_is_independent_of_header_and_query_order(
        (headers, shuffled_headers) in signed_headers()
            .prop_flat_map(|headers| (Just(headers.clone()), Just(headers).prop_shuffle())),
        (query, shuffled_query) in query_pairs()
            .prop_flat_map(|query| (Just(query.clone()), Just(query).prop_shuffle())),
        path in "/[a-z/_]{0,30}",
    ) {
        let a = string_to_sign("PUT", &header_map(&headers), &path, &query);
        let b = string_to_sign("PUT", &header_map(&shuffled_headers), &path, &shuffled_query);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn repeated_acs_headers_sign_the_same_in_any_order(
        (values, shuffled) in proptest::collection::vec(header_value(), 1..5)
            .prop_flat_map(|values| (Just(values.clone()), Just(values).prop_shuffle())),
    ) {
        let as_headers = |values: &[String]| {
            values
                .iter()
                .map(|value| ("x-acs-meta".to_string(), value.clone()))
                .collect::<Vec<_>>()
        };
        let a = string_to_sign("PUT", &header_map(&as_headers(&values)), "/p", &[]);
        let b = string_to_sign("PUT", &header_map(&as_headers(&shuffled)), "/p", &[]);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn a_signed_request_does_not_depend_on_the_order_its_query_was_written_in(
        (pairs, shuffled) in proptest::collection::btree_map(".{1,10}", ".{0,12}", 1..6)
            .prop_map(|pairs| pairs.into_iter().collect::<Vec<(String, String)>>())
            .prop_flat_map(|pairs| (Just(pairs.clone()), Just(pairs).prop_shuffle())),
        nonce in "[a-f0-9]{32}",
        seconds in 0u64..4_000_000_000,
    ) {
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
        let credentials = Credentials::new("LTAI-test", Secret::new("test-secret"))
            .with_security_token(Secret::new("test-token"));
        let sign = |pairs: &[(String, String)]| {
            let uri = format!("http://127.0.0.1:8080/pop/v5/changeorder/change_order_abort?{}", encode(pairs));
            let mut request = http::Request::put(uri).body(()).unwrap();
            let text = RoaV1Signer.sign(&mut request, &credentials, date, &nonce).unwrap();
            (text, request.headers()["authorization"].clone())
        };
        let (text_a, authorization_a) = sign(&pairs);
        let (text_b, authorization_b) = sign(&shuffled);
        prop_assert_eq!(text_a, text_b);
        prop_assert_eq!(authorization_a, authorization_b);
    }

    #[test]
    fn any_change_order_id_is_signed_as_written(id in any::<String>()) {
        let endpoint = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        let change_order_id = ChangeOrderId::new(id.clone());
        if let Ok(request) = build_request(Operation::AbortAndRollback, &change_order_id, "cn-hangzhou", &endpoint) {
            let query = decode_query(request.uri().query().unwrap_or_default());
            prop_assert!(query.contains(&("ChangeOrderId".to_string(), Some(id))), "{:?}", query);
        }
    }
}

// =============================================================================================
// The planner.

/// A config declaring these change orders (ids from the pool, each once, in the given order).
fn desired_state() -> impl Strategy<Value = DesiredState> {
    proptest::sample::subsequence((0..ID_POOL).collect::<Vec<_>>(), 0..=ID_POOL)
        .prop_shuffle()
        .prop_flat_map(|indices| {
            let count = indices.len();
            (
                Just(indices),
                proptest::collection::vec((text(), text()), count),
            )
        })
        .prop_map(|(indices, labels)| DesiredState {
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
            change_orders: indices
                .into_iter()
                .zip(labels)
                .map(|(index, (app, reason))| ChangeOrderSpec {
                    id: id(index),
                    app,
                    reason,
                    operation: Default::default(),
                    app_id: None,
                    selected_by: None,
                })
                .collect(),
        })
}

fn plan_inputs() -> PlanInputs {
    PlanInputs {
        created_at: "2026-11-28T01:00:00Z".into(),
        config_path: "incident.yaml".into(),
        config_sha256: "ab".repeat(32),
        endpoint: "https://edas.cn-hangzhou.aliyuncs.com".into(),
        tool_version: "0.1.0".into(),
    }
}

fn count_kinds(plan: &Plan) -> PlanSummary {
    let mut summary = PlanSummary::default();
    for action in &plan.actions {
        match action.kind() {
            ActionKind::Abort => summary.to_abort += 1,
            ActionKind::Retry => summary.to_retry += 1,
            ActionKind::VerifyThenAbort => summary.to_verify += 1,
            ActionKind::Unchanged => summary.unchanged += 1,
            ActionKind::NotDeclared => summary.not_declared += 1,
            ActionKind::AlreadyStopped => summary.already_stopped += 1,
            ActionKind::CannotAbort => summary.cannot_abort += 1,
        }
    }
    summary
}

/// What one apply of `plan` writes to the journal, with an outcome per sent abort (`None`: the
/// process died before the response arrived).
fn run_journal(plan: &Plan, outcomes: &[Option<RecordStatus>]) -> Vec<JournalRecord> {
    let mut journal = vec![begin()];
    let sent = plan
        .actions
        .iter()
        .filter(|action| action.action == Action::Abort);
    for (action, outcome) in sent.zip(outcomes.iter().cycle()) {
        if action.verify_first {
            journal.push(JournalRecord::Intent {
                change_order_id: action.change_order_id.clone(),
                attempt: 1,
                at: "2026-11-28T01:01:00Z".into(),
                request: RequestKind::Verify,
                operation: None,
                app: None,
                reason: None,
            });
        }
        journal.push(JournalRecord::Intent {
            change_order_id: action.change_order_id.clone(),
            attempt: 7,
            at: "2026-11-28T01:01:01Z".into(),
            request: RequestKind::Abort,
            operation: None,
            app: action.app.clone(),
            reason: action.reason.clone(),
        });
        if let Some(status) = outcome {
            journal.push(JournalRecord::Response {
                change_order_id: action.change_order_id.clone(),
                at: "2026-11-28T01:01:02Z".into(),
                status: *status,
                http_status: Some(200),
                request_id: Some("r".into()),
                trace_id: None,
                code: Some("200".into()),
                error_code: None,
                message: None,
                rollback_change_order_id: None,
                confirmed_by_status: false,
                change_order_status: None,
            });
        }
    }
    journal
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn every_declared_and_every_recorded_change_order_gets_exactly_one_action(
        desired in desired_state(),
        state in proptest::option::of(start_state()),
    ) {
        let plan = plan(&desired, state.as_ref(), &plan_inputs());
        let mut seen = BTreeMap::new();
        for action in &plan.actions {
            *seen.entry(action.change_order_id.clone()).or_insert(0) += 1;
        }
        prop_assert!(seen.values().all(|count| *count == 1), "{:?}", seen);
        let declared: BTreeSet<ChangeOrderId> =
            desired.change_orders.iter().map(|spec| spec.id.clone()).collect();
        let recorded: BTreeSet<ChangeOrderId> = state
            .iter()
            .flat_map(|state| state.change_orders.keys().cloned())
            .collect();
        let expected: BTreeSet<ChangeOrderId> = declared.union(&recorded).cloned().collect();
        prop_assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), expected);
        // Declared ones first, in config order; only undeclared ones are `not-declared`.
        let order: Vec<&ChangeOrderId> = plan.actions.iter().take(desired.change_orders.len()).map(|action| &action.change_order_id).collect();
        let config_order: Vec<&ChangeOrderId> = desired.change_orders.iter().map(|spec| &spec.id).collect();
        prop_assert_eq!(order, config_order);
        for action in &plan.actions {
            prop_assert_eq!(action.action == Action::NotDeclared, !declared.contains(&action.change_order_id));
        }
        prop_assert_eq!(&plan.summary, &count_kinds(&plan));
    }

    #[test]
    fn an_aborted_change_order_is_never_sent_again_and_the_others_are(
        desired in desired_state(),
        state in proptest::option::of(start_state()),
    ) {
        let plan = plan(&desired, state.as_ref(), &plan_inputs());
        for action in &plan.actions {
            let recorded = state
                .as_ref()
                .and_then(|state| state.change_orders.get(&action.change_order_id))
                .map(|record| record.status);
            let declared = desired.change_orders.iter().any(|spec| spec.id == action.change_order_id);
            let expected = match (declared, recorded) {
                (false, _) => (Action::NotDeclared, false),
                (true, Some(RecordStatus::Aborted | RecordStatus::Finished)) => (Action::NoOp, false),
                (true, Some(RecordStatus::Unknown)) => (Action::Abort, true),
                (true, Some(RecordStatus::Failed) | None) => (Action::Abort, false),
            };
            prop_assert_eq!((action.action, action.verify_first), expected, "{}", action.change_order_id);
            prop_assert_eq!(action.recorded_status, recorded);
        }
    }

    #[test]
    fn a_plan_is_deterministic_down_to_its_bytes(
        desired in desired_state(),
        state in proptest::option::of(start_state()),
    ) {
        let first = plan(&desired, state.as_ref(), &plan_inputs());
        let second = plan(&desired.clone(), state.clone().as_ref(), &plan_inputs());
        prop_assert_eq!(edas_rollback::plan::file::encode(&first), edas_rollback::plan::file::encode(&second));
        prop_assert_eq!(first, second);
    }

    #[test]
    fn after_a_run_folds_into_state_the_next_plan_never_resends_what_was_aborted(
        desired in desired_state(),
        state in proptest::option::of(start_state()),
        outcomes in proptest::collection::vec(proptest::option::of(record_status()), 1..6),
    ) {
        let first = plan(&desired, state.as_ref(), &plan_inputs());
        let journal = run_journal(&first, &outcomes);
        let before = state.clone().unwrap_or_else(|| State::new_empty(LINEAGE, "0.1.0"));
        let after = fold(before, &journal).unwrap();
        let next = plan(&desired, Some(&after), &plan_inputs());
        let unanswered = left_unanswered(&journal);
        for action in &next.actions {
            let record = &after.change_orders.get(&action.change_order_id);
            match record.map(|record| record.status) {
                Some(RecordStatus::Aborted) => prop_assert_ne!(action.action, Action::Abort),
                Some(RecordStatus::Unknown) => prop_assert!(action.action != Action::Abort || action.verify_first),
                _ => {}
            }
            if unanswered.contains(&action.change_order_id) && action.action == Action::Abort {
                prop_assert!(action.verify_first, "{} was left unanswered but is not verified first", action.change_order_id);
            }
        }
    }
}
