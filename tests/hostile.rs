//! The hostile environment of docs/RELIABILITY.md: a shell that points somewhere else, signals
//! from CI and dropped sessions, servers that trickle or stall, absurd durations and sizes,
//! files in the wrong place and hostile server text. Each test drives the real binary against
//! the simulator or a small hostile server it starts on 127.0.0.1, and each names the hole
//! it closes.

use edas_rollback::sim::Faults;
use std::process::Stdio;
use std::time::Duration;

mod support;

use support::{Sim, Workspace, assert_exit, run, text};

/// The binary with the simulator's credentials and no `--endpoint` flag, so the config or
/// `EDAS_ENDPOINT` decides.
fn without_endpoint_flag(workspace: &Workspace, args: &[&str]) -> std::process::Command {
    let mut command = workspace.bare_command(args);
    command
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            edas_rollback::sim::DEFAULT_ACCESS_KEY_ID,
        )
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            edas_rollback::sim::DEFAULT_ACCESS_KEY_SECRET,
        );
    command
}

// ---- 1. A reviewed plan goes only where it was reviewed ----

#[test]
fn a_plan_reviewed_for_one_endpoint_is_refused_when_edas_endpoint_points_elsewhere() {
    // The plan is made for "production" (one simulator); the shell still exports a leftover
    // simulator's address. Before the fix the aborts went to the leftover one.
    let production = Sim::any_id(Faults::default(), 1);
    let leftover = Sim::any_id(Faults::default(), 2);
    let workspace = Workspace::new(3);
    assert_exit(
        &run(workspace.command(&production.endpoint(), &["plan", "--out", "plan.json"])),
        0,
    );
    let mut apply = without_endpoint_flag(&workspace, &["apply", "plan.json"]);
    apply.env("EDAS_ENDPOINT", leftover.endpoint());
    let output = run(apply);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&production.endpoint()), "{stderr}");
    assert!(stderr.contains(&leftover.endpoint()), "{stderr}");
    assert!(stderr.contains("EDAS_ENDPOINT"), "{stderr}");
    assert_eq!(
        leftover.stats().totals.requests,
        0,
        "nothing reached the leftover"
    );
    assert_eq!(production.stats().totals.requests, 0);
    assert!(workspace.read_state().is_none(), "no state was written");
}

#[test]
fn a_plan_made_with_endpoint_at_a_simulator_is_refused_against_the_configs_endpoint() {
    let sim = Sim::any_id(Faults::default(), 3);
    let workspace = Workspace::new(2);
    assert_exit(
        &run(workspace.command(&sim.endpoint(), &["plan", "--out", "plan.json"])),
        0,
    );
    let output = run(without_endpoint_flag(&workspace, &["apply", "plan.json"]));
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&sim.endpoint()), "{stderr}");
    assert!(
        stderr.contains("https://edas.cn-hangzhou.aliyuncs.com"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert!(workspace.read_state().is_none());
}

#[test]
fn a_region_edited_after_review_is_refused() {
    let sim = Sim::any_id(Faults::default(), 4);
    let workspace = Workspace::new(2);
    assert_exit(
        &run(workspace.command(&sim.endpoint(), &["plan", "--out", "plan.json"])),
        0,
    );
    let config = workspace.path("edas-rollback.yaml");
    let edited = std::fs::read_to_string(&config)
        .unwrap()
        .replace("region: cn-hangzhou", "region: cn-shanghai");
    std::fs::write(&config, edited).unwrap();
    let output = run(workspace.command(&sim.endpoint(), &["apply", "plan.json"]));
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("`cn-hangzhou`"), "{stderr}");
    assert!(stderr.contains("`cn-shanghai`"), "{stderr}");
    assert_eq!(sim.stats().totals.requests, 0);
}

#[test]
fn a_plan_for_config_a_is_refused_with_dash_c_b_when_neither_state_exists() {
    let sim = Sim::any_id(Faults::default(), 5);
    let workspace = Workspace::new(2);
    // The same content under another name: another config, with another state file.
    std::fs::copy(
        workspace.path("edas-rollback.yaml"),
        workspace.path("other.yaml"),
    )
    .unwrap();
    assert_exit(
        &run(workspace.command(&sim.endpoint(), &["plan", "--out", "plan.json"])),
        0,
    );
    let output =
        run(workspace.command(&sim.endpoint(), &["-c", "other.yaml", "apply", "plan.json"]));
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("`edas-rollback.yaml`"), "{stderr}");
    assert!(stderr.contains("`other.yaml`"), "{stderr}");
    assert_eq!(sim.stats().totals.requests, 0);
    assert!(!workspace.path("other.state.json").exists());
    assert!(!workspace.path("edas-rollback.state.json").exists());
}

#[test]
fn a_plan_applied_where_it_was_reviewed_records_the_endpoint_of_each_outcome() {
    let sim = Sim::any_id(Faults::default(), 6);
    let workspace = Workspace::new(3);
    assert_exit(
        &run(workspace.command(&sim.endpoint(), &["plan", "--out", "plan.json"])),
        0,
    );
    // The same file through another spelling of its path is the same config.
    let output = run(workspace.command(
        &sim.endpoint(),
        &["-c", "./edas-rollback.yaml", "apply", "plan.json"],
    ));
    assert_exit(&output, 0);
    let state = workspace.state();
    for id in &workspace.ids {
        let record = &state["change_orders"][id];
        assert_eq!(record["status"], "aborted", "{record}");
        assert_eq!(record["endpoint"], sim.endpoint(), "{record}");
    }
    let _ = Stdio::null();
    let _ = Duration::ZERO;
}
