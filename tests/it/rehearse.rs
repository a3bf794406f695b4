//! `rehearse` end to end: the real binary, its embedded simulator, a scratch state.

use crate::support::{Run, assert_cli_snapshot};
use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn repository_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A copy of the incident example in a fresh directory, so a test can prove nothing is
/// written beside the config.
fn incident_in_tempdir() -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("incident.yaml");
    std::fs::copy(repository_file("examples/incident.yaml"), &config).unwrap();
    (directory, config)
}

fn rehearse(config: &Path, extra: &[&str]) -> Run {
    let output = Command::cargo_bin("edas-rollback")
        .unwrap()
        .arg("-c")
        .arg(config)
        .arg("rehearse")
        .args(extra)
        // A rehearsal must ignore the real endpoint and credentials entirely.
        .env("EDAS_ENDPOINT", "http://127.0.0.1:9")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIrealKeyMustNotBeUsed")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "RealSecretMustNotBeUsed")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run::from(output)
}

#[test]
fn rehearsing_the_incident_runbook_aborts_every_change_order_once_and_writes_nothing_beside_it() {
    let (directory, config) = incident_in_tempdir();
    let output = rehearse(&config, &[]).expect(0);
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    assert!(stdout.contains("Plan: 3 to abort"), "{stdout}");
    assert_eq!(
        stdout.matches(": aborted [RequestId").count(),
        3,
        "{stdout}"
    );
    assert_cli_snapshot!(stderr);
    let left_behind: Vec<_> = std::fs::read_dir(directory.path())
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
    let (_directory, config) = incident_in_tempdir();
    let scenario = repository_file("examples/scenarios/bad-day.yaml");
    // One change order had already succeeded: it cannot be aborted, so the run exits 1 and
    // names it, while the other two end aborted, each exactly once.
    let output = rehearse(&config, &["--scenario", scenario.to_str().unwrap()]).expect(1);
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    assert_eq!(stdout.matches(": aborted").count(), 2, "{stdout}");
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("a41e7b90-5c3d-4e2f-b816-72d9c0e4f5a3"),
        "{all}"
    );
    assert!(
        stderr.contains("No change order was aborted twice."),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "Declared but not aborted by this rehearsal: a41e7b90-5c3d-4e2f-b816-72d9c0e4f5a3"
        ),
        "{stderr}"
    );
}

#[test]
fn a_broken_scenario_is_refused_before_anything_runs() {
    let (directory, config) = incident_in_tempdir();
    let scenario = directory.path().join("scenario.yaml");
    std::fs::write(&scenario, "faults:\n  drop_rate: 3\n").unwrap();
    let output = rehearse(&config, &["--scenario", scenario.to_str().unwrap()]).expect(1);
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

/// `rehearse` with no cloud account at all: no credentials in the environment, an empty
/// HOME, so only the embedded simulator can answer.
fn rehearse_without_account(directory: &Path, config: &Path, scenario: &Path) -> Run {
    let output = Command::cargo_bin("edas-rollback")
        .unwrap()
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", directory)
        .env("NO_COLOR", "1")
        .arg("-c")
        .arg(config)
        .arg("rehearse")
        .arg("--scenario")
        .arg(scenario)
        .output()
        .unwrap();
    Run::from(output)
}

#[test]
fn a_config_with_selectors_is_rehearsed_against_the_scenarios_applications_with_no_account() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("incident-by-app.yaml");
    std::fs::write(
        &config,
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
    )
    .unwrap();
    let scenario = directory.path().join("scenario.yaml");
    std::fs::write(&scenario, SELECTOR_SCENARIO).unwrap();
    let output = rehearse_without_account(directory.path(), &config, &scenario).expect(0);
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    // co-x1 (explicit), checkout's abortable co-c1 and co-c2, payment's waiting co-p1; not
    // the finished co-c3 and co-p2, nor co-p3 (running, but not a status asked for): the
    // snapshot shows what the selectors found, then the simulator's counts.
    assert_cli_snapshot!(stderr);
    assert!(stdout.contains("Plan: 4 to abort"), "{stdout}");
    for id in ["co-x1", "co-c1", "co-c2", "co-p1"] {
        assert!(stdout.contains(&format!("{id}: aborted")), "{id}: {stdout}");
    }
    for id in ["co-c3", "co-p2", "co-p3"] {
        assert!(
            !stdout.contains(&format!("{id}: aborted")),
            "{id}: {stdout}"
        );
    }
}

#[test]
fn a_rehearsal_selector_naming_no_scenario_application_is_refused_with_the_closest() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("edas-rollback.yaml");
    std::fs::write(
        &config,
        "version: 1\nprovider:\n  region: cn-hangzhou\nselect:\n  - app_name: chekout\nchange_orders: []\n",
    )
    .unwrap();
    let scenario = directory.path().join("scenario.yaml");
    std::fs::write(&scenario, SELECTOR_SCENARIO).unwrap();
    let output = rehearse_without_account(directory.path(), &config, &scenario).expect(1);
    assert!(!output.stderr.contains("aborts committed"), "{output}");
    assert_cli_snapshot!(output.stderr);
}

/// The shipped by-application runbook sets `apply.require_refresh: true`; a rehearsal plans
/// against its embedded simulator the instant before sending, so the guard must not refuse
/// it (it did: the runbook could not be rehearsed at all).
#[test]
fn the_shipped_by_application_runbook_with_require_refresh_is_rehearsed_with_its_scenario() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("incident-by-app.yaml");
    std::fs::copy(repository_file("examples/incident-by-app.yaml"), &config).unwrap();
    let output = rehearse_without_account(
        directory.path(),
        &config,
        &repository_file("examples/scenarios/incident-by-app.yaml"),
    )
    .expect(0);
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    // Selected: checkout's running and waiting ones, payment's waiting one (its selector names
    // the waiting statuses only); never the finished, the too-old or payment's running one.
    for selected in [
        "0c9a1d2e-1111-4a5b-8c6d-000000000001",
        "0c9a1d2e-1111-4a5b-8c6d-000000000002",
        "0c9a1d2e-2222-4a5b-8c6d-000000000001",
    ] {
        assert!(stdout.contains(&format!("{selected}: aborted")), "{stdout}");
    }
    for untouched in [
        "0c9a1d2e-1111-4a5b-8c6d-000000000003",
        "0c9a1d2e-1111-4a5b-8c6d-000000000004",
        "0c9a1d2e-2222-4a5b-8c6d-000000000002",
    ] {
        assert!(!stdout.contains(untouched), "{stdout}");
    }
    assert!(
        stdout.contains("0c9a1d2e-2222-4a5b-8c6d-000000000001  payment  [RollbackChangeOrder]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("By application: config-center: 1 change order, checkout: 2, payment: 1."),
        "{stdout}"
    );
    assert!(stderr.contains("4 aborts committed"), "{stderr}");
    assert!(
        stderr.contains("No change order was aborted twice."),
        "{stderr}"
    );
    // Nothing is written beside the runbook: the state lives in the scratch directory.
    assert!(!directory.path().join("inc-2077.state.json").exists());
}

/// A selector that matches nothing is said out loud (a wrong app id or window, at 3 a.m.,
/// must not plan silently without its change orders); the explicit ids still run.
#[test]
fn a_selector_that_matches_nothing_is_a_warning_naming_it() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("incident-by-app.yaml");
    std::fs::copy(repository_file("examples/incident-by-app.yaml"), &config).unwrap();
    // The bad-day scenario seeds no applications: both selectors find nothing.
    let output = rehearse_without_account(
        directory.path(),
        &config,
        &repository_file("examples/scenarios/bad-day.yaml"),
    );
    assert!(
        output
            .stdout
            .contains("6b55106c-c7f2-40f7-a1d4-0928700bbbbb: aborted"),
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
