//! `rehearse` end to end: the real binary, its embedded simulator, a scratch state.

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

fn rehearse(config: &Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("edas-rollback")
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
        .unwrap()
}

#[test]
fn rehearsing_the_incident_runbook_aborts_every_change_order_once_and_writes_nothing_beside_it() {
    let (directory, config) = incident_in_tempdir();
    let output = rehearse(&config, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Plan: 3 to abort"), "{stdout}");
    assert_eq!(
        stdout.matches(": aborted [RequestId").count(),
        3,
        "{stdout}"
    );
    assert!(stderr.contains("nothing leaves this machine"), "{stderr}");
    assert!(stderr.contains("3 aborts committed"), "{stderr}");
    assert!(
        stderr.contains("No change order was aborted twice."),
        "{stderr}"
    );
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
    let output = rehearse(&config, &["--scenario", scenario.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // One change order had already succeeded: it cannot be aborted, so the run exits 1 and
    // names it, while the other two end aborted, each exactly once.
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
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
    let output = rehearse(&config, &["--scenario", scenario.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("scenario.yaml") && stderr.contains("drop_rate"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
