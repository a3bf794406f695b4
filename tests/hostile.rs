//! The hostile environment of docs/RELIABILITY.md: a shell that points somewhere else, signals
//! from CI and dropped sessions, servers that trickle or stall, absurd durations and sizes,
//! files in the wrong place and hostile server text. Each test drives the real binary against
//! the simulator or a small hostile server it starts on 127.0.0.1, and each names the hole
//! it closes.

use edas_rollback::sim::{Faults, Latency};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod support;

use support::{
    Sim, Workspace, assert_all_aborted_exactly_once, assert_exit, run, text, wait_until,
};

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
}

// ---- 2. SIGTERM and SIGHUP stop a run like the first Ctrl-C ----

fn send_signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

/// Starts a slow apply of 200, sends `signal` once some aborts were answered, and checks the
/// run drained, saved, said so, exited 130, and that the next apply finishes the rest with no
/// duplicate. Before the fix SIGTERM exited 143 and SIGHUP 129 at once, with no save.
fn a_signal_stops_the_run_like_ctrl_c(signal: &str) {
    let sim = Sim::any_id(
        Faults {
            latency: Latency::Fixed(Duration::from_millis(50)),
            ..Faults::default()
        },
        7,
    );
    let workspace = Workspace::new(200);
    let child = workspace
        .command(
            &sim.endpoint(),
            &["apply", "--auto-approve", "--parallelism", "4"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), || workspace.journal_lines() > 40);
    send_signal(&child, signal);
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 130);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(stdout.contains("Apply interrupted!"), "{stdout}");
    assert!(
        stderr.contains(&format!("Interrupted by SIG{signal}")),
        "{stderr}"
    );
    assert!(!workspace.journal_path().exists(), "saved and folded");
    let state = workspace.state();
    let records = state["change_orders"].as_object().unwrap();
    let commits = sim.commits();
    let committed = commits.values().filter(|count| **count == 1).count();
    assert!(committed > 0 && committed < 200, "{committed}");
    assert_eq!(records.len(), committed, "every answer was saved");
    for (id, record) in records {
        assert_eq!(record["status"], "aborted", "{id}: {record}");
    }
    let rest = run(workspace.command(&sim.endpoint(), &["apply", "--auto-approve"]));
    assert_exit(&rest, 0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}

#[test]
fn sigterm_finishes_what_is_in_flight_saves_and_exits_130() {
    a_signal_stops_the_run_like_ctrl_c("TERM");
}

#[test]
fn sighup_finishes_what_is_in_flight_saves_and_exits_130() {
    a_signal_stops_the_run_like_ctrl_c("HUP");
}

#[test]
fn a_second_sigterm_exits_at_once_and_the_journal_is_folded_by_the_next_apply() {
    // Every answer takes 3 s, so a drain would take seconds; the second signal must not wait.
    let sim = Sim::any_id(
        Faults {
            latency: Latency::Fixed(Duration::from_secs(3)),
            ..Faults::default()
        },
        8,
    );
    let workspace = Workspace::new(20);
    let child = workspace
        .command(
            &sim.endpoint(),
            &["apply", "--auto-approve", "--parallelism", "4"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), || workspace.journal_lines() >= 5);
    send_signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(300));
    let second = Instant::now();
    send_signal(&child, "TERM");
    let output = child.wait_with_output().unwrap();
    let took = second.elapsed();
    assert_exit(&output, 130);
    assert!(took < Duration::from_millis(1500), "exited after {took:?}");
    // Whatever the second signal cut off is in the journal; the next apply finishes it
    // (verifying the unknown ones first) with nothing aborted twice.
    let rest = run(workspace.command(&sim.endpoint(), &["apply", "--auto-approve"]));
    assert_exit(&rest, 0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}
