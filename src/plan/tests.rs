use super::*;
use crate::config::{ApplySettings, ChangeOrderSpec, Provider};
use crate::state::{ChangeOrderRecord, RecordStatus, State};

fn desired(ids: &[&str]) -> DesiredState {
    DesiredState {
        version: 1,
        provider: Provider {
            region: "cn-hangzhou".to_string(),
            endpoint: None,
            profile: None,
        },
        apply: ApplySettings::default(),
        state: None,
        change_orders: ids
            .iter()
            .map(|id| ChangeOrderSpec {
                id: ChangeOrderId::new(*id),
                app: Some(format!("app-{id}")),
                reason: Some("incident 42".to_string()),
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
