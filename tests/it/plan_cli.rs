//! `plan`, `show` and `state` as the SRE runs them: the real binary in a temp dir, with
//! hand-written configs, state files and journals, checking stdout, stderr, exit codes and
//! the files left behind. Also checks docs/json-output.md against real plan output.

use crate::support::{self, Run, Workspace, assert_cli_snapshot, docs};

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const FIRST: &str = "6b55106c-c7f2-40f7-a1d4-0928700aaaaa";
const SECOND: &str = "7c66217d-d8a3-41a8-b2e5-1039811bbbbb";
const THIRD: &str = "8d77328e-e9b4-42b9-c3f6-2140922ccccc";
const GONE: &str = "00000000-0000-4000-8000-00000000dead";
const LINEAGE: &str = "5f0c1d2e-7a0b-4c3d-8e9f-0123456789ab";

/// A workspace holding `incident.yaml` declaring FIRST, SECOND and THIRD, with no simulator:
/// nothing here sends a request.
fn incident() -> Workspace {
    Workspace::empty()
        .config_named("incident.yaml")
        .config(&format!(
            "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  \
             - id: {FIRST}\n    app: checkout\n    reason: release 2026-11-27 broke checkout\n  \
             - id: {SECOND}\n    app: payments\n    operation: rollback\n    \
             app_id: 3616cdca-4f92-4d28-9a52-8e0ea3f6b1a7\n  \
             - id: {THIRD}\n"
        ))
}

/// A state at serial 3: SECOND failed (with every error field), THIRD unknown, GONE aborted
/// and no longer declared.
fn write_state(workspace: &Workspace) {
    let state = serde_json::json!({
        "format_version": 1,
        "lineage": LINEAGE,
        "serial": 3,
        "tool_version": "0.1.0",
        "change_orders": {
            SECOND: {
                "status": "failed", "attempts": 2, "last_attempt_at": "2026-11-27T23:10:00Z",
                "request_id": "REQ-FAILED", "http_status": 200, "code": "500",
                "error_code": "ChangeOrderStatusForbidden",
                "message": "change order status forbids abort", "app": "payments"
            },
            THIRD: { "status": "unknown", "attempts": 1, "last_attempt_at": "2026-11-27T23:11:00Z" },
            GONE: {
                "status": "aborted", "attempts": 1, "request_id": "REQ-GONE", "http_status": 200,
                "code": "200", "rollback_change_order_id": "rb-1", "app": "legacy"
            }
        }
    });
    std::fs::write(
        workspace.path("incident.state.json"),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn plan_on_a_fresh_config_aborts_every_declared_change_order() {
    let workspace = incident();
    // Without NO_COLOR: no colour when not a terminal (an escape would show in the snapshot).
    let mut command = workspace.binary(&["-c", "incident.yaml", "plan"]);
    command.env_remove("NO_COLOR");
    let run = Run::from(support::run(command)).expect(0);
    assert_cli_snapshot!(run.stdout);
    assert!(
        !workspace.path("incident.state.json").exists(),
        "plan never writes state"
    );
}

#[test]
fn a_plan_saved_with_out_is_shown_back_byte_for_byte_by_show() {
    let workspace = incident();
    write_state(&workspace);
    let planned = workspace.run(&[
        "-c",
        "incident.yaml",
        "plan",
        "--out",
        "plan.json",
        "--format",
        "json",
    ]);
    assert_eq!(planned.code, Some(0), "{planned}");
    let saved = std::fs::read_to_string(workspace.path("plan.json")).unwrap();
    assert_eq!(planned.stdout, saved, "--format json prints the plan file");

    let shown = workspace.run(&["show", "plan.json", "--format", "json"]);
    assert_eq!(shown.code, Some(0), "{shown}");
    assert_eq!(shown.stdout, saved);

    let text = workspace.run(&["show", "plan.json"]);
    assert_eq!(text.code, Some(0), "{text}");
    let plan = read_json(&workspace.path("plan.json"));
    let checksum = plan["checksum"].as_str().unwrap();
    assert_cli_snapshot!(
        "show_text",
        text.stdout.replace(checksum, "[PLAN-CHECKSUM]")
    );

    let markdown = workspace.run(&["show", "plan.json", "--format", "markdown"]);
    assert_eq!(markdown.code, Some(0), "{markdown}");
    assert_cli_snapshot!(
        "show_markdown",
        markdown.stdout.replace(checksum, "[PLAN-CHECKSUM]")
    );
}

#[test]
fn the_plan_file_pins_the_state_version_config_hash_and_endpoint() {
    let workspace = incident();
    write_state(&workspace);
    let planned = workspace.run(&[
        "-c",
        "incident.yaml",
        "--endpoint",
        "http://127.0.0.1:9",
        "plan",
        "--out",
        "plan.json",
    ]);
    assert_eq!(planned.code, Some(0), "{planned}");
    let plan = read_json(&workspace.path("plan.json"));
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["state"]["lineage"], LINEAGE);
    assert_eq!(plan["state"]["serial"], 3);
    assert_eq!(plan["endpoint"], "http://127.0.0.1:9");
    assert_eq!(plan["region"], "cn-hangzhou");
    assert_eq!(plan["config"]["path"], "incident.yaml");
    let config = std::fs::read(workspace.path("incident.yaml")).unwrap();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&config);
    assert_eq!(plan["config"]["sha256"], hex::encode(digest));
    let created = plan["created_at"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(created).is_ok(), "{created}");
    let ids: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["change_order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [FIRST, SECOND, THIRD, GONE]);
}

#[test]
fn detailed_exitcode_is_two_when_something_will_be_sent_and_zero_otherwise() {
    let workspace = incident();
    let changes = workspace.run(&["-c", "incident.yaml", "plan", "--detailed-exitcode"]);
    assert_eq!(changes.code, Some(2), "{changes}");

    let without_flag = workspace.run(&["-c", "incident.yaml", "plan"]);
    assert_eq!(without_flag.code, Some(0), "{without_flag}");

    let aborted = serde_json::json!({ "status": "aborted", "attempts": 1 });
    let state = serde_json::json!({
        "format_version": 1, "lineage": LINEAGE, "serial": 9, "tool_version": "0.1.0",
        "change_orders": { FIRST: aborted, SECOND: aborted, THIRD: aborted }
    });
    std::fs::write(workspace.path("incident.state.json"), state.to_string()).unwrap();
    let nothing = workspace.run(&["-c", "incident.yaml", "plan", "--detailed-exitcode"]);
    assert_eq!(nothing.code, Some(0), "{nothing}");
    assert_cli_snapshot!("nothing_to_do", nothing.both());
}

#[test]
fn a_tampered_plan_file_is_refused() {
    let workspace = incident();
    let planned = workspace.run(&["-c", "incident.yaml", "plan", "--out", "plan.json"]);
    assert_eq!(planned.code, Some(0), "{planned}");
    let path = workspace.path("plan.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen(THIRD, GONE, 1)).unwrap();
    let shown = workspace.run(&["show", "plan.json"]);
    assert_eq!(shown.code, Some(1), "{shown}");
    assert!(shown.stdout.is_empty());
    assert_cli_snapshot!("tampered", shown.stderr);

    std::fs::write(&path, "{\n  \"format_version\": 1,\n  oops\n}\n").unwrap();
    let broken = workspace.run(&["show", "plan.json"]);
    assert_eq!(broken.code, Some(1), "{broken}");
    assert_cli_snapshot!("not_json", broken.stderr);

    let missing = workspace.run(&["show", "absent.json"]);
    assert_eq!(missing.code, Some(1), "{missing}");
    assert_cli_snapshot!("missing", missing.stderr);
}

#[test]
fn plan_without_a_config_fails_with_a_hint() {
    let workspace = Workspace::empty();
    let run = workspace.run(&["plan"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_cli_snapshot!(run.stderr);
}

#[test]
fn state_list_and_show_read_a_hand_written_state_file() {
    let workspace = incident();
    write_state(&workspace);
    let list = workspace.run(&["-c", "incident.yaml", "state", "list"]);
    assert_eq!(list.code, Some(0), "{list}");
    assert_cli_snapshot!("list", list.stdout);

    let show = workspace.run(&["--state", "incident.state.json", "state", "show", SECOND]);
    assert_eq!(show.code, Some(0), "{show}");
    // Without the CLI filters: the time shown is the state's own, not the clock's.
    insta::assert_snapshot!("show", show.stdout);

    let summary = workspace.run(&["-c", "incident.yaml", "show"]);
    assert_eq!(summary.code, Some(0), "{summary}");
    assert_cli_snapshot!("summary", summary.stdout);

    let json = workspace.run(&["-c", "incident.yaml", "show", "--format", "json"]);
    let value: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["serial"], 3);
}

#[test]
fn state_show_of_an_unknown_id_names_it_and_exits_one() {
    let workspace = incident();
    write_state(&workspace);
    let show = workspace.run(&["-c", "incident.yaml", "state", "show", "no-such-id"]);
    assert_eq!(show.code, Some(1), "{show}");
    assert!(show.stdout.is_empty());
    assert_cli_snapshot!(show.stderr);
}

#[test]
fn state_rm_bumps_the_serial_writes_the_backup_and_shows_what_was_removed() {
    let workspace = incident();
    write_state(&workspace);
    let state_path = workspace.path("incident.state.json");
    let before = std::fs::read(&state_path).unwrap();

    let removed = workspace.run(&["-c", "incident.yaml", "state", "rm", GONE]);
    assert_eq!(removed.code, Some(0), "{removed}");
    assert_cli_snapshot!(removed.stdout);

    let after = read_json(&state_path);
    assert_eq!(after["serial"], 4);
    assert_eq!(after["lineage"], LINEAGE);
    assert!(after["change_orders"].get(GONE).is_none());
    assert!(after["change_orders"].get(SECOND).is_some());
    let backup = std::fs::read(workspace.path("incident.state.json.backup")).unwrap();
    assert_eq!(
        backup, before,
        "the backup is the previous state, byte for byte"
    );
    // The lock was released: a second edit goes through and bumps the serial again.
    let again = workspace.run(&["-c", "incident.yaml", "state", "rm", SECOND]);
    assert_eq!(again.code, Some(0), "{again}");
    assert_eq!(read_json(&state_path)["serial"], 5);
}

#[test]
fn state_rm_of_an_id_not_in_state_removes_nothing() {
    let workspace = incident();
    write_state(&workspace);
    let state_path = workspace.path("incident.state.json");
    let before = std::fs::read(&state_path).unwrap();
    let removed = workspace.run(&["-c", "incident.yaml", "state", "rm", GONE, "typo-id"]);
    assert_eq!(removed.code, Some(1), "{removed}");
    assert_cli_snapshot!(removed.stderr);
    assert_eq!(std::fs::read(&state_path).unwrap(), before);
}

#[test]
fn a_leftover_journal_is_folded_first_and_announced_in_one_line() {
    let workspace = incident();
    write_state(&workspace);
    let journal = [
        serde_json::json!({"event": "begin", "lineage": LINEAGE, "serial": 3, "at": "2026-11-28T00:00:00Z", "operation": "apply"}),
        serde_json::json!({"event": "intent", "change_order_id": FIRST, "attempt": 1, "at": "2026-11-28T00:00:01Z", "request": "abort", "app": "checkout"}),
    ]
    .iter()
    .map(|record| format!("{record}\n"))
    .collect::<String>();
    std::fs::write(workspace.path("incident.state.json.journal"), journal).unwrap();

    let planned = workspace.run(&["-c", "incident.yaml", "plan", "--format", "json"]);
    assert_eq!(planned.code, Some(0), "{planned}");
    // One line, and nothing else on stderr.
    assert_cli_snapshot!(planned.stderr);
    assert!(!workspace.path("incident.state.json.journal").exists());
    let plan: Value = serde_json::from_str(&planned.stdout).unwrap();
    let first = &plan["actions"][0];
    assert_eq!(first["change_order_id"], FIRST);
    assert_eq!(
        first["verify_first"], true,
        "an intent without a response is unknown"
    );
    assert_eq!(
        plan["state"]["serial"], 4,
        "the fold was saved before planning"
    );
}

/// `plan` reads the state file on a second thread while the YAML parses, guessing its path
/// from the text; these guard that the guess never decides which state is planned against.
#[test]
fn plan_reads_the_state_file_the_config_names_not_the_one_beside_it() {
    let workspace = incident();
    write_state(&workspace);
    std::fs::create_dir(workspace.path("runs")).unwrap();
    std::fs::rename(
        workspace.path("incident.state.json"),
        workspace.path("runs/x.json"),
    )
    .unwrap();
    // A decoy where the default would be: refused as corrupt if it were read.
    std::fs::write(workspace.path("incident.state.json"), "{ not json").unwrap();
    let config = std::fs::read_to_string(workspace.path("incident.yaml")).unwrap();
    // An anchor is valid YAML that the early guess does not read.
    for state_line in ["state: runs/x.json\n", "state: &where runs/x.json\n"] {
        std::fs::write(
            workspace.path("incident.yaml"),
            format!("{state_line}{config}"),
        )
        .unwrap();
        let planned = workspace.run(&["-c", "incident.yaml", "plan", "--format", "json"]);
        assert_eq!(planned.code, Some(0), "{state_line}: {planned}");
        let plan: Value = serde_json::from_str(&planned.stdout).unwrap();
        assert_eq!(plan["state"]["serial"], 3, "{state_line}");
        assert_eq!(plan["state"]["lineage"], LINEAGE, "{state_line}");
    }
    let flagged = workspace.run(&[
        "-c",
        "incident.yaml",
        "--state",
        "incident.state.json",
        "plan",
    ]);
    assert_eq!(
        flagged.code,
        Some(1),
        "--state wins over `state:`: {flagged}"
    );
    // It names the decoy it read.
    assert_cli_snapshot!(flagged.stderr);
}

#[test]
fn a_config_error_is_reported_before_a_corrupt_state_file() {
    let workspace = incident();
    std::fs::write(workspace.path("incident.state.json"), "{ not json").unwrap();
    std::fs::write(
        workspace.path("incident.yaml"),
        "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  - id: a_b\n",
    )
    .unwrap();
    let planned = workspace.run(&["-c", "incident.yaml", "plan"]);
    assert_eq!(planned.code, Some(1), "{planned}");
    // Only the config's error: the state is never mentioned.
    assert_cli_snapshot!(planned.stderr);
}

#[test]
fn every_plan_field_in_the_output_is_documented_and_every_documented_field_exists() {
    let workspace = incident();
    write_state(&workspace);
    let planned = workspace.run(&["-c", "incident.yaml", "plan", "--format", "json"]);
    assert_eq!(planned.code, Some(0), "{planned}");
    let plan: Value = serde_json::from_str(&planned.stdout).unwrap();
    let mut produced = BTreeSet::new();
    docs::collect_paths(&plan, "", &mut produced);

    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-output.md"))
            .unwrap();
    let section = docs
        .split("## Plan (`format_version` 1)")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let documented: BTreeSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split('`').next())
        .map(str::to_string)
        .collect();
    let undocumented: Vec<_> = produced.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/json-output.md: {undocumented:?}"
    );
    // Fields only `plan --refresh` writes; tests/it/workflows.rs checks them against a refreshed
    // plan from a live simulator.
    // Likewise `selected_by`, written only for rows a selector found: tests/it/apply.rs checks it
    // in a plan made against a simulator that models applications.
    let refresh_only = |path: &String| {
        path.starts_with("actions[].live_status")
            || path == "summary.already_stopped"
            || path == "summary.cannot_abort"
            || path == "refreshed"
            || path.starts_with("actions[].selected_by")
    };
    let missing: Vec<_> = documented
        .difference(&produced)
        .filter(|path| !refresh_only(path))
        .collect();
    assert!(
        missing.is_empty(),
        "documented but never produced: {missing:?}"
    );
}

#[test]
fn a_mistyped_flag_exits_1_so_it_is_never_read_as_changes_pending() {
    let workspace = Workspace::empty();
    let output = workspace
        .run_bare(&["plan", "--detailed-exitcod"])
        .expect(1);
    // It suggests the flag meant.
    assert_cli_snapshot!(output.stderr);
    workspace.run_bare(&["plan", "--help"]).expect(0);
}
