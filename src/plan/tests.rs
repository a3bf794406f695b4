use super::*;
use crate::config::{ApplySettings, ChangeOrderSpec, Provider};
use crate::state::{ChangeOrderRecord, RecordStatus, State};
use std::collections::HashMap;

fn desired(ids: &[&str]) -> DesiredState {
    DesiredState {
        selectors: Vec::new(),
        version: 1,
        provider: Provider {
            region: "cn-hangzhou".to_string(),
            endpoint: None,
            profile: None,
            signature_algorithm: Default::default(),
            endpoint_type: Default::default(),
        },
        apply: ApplySettings::default(),
        state: None,
        state_name: None,
        change_orders: ids
            .iter()
            .map(|id| ChangeOrderSpec {
                id: ChangeOrderId::new(*id),
                app: Some(format!("app-{id}")),
                reason: Some("incident 42".to_string()),
                operation: Default::default(),
                app_id: None,
                selected_by: None,
            })
            .collect(),
    }
}

fn state(records: &[(&str, RecordStatus)]) -> State {
    let mut state = State::new_empty("5f0c1d2e-0000-4000-8000-000000000001", "0.1.0");
    state.serial = 3;
    for (id, status) in records {
        let mut record = ChangeOrderRecord::new(*status);
        record.attempts = 1;
        record.app = Some(format!("recorded-{id}"));
        if *status == RecordStatus::Failed {
            record.http_status = Some(200);
            record.code = Some("500".to_string());
            record.message = Some(format!("change order `{id}` cannot be aborted"));
            record.request_id = Some("req-1".to_string());
        }
        state.change_orders.insert(ChangeOrderId::new(*id), record);
    }
    state
}

fn inputs() -> PlanInputs {
    PlanInputs {
        created_at: "2026-11-28T01:00:00Z".to_string(),
        config_path: "incident.yaml".to_string(),
        config_sha256: "ab".repeat(32),
        endpoint: "https://edas.cn-hangzhou.aliyuncs.com".to_string(),
        tool_version: "0.1.0".to_string(),
    }
}

fn kinds(plan: &Plan) -> Vec<(&str, ActionKind)> {
    plan.actions
        .iter()
        .map(|action| (action.change_order_id.as_str(), action.kind()))
        .collect()
}

#[test]
fn each_combination_of_declaration_and_recorded_status_gets_its_action() {
    use ActionKind::*;
    // (declared?, recorded status, expected action, verify_first, has last error, kind)
    type Case = (bool, Option<RecordStatus>, Action, bool, bool, ActionKind);
    let cases: &[Case] = &[
        (true, None, Action::Abort, false, false, Abort),
        (
            true,
            Some(RecordStatus::Aborted),
            Action::NoOp,
            false,
            false,
            Unchanged,
        ),
        (
            true,
            Some(RecordStatus::Failed),
            Action::Abort,
            false,
            true,
            Retry,
        ),
        (
            true,
            Some(RecordStatus::Unknown),
            Action::Abort,
            true,
            false,
            VerifyThenAbort,
        ),
        (
            false,
            Some(RecordStatus::Aborted),
            Action::NotDeclared,
            false,
            false,
            NotDeclared,
        ),
        (
            false,
            Some(RecordStatus::Failed),
            Action::NotDeclared,
            false,
            false,
            NotDeclared,
        ),
        (
            false,
            Some(RecordStatus::Unknown),
            Action::NotDeclared,
            false,
            false,
            NotDeclared,
        ),
    ];
    for (declared, recorded, action, verify_first, has_error, kind) in cases {
        let config = if *declared {
            desired(&["co-1"])
        } else {
            desired(&[])
        };
        let records: Vec<(&str, RecordStatus)> =
            recorded.iter().map(|status| ("co-1", *status)).collect();
        let state = state(&records);
        let state = (!records.is_empty()).then_some(&state);
        let plan = plan(&config, state, &inputs());
        let case = format!("declared={declared} recorded={recorded:?}");
        assert_eq!(plan.actions.len(), 1, "{case}");
        let planned = &plan.actions[0];
        assert_eq!(planned.action, *action, "{case}");
        assert_eq!(planned.verify_first, *verify_first, "{case}");
        assert_eq!(planned.last_error.is_some(), *has_error, "{case}");
        assert_eq!(planned.kind(), *kind, "{case}");
        assert_eq!(planned.recorded_status, *recorded, "{case}");
        assert_eq!(plan.will_send(), *action == Action::Abort, "{case}");
    }
}

#[test]
fn a_retry_carries_the_recorded_error() {
    let plan = plan(
        &desired(&["co-1"]),
        Some(&state(&[("co-1", RecordStatus::Failed)])),
        &inputs(),
    );
    let error = plan.actions[0].last_error.as_ref().unwrap();
    assert_eq!(error.http_status, Some(200));
    assert_eq!(error.code.as_deref(), Some("500"));
    assert_eq!(error.request_id.as_deref(), Some("req-1"));
    assert_eq!(
        error.message.as_deref(),
        Some("change order `co-1` cannot be aborted")
    );
}

#[test]
fn a_failed_record_without_error_details_is_still_a_retry_without_an_empty_error() {
    let mut recorded = state(&[]);
    recorded.change_orders.insert(
        ChangeOrderId::new("co-1"),
        ChangeOrderRecord::new(RecordStatus::Failed),
    );
    let plan = plan(&desired(&["co-1"]), Some(&recorded), &inputs());
    assert_eq!(plan.actions[0].kind(), ActionKind::Retry);
    assert_eq!(plan.actions[0].last_error, None);
}

#[test]
fn declared_actions_keep_config_order_and_undeclared_ones_follow_sorted_by_id() {
    let config = desired(&["zz", "aa", "mm", "bb"]);
    let recorded = state(&[
        ("yy", RecordStatus::Aborted),
        ("mm", RecordStatus::Aborted),
        ("cc", RecordStatus::Failed),
        ("bb", RecordStatus::Unknown),
    ]);
    let plan = plan(&config, Some(&recorded), &inputs());
    use ActionKind::*;
    assert_eq!(
        kinds(&plan),
        vec![
            ("zz", Abort),
            ("aa", Abort),
            ("mm", Unchanged),
            ("bb", VerifyThenAbort),
            ("cc", NotDeclared),
            ("yy", NotDeclared),
        ]
    );
    assert_eq!(
        plan.summary,
        PlanSummary {
            to_abort: 2,
            to_retry: 0,
            to_verify: 1,
            unchanged: 1,
            not_declared: 2,
            ..PlanSummary::default()
        }
    );
    assert_eq!(plan.summary.will_send(), 3);
}

#[test]
fn a_not_declared_action_shows_what_state_recorded_about_it() {
    let plan = plan(
        &desired(&[]),
        Some(&state(&[("old", RecordStatus::Aborted)])),
        &inputs(),
    );
    let planned = &plan.actions[0];
    assert_eq!(planned.app.as_deref(), Some("recorded-old"));
    assert_eq!(planned.recorded_status, Some(RecordStatus::Aborted));
    assert!(!plan.will_send());
}

#[test]
fn a_duplicated_declared_id_is_planned_once() {
    let plan = plan(&desired(&["co-1", "co-2", "co-1"]), None, &inputs());
    assert_eq!(plan.actions.len(), 2);
    assert_eq!(plan.summary.to_abort, 2);
}

#[test]
fn the_plan_pins_the_state_version_and_records_its_inputs() {
    let recorded = state(&[]);
    let with_state = plan(&desired(&["a"]), Some(&recorded), &inputs());
    assert_eq!(
        with_state.state,
        StateVersion {
            lineage: Some(recorded.lineage.clone()),
            serial: 3
        }
    );
    let without = plan(&desired(&["a"]), None, &inputs());
    assert_eq!(
        without.state,
        StateVersion {
            lineage: None,
            serial: 0
        }
    );
    assert_eq!(without.region, "cn-hangzhou");
    assert_eq!(without.endpoint, inputs().endpoint);
    assert_eq!(without.created_at, inputs().created_at);
    assert_eq!(without.config.path, "incident.yaml");
    assert_eq!(without.format_version, PLAN_FORMAT_VERSION);
}

#[test]
fn an_empty_config_with_no_state_plans_nothing() {
    let plan = plan(&desired(&[]), None, &inputs());
    assert!(plan.actions.is_empty());
    assert!(!plan.will_send());
    assert_eq!(plan.summary, PlanSummary::default());
}

#[test]
fn planning_twice_gives_identical_bytes() {
    let config = desired(&["c", "a", "b", "d"]);
    let recorded = state(&[
        ("a", RecordStatus::Failed),
        ("b", RecordStatus::Aborted),
        ("x", RecordStatus::Unknown),
        ("d", RecordStatus::Unknown),
    ]);
    let first = file::encode(&plan(&config, Some(&recorded), &inputs()));
    let second = file::encode(&plan(&config, Some(&recorded), &inputs()));
    assert_eq!(first, second);
    assert!(first.ends_with("}\n"));
}

#[test]
fn the_checksum_covers_the_plan_with_the_checksum_emptied() {
    let plan = plan(&desired(&["a", "b"]), None, &inputs());
    let unsealed = Plan {
        checksum: String::new(),
        ..plan.clone()
    };
    let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        file::encode(&unsealed).as_bytes(),
    ));
    assert_eq!(plan.checksum, expected);
    assert_eq!(file::checksum(&plan), expected);
    assert_eq!(plan.checksum.len(), 64);
}

#[test]
fn a_streamed_draft_gives_the_same_plan_bytes_and_checksum_as_planning_then_encoding() {
    let recorded = state(&[
        ("a", RecordStatus::Failed),
        ("z", RecordStatus::Unknown),
        ("m", RecordStatus::Finished),
    ]);
    let many: Vec<String> = (0..3_000)
        .rev()
        .map(|index| format!("co-{index:05}"))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for config in [
        desired(&[]),
        desired(&["a", "b", "q\"uote", "b", "m"]),
        // Over 64 KiB of encoding: the sealing writer passes chunks on.
        desired(&many),
    ] {
        let separate = plan(&config, Some(&recorded), &inputs());
        let draft = draft(&config, Some(&recorded), &inputs());
        assert_eq!(draft.summary(), &separate.summary);
        assert_eq!(draft.will_send(), separate.will_send());
        let mut streamed = Vec::new();
        let checksum = draft.write_sealed(&mut streamed).unwrap();
        let streamed = String::from_utf8(streamed).unwrap();
        assert_eq!(checksum, separate.checksum);
        assert_eq!(streamed, file::encode(&separate));
        assert_eq!(draft.into_plan(checksum), separate);
        assert_eq!(
            file::decode(std::path::Path::new("plan.json"), &streamed).unwrap(),
            separate
        );
        let mut resealed = Plan {
            checksum: String::new(),
            ..separate.clone()
        };
        assert_eq!(file::seal_and_encode(&mut resealed), streamed);
        assert_eq!(resealed, separate);
        let mut written = Vec::new();
        file::write_encoded(&mut written, &separate).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), streamed);
    }
}

/// Every optional field set, and every one unset: the encoding through `file::PlanView`
/// is byte for byte what serde's derived `Serialize` of `Plan` writes, which is what plan
/// files were encoded (and their checksums computed) with before the view existed.
#[test]
fn the_encoding_is_the_derived_serialization_of_the_plan() {
    let recorded = state(&[("a", RecordStatus::Failed), ("z", RecordStatus::Aborted)]);
    let mut config = desired(&["a", "b", "c"]);
    config.change_orders[1].app = None;
    config.change_orders[1].reason = None;
    config.change_orders[1].app_id = Some("app-id-1".to_string());
    config.change_orders[1].operation = crate::edas::request::RollbackOperation::Rollback;
    config.change_orders[2].selected_by = Some(SelectedBy {
        selector: 1,
        status: ChangeOrderStatus::from(1),
        create_time: "2026-11-30 19:00:00".to_string(),
    });
    let planned = plan(&config, Some(&recorded), &inputs());
    let mut live_statuses = HashMap::new();
    live_statuses.insert(ChangeOrderId::new("b"), live(Some(6)));
    live_statuses.insert(
        ChangeOrderId::new("c"),
        LiveStatus {
            status: None,
            checked_at: "2026-11-28T01:00:01Z".to_string(),
            message: Some("refused \u{1b}[31m".to_string()),
            request_id: Some("req-9".to_string()),
        },
    );
    let refreshed_plan = refreshed(planned.clone(), &live_statuses);
    let mut everything = refreshed_plan.clone();
    everything.actions[0].last_error = Some(LastError {
        http_status: Some(500),
        code: Some("c".to_string()),
        error_code: Some("e".to_string()),
        message: Some("m\n".to_string()),
        request_id: Some("r".to_string()),
        at: Some("2026-11-28T00:00:00Z".to_string()),
    });
    let empty = plan(&desired(&[]), None, &inputs());
    for plan in [planned, refreshed_plan, everything, empty] {
        let derived = serde_json::to_string_pretty(&plan).unwrap() + "\n";
        assert_eq!(file::encode(&plan), derived);
    }
}

/// The planner as it was written before the sorted merge: a map lookup per declared id and a
/// set of the declared ones. The merge must plan exactly as it did.
fn planned_by_lookups(desired: &DesiredState, state: Option<&State>) -> Vec<PlannedAction> {
    let mut declared = std::collections::HashSet::new();
    let mut actions = Vec::new();
    for spec in &desired.change_orders {
        if !declared.insert(spec.id.as_str()) {
            continue;
        }
        let record = state.and_then(|state| state.change_orders.get(&spec.id));
        let (action, verify_first, last_error) = match record {
            None => (Action::Abort, false, None),
            Some(record) => match record.status {
                RecordStatus::Aborted | RecordStatus::Finished => (Action::NoOp, false, None),
                RecordStatus::Failed => (Action::Abort, false, LastError::from_record(record)),
                RecordStatus::Unknown => (Action::Abort, true, None),
            },
        };
        actions.push(PlannedAction {
            change_order_id: spec.id.clone(),
            action,
            verify_first,
            recorded_status: record.map(|record| record.status),
            app: spec.app.clone(),
            reason: spec.reason.clone(),
            operation: spec.operation,
            app_id: spec.app_id.clone(),
            last_error,
            live_status: None,
            selected_by: spec.selected_by.clone(),
        });
    }
    for (id, record) in state.iter().flat_map(|state| state.change_orders.iter()) {
        if declared.contains(id.as_str()) {
            continue;
        }
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
    actions
}

#[test]
fn an_encoded_plan_decodes_to_the_same_plan() {
    let recorded = state(&[("a", RecordStatus::Failed), ("z", RecordStatus::Aborted)]);
    let plan = plan(&desired(&["a", "b"]), Some(&recorded), &inputs());
    let text = file::encode(&plan);
    let decoded = file::decode(std::path::Path::new("plan.json"), &text).unwrap();
    assert_eq!(decoded, plan);
}

#[test]
fn a_reformatted_but_unchanged_plan_is_still_accepted() {
    let plan = plan(&desired(&["a", "b"]), None, &inputs());
    let value: serde_json::Value = serde_json::from_str(&file::encode(&plan)).unwrap();
    let compact = serde_json::to_string(&value).unwrap();
    assert!(file::decode(std::path::Path::new("plan.json"), &compact).is_ok());
}

#[test]
fn a_hand_edited_plan_is_refused_by_its_checksum() {
    let plan = plan(&desired(&["a", "b"]), None, &inputs());
    let text = file::encode(&plan);
    let tampered = text.replacen("\"a\"", "\"evil\"", 1);
    assert_ne!(tampered, text);
    let error = file::decode(std::path::Path::new("plan.json"), &tampered).unwrap_err();
    assert!(
        matches!(error, PlanFileError::ChecksumMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("`plan.json` has been modified"));

    let dropped_action = {
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["actions"].as_array_mut().unwrap().pop();
        serde_json::to_string_pretty(&value).unwrap()
    };
    assert!(matches!(
        file::decode(std::path::Path::new("plan.json"), &dropped_action),
        Err(PlanFileError::ChecksumMismatch { .. })
    ));
}

#[test]
fn a_plan_from_a_newer_format_is_refused_with_the_version() {
    let text = r#"{"format_version": 7, "tool_version": "9.0.0", "something_new": true}"#;
    let error = file::decode(std::path::Path::new("p.json"), text).unwrap_err();
    assert!(matches!(
        error,
        PlanFileError::NewerFormat {
            found: 7,
            supported: 1,
            ..
        }
    ));
    let message = error.to_string();
    assert!(message.contains("format_version 7"), "{message}");
    assert!(message.contains("`9.0.0`"), "{message}");
}

#[test]
fn invalid_json_names_the_path_line_and_column() {
    let text = "{\n  \"format_version\": 1,\n  \"tool_version\": \n}";
    let error = file::decode(std::path::Path::new("dir/p.json"), text).unwrap_err();
    match &error {
        PlanFileError::Syntax { line, column, .. } => {
            assert_eq!((*line, *column), (4, 1));
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.starts_with("`dir/p.json` is not a valid plan file"),
        "{message}"
    );
    assert!(message.ends_with("at line 4, column 1"), "{message}");
    for text in ["", "[]", "null", "{\"format_version\": \"one\"}", "\u{0}"] {
        assert!(
            matches!(
                file::decode(std::path::Path::new("p.json"), text),
                Err(PlanFileError::Syntax { .. })
            ),
            "{text:?}"
        );
    }
}

#[test]
fn a_plan_applies_only_over_the_state_version_it_was_made_against() {
    let recorded = state(&[]);
    let made_with_state = plan(&desired(&["a"]), Some(&recorded), &inputs());
    let made_without = plan(&desired(&["a"]), None, &inputs());

    assert_eq!(check_applicable(&made_with_state, Some(&recorded)), Ok(()));
    assert_eq!(check_applicable(&made_without, None), Ok(()));

    let mut moved = recorded.clone();
    moved.serial = 5;
    let error = check_applicable(&made_with_state, Some(&moved)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Saved plan is stale: the state serial moved from 3 to 5 since the plan was made"
    );

    let mut other = recorded.clone();
    other.lineage = "another-lineage".to_string();
    let error = check_applicable(&made_with_state, Some(&other)).unwrap_err();
    assert!(matches!(error, StalePlan::DifferentLineage { .. }));
    assert!(error.to_string().starts_with("Saved plan is stale"));
    assert!(error.to_string().contains("`another-lineage`"));

    let error = check_applicable(&made_without, Some(&recorded)).unwrap_err();
    assert!(matches!(error, StalePlan::StateCreated { serial: 3, .. }));
    assert!(error.to_string().starts_with("Saved plan is stale"));

    let error = check_applicable(&made_with_state, None).unwrap_err();
    assert!(matches!(error, StalePlan::StateMissing { serial: 3, .. }));
    assert!(error.to_string().starts_with("Saved plan is stale"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn status() -> impl Strategy<Value = Option<RecordStatus>> {
        prop_oneof![
            Just(None),
            Just(Some(RecordStatus::Aborted)),
            Just(Some(RecordStatus::Failed)),
            Just(Some(RecordStatus::Unknown)),
        ]
    }

    proptest! {
        /// Ids drawn from a small alphabet so declared, recorded and duplicated ids overlap.
        #[test]
        fn every_id_gets_exactly_one_action_and_an_aborted_one_is_never_sent(
            declared in proptest::collection::vec("[a-e]{1,2}", 0..20),
            recorded in proptest::collection::btree_map("[a-e]{1,2}", status(), 0..20),
        ) {
            let config = desired(&declared.iter().map(String::as_str).collect::<Vec<_>>());
            let records: Vec<(&str, RecordStatus)> = recorded
                .iter()
                .filter_map(|(id, status)| status.map(|status| (id.as_str(), status)))
                .collect();
            let recorded_state = state(&records);
            let planned = plan(&config, Some(&recorded_state), &inputs());
            prop_assert_eq!(&planned.actions, &planned_by_lookups(&config, Some(&recorded_state)));
            prop_assert_eq!(&planned.summary, &PlanSummary::of(&planned.actions));

            let mut seen = BTreeMap::new();
            for action in &planned.actions {
                *seen.entry(action.change_order_id.as_str().to_string()).or_insert(0) += 1;
                let record = recorded_state.change_orders.get(&action.change_order_id);
                if record.is_some_and(|record| record.status == RecordStatus::Aborted) {
                    prop_assert_ne!(action.action, Action::Abort);
                }
            }
            let mut expected: Vec<String> = declared.clone();
            expected.extend(records.iter().map(|(id, _)| id.to_string()));
            expected.sort();
            expected.dedup();
            prop_assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), expected);
            prop_assert!(seen.values().all(|count| *count == 1));

            let summary = &planned.summary;
            prop_assert_eq!(
                summary.declared() + summary.not_declared,
                planned.actions.len()
            );
            prop_assert_eq!(planned.will_send(), summary.will_send() > 0);
            let again = plan(&config, Some(&recorded_state), &inputs());
            prop_assert_eq!(file::encode(&planned), file::encode(&again));
            prop_assert_eq!(
                file::encode(&planned),
                serde_json::to_string_pretty(&planned).unwrap() + "\n"
            );
            let decoded = file::decode(std::path::Path::new("p.json"), &file::encode(&planned));
            prop_assert_eq!(decoded.ok(), Some(planned));
        }

        #[test]
        fn decoding_any_text_or_a_mutated_plan_never_panics_and_only_the_original_passes(
            noise in ".{0,200}",
            position in 0usize..4096,
            byte in any::<u8>(),
        ) {
            let _ = file::decode(std::path::Path::new("p.json"), &noise);
            let planned = plan(&desired(&["a", "b"]), None, &inputs());
            let mut bytes = file::encode(&planned).into_bytes();
            let index = position % bytes.len();
            let original = bytes[index];
            bytes[index] = byte;
            if let Ok(text) = String::from_utf8(bytes)
                && let Ok(decoded) = file::decode(std::path::Path::new("p.json"), &text)
            {
                // Only a change that keeps the content (whitespace, or the same byte) may
                // pass.
                prop_assert!(byte == original || (original as char).is_ascii_whitespace());
                prop_assert_eq!(decoded, planned);
            }
        }
    }
}

fn live(status: Option<i32>) -> LiveStatus {
    LiveStatus {
        status: status.map(Into::into),
        checked_at: "2026-11-28T01:05:00Z".to_string(),
        message: status
            .is_none()
            .then(|| "The change order does not exist.".to_string()),
        request_id: Some("req-live".to_string()),
    }
}

#[test]
fn refreshing_maps_every_live_status_to_the_action_apply_will_take() {
    use ActionKind::*;
    let statuses = [0, 1, 2, 3, 6, 7, 8, 9, 10, 42];
    let ids: Vec<String> = statuses.iter().map(|status| format!("s{status}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let planned = plan(&desired(&id_refs), None, &inputs());
    let answers: HashMap<ChangeOrderId, LiveStatus> = statuses
        .iter()
        .map(|status| {
            (
                ChangeOrderId::new(format!("s{status}")),
                live(Some(*status)),
            )
        })
        .collect();
    let refreshed = refreshed(planned, &answers);
    assert_eq!(
        kinds(&refreshed),
        vec![
            ("s0", Abort),
            ("s1", Abort),
            ("s2", CannotAbort),
            ("s3", CannotAbort),
            ("s6", AlreadyStopped),
            ("s7", CannotAbort),
            ("s8", Abort),
            ("s9", Abort),
            ("s10", CannotAbort),
            ("s42", CannotAbort),
        ]
    );
    assert!(
        refreshed
            .actions
            .iter()
            .all(|action| action.live_status.is_some())
    );
    assert_eq!(
        refreshed.summary,
        PlanSummary {
            to_abort: 4,
            already_stopped: 1,
            cannot_abort: 5,
            ..PlanSummary::default()
        }
    );
    assert_eq!(refreshed.summary.declared(), 10);
    assert_eq!(refreshed.checksum, file::checksum(&refreshed));
    let encoded = file::encode(&refreshed);
    assert_eq!(
        file::decode(std::path::Path::new("p.json"), &encoded).unwrap(),
        refreshed
    );
}

#[test]
fn a_refreshed_no_op_is_never_verified_and_an_unanswered_one_keeps_its_planned_action() {
    let recorded = state(&[
        ("unknown", RecordStatus::Unknown),
        ("failed", RecordStatus::Failed),
    ]);
    let planned = plan(
        &desired(&["unknown", "failed", "fresh"]),
        Some(&recorded),
        &inputs(),
    );
    let answers = HashMap::from([
        (ChangeOrderId::new("unknown"), live(Some(6))),
        (ChangeOrderId::new("failed"), live(None)),
    ]);
    let refreshed = refreshed(planned, &answers);
    let unknown = &refreshed.actions[0];
    assert_eq!(
        (unknown.action, unknown.verify_first),
        (Action::NoOp, false)
    );
    assert_eq!(unknown.kind(), ActionKind::AlreadyStopped);
    let failed = &refreshed.actions[1];
    assert_eq!(failed.kind(), ActionKind::Retry);
    assert_eq!(failed.live_status, Some(live(None)));
    // Not in the answers: left exactly as planned.
    assert_eq!(refreshed.actions[2].live_status, None);
    assert_eq!(refreshed.actions[2].kind(), ActionKind::Abort);
    assert!(refreshed.will_send());
}

#[test]
fn a_plan_file_written_before_live_statuses_existed_still_decodes_and_keeps_its_checksum() {
    let planned = plan(&desired(&["a", "b"]), None, &inputs());
    let encoded = file::encode(&planned);
    assert!(!encoded.contains("live_status"));
    assert!(!encoded.contains("already_stopped"));
    assert_eq!(
        file::decode(std::path::Path::new("old.json"), &encoded).unwrap(),
        planned
    );
}

#[test]
fn only_abort_actions_are_refreshed() {
    let recorded = state(&[("done", RecordStatus::Aborted)]);
    let planned = plan(&desired(&["done"]), Some(&recorded), &inputs());
    let answers = HashMap::from([(ChangeOrderId::new("done"), live(Some(1)))]);
    let refreshed = refreshed(planned.clone(), &answers);
    assert_eq!(refreshed.actions, planned.actions);
    assert_eq!(refreshed.summary, planned.summary);
    // The plan still says it was refreshed (apply.require_refresh reads it), and the
    // checksum covers that.
    assert!(refreshed.refreshed && !planned.refreshed);
    assert_ne!(refreshed.checksum, planned.checksum);
}
