//! The paths a new user follows, run as they would run them: `plan --refresh` against a live
//! simulator with change orders in every status, the GitHub Actions example's commands in
//! order (plan → markdown → apply the saved plan → apply it again is refused), and every
//! command the runbook (docs/RUNBOOK.md) shows, parsed with the real CLI definitions.

use crate::support;
use crate::support::docs;

use clap::{CommandFactory, Parser};
use docs::invocations;
use edas_rollback::cli::args::Cli;
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::sim::{Faults, SimConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{Run, Sim, Workspace, assert_cli_snapshot};

/// The statuses of docs/CONTRACT.md: abortable 0, 1, 8, 9; stopped 6; finished 2, 3, 7, 10.
const EVERY_STATUS: [i32; 9] = [0, 1, 2, 3, 6, 7, 8, 9, 10];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Change order `co-status-N` in status N, for each of `statuses`.
fn sim_with_statuses(statuses: &[i32]) -> Sim {
    Sim::start(SimConfig {
        change_orders: statuses
            .iter()
            .map(|status| (ChangeOrderId::new(id(*status)), *status))
            .collect(),
        seed: 7,
        ..SimConfig::default()
    })
}

fn id(status: i32) -> String {
    format!("co-status-{status}")
}

/// A workspace declaring `ids`, pointed at `sim` through `EDAS_ENDPOINT` so that command
/// lines stay exactly as documents show them.
fn workspace(sim: &Sim, ids: Vec<String>) -> Workspace {
    Workspace::declaring(ids).endpoint_in_env().against(sim)
}

/// A workspace declaring `co-status-N` for each of `statuses`.
fn workspace_with_statuses(sim: &Sim, statuses: &[i32]) -> Workspace {
    workspace(sim, statuses.iter().map(|status| id(*status)).collect())
}

/// The binary without any credentials, as the pull request's job of the CI example runs.
fn without_credentials(workspace: &Workspace, args: &[&str]) -> Run {
    let mut command = workspace.binary(args);
    command
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    Run::from(command.output().unwrap())
}

#[test]
fn refresh_turns_every_live_status_into_the_action_apply_will_take() {
    let sim = sim_with_statuses(&EVERY_STATUS);
    let workspace = workspace_with_statuses(&sim, &EVERY_STATUS);
    let output = workspace
        .run(&["plan", "--refresh", "--out", "plan.json"])
        .expect(0);
    assert_cli_snapshot!("refresh_text", output.stdout);

    let plan = workspace.json("plan.json");
    for action in plan["actions"].as_array().unwrap() {
        let live = action["live_status"]["status"].as_i64().unwrap();
        let expected = match live {
            0 | 1 | 8 | 9 => "abort",
            2 | 3 | 6 | 7 | 10 => "no-op",
            other => panic!("a status the simulator was not given: {other}"),
        };
        assert_eq!(action["action"], expected, "{action}");
        assert_eq!(action["change_order_id"], id(live as i32));
        assert!(action["live_status"]["checked_at"].is_string());
    }
    assert_eq!(plan["summary"]["to_abort"], 4);
    assert_eq!(plan["summary"]["already_stopped"], 1);
    assert_eq!(plan["summary"]["cannot_abort"], 4);

    let markdown = workspace
        .run(&["show", "plan.json", "--format", "markdown"])
        .expect(0);
    assert_cli_snapshot!("refresh_markdown", markdown.stdout);

    // One question per change order, and no abort: planning sends nothing that changes
    // anything.
    let stats = sim.stats();
    assert_eq!(stats.totals.info_requests, EVERY_STATUS.len() as u64);
    assert_eq!(stats.totals.aborts_received, 0);
}

#[test]
fn detailed_exitcode_is_two_while_something_abortable_remains_and_zero_once_nothing_is() {
    let sim = sim_with_statuses(&EVERY_STATUS);
    let workspace = workspace_with_statuses(&sim, &EVERY_STATUS);
    workspace
        .run(&["plan", "--refresh", "--detailed-exitcode"])
        .expect(2);

    let finished = [2, 3, 6, 7, 10];
    let sim = sim_with_statuses(&finished);
    let workspace = workspace_with_statuses(&sim, &finished);
    // From the recorded state alone, all five would be sent.
    workspace.run(&["plan", "--detailed-exitcode"]).expect(2);
    // Live, none can be: a warning, not an error, and nothing to send.
    let refreshed = workspace
        .run(&["plan", "--refresh", "--detailed-exitcode"])
        .expect(0);
    assert_cli_snapshot!("finished_refreshed_plan", refreshed.both());
    // Applying such a plan sends nothing and says why.
    workspace
        .run(&["plan", "--refresh", "--out", "plan.json"])
        .expect(0);
    let apply = workspace.run(&["apply", "plan.json"]).expect(0);
    assert_cli_snapshot!("finished_refreshed_plan_applied", apply.both());
    assert_eq!(sim.stats().totals.aborts_received, 0);
}

#[test]
fn applying_a_refreshed_plan_sends_nothing_for_its_no_op_rows() {
    let sim = sim_with_statuses(&EVERY_STATUS);
    let workspace = workspace_with_statuses(&sim, &EVERY_STATUS);
    workspace
        .run(&["plan", "--refresh", "--out", "plan.json"])
        .expect(0);
    workspace.run(&["apply", "plan.json"]).expect(0);

    let stats = sim.stats();
    for status in EVERY_STATUS {
        let counters = &stats.change_orders[&id(status)];
        let expected = u64::from(matches!(status, 0 | 1 | 8 | 9));
        assert_eq!(counters.aborts_received, expected, "status {status}");
        assert_eq!(counters.aborts_committed, expected, "status {status}");
    }
    assert_eq!(stats.totals.aborts_received, 4);
}

#[test]
fn a_change_order_the_service_cannot_find_is_a_warning_and_keeps_its_abort() {
    let sim = sim_with_statuses(&[1]);
    let workspace = workspace(&sim, vec![id(1), "co-missing".to_string()]);
    let output = workspace
        .run(&[
            "plan",
            "--refresh",
            "--detailed-exitcode",
            "--format",
            "json",
        ])
        .expect(2);
    let plan: Value = serde_json::from_str(&output.stdout).unwrap();
    let missing = &plan["actions"][1];
    assert_eq!(missing["change_order_id"], "co-missing");
    assert_eq!(missing["action"], "abort");
    assert!(missing["live_status"].get("status").is_none(), "{missing}");
    assert_cli_snapshot!(
        "missing_live_status_message",
        missing["live_status"]["message"].as_str().unwrap()
    );
}

#[test]
fn every_field_a_refreshed_plan_writes_is_documented() {
    let sim = sim_with_statuses(&EVERY_STATUS);
    let mut ids: Vec<String> = EVERY_STATUS.iter().map(|status| id(*status)).collect();
    ids.push("co-missing".to_string());
    let workspace = workspace(&sim, ids);
    let output = workspace
        .run(&["plan", "--refresh", "--format", "json"])
        .expect(0);
    let plan: Value = serde_json::from_str(&output.stdout).unwrap();
    let mut produced = std::collections::BTreeSet::new();
    docs::collect_paths(&plan, "", &mut produced);
    let docs = std::fs::read_to_string(repository().join("docs/json-output.md")).unwrap();
    let section = docs
        .split("## Plan (`format_version` 1)")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let undocumented: Vec<_> = produced
        .iter()
        .filter(|path| !section.contains(&format!("| `{path}` |")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/json-output.md: {undocumented:?}"
    );
    for field in [
        "actions[].live_status.status",
        "actions[].live_status.checked_at",
        "actions[].live_status.message",
        "actions[].live_status.request_id",
        "summary.already_stopped",
        "summary.cannot_abort",
    ] {
        assert!(
            produced.contains(field),
            "a refreshed plan never writes `{field}`"
        );
    }
}

#[test]
fn a_throttling_service_slows_the_refresh_down_but_every_status_arrives() {
    let statuses = [1; 12];
    let sim = Sim::start(SimConfig {
        change_orders: (0..statuses.len())
            .map(|index| (ChangeOrderId::new(format!("co-{index}")), 1))
            .collect(),
        faults: edas_rollback::sim::Faults {
            requests_per_second: Some(4),
            retry_after: Some(std::time::Duration::from_millis(250)),
            ..Default::default()
        },
        seed: 7,
        ..SimConfig::default()
    });
    let workspace = workspace(
        &sim,
        (0..statuses.len())
            .map(|index| format!("co-{index}"))
            .collect(),
    );
    let output = workspace
        .run(&["plan", "--refresh", "--format", "json"])
        .expect(0);
    let plan: Value = serde_json::from_str(&output.stdout).unwrap();
    for action in plan["actions"].as_array().unwrap() {
        assert_eq!(action["live_status"]["status"], 1, "{action}");
    }
    let totals = sim.stats().totals;
    assert!(
        totals.throttled > 0,
        "the limit was never reached: {totals:?}"
    );
    assert_eq!(totals.info_requests, 12 + totals.throttled);
}

#[test]
fn a_credentials_error_during_refresh_fails_the_plan_and_saves_nothing() {
    let sim = sim_with_statuses(&EVERY_STATUS);
    let workspace = workspace_with_statuses(&sim, &EVERY_STATUS);
    let secret = "NotTheSimulatorSecret0123456789";
    let mut command = workspace.binary(&["plan", "--refresh", "--out", "plan.json"]);
    command.env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret);
    let output = Run::from(command.output().unwrap()).expect(1);
    assert!(!output.both().contains(secret), "the secret never appears");
    assert_cli_snapshot!("refresh_with_a_wrong_secret", output.both());
    assert!(!workspace.path("plan.json").exists());
    // The first refusal stops new questions: far fewer than one per change order.
    assert!(sim.stats().totals.signature_failures <= 10);
}

#[test]
fn refresh_asks_nothing_and_needs_no_credentials_when_nothing_is_pending() {
    let sim = sim_with_statuses(&[1]);
    let workspace = workspace_with_statuses(&sim, &[1]);
    workspace.apply(&[]).expect(0);
    let asked_before = sim.stats().totals.info_requests;
    without_credentials(&workspace, &["plan", "--refresh", "--detailed-exitcode"]).expect(0);
    assert_eq!(sim.stats().totals.info_requests, asked_before);
}

// The GitHub Actions example, end to end.

/// The workflow's `run:` scripts in file order, with the job each belongs to.
fn workflow_scripts(relative: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repository().join(relative)).unwrap();
    let workflow: Value = serde_saphyr::from_str(&text).unwrap();
    let jobs = workflow["jobs"].as_object().unwrap();
    // The pull request's job runs first, the merge's after it (a JSON map sorts its keys, so
    // the order is the flow's, not the file's).
    assert_eq!(jobs.keys().collect::<Vec<_>>(), ["apply", "plan"]);
    let mut scripts = Vec::new();
    for job in ["plan", "apply"] {
        for step in jobs[job]["steps"].as_array().unwrap() {
            if let Some(run) = step.get("run").and_then(Value::as_str) {
                scripts.push((job.to_string(), run.to_string()));
            }
        }
    }
    scripts
}

#[test]
fn the_github_actions_example_runs_end_to_end_against_the_simulator() {
    let commands: Vec<(String, Vec<String>)> =
        workflow_scripts("examples/github-actions/plan-and-apply.yml")
            .into_iter()
            .flat_map(|(job, script)| {
                invocations(&script)
                    .into_iter()
                    .map(move |argv| (job.clone(), argv))
            })
            .collect();
    let shown: Vec<String> = commands
        .iter()
        .map(|(job, argv)| format!("{job}: {}", argv.join(" ")))
        .collect();
    // The flow this test proves is the one the file runs; a change to either shows here.
    assert_eq!(
        shown,
        [
            "plan: edas-rollback validate",
            "plan: edas-rollback plan --out plan.json --detailed-exitcode",
            "plan: edas-rollback show plan.json --format markdown",
            "plan: edas-rollback rehearse",
            "apply: edas-rollback credentials",
            "apply: edas-rollback show plan.json",
            "apply: edas-rollback apply plan.json",
        ]
    );

    let sim = Sim::any_id(Faults::default(), 7);
    let ids: Vec<String> = (0..3)
        .map(|index| format!("6b55106c-c7f2-40f7-a1d4-00000000000{index}"))
        .collect();
    let workspace = workspace(&sim, ids.clone());
    let mut transcript = String::new();
    for (job, argv) in &commands {
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        // The pull-request job has no credentials in the example; only apply does.
        let output = if job == "apply" {
            workspace.run(&args)
        } else {
            without_credentials(&workspace, &args)
        };
        let expected = if argv[1] == "plan" { 2 } else { 0 };
        assert_eq!(
            output.code,
            Some(expected),
            "{job}: {}\n{output}",
            argv.join(" ")
        );
        transcript.push_str(&format!(
            "$ {job}: {}\n{}{}",
            argv.join(" "),
            support::sorted_outcomes(&output.stdout),
            support::sorted_outcomes(&output.stderr)
        ));
    }
    // What each step of the example printed, in order.
    assert_cli_snapshot!("github_workflow_transcript", transcript);
    // The rehearsal ran against its own embedded simulator: only apply reached this one.
    let stats = sim.stats();
    assert_eq!(stats.totals.aborts_committed, 3);
    for id in &ids {
        assert_eq!(stats.change_orders[id].aborts_committed, 1, "{id}");
    }
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace.path("edas-rollback.state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["serial"], 1);

    // The same plan file again: the state moved, so it is refused and nothing is sent.
    let (_, apply) = commands.last().unwrap();
    let args: Vec<&str> = apply[1..].iter().map(String::as_str).collect();
    let again = workspace.run(&args).expect(1);
    let lineage = state["lineage"].as_str().unwrap();
    assert_cli_snapshot!(
        "documented_plan_applied_again",
        again.both().replace(lineage, "[LINEAGE]")
    );
    assert_eq!(
        sim.stats().totals.aborts_received,
        stats.totals.aborts_received
    );
}

// The runbook.

/// Every `edas-rollback …` command in the runbook's code blocks. A block that shows a session
/// marks its commands with a `$ ` prompt (the other lines are output, which may well start with
/// `edas-rollback will …`); a block without prompts is all commands.
fn runbook_commands(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut commands = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match block.take() {
                Some(lines) => {
                    let session = lines.iter().any(|line| line.starts_with("$ "));
                    let script: String = lines
                        .iter()
                        .filter_map(|line| {
                            if session {
                                line.strip_prefix("$ ")
                            } else {
                                Some(*line)
                            }
                        })
                        .map(|line| format!("{line}\n"))
                        .collect();
                    commands.extend(invocations(&script));
                }
                None => block = Some(Vec::new()),
            }
            continue;
        }
        if let Some(lines) = &mut block {
            lines.push(line.trim_start());
        }
    }
    commands
}

#[test]
fn every_command_the_runbook_shows_parses_with_the_real_cli() {
    let commands = runbook_commands(&repository().join("docs/RUNBOOK.md"));
    let mut verbs = std::collections::BTreeSet::new();
    for argv in &commands {
        if let Err(error) = Cli::try_parse_from(argv) {
            panic!("RUNBOOK.md: `{}` does not parse:\n{error}", argv.join(" "));
        }
        let matches = Cli::command().try_get_matches_from(argv).unwrap();
        if let Some(verb) = matches.subcommand_name() {
            verbs.insert(verb.to_string());
        }
    }
    // The runbook walks the whole path, not a part of it.
    for verb in [
        "rehearse",
        "plan",
        "show",
        "apply",
        "state",
        "force-unlock",
        "simulate",
    ] {
        assert!(
            verbs.contains(verb),
            "RUNBOOK.md shows no `{verb}`: {verbs:?}"
        );
    }
    assert!(
        commands
            .iter()
            .any(|argv| argv.iter().any(|word| word == "--refresh")),
        "RUNBOOK.md never shows `plan --refresh`"
    );
}

#[test]
fn the_readme_starts_with_the_two_commands_links_every_guide_and_shows_only_real_commands() {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let first_commands: Vec<&str> = readme
        .lines()
        .filter(|line| line.starts_with("cargo "))
        .take(2)
        .map(|line| line.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(
        first_commands,
        [
            "cargo run --release -- rehearse -c examples/incident.yaml",
            "cargo test --locked"
        ]
    );
    for guide in [
        "docs/RUNBOOK.md",
        "docs/CI.md",
        "docs/CONFIG.md",
        "docs/json-output.md",
        "docs/APPLY.md",
        "docs/SIMULATOR.md",
        "docs/BENCHMARKS.md",
    ] {
        assert!(
            readme.contains(&format!("]({guide})")),
            "README lacks a link to {guide}"
        );
        assert!(repository().join(guide).is_file(), "{guide} does not exist");
    }
    for argv in runbook_commands(&repository().join("README.md")) {
        if let Err(error) = Cli::try_parse_from(&argv) {
            panic!("README.md: `{}` does not parse:\n{error}", argv.join(" "));
        }
    }
}
