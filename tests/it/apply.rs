//! `apply` as an SRE runs it: the real binary in a temp dir, against the real simulator over
//! loopback (in this process, so its counters prove that nothing was aborted twice or missed).
//! Time is asserted only with generous bounds; the precise numbers are in `benches/apply.rs`.

use edas_rollback::sim::{Faults, Latency, SimConfig};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support;

use support::{
    Run, Sim, Workspace, assert_all_aborted_exactly_once, assert_cli_snapshot,
    assert_cli_snapshot_counts_hidden, assert_exit, run, send_signal, text, wait_until,
};

#[test]
fn a_thousand_change_orders_are_each_aborted_exactly_once_with_every_request_id_recorded() {
    let sim = Sim::any_id(Faults::default(), 42);
    let workspace = Workspace::new(1_000);
    let output = run(workspace.command(
        &sim.endpoint(),
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "20",
            "--requests-per-second",
            "2000",
        ],
    ));
    assert_exit(&output, 0);
    // The thousand result lines are checked through the state below; the summary is the
    // output's last line (a whole run's output is snapshotted in
    // `a_saved_plan_applied_twice_is_refused_the_second_time_and_sends_nothing`).
    assert_cli_snapshot!(text(&output.stdout).lines().last().unwrap_or_default());
    assert_all_aborted_exactly_once(&workspace, &sim);
    let stats = sim.stats();
    assert_eq!(stats.totals.aborts_received, 1_000);
    assert_eq!(stats.totals.info_requests, 0);
    // Every RequestId the state holds is a different one.
    let state = workspace.state();
    let mut request_ids: Vec<&str> = state["change_orders"]
        .as_object()
        .unwrap()
        .values()
        .map(|record| record["request_id"].as_str().unwrap())
        .collect();
    request_ids.sort_unstable();
    request_ids.dedup();
    assert_eq!(request_ids.len(), 1_000);
    assert_eq!(state["serial"], 1, "one save for the whole run");
}

#[test]
fn a_throttled_service_slows_the_run_down_and_no_change_order_fails() {
    let sim = Sim::any_id(
        Faults {
            requests_per_second: Some(50),
            ..Faults::default()
        },
        42,
    );
    let workspace = Workspace::new(300);
    let start = Instant::now();
    let output = run(workspace.command(
        &sim.endpoint(),
        &["apply", "--auto-approve", "--requests-per-second", "200"],
    ));
    let elapsed = start.elapsed();
    assert_exit(&output, 0);
    assert_all_aborted_exactly_once(&workspace, &sim);
    assert!(sim.stats().totals.throttled > 0, "the limit was reached");
    // When and how often the service throttles is timing, so the snapshot-free check: the
    // run said it slowed down.
    let stderr = text(&output.stderr);
    assert!(
        stderr
            .lines()
            .any(|line| line.starts_with("warning: throttled by the service: slowing down to ")),
        "{stderr}"
    );
    // The simulator's bucket lets one second's worth through at once, then 50/s: the ideal
    // is (300 - 50) / 50 = 5 s. Generous here; measured precisely in the benchmark.
    assert!(elapsed < Duration::from_secs(5).mul_f64(1.6), "{elapsed:?}");
}

#[test]
fn lost_responses_and_503s_are_verified_and_nothing_is_aborted_twice() {
    let sim = Sim::any_id(
        Faults {
            fail_rate: 0.05,
            drop_rate: 0.05,
            ..Faults::default()
        },
        42,
    );
    let workspace = Workspace::new(400);
    let output = run(workspace.command(
        &sim.endpoint(),
        &["apply", "--auto-approve", "--requests-per-second", "1000"],
    ));
    assert_exit(&output, 0);
    assert_all_aborted_exactly_once(&workspace, &sim);
    let stats = sim.stats();
    assert!(stats.totals.dropped > 0 && stats.totals.unavailable > 0);
    assert!(
        stats.totals.info_requests > 0,
        "ambiguous answers were verified"
    );
    let state = workspace.state();
    let confirmed = state["change_orders"]
        .as_object()
        .unwrap()
        .values()
        .filter(|record| record["confirmed_by_status"] == true)
        .count();
    assert!(confirmed > 0, "lost responses were confirmed by status");
}

#[test]
fn a_wrong_secret_stops_early_with_a_clear_error_and_a_consistent_state() {
    let sim = Sim::any_id(Faults::default(), 42);
    let workspace = Workspace::new(200).against(&sim);
    let mut command = workspace.binary(&["apply", "--auto-approve", "--parallelism", "4"]);
    command.env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "NotTheSecret");
    let output = Run::from(run(command)).expect(1);
    let stderr = &output.stderr;
    assert!(
        !output.both().contains("NotTheSecret"),
        "the secret never appears"
    );
    // How many of the 4 in flight were answered before the stop is timing: counts hidden.
    assert_cli_snapshot_counts_hidden!("wrong_secret_stderr", stderr);
    assert_cli_snapshot_counts_hidden!(
        "wrong_secret_stdout",
        support::without_outcomes(support::after_the_plan(&output.stdout))
    );
    let stats = sim.stats();
    assert_eq!(stats.totals.aborts_committed, 0);
    assert!(
        stats.totals.requests <= 8,
        "stopped early: {} requests",
        stats.totals.requests
    );
    // What was sent is recorded as failed with the service's code; the rest is untouched.
    let state = workspace.state();
    let records = state["change_orders"].as_object().unwrap();
    assert!(!records.is_empty() && records.len() as u64 <= stats.totals.requests);
    for record in records.values() {
        assert_eq!(record["status"], "failed");
        assert_eq!(record["code"], "SignatureDoesNotMatch");
    }
    assert!(!workspace.journal_path().exists());
}

/// Issue 11: EDAS answers a RAM user without the permission with HTTP 200 and body `Code`
/// 401. That used to be one failed record per change order: all 300 requests were sent.
#[test]
fn a_ram_user_without_permission_stops_a_300_change_order_apply_after_at_most_parallelism_requests()
{
    let sim = Sim::start(SimConfig {
        any_id: true,
        denied: Some(401),
        ..SimConfig::default()
    });
    let workspace = Workspace::new(300);
    let output = run(workspace.command(
        &sim.endpoint(),
        &["apply", "--auto-approve", "--parallelism", "5"],
    ));
    assert_exit(&output, 1);
    // One message naming the permission; how many of the 5 in flight were answered is
    // timing: counts hidden.
    assert_cli_snapshot_counts_hidden!("ram_denied_stderr", text(&output.stderr));
    assert_cli_snapshot_counts_hidden!(
        "ram_denied_stdout",
        support::without_outcomes(support::after_the_plan(&text(&output.stdout)))
    );
    let stats = sim.stats();
    assert!(
        stats.totals.aborts_received <= 5,
        "stopped after at most `parallelism` requests: {} sent",
        stats.totals.aborts_received
    );
    assert_eq!(stats.totals.aborts_committed, 0);
    let state = workspace.state();
    let records = state["change_orders"].as_object().unwrap();
    assert!(
        records.len() as u64 <= stats.totals.aborts_received,
        "{records:?}"
    );
    for record in records.values() {
        assert_eq!(record["code"], "401");
    }
}

/// Writes a config declaring `ack` change orders (default operation) and `ecs` ones
/// (`operation: rollback`) into `workspace`, replacing its own.
fn write_mixed_config(workspace: &Workspace, ack: &[&str], ecs: &[&str]) {
    let mut yaml = String::from("version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n");
    for id in ack {
        yaml.push_str(&format!("  - id: {id}\n"));
    }
    for id in ecs {
        yaml.push_str(&format!("  - id: {id}\n    operation: rollback\n"));
    }
    std::fs::write(workspace.path("edas-rollback.yaml"), yaml).unwrap();
}

/// Issue 11: applications in ECS clusters roll back with RollbackChangeOrder; there was no
/// way to send it, so a batch across an estate stopped halfway.
#[test]
fn a_config_mixing_ack_and_ecs_change_orders_sends_each_its_call_and_records_all_done() {
    let ack = ["ack-0001", "ack-0002"];
    let ecs = ["ecs-0001", "ecs-0002"];
    let sim = Sim::start(SimConfig {
        change_orders: ack
            .iter()
            .chain(ecs.iter())
            .map(|id| (edas_rollback::ids::ChangeOrderId::new(*id), 1))
            .collect(),
        ecs_change_orders: ecs
            .iter()
            .map(|id| edas_rollback::ids::ChangeOrderId::new(*id))
            .collect(),
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0).against(&sim);
    write_mixed_config(&workspace, &ack, &ecs);
    let plan = workspace.plan(&["--out", "plan.json"]).expect(0);
    // The plan names each row's call.
    assert_cli_snapshot!(plan.stdout);
    let plan_file: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace.path("plan.json")).unwrap())
            .unwrap();
    let operations: Vec<&str> = plan_file["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        [
            "abort_and_rollback",
            "abort_and_rollback",
            "rollback",
            "rollback"
        ]
    );
    workspace.run(&["apply", "plan.json"]).expect(0);
    let stats = sim.stats();
    for id in ack {
        let counts = &stats.change_orders[id];
        assert_eq!(counts.aborts_received, 1, "{id}");
        assert_eq!(
            counts.rollback_requests, 0,
            "{id}: AbortAndRollbackChangeOrder"
        );
        assert_eq!(counts.aborts_committed, 1, "{id}");
    }
    for id in ecs {
        let counts = &stats.change_orders[id];
        assert_eq!(counts.rollback_requests, 1, "{id}: RollbackChangeOrder");
        assert_eq!(counts.aborts_received, 1, "{id}");
        assert_eq!(counts.aborts_committed, 1, "{id}");
    }
    let state = workspace.state();
    for (id, operation) in [
        (ack[0], "abort_and_rollback"),
        (ack[1], "abort_and_rollback"),
        (ecs[0], "rollback"),
        (ecs[1], "rollback"),
    ] {
        let record = &state["change_orders"][id];
        assert_eq!(record["status"], "aborted", "{id}");
        assert_eq!(
            record["operation"], operation,
            "{id}: the state says which call was sent"
        );
    }
}

/// Issue 11: when EDAS refuses the call because the application is in the other kind of
/// cluster, the message names the operation to use.
#[test]
fn an_ecs_change_order_declared_as_ack_fails_with_a_message_naming_operation_rollback() {
    let sim = Sim::start(SimConfig {
        change_orders: vec![(edas_rollback::ids::ChangeOrderId::new("ecs-0001"), 1)],
        ecs_change_orders: [edas_rollback::ids::ChangeOrderId::new("ecs-0001")]
            .into_iter()
            .collect(),
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0).against(&sim);
    write_mixed_config(&workspace, &["ecs-0001"], &[]);
    let output = workspace.apply(&[]).expect(1);
    assert_cli_snapshot!("ecs_as_ack_stdout", output.stdout);
    assert_eq!(output.stderr, "");
    assert_eq!(sim.stats().change_orders["ecs-0001"].aborts_committed, 0);
    assert_eq!(
        workspace.state()["change_orders"]["ecs-0001"]["status"],
        "failed"
    );
}

#[test]
fn a_saved_plan_applied_twice_is_refused_the_second_time_and_sends_nothing() {
    let sim = Sim::any_id(Faults::default(), 42);
    let workspace = Workspace::new(5).against(&sim);
    workspace.plan(&["--out", "plan.json"]).expect(0);
    let applied = workspace.run(&["apply", "plan.json"]).expect(0);
    assert_cli_snapshot!("applied", support::sorted_outcomes(&applied.stdout));
    assert_eq!(applied.stderr, "");
    let requests = sim.stats().totals.requests;
    assert_eq!(requests, 5);
    // Signature V3 is the default.
    assert_eq!(sim.stats().totals.signed_v3, 5);

    let again = workspace.run(&["apply", "plan.json"]).expect(1);
    let lineage = workspace.state()["lineage"].as_str().unwrap().to_string();
    assert_cli_snapshot!("applied_again", again.stderr.replace(&lineage, "[LINEAGE]"));
    assert_eq!(sim.stats().totals.requests, requests, "nothing was sent");
    assert_eq!(workspace.state()["serial"], 1);
}

#[test]
fn a_saved_plan_is_applied_with_its_signature_and_refused_when_the_config_changed_it() {
    let sim = Sim::any_id(Faults::default(), 43);
    let workspace = Workspace::new(3).against(&sim);
    let config = workspace.path("edas-rollback.yaml");
    let v3 = std::fs::read_to_string(&config).unwrap();
    let legacy = v3.replace(
        "  region: cn-hangzhou\n",
        "  region: cn-hangzhou\n  signature_algorithm: HMAC-SHA1\n",
    );
    std::fs::write(&config, &legacy).unwrap();
    workspace.plan(&["--out", "plan.json"]).expect(0);
    let plan = workspace.json("plan.json");
    assert_eq!(plan["signature_algorithm"], "HMAC-SHA1", "{plan}");

    // The config now says V3: the plan pinned v1, so apply refuses it and sends nothing.
    std::fs::write(&config, &v3).unwrap();
    let refused = workspace.run(&["apply", "plan.json"]).expect(1);
    assert_cli_snapshot!(refused.stderr);
    assert_eq!(sim.stats().totals.requests, 0, "nothing was sent");

    // Back to the plan's setting: applied, signed the legacy way, and accepted.
    std::fs::write(&config, &legacy).unwrap();
    workspace.run(&["apply", "plan.json"]).expect(0);
    let stats = sim.stats();
    assert_eq!(stats.totals.aborts_committed, 3);
    assert_eq!(stats.totals.signature_failures, 0);
    assert_eq!((stats.totals.signed_roa_v1, stats.totals.signed_v3), (3, 0));
}

#[test]
fn a_second_apply_fails_at_once_on_the_lock_naming_the_first() {
    let sim = Sim::slow(Duration::from_millis(200), 42);
    let workspace = Workspace::new(20).against(&sim);
    let mut first = workspace
        .binary(&["apply", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(20), || workspace.journal_lines() > 1);
    let second = workspace.apply(&[]).expect(1);
    // It names the first run's pid; the lock's id is random.
    let pid = format!("pid {}", first.id());
    let mut settings = support::cli_snapshot_settings();
    settings.add_filter(
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        "[LOCK-ID]",
    );
    settings.bind(|| insta::assert_snapshot!(second.stderr.replace(&pid, "pid [FIRST-RUN]")));
    assert_eq!(second.stdout, "");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_all_aborted_exactly_once(&workspace, &sim);
}

#[test]
fn ctrl_c_finishes_what_is_in_flight_exits_130_and_the_next_apply_finishes_the_rest() {
    let sim = Sim::slow(Duration::from_millis(50), 42);
    let workspace = Workspace::new(200).against(&sim);
    let child = workspace.spawn(&["apply", "--auto-approve", "--parallelism", "4"]);
    wait_until(Duration::from_secs(30), || workspace.journal_lines() > 40);
    send_signal(&child, "INT");
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 130);
    // How many were answered before the signal is timing: result lines dropped, counts hidden.
    assert_cli_snapshot_counts_hidden!(
        "interrupted_stdout",
        support::without_outcomes(support::after_the_plan(&text(&output.stdout)))
    );
    assert_cli_snapshot_counts_hidden!(
        "interrupted_stderr",
        support::without_outcomes(&text(&output.stderr))
    );
    assert!(
        !workspace.journal_path().exists(),
        "saved and folded before exiting"
    );

    // Consistent: everything the simulator committed is recorded aborted, nothing else is.
    let state = workspace.state();
    let records = state["change_orders"].as_object().unwrap();
    let stats = sim.stats();
    let committed: Vec<&String> = stats
        .change_orders
        .iter()
        .filter(|(_, counts)| counts.aborts_committed == 1)
        .map(|(id, _)| id)
        .filter(|id| workspace.ids.contains(id))
        .collect();
    assert!(!committed.is_empty() && committed.len() < 200);
    for id in &committed {
        assert_eq!(records[id.as_str()]["status"], "aborted");
    }
    assert_eq!(records.len(), committed.len());

    workspace.apply(&[]).expect(0);
    assert_all_aborted_exactly_once(&workspace, &sim);
    for id in &workspace.ids {
        assert_eq!(sim.stats().change_orders[id].aborts_received, 1, "{id}");
    }
}

#[test]
fn a_killed_apply_is_recovered_from_the_journal_and_finished_with_no_duplicate_and_none_missed() {
    let sim = Sim::any_id(
        Faults {
            latency: Latency::Range(Duration::from_millis(5), Duration::from_millis(40)),
            ..Faults::default()
        },
        42,
    );
    let workspace = Workspace::new(150).against(&sim);
    let endpoint = sim.endpoint();
    // Kill at several points of successive runs: early, in the middle, late.
    for kill_after_lines in [5, 60, 120] {
        let mut child = workspace
            .command(
                &endpoint,
                &["apply", "--auto-approve", "--parallelism", "8"],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until(Duration::from_secs(30), || {
            workspace.journal_lines() > kill_after_lines
        });
        assert!(child.try_wait().unwrap().is_none(), "killed mid-run");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            workspace.journal_path().exists(),
            "a SIGKILL leaves the journal"
        );
        // The next command, whatever it is, folds the leftover journal first.
        let list = workspace.run(&["state", "list"]).expect(0);
        // Where the kill fell is timing: counts hidden, and whether it tore a line.
        assert_cli_snapshot_counts_hidden!(
            "recovered",
            list.stderr.replace(", a torn last line dropped", "")
        );
        assert!(!workspace.journal_path().exists());
        let stats = sim.stats();
        assert!(
            stats
                .change_orders
                .values()
                .all(|counts| counts.aborts_committed <= 1),
            "never aborted twice"
        );
    }
    workspace.apply(&[]).expect(0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}

#[test]
fn without_a_terminal_apply_needs_auto_approve_json_is_only_json_and_a_second_run_has_nothing_to_do()
 {
    let sim = Sim::any_id(Faults::default(), 42);
    let workspace = Workspace::new(3).against(&sim);

    let refused = workspace.run(&["apply"]).expect(1);
    assert_cli_snapshot!("no_terminal_no_auto_approve", refused.stderr);
    assert_eq!(sim.stats().totals.requests, 0, "nothing was sent");

    let json = workspace.apply(&["--json"]).expect(0);
    let lines: Vec<Value> = json
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("every stdout line is a JSON object"))
        .collect();
    let types: Vec<&str> = lines
        .iter()
        .map(|line| line["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"version"));
    assert_eq!(types.last(), Some(&"change_summary"));
    for kind in ["planned_change", "apply_start", "apply_complete"] {
        assert_eq!(
            types.iter().filter(|t| **t == kind).count(),
            3,
            "{kind}: {types:?}"
        );
    }
    assert_eq!(lines.last().unwrap()["changes"]["aborted"], 3);
    assert!(lines.iter().all(|line| line["@timestamp"].is_string()));

    let again = workspace.apply(&[]).expect(0);
    assert_cli_snapshot!("nothing_to_do", again.both());
    assert_eq!(sim.stats().totals.requests, 3);
}

#[test]
fn wait_polls_each_rollback_until_it_ends_and_records_it() {
    let sim = Sim::start(SimConfig {
        any_id: true,
        rollback_duration: Duration::from_millis(300),
        ..SimConfig::default()
    });
    let workspace = Workspace::new(4);
    let output = run(workspace.command(
        &sim.endpoint(),
        &["apply", "--auto-approve", "--wait", "--wait-timeout", "30s"],
    ));
    assert_exit(&output, 0);
    assert_cli_snapshot!(support::sorted_outcomes(&text(&output.stdout)));
    let state = workspace.state();
    for record in state["change_orders"].as_object().unwrap().values() {
        assert_eq!(record["status"], "aborted");
        assert_eq!(record["rollback_status"], "succeeded");
    }
}

// --- guards (docs/CONFIG.md "Guards") ------------------------------------------------------

/// A config of `ids` with `apply_section` (YAML lines under `apply:`).
fn write_guarded_config(workspace: &Workspace, apply_section: &str, ids: &[String]) {
    let mut yaml = format!(
        "version: 1\nprovider:\n  region: cn-hangzhou\napply:\n{apply_section}change_orders:\n"
    );
    for id in ids {
        yaml.push_str(&format!("  - id: {id}\n"));
    }
    std::fs::write(workspace.path("edas-rollback.yaml"), yaml).unwrap();
}

#[test]
fn max_change_orders_refuses_a_bigger_plan_at_plan_and_at_apply_and_nothing_is_sent() {
    let sim = Sim::any_id(Faults::default(), 3);
    let workspace = Workspace::new(5).against(&sim);
    write_guarded_config(&workspace, "  max_change_orders: 3\n", &workspace.ids);

    let plan = workspace.plan(&["--out", "plan.json"]).expect(1);
    assert_cli_snapshot!("max_change_orders_plan", plan.stderr);
    assert!(
        !workspace.path("plan.json").exists(),
        "no plan file is written"
    );

    let apply = workspace.apply(&[]).expect(1);
    assert_cli_snapshot!("max_change_orders_apply", apply.stderr);
    let stats = sim.stats();
    assert!(
        stats
            .change_orders
            .values()
            .all(|counts| counts.aborts_received == 0),
        "nothing was sent"
    );
    assert!(!workspace.state_path().exists(), "the state is untouched");

    // At the limit the same runbook runs.
    write_guarded_config(&workspace, "  max_change_orders: 5\n", &workspace.ids);
    workspace.apply(&[]).expect(0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}

#[test]
fn halt_after_failures_stops_starting_requests_and_leaves_the_rest_for_a_later_run() {
    let ids: Vec<String> = (0..10).map(|index| format!("co-{index:04}")).collect();
    // The first five finished releasing (status 2): EDAS refuses to abort them.
    let sim = Sim::start(SimConfig {
        change_orders: ids
            .iter()
            .enumerate()
            .map(|(index, id)| {
                (
                    edas_rollback::ids::ChangeOrderId::new(id.as_str()),
                    if index < 5 { 2 } else { 1 },
                )
            })
            .collect(),
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0).against(&sim);
    write_guarded_config(
        &workspace,
        "  parallelism: 1\n  halt_after_failures: 30%\n",
        &ids,
    );
    let apply = workspace.apply(&[]).expect(1);
    // Parallelism 1: the order is the plan's.
    assert_cli_snapshot!(apply.both());
    let stats = sim.stats();
    let sent: u64 = ids
        .iter()
        .map(|id| {
            stats
                .change_orders
                .get(id)
                .map_or(0, |counts| counts.aborts_received)
        })
        .sum();
    assert_eq!(
        sent, 3,
        "exactly three aborts were sent before the breaker opened"
    );
    let state = workspace.state();
    // Refused because they already ended (status 2): counted as failures by the breaker, and
    // recorded `finished` with their status so the plan converges (docs/APPLY.md).
    for id in &ids[..3] {
        assert_eq!(state["change_orders"][id]["status"], "finished", "{id}");
        assert_eq!(state["change_orders"][id]["change_order_status"], 2, "{id}");
    }
    for id in &ids[3..] {
        assert!(state["change_orders"][id].is_null(), "{id} was not touched");
    }

    // A later run without the breaker finishes what was left: the next two fail, the rest
    // are aborted.
    write_guarded_config(&workspace, "  parallelism: 1\n", &ids);
    workspace.apply(&[]).expect(1);
    let state = workspace.state();
    for id in &ids[5..] {
        assert_eq!(state["change_orders"][id]["status"], "aborted", "{id}");
    }
}

#[test]
fn require_refresh_applies_only_a_plan_made_with_refresh() {
    let sim = Sim::any_id(Faults::default(), 5);
    let workspace = Workspace::new(3).against(&sim);
    write_guarded_config(&workspace, "  require_refresh: true\n", &workspace.ids);

    let stale = workspace.plan(&["--out", "stale.json"]).expect(0);
    assert_cli_snapshot!("plan_without_refresh", stale.stderr);
    let refused = workspace.run(&["apply", "stale.json"]).expect(1);
    assert_cli_snapshot!("apply_a_plan_without_refresh", refused.stderr);
    let direct = workspace.apply(&[]).expect(1);
    assert_cli_snapshot!("apply_without_a_plan", direct.stderr);
    assert!(
        sim.stats()
            .change_orders
            .values()
            .all(|counts| counts.aborts_received == 0),
        "nothing was sent"
    );

    workspace
        .plan(&["--refresh", "--out", "fresh.json"])
        .expect(0);
    let plan_file: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace.path("fresh.json")).unwrap())
            .unwrap();
    assert_eq!(plan_file["refreshed"], true);
    workspace.run(&["apply", "fresh.json"]).expect(0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}

fn id(text: &str) -> edas_rollback::ids::ChangeOrderId {
    edas_rollback::ids::ChangeOrderId::new(text)
}

/// Issue 10: a change order that ended by itself (status 2) was never recorded, so
/// `plan --detailed-exitcode` exited 2 forever and a CI apply failed on every run.
#[test]
fn a_finished_change_order_found_by_verification_is_recorded_and_the_plan_converges() {
    let sim = Sim::start(SimConfig {
        change_orders: vec![(id("co-running"), 1), (id("co-done"), 2)],
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0).against(&sim);
    write_mixed_config(&workspace, &["co-running", "co-done"], &[]);
    workspace.apply(&[]).expect(1);
    let state = workspace.state();
    assert_eq!(state["change_orders"]["co-done"]["status"], "finished");
    assert_eq!(state["change_orders"]["co-done"]["change_order_status"], 2);
    assert_eq!(state["change_orders"]["co-running"]["status"], "aborted");
    let requests = sim.stats().totals.requests;
    workspace.plan(&["--detailed-exitcode"]).expect(0);
    workspace.apply(&[]).expect(0);
    assert_eq!(
        sim.stats().totals.requests,
        requests,
        "nothing more is sent"
    );
}

/// Issue 10: `plan --refresh` sees a finished change order; applying that plan records it,
/// so the next plan is a no-op.
#[test]
fn a_finished_change_order_found_by_plan_refresh_is_recorded_when_the_plan_is_applied() {
    let sim = Sim::start(SimConfig {
        change_orders: vec![(id("co-partial"), 7), (id("co-stopped"), 6)],
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0).against(&sim);
    write_mixed_config(&workspace, &["co-partial", "co-stopped"], &[]);
    workspace
        .plan(&["--refresh", "--out", "plan.json"])
        .expect(0);
    workspace.run(&["apply", "plan.json"]).expect(0);
    assert_eq!(sim.stats().totals.aborts_received, 0, "nothing is sent");
    let state = workspace.state();
    assert_eq!(state["change_orders"]["co-partial"]["status"], "finished");
    assert_eq!(
        state["change_orders"]["co-partial"]["change_order_status"],
        7
    );
    assert_eq!(state["change_orders"]["co-stopped"]["status"], "aborted");
    workspace.plan(&["--detailed-exitcode"]).expect(0);
}

/// Issue 10: after `--wait` timed out, `apply --wait` said "nothing to do"; it now resumes
/// watching the rollbacks the state records as unfinished.
#[test]
fn apply_wait_resumes_watching_rollbacks_after_a_timed_out_wait() {
    let sim = Sim::start(SimConfig {
        any_id: true,
        rollback_duration: Duration::from_secs(3),
        ..SimConfig::default()
    });
    let workspace = Workspace::new(2).against(&sim);
    let endpoint = sim.endpoint();
    let first = run(workspace.command(
        &endpoint,
        &["apply", "--auto-approve", "--wait", "--wait-timeout", "1s"],
    ));
    assert_exit(&first, 1);
    for record in workspace.state()["change_orders"]
        .as_object()
        .unwrap()
        .values()
    {
        assert_eq!(record["rollback_status"], "timed_out");
    }
    let aborts = sim.stats().totals.aborts_received;
    let resumed = workspace
        .run(&["apply", "--wait", "--wait-timeout", "30s"])
        .expect(0);
    assert_cli_snapshot!(support::sorted_outcomes(&resumed.both()));
    assert_eq!(
        sim.stats().totals.aborts_received,
        aborts,
        "no abort is sent again"
    );
    for record in workspace.state()["change_orders"]
        .as_object()
        .unwrap()
        .values()
    {
        assert_eq!(record["rollback_status"], "succeeded");
    }
}

/// Issue 11: EDAS applies an abort asynchronously. A lost response, then a status that still
/// reads running: asking again over the verify window sees it stop; nothing is resent and
/// the change order is recorded aborted.
#[test]
fn an_abort_applied_after_a_delay_behind_a_lost_response_is_recorded_aborted_without_a_resend() {
    let mut faults = Faults::default();
    faults.scripted.insert(
        id("co-slow"),
        vec![edas_rollback::sim::ScriptedOutcome::Drop],
    );
    let sim = Sim::start(SimConfig {
        change_orders: vec![(id("co-slow"), 1)],
        abort_delay: Duration::from_millis(1500),
        faults,
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0).against(&sim);
    write_mixed_config(&workspace, &["co-slow"], &[]);
    workspace.apply(&[]).expect(0);
    let counts = &sim.stats().change_orders["co-slow"];
    assert_eq!(counts.aborts_received, 1, "never resent");
    assert_eq!(counts.aborts_committed, 1);
    assert!(counts.info_requests >= 2, "asked again over the window");
    let record = &workspace.state()["change_orders"]["co-slow"];
    assert_eq!(record["status"], "aborted");
    assert_eq!(record["confirmed_by_status"], true);
}

/// Issue 11, the rollback change order's id: an abort whose answer is dropped after commit is
/// confirmed by its status, with no `Data.ChangeOrderId`; `apply --wait` finds the rollback
/// change order with ListRecentChangeOrder (the config's `app_id`), follows it to its end and
/// records it. Without an `app_id` it says it could not be found and does not follow it.
#[test]
fn a_lost_abort_answer_s_rollback_is_found_by_the_list_and_followed_and_without_app_id_it_says_so()
{
    use edas_rollback::sim::{SimAppChangeOrder, SimApplication};
    let mut faults = Faults::default();
    for name in ["co-lost", "co-noapp", "co-elsewhere"] {
        faults
            .scripted
            .insert(id(name), vec![edas_rollback::sim::ScriptedOutcome::Drop]);
    }
    let order = |name: &str, create_time: &str| SimAppChangeOrder {
        id: id(name),
        status: 1,
        create_time: create_time.to_string(),
    };
    let sim = Sim::start(SimConfig {
        applications: vec![SimApplication {
            app_id: "app-checkout".to_string(),
            name: "checkout".to_string(),
            // An older deploy, and the change order to abort (created in the past, so the
            // rollback the abort creates is listed after it).
            change_orders: vec![
                order("co-old", "2020-01-01 00:00:00"),
                order("co-lost", "2020-01-02 00:00:00"),
            ],
        }],
        change_orders: vec![(id("co-noapp"), 1), (id("co-elsewhere"), 1)],
        rollback_duration: Duration::from_millis(300),
        faults,
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0);
    std::fs::write(
        workspace.path("edas-rollback.yaml"),
        "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  - id: co-lost\n    \
         app_id: app-checkout\n  - id: co-noapp\n  - id: co-elsewhere\n    app_id: app-other\n",
    )
    .unwrap();
    let output = run(workspace.command(
        &sim.endpoint(),
        &["apply", "--auto-approve", "--wait", "--wait-timeout", "30s"],
    ));
    let stdout = text(&output.stdout);
    let stats = sim.stats();
    let rollback = stats.change_orders["co-lost"]
        .rollback_change_order_id
        .clone()
        .expect("the simulator committed the abort");
    assert_eq!(stats.change_orders["co-lost"].aborts_committed, 1);
    assert_eq!(
        stats.change_orders["co-lost"].aborts_received, 1,
        "never resent"
    );
    let state = workspace.state();
    let lost = &state["change_orders"]["co-lost"];
    assert_eq!(lost["status"], "aborted");
    assert_eq!(lost["confirmed_by_status"], true);
    assert_eq!(lost["rollback_change_order_id"], rollback.as_str());
    assert_eq!(lost["rollback_status"], "succeeded", "followed to its end");
    assert!(
        stats.change_orders[rollback.as_str()].info_requests >= 1,
        "the found rollback was polled"
    );
    let noapp = &state["change_orders"]["co-noapp"];
    assert_eq!(noapp["status"], "aborted");
    assert!(noapp.get("rollback_change_order_id").is_none());
    assert!(noapp.get("rollback_status").is_none());
    // An application whose list does not hold the change order: said, not guessed.
    let elsewhere = &state["change_orders"]["co-elsewhere"];
    assert!(elsewhere.get("rollback_change_order_id").is_none());
    // Why each rollback could not be found, as the state records it and as the run said it.
    assert_cli_snapshot!(
        "lost_abort_state_messages",
        format!(
            "co-noapp: {}\nco-elsewhere: {}",
            noapp["message"].as_str().unwrap(),
            elsewhere["message"].as_str().unwrap()
        )
    );
    assert_cli_snapshot!(
        "lost_abort_stdout",
        support::sorted_outcomes(&stdout).replace(rollback.as_str(), "[ROLLBACK-ID]")
    );
    // All aborts are done (docs/CONTRACT.md: 0 all done); a rollback that could not be followed is
    // reported, as before this lookup existed, not turned into a failure.
    assert_exit(&output, 0);
}

// --- selectors (docs/CONFIG.md "Selectors") -----------------------------------------------

fn app_order(id: &str, status: i32, create_time: &str) -> edas_rollback::sim::SimAppChangeOrder {
    edas_rollback::sim::SimAppChangeOrder {
        id: edas_rollback::ids::ChangeOrderId::new(id),
        status,
        create_time: create_time.to_string(),
    }
}

fn selector_sim() -> Sim {
    use edas_rollback::sim::SimApplication;
    Sim::start(SimConfig {
        change_orders: vec![(edas_rollback::ids::ChangeOrderId::new("co-x1"), 1)],
        applications: vec![
            SimApplication {
                app_id: "app-checkout".to_string(),
                name: "checkout".to_string(),
                change_orders: vec![
                    app_order("co-c1", 1, "2026-11-30 19:00:00"),
                    app_order("co-c2", 8, "2026-11-30 19:10:00"),
                    app_order("co-c3", 2, "2026-11-30 18:00:00"),
                ],
            },
            SimApplication {
                app_id: "app-payment".to_string(),
                name: "payment".to_string(),
                change_orders: vec![
                    app_order("co-p1", 9, "2026-11-30 19:20:00"),
                    app_order("co-p2", 6, "2026-11-30 19:30:00"),
                ],
            },
            SimApplication {
                app_id: "app-search".to_string(),
                name: "search".to_string(),
                change_orders: vec![app_order("co-s1", 1, "2026-11-30 19:40:00")],
            },
        ],
        ..SimConfig::default()
    })
}

const SELECTOR_CONFIG: &str = "version: 1
provider:
  region: cn-hangzhou
select:
  - app_id: app-checkout
    app: checkout
  - app_id: app-payment
    app: payment
    statuses: [waiting_for_next_batch]
change_orders:
  - id: co-x1
    app: billing
  - id: co-c1
    reason: found by hand too
";

#[test]
fn a_selector_over_two_applications_and_an_explicit_id_is_planned_frozen_and_applied_exactly() {
    let sim = selector_sim();
    let workspace = Workspace::new(0);
    std::fs::write(workspace.path("edas-rollback.yaml"), SELECTOR_CONFIG).unwrap();
    let endpoint = sim.endpoint();

    let plan = run(workspace.command(&endpoint, &["plan", "--out", "plan.json"]));
    assert_exit(&plan, 0);
    let plan_file: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace.path("plan.json")).unwrap())
            .unwrap();
    let planned: Vec<(&str, &str)> = plan_file["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| {
            (
                action["change_order_id"].as_str().unwrap(),
                action["app"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // Explicit ids first (co-c1 found twice, planned once, as declared), then what the
    // selectors found: checkout's abortable ones, payment's waiting one.
    assert_eq!(
        planned,
        [
            ("co-x1", "billing"),
            ("co-c1", ""),
            ("co-c2", "checkout"),
            ("co-p1", "payment")
        ],
        "{}",
        text(&plan.stdout)
    );
    assert!(
        plan_file["actions"][2]["app_id"] == "app-checkout",
        "{plan_file}"
    );
    let stats = sim.stats();
    assert!(
        stats
            .change_orders
            .values()
            .all(|counts| counts.aborts_received == 0),
        "planning sends nothing"
    );

    // `plan --out` prints the saved plan grouped by application, the explicit id without
    // an application last; markdown the same.
    assert_cli_snapshot!("selector_plan_text", text(&plan.stdout));
    let markdown = run(workspace.command(&endpoint, &["plan", "--format", "markdown"]));
    assert_exit(&markdown, 0);
    assert_cli_snapshot!("selector_plan_markdown", text(&markdown.stdout));
    assert_eq!(plan_file["actions"][2]["selected_by"]["selector"], 0);
    assert_eq!(plan_file["actions"][2]["selected_by"]["status"], 8);
    assert_eq!(
        plan_file["actions"][2]["selected_by"]["create_time"],
        "2026-11-30 19:10:00"
    );
    assert_eq!(plan_file["actions"][3]["selected_by"]["selector"], 1);
    assert!(plan_file["actions"][0].get("selected_by").is_none());

    // The service moves on after the plan: someone stops co-c2 by other means, so a fresh
    // listing would no longer select it.
    std::fs::write(
        workspace.path("other.yaml"),
        "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  - id: co-c2\n",
    )
    .unwrap();
    let other = run(workspace.command(&endpoint, &["-c", "other.yaml", "apply", "--auto-approve"]));
    assert_exit(&other, 0);

    // The plan is frozen: apply sends exactly its four aborts and never lists again (co-c2
    // is found already stopped, which confirms it).
    let before = sim.stats().totals;
    let apply = run(workspace.command(&endpoint, &["apply", "plan.json"]));
    assert_exit(&apply, 0);
    let stats = sim.stats();
    let aborts = stats.totals.aborts_received - before.aborts_received;
    let infos = stats.totals.info_requests - before.info_requests;
    assert_eq!(aborts, 4, "exactly the frozen four");
    assert_eq!(
        stats.totals.requests - before.requests,
        aborts + infos,
        "nothing but aborts and status checks: no ListRecentChangeOrder at apply"
    );
    for id in ["co-x1", "co-c1", "co-p1"] {
        assert_eq!(stats.change_orders[id].aborts_received, 1, "{id}");
        assert_eq!(stats.change_orders[id].aborts_committed, 1, "{id}");
    }
    assert_eq!(
        stats.change_orders["co-c2"].aborts_received, 2,
        "sent as frozen"
    );
    assert_eq!(stats.change_orders["co-c2"].aborts_committed, 1);
    for id in ["co-c3", "co-p2", "co-s1"] {
        assert_eq!(stats.change_orders[id].aborts_received, 0, "{id}");
    }
}

#[test]
fn selectors_need_credentials_at_plan_time_and_apply_without_a_plan_file_refuses_them() {
    let sim = selector_sim();
    let workspace = Workspace::new(0).against(&sim);
    std::fs::write(workspace.path("edas-rollback.yaml"), SELECTOR_CONFIG).unwrap();
    // No credentials, and (as everywhere in these tests) no ECS metadata service: before,
    // this run asked 100.100.100.200, off the machine.
    let output = Run::from(run(workspace.bare_command(&[
        "--endpoint",
        &sim.endpoint(),
        "plan",
    ])))
    .expect(1);
    assert_cli_snapshot!("selectors_without_read_access_plan", output.stderr);

    let apply = workspace.apply(&[]).expect(1);
    assert_cli_snapshot!("selectors_without_read_access_apply", apply.stderr);
    assert_eq!(sim.stats().totals.aborts_received, 0);
}

#[test]
fn a_selector_by_app_name_is_resolved_planned_frozen_and_applied_and_bad_names_are_refused() {
    use edas_rollback::sim::SimApplication;
    let web = |app_id: &str, order: &str| SimApplication {
        app_id: app_id.to_string(),
        name: "web".to_string(),
        change_orders: vec![app_order(order, 1, "2026-11-30 19:00:00")],
    };
    let sim = Sim::start(SimConfig {
        applications: vec![
            SimApplication {
                app_id: "app-payment".to_string(),
                name: "payment".to_string(),
                change_orders: vec![
                    app_order("co-p1", 9, "2026-11-30 19:20:00"),
                    app_order("co-p2", 6, "2026-11-30 19:30:00"),
                ],
            },
            SimApplication {
                app_id: "app-payments-v2".to_string(),
                name: "payments-v2".to_string(),
                change_orders: vec![app_order("co-q1", 1, "2026-11-30 19:20:00")],
            },
            web("app-web-a", "co-w1"),
            web("app-web-b", "co-w2"),
        ],
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0).against(&sim);
    let config = |selector: &str| {
        format!(
            "version: 1\nprovider:\n  region: cn-hangzhou\nselect:\n  - {selector}\nchange_orders: []\n"
        )
    };

    std::fs::write(
        workspace.path("edas-rollback.yaml"),
        config("app_name: payment"),
    )
    .unwrap();
    workspace.plan(&["--out", "plan.json"]).expect(0);
    let plan_file: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace.path("plan.json")).unwrap())
            .unwrap();
    let actions = plan_file["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{plan_file}");
    assert_eq!(actions[0]["change_order_id"], "co-p1");
    assert_eq!(
        actions[0]["app_id"], "app-payment",
        "the id found is frozen"
    );
    assert_eq!(actions[0]["app"], "payment", "labelled with the name given");
    workspace.run(&["apply", "plan.json"]).expect(0);
    let stats = sim.stats();
    assert_eq!(stats.change_orders["co-p1"].aborts_committed, 1);
    for id in ["co-p2", "co-q1", "co-w1", "co-w2"] {
        assert_eq!(stats.change_orders[id].aborts_received, 0, "{id}");
    }

    // An unknown name: refused naming the closest names with their ids; no plan file.
    std::fs::write(
        workspace.path("edas-rollback.yaml"),
        config("app_name: paymnt"),
    )
    .unwrap();
    let unknown = workspace.plan(&["--out", "unknown.json"]).expect(1);
    assert_cli_snapshot!("unknown_name", unknown.stderr);
    assert!(!workspace.path("unknown.json").exists());

    // A name two applications share: refused naming both ids.
    std::fs::write(
        workspace.path("edas-rollback.yaml"),
        config("app_name: web"),
    )
    .unwrap();
    let ambiguous = workspace.plan(&["--out", "ambiguous.json"]).expect(1);
    assert_cli_snapshot!("ambiguous_name", ambiguous.stderr);
    assert!(!workspace.path("ambiguous.json").exists());
    let stats = sim.stats();
    assert_eq!(stats.change_orders["co-w1"].aborts_received, 0);
    assert_eq!(stats.change_orders["co-w2"].aborts_received, 0);
}

/// Compiles a checked-in schema from `schemas/` with boon.
fn checked_in_schema(name: &str) -> (boon::Schemas, boon::SchemaIndex) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource(name, schema).unwrap();
    let index = compiler.compile(name, &mut schemas).unwrap();
    (schemas, index)
}

/// The typed machine output (docs/json-output.md): every line of a real `apply --json` run
/// that retries (throttled and 503), verifies a lost answer by status, fails a change order
/// that already ended, and follows rollbacks with `--wait`, is valid against the checked-in
/// `schemas/apply-events.schema.json`; `plan --format json` is valid against
/// `schemas/plan-output.schema.json`. A line with a `null` anywhere, an unknown `type` or a
/// missing required field fails.
#[test]
fn json_output_is_valid_against_the_checked_in_schemas() {
    use edas_rollback::sim::ScriptedOutcome::{Drop, Fail503, Throttle};
    let mut faults = Faults::default();
    faults
        .scripted
        .insert(id("co-throttled"), vec![Throttle, Throttle]);
    faults.scripted.insert(id("co-unavailable"), vec![Fail503]);
    faults.scripted.insert(id("co-lost"), vec![Drop]);
    let sim = Sim::start(SimConfig {
        change_orders: vec![
            (id("co-throttled"), 1),
            (id("co-unavailable"), 1),
            (id("co-lost"), 1),
            (id("co-done"), 2),
            (id("co-plain"), 1),
        ],
        rollback_duration: Duration::from_millis(300),
        faults,
        ..SimConfig::default()
    });
    let workspace = Workspace::new(0).against(&sim);
    write_mixed_config(
        &workspace,
        &[
            "co-throttled",
            "co-unavailable",
            "co-lost",
            "co-done",
            "co-plain",
        ],
        &[],
    );

    let (plans, plan_index) = checked_in_schema("plan-output.schema.json");
    let plan = workspace.plan(&["--format", "json"]).expect(0);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    if let Err(error) = plans.validate(&plan, plan_index) {
        panic!("plan --format json fails its schema: {error:#}\n{plan:#}");
    }

    let (events, event_index) = checked_in_schema("apply-events.schema.json");
    let output = run(workspace.binary(&[
        "apply",
        "--auto-approve",
        "--json",
        "--wait",
        "--wait-timeout",
        "30s",
    ]));
    assert_exit(&output, 1);
    let mut types = std::collections::BTreeSet::new();
    let mut details = std::collections::BTreeSet::new();
    let mut complete = None;
    for line in text(&output.stdout).lines() {
        let line: Value = serde_json::from_str(line).expect("every stdout line is JSON");
        if line["type"] == "apply_complete" {
            complete = Some(line.clone());
        }
        if let Err(error) = events.validate(&line, event_index) {
            panic!("an apply --json line fails its schema: {error:#}\n{line}");
        }
        types.insert(line["type"].as_str().unwrap().to_string());
        for key in line["diagnostic"]["detail"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key)
        {
            details.insert(key.clone());
        }
    }
    // The run really produced what the schema is checked on.
    for kind in [
        "version",
        "planned_change",
        "apply_start",
        "apply_complete",
        "apply_errored",
        "diagnostic",
        "change_summary",
    ] {
        assert!(types.contains(kind), "no `{kind}` line in {types:?}");
    }
    for key in [
        "attempt",
        "throttled",
        "rollback_status",
        "rollback_change_order_id",
    ] {
        assert!(
            details.contains(key),
            "no diagnostic with `{key}` in {details:?}"
        );
    }
    // And the schema refuses what the stream must never hold.
    let complete = complete.unwrap();
    for (key, value) in [
        ("request_id", Value::Null),
        ("type", Value::from("apply_finished")),
        ("@level", Value::from("debug")),
    ] {
        let mut broken = complete.clone();
        broken[key] = value;
        assert!(
            events.validate(&broken, event_index).is_err(),
            "the schema accepts {broken}"
        );
    }
    let mut missing = complete;
    missing.as_object_mut().unwrap().remove("change_order_id");
    assert!(events.validate(&missing, event_index).is_err());
}
