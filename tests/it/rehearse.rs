//! `rehearse` end to end: the real binary, its embedded simulator, a scratch state.

use crate::support::{
    self, Run, Workspace, assert_cli_snapshot, assert_cli_snapshot_counts_hidden,
};
use std::path::{Path, PathBuf};

fn repository_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A workspace whose config is a copy of `example` (a path under `examples/`) as `name`, and
/// nothing else, so a test can prove nothing is written beside the config.
fn copy_of(example: &str, name: &str) -> Workspace {
    let text = std::fs::read_to_string(repository_file(example)).unwrap();
    Workspace::empty().config_named(name).config(&text)
}

/// `-c incident.yaml rehearse` with `extra`, a real-looking endpoint and credentials in the
/// environment: a rehearsal must ignore them entirely.
fn rehearse(workspace: &Workspace, extra: &[&str]) -> Run {
    let mut command =
        workspace.bare_command(&[&["-c", "incident.yaml", "rehearse"], extra].concat());
    command
        .env("EDAS_ENDPOINT", "http://127.0.0.1:9")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIrealKeyMustNotBeUsed")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "RealSecretMustNotBeUsed");
    Run::from(support::run(command)).no_panic()
}

#[test]
fn rehearsing_the_incident_runbook_aborts_every_change_order_once_and_writes_nothing_beside_it() {
    let workspace = copy_of("examples/incident.yaml", "incident.yaml");
    let output = rehearse(&workspace, &[]).expect(0);
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    assert_cli_snapshot!("rehearsed_stdout", support::sorted_outcomes(stdout));
    assert_cli_snapshot!(stderr);
    let left_behind: Vec<_> = std::fs::read_dir(workspace.dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left_behind, vec![std::ffi::OsString::from("incident.yaml")]);
    assert!(
        !stderr.contains("RealSecretMustNotBeUsed") && !stdout.contains("RealSecretMustNotBeUsed")
    );
}

#[test]
fn a_bad_day_scenario_loses_no_change_order_and_aborts_none_twice() {
    let workspace = copy_of("examples/incident.yaml", "incident.yaml");
    let scenario = repository_file("examples/scenarios/bad-day.yaml");
    // One change order had already succeeded: it cannot be aborted, so the run exits 1 and
    // names it, while the other two end aborted, each exactly once.
    let output = rehearse(&workspace, &["--scenario", scenario.to_str().unwrap()]).expect(1);
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    assert_eq!(stdout.matches(": aborted").count(), 2, "{stdout}");
    // The scenario's faults (throttling, 503s, drops under random latency) land where timing
    // puts them: the retries' warnings and the result lines are dropped and the counts hidden;
    // what stays is the failure of the finished one, the summary and the rehearsal's verdict.
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("a41e7b90-5c3d-4e2f-b816-72d9c0e4f5a3: failed"))
        .collect();
    assert_cli_snapshot!("bad_day_failed", failed.join("\n"));
    assert_cli_snapshot_counts_hidden!(
        "bad_day_stdout",
        support::without_outcomes(support::after_the_plan(stdout))
    );
    let report: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with("warning: "))
        .collect();
    assert_cli_snapshot_counts_hidden!("bad_day_stderr", report.join("\n"));
}

#[test]
fn a_broken_scenario_is_refused_before_anything_runs() {
    let workspace = copy_of("examples/incident.yaml", "incident.yaml");
    std::fs::write(workspace.path("scenario.yaml"), "faults:\n  drop_rate: 3\n").unwrap();
    let output = rehearse(&workspace, &["--scenario", "scenario.yaml"]).expect(1);
    assert!(output.stdout.is_empty());
    assert_cli_snapshot!(output.stderr);
}

const SELECTOR_SCENARIO: &str = "\
applications:
  - id: app-checkout
    name: checkout
    change_orders:
      - {id: co-c1, status: 1, create_time: \"2026-11-30 19:00:00\"}
      - {id: co-c2, status: 8, create_time: \"2026-11-30 19:10:00\"}
      - {id: co-c3, status: 2, create_time: \"2026-11-30 18:00:00\"}
  - id: app-payment
    name: payment
    change_orders:
      - {id: co-p1, status: 9, create_time: \"2026-11-30 19:20:00\"}
      - {id: co-p2, status: 6, create_time: \"2026-11-30 19:30:00\"}
      - {id: co-p3, status: 1, create_time: \"2026-11-30 19:40:00\"}
";

/// `rehearse` of the workspace's config `config` with `scenario`, with no cloud account at
/// all: no credentials in the environment, an empty HOME, so only the embedded simulator can
/// answer.
fn rehearse_without_account(workspace: &Workspace, config: &str, scenario: &Path) -> Run {
    workspace.run_bare(&[
        "-c",
        config,
        "rehearse",
        "--scenario",
        scenario.to_str().unwrap(),
    ])
}

#[test]
fn a_config_with_selectors_is_rehearsed_against_the_scenarios_applications_with_no_account() {
    let workspace = Workspace::empty()
        .config_named("incident-by-app.yaml")
        .config(
            "version: 1
provider:
  region: cn-hangzhou
select:
  - app_name: checkout
  - app_id: app-payment
    statuses: [waiting_for_next_batch]
change_orders:
  - id: co-x1
",
        );
    let scenario = workspace.path("scenario.yaml");
    std::fs::write(&scenario, SELECTOR_SCENARIO).unwrap();
    let output = rehearse_without_account(&workspace, "incident-by-app.yaml", &scenario).expect(0);
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    // co-x1 (explicit), checkout's abortable co-c1 and co-c2, payment's waiting co-p1; not
    // the finished co-c3 and co-p2, nor co-p3 (running, but not a status asked for): the
    // snapshots show what the selectors found, what was planned and aborted, then the
    // simulator's counts.
    assert_cli_snapshot!(stderr);
    assert_cli_snapshot!("selectors_stdout", support::sorted_outcomes(stdout));
}

#[test]
fn a_rehearsal_selector_naming_no_scenario_application_is_refused_with_the_closest() {
    let workspace = Workspace::empty().config(
        "version: 1\nprovider:\n  region: cn-hangzhou\nselect:\n  - app_name: chekout\nchange_orders: []\n",
    );
    let scenario = workspace.path("scenario.yaml");
    std::fs::write(&scenario, SELECTOR_SCENARIO).unwrap();
    let output = rehearse_without_account(&workspace, "edas-rollback.yaml", &scenario).expect(1);
    // Refused before any abort: no simulator counts in it.
    assert_cli_snapshot!(output.stderr);
}

/// The shipped by-application runbook sets `apply.require_refresh: true`; a rehearsal plans
/// against its embedded simulator the instant before sending, so the guard must not refuse
/// it (it did: the runbook could not be rehearsed at all).
#[test]
fn the_shipped_by_application_runbook_with_require_refresh_is_rehearsed_with_its_scenario() {
    let workspace = copy_of("examples/incident-by-app.yaml", "incident-by-app.yaml");
    let output = rehearse_without_account(
        &workspace,
        "incident-by-app.yaml",
        &repository_file("examples/scenarios/incident-by-app.yaml"),
    )
    .expect(0);
    // Selected: checkout's running and waiting ones (…1111…01, …02), payment's waiting one
    // (…2222…01, its selector names the waiting statuses only, rolled back with
    // RollbackChangeOrder); never the finished, the too-old or payment's running one
    // (…1111…03, …04, …2222…02). Four aborts committed, none twice.
    assert_cli_snapshot!(
        "by_app_runbook_stdout",
        support::sorted_outcomes(&output.stdout)
    );
    assert_cli_snapshot!("by_app_runbook_stderr", output.stderr);
    // Nothing is written beside the runbook: the state lives in the scratch directory.
    assert!(!workspace.path("inc-2077.state.json").exists());
}

/// A selector that matches nothing is said out loud (a wrong app id or window, at 3 a.m.,
/// must not plan silently without its change orders); the explicit ids still run.
#[test]
fn a_selector_that_matches_nothing_is_a_warning_naming_it() {
    let workspace = copy_of("examples/incident-by-app.yaml", "incident-by-app.yaml");
    // The bad-day scenario seeds no applications: both selectors find nothing.
    let output = rehearse_without_account(
        &workspace,
        "incident-by-app.yaml",
        &repository_file("examples/scenarios/bad-day.yaml"),
    );
    // The explicit id still runs (how, under the scenario's faults, is timing).
    assert!(
        output
            .stdout
            .lines()
            .any(|line| line.starts_with("6b55106c-c7f2-40f7-a1d4-0928700bbbbb: aborted")),
        "{output}"
    );
    // Only the selectors' warnings: the rest depends on the scenario's seeded faults.
    let warnings: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| line.starts_with("Warning: selector"))
        .collect();
    assert_cli_snapshot!(warnings.join("\n"));
}
