//! The torture suite (docs/RELIABILITY.md): the real binary against the real simulator while the
//! process is SIGKILLed at random points, the service misbehaves in every way the simulator can,
//! and the disk fails under the state. Each test proves from the simulator's counters that no
//! change order was lost or aborted twice, and from the state file that nothing was recorded
//! falsely.
//!
//! Sizes: the CI size runs by default; `EDAS_TORTURE_LONG=1` runs the long size (200 kill
//! points instead of 20). `EDAS_TORTURE_SEED=N` repeats a run's random choices. The results
//! measured are in `docs/RELIABILITY.md`.

use crate::support;

use edas_rollback::ids::ChangeOrderId;
use edas_rollback::sim::{Faults, Latency, ScriptedOutcome, SimConfig};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use support::*;

fn long() -> bool {
    std::env::var("EDAS_TORTURE_LONG").is_ok_and(|value| value == "1")
}

fn seed() -> u64 {
    std::env::var("EDAS_TORTURE_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_261_128)
}

const FAST: [&str; 5] = [
    "--parallelism",
    "10",
    "--requests-per-second",
    "1000",
    "--auto-approve",
];

fn apply_args(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["apply".to_string()];
    args.extend(FAST.iter().map(|arg| arg.to_string()));
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

fn apply(workspace: &Workspace, sim: &Sim, extra: &[&str]) -> Output {
    let args = apply_args(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(workspace.command(&sim.endpoint(), &args))
}

/// Runs apply until it exits 0 (at most `runs` times). A run that does not finish must say
/// why in a clear report and exit 1; the next run finishes what it left.
fn apply_until_done(workspace: &Workspace, sim: &Sim, runs: usize) -> Vec<Output> {
    let mut outputs = Vec::new();
    for _ in 0..runs {
        let output = apply(workspace, sim, &[]);
        assert_no_duplicates(sim, &workspace.ids);
        assert_nothing_recorded_falsely(workspace, sim);
        let code = output.status.code();
        outputs.push(output);
        let output = outputs.last().unwrap();
        match code {
            Some(0) => {
                let stdout = text(&output.stdout);
                assert!(
                    stdout.contains("Apply complete! Aborted:") || stdout.contains("No changes."),
                    "{}",
                    describe(output)
                );
                return outputs;
            }
            Some(1) => assert_clear_incomplete_report(output),
            _ => panic!("unexpected exit: {}", describe(output)),
        }
    }
    panic!(
        "apply did not finish in {runs} runs; last: {}",
        describe(outputs.last().unwrap())
    );
}

/// An exit-1 run names every change order it could not finish and what to do about it.
fn assert_clear_incomplete_report(output: &Output) {
    let stdout = text(&output.stdout);
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("Apply finished with errors."))
        .unwrap_or_else(|| panic!("no summary line: {}", describe(output)));
    let unfinished = ["failed: 0", "unknown: 0", "not started: 0"]
        .iter()
        .filter(|zero| !summary.contains(*zero))
        .count();
    assert!(unfinished > 0, "exit 1 with nothing unfinished: {summary}");
    assert!(
        stdout.contains("failed:") || stdout.contains("Outcome unknown"),
        "{}",
        describe(output)
    );
}

// ---------------------------------------------------------------------------------------
// Crash torture
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KillPoint {
    /// 0–15 ms after spawn: config, lock, plan, before or at the first request.
    Startup,
    /// A random time into the run.
    Timed,
    /// Once the journal holds a random number of lines: between an intent and its answer.
    JournalLines,
    /// Once the journal holds every answer of a fresh run without faults: during the final
    /// fold and save.
    FinalSave,
}

const CHANGE_ORDERS_PER_ROUND: usize = 200;

/// How many change orders a run's recovery of a killed run's journal left `unknown` (to be
/// verified with `GetChangeOrderInfo`), from its `recovered an interrupted run` note.
fn left_unknown(output: &Output) -> usize {
    text(&output.stderr)
        .lines()
        .filter_map(|line| line.split(" records folded, ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .sum()
}

#[test]
fn sigkill_at_random_points_never_loses_a_change_order_nor_aborts_one_twice() {
    let seed = seed();
    let target = if long() { 200 } else { 20 };
    eprintln!("crash torture: seed {seed}, {target} kill points (EDAS_TORTURE_SEED repeats it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = Instant::now();
    let mut kills: BTreeMap<KillPoint, usize> = BTreeMap::new();
    let mut total_kills = 0;
    let mut rounds = 0;
    let mut runs = 0;
    let mut recovered_unknown = 0;
    while total_kills < target {
        rounds += 1;
        // Every other round also loses answers and gets 503s, so kills land between an
        // ambiguous answer and its verification too.
        let faulty = rounds % 2 == 0;
        let sim = Sim::any_id(
            Faults {
                latency: Latency::Range(Duration::from_millis(5), Duration::from_millis(20)),
                drop_rate: if faulty { 0.05 } else { 0.0 },
                fail_rate: if faulty { 0.03 } else { 0.0 },
                ..Faults::default()
            },
            rng.u64(..),
        );
        let workspace = Workspace::new(CHANGE_ORDERS_PER_ROUND);
        let kills_this_round = rng.usize(1..=5).min(target - total_kills);
        let mut killed_here = 0;
        loop {
            runs += 1;
            let fresh = !workspace.state_path().exists() && !workspace.journal_path().exists();
            let args = apply_args(&[]);
            let mut child = workspace
                .command(
                    &sim.endpoint(),
                    &args.iter().map(String::as_str).collect::<Vec<_>>(),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            if killed_here < kills_this_round {
                // The journal's length is only known for a fresh run without faults.
                let point = match rng.u8(0..if fresh && !faulty { 4 } else { 3 }) {
                    0 => KillPoint::Startup,
                    1 => KillPoint::Timed,
                    2 => KillPoint::JournalLines,
                    _ => KillPoint::FinalSave,
                };
                let deadline = Duration::from_secs(30);
                match point {
                    KillPoint::Startup => {
                        std::thread::sleep(Duration::from_micros(rng.u64(0..15_000)))
                    }
                    KillPoint::Timed => {
                        std::thread::sleep(Duration::from_micros(rng.u64(0..400_000)))
                    }
                    KillPoint::JournalLines => {
                        let lines = rng.usize(1..=2 * CHANGE_ORDERS_PER_ROUND);
                        let begun = Instant::now();
                        while workspace.journal_lines() < lines
                            && child.try_wait().unwrap().is_none()
                            && begun.elapsed() < deadline
                        {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                    KillPoint::FinalSave => {
                        // begin + an intent and a response per change order.
                        let lines = 1 + 2 * CHANGE_ORDERS_PER_ROUND;
                        let begun = Instant::now();
                        while workspace.journal_lines() < lines
                            && child.try_wait().unwrap().is_none()
                            && begun.elapsed() < deadline
                        {
                            std::hint::spin_loop();
                        }
                    }
                }
                child.kill().unwrap();
                let output = child.wait_with_output().unwrap();
                recovered_unknown += left_unknown(&output);
                if output.status.signal() == Some(9) {
                    killed_here += 1;
                    total_kills += 1;
                    *kills.entry(point).or_default() += 1;
                    // Never aborted twice, and the state on disk is always whole JSON.
                    assert_no_duplicates(&sim, &workspace.ids);
                    let _ = workspace.read_state();
                    continue;
                }
                // It finished before the kill landed.
                assert_exit(&output, 0);
                break;
            }
            let output = child.wait_with_output().unwrap();
            assert_exit(&output, 0);
            recovered_unknown += left_unknown(&output);
            break;
        }
        assert_all_aborted_exactly_once(&workspace, &sim);
    }
    eprintln!(
        "crash torture: {total_kills} kills ({kills:?}) over {rounds} rounds of \
         {CHANGE_ORDERS_PER_ROUND} change orders, {runs} apply runs, {recovered_unknown} \
         change orders recovered as unknown and verified, in {:.1?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Fault torture
// ---------------------------------------------------------------------------------------

fn scripted(ids: &[String], outcomes: impl Fn(usize) -> Vec<ScriptedOutcome>) -> Faults {
    Faults {
        scripted: ids
            .iter()
            .enumerate()
            .map(|(index, id)| (ChangeOrderId::new(id.clone()), outcomes(index)))
            .filter(|(_, outcomes)| !outcomes.is_empty())
            .collect(),
        ..Faults::default()
    }
}

#[test]
fn throttling_at_5_20_and_100_requests_per_second_slows_the_run_and_fails_nothing() {
    for (limit, count, retry_after) in [(5, 25, None), (20, 80, Some(500)), (100, 300, None)] {
        let sim = Sim::any_id(
            Faults {
                requests_per_second: Some(limit),
                retry_after: retry_after.map(Duration::from_millis),
                ..Faults::default()
            },
            limit.into(),
        );
        let workspace = Workspace::new(count).against(&sim);
        let start = Instant::now();
        // Ten times the server's limit and 100 in flight: at 200/s and 10 in flight against a
        // limit of 100/s, a machine loaded by other builds sometimes never went over the limit,
        // and the throttling path went untested.
        let client_rate = (limit * 10).to_string();
        let output = run(workspace.binary(&[
            "apply",
            "--auto-approve",
            "--parallelism",
            "100",
            "--requests-per-second",
            &client_rate,
        ]));
        assert_exit(&output, 0);
        assert_all_aborted_exactly_once(&workspace, &sim);
        let throttled = sim.stats().totals.throttled;
        assert!(throttled > 0, "limit {limit}: the limit was reached");
        assert!(text(&output.stderr).contains("slowing down"));
        eprintln!(
            "throttled at {limit}/s: {count} aborted in {:.1?}, {throttled} throttled answers",
            start.elapsed()
        );
    }
}

#[test]
fn bursts_of_503_are_verified_and_retried_and_a_burst_longer_than_the_retries_is_reported() {
    let workspace = Workspace::new(120);
    // Bursts of 1 to 5 answers for most; two change orders get 12 in a row, more than the
    // engine's attempts, so the first run must end them failed or unknown and say so.
    let sim = Sim::start(SimConfig {
        any_id: true,
        faults: Faults {
            fail_rate: 0.02,
            ..scripted(&workspace.ids, |index| match index {
                0 | 1 => vec![ScriptedOutcome::Fail503; 12],
                index if index % 3 == 0 => vec![ScriptedOutcome::Fail503; 1 + index % 5],
                _ => Vec::new(),
            })
        },
        seed: 503,
        ..SimConfig::default()
    });
    let outputs = apply_until_done(&workspace, &sim, 4);
    assert!(
        outputs.len() >= 2,
        "the long bursts outlasted the first run"
    );
    assert_all_aborted_exactly_once(&workspace, &sim);
    let totals = sim.stats().totals;
    assert!(totals.unavailable >= 24 + 40, "{totals:?}");
    assert!(totals.info_requests > 0, "503s were verified");
}

#[test]
fn dropped_responses_are_confirmed_by_status_and_never_sent_again() {
    let workspace = Workspace::new(150);
    let sim = Sim::start(SimConfig {
        any_id: true,
        faults: Faults {
            drop_rate: 0.2,
            ..scripted(&workspace.ids, |index| {
                if index % 4 == 0 {
                    vec![ScriptedOutcome::Drop]
                } else {
                    Vec::new()
                }
            })
        },
        seed: 7,
        ..SimConfig::default()
    });
    apply_until_done(&workspace, &sim, 3);
    assert_all_aborted_exactly_once(&workspace, &sim);
    let stats = sim.stats();
    assert!(stats.totals.dropped >= 38, "{:?}", stats.totals);
    let state = workspace.state();
    let confirmed = state["change_orders"]
        .as_object()
        .unwrap()
        .values()
        .filter(|record| record["confirmed_by_status"] == true)
        .count();
    assert!(
        confirmed as u64 >= stats.totals.dropped.min(38),
        "{confirmed}"
    );
    // A dropped abort is committed; only a status check follows it, never a second abort.
    for id in &workspace.ids {
        assert_eq!(stats.change_orders[id].aborts_received, 1, "{id}");
    }
}

#[test]
fn latency_spikes_up_to_half_a_second_beyond_the_read_timeout_lose_nothing() {
    // A read timeout of 300 ms against answers of 1–500 ms: some time out after the request
    // left, and are verified.
    let workspace = Workspace::new(100).apply_settings("request_timeout: 300ms");
    let sim = Sim::any_id(
        Faults {
            latency: Latency::Range(Duration::from_millis(1), Duration::from_millis(500)),
            ..Faults::default()
        },
        99,
    );
    let start = Instant::now();
    let outputs = apply_until_done(&workspace, &sim, 4);
    assert_all_aborted_exactly_once(&workspace, &sim);
    eprintln!(
        "latency spikes: 100 aborted in {} run(s), {:.1?}, {} info requests",
        outputs.len(),
        start.elapsed(),
        sim.stats().totals.info_requests
    );
}

#[test]
fn a_server_that_stops_answering_some_aborts_times_out_into_verification_not_duplicates() {
    let workspace = Workspace::new(60).apply_settings("request_timeout: 1s");
    let sim = Sim::start(SimConfig {
        any_id: true,
        faults: scripted(&workspace.ids, |index| match index % 6 {
            0 => vec![ScriptedOutcome::Timeout],
            1 => vec![ScriptedOutcome::Timeout, ScriptedOutcome::Timeout],
            _ => Vec::new(),
        }),
        seed: 11,
        ..SimConfig::default()
    });
    apply_until_done(&workspace, &sim, 3);
    assert_all_aborted_exactly_once(&workspace, &sim);
    let totals = sim.stats().totals;
    assert_eq!(totals.timed_out, 30, "{totals:?}");
    assert!(totals.info_requests >= 30, "{totals:?}");
}

#[test]
fn a_server_gone_mid_run_ends_in_a_clear_report_and_the_next_apply_finishes_after_it_returns() {
    // Every change order in progress at once, so that the retries of those refused a
    // connection back off together rather than wave after wave.
    let workspace = Workspace::new(60).apply_settings("request_timeout: 1s");
    let mut sim = Sim::slow(Duration::from_millis(50), 5);
    let child = workspace
        .command(
            &sim.endpoint(),
            &[
                "apply",
                "--auto-approve",
                "--parallelism",
                "60",
                "--requests-per-second",
                "20",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), || workspace.journal_lines() > 20);
    sim.stop();
    let start = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 1);
    assert_clear_incomplete_report(&output);
    assert_no_duplicates(&sim, &workspace.ids);
    assert_nothing_recorded_falsely(&workspace, &sim);
    assert!(!workspace.journal_path().exists(), "saved before exiting");
    eprintln!(
        "server gone: the run gave up {:.1?} after the server stopped",
        start.elapsed()
    );

    sim.restart(Faults::default());
    let outputs = apply_until_done(&workspace, &sim, 2);
    assert_eq!(
        outputs.len(),
        1,
        "one apply finishes once the service is back"
    );
    assert_all_aborted_exactly_once(&workspace, &sim);
}

#[test]
fn a_server_restarted_mid_run_with_its_statuses_is_recovered_by_verifying() {
    let workspace = Workspace::new(200).apply_settings("request_timeout: 2s");
    let faults = Faults {
        latency: Latency::Range(Duration::from_millis(5), Duration::from_millis(30)),
        ..Faults::default()
    };
    let mut sim = Sim::any_id(faults.clone(), 6);
    let child = workspace
        .command(
            &sim.endpoint(),
            &[
                "apply",
                "--auto-approve",
                "--parallelism",
                "8",
                "--requests-per-second",
                "1000",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), || workspace.journal_lines() > 100);
    sim.stop();
    std::thread::sleep(Duration::from_millis(300));
    sim.restart(faults);
    let output = child.wait_with_output().unwrap();
    assert!(
        sim.stats().totals.requests > 0,
        "the run carried on against the new instance"
    );
    assert_no_duplicates(&sim, &workspace.ids);
    assert_nothing_recorded_falsely(&workspace, &sim);
    match output.status.code() {
        Some(0) => {}
        Some(1) => {
            assert_clear_incomplete_report(&output);
            apply_until_done(&workspace, &sim, 2);
        }
        _ => panic!("{}", describe(&output)),
    }
    assert_all_aborted_exactly_once(&workspace, &sim);
}

// ---------------------------------------------------------------------------------------
// Disk torture
// ---------------------------------------------------------------------------------------

/// A tmpfs mounted over a directory of a workspace, unmounted when dropped. Root ignores
/// permission bits, so a read-only or full directory needs a real filesystem that is one.
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    /// `None`, with the reason printed, where a developer's sandbox cannot mount. Under CI
    /// (`CI` set; .ci/run runs as root) a mount that fails is a test failure: a disk case that
    /// quietly did not run there would assert nothing.
    fn mount(path: std::path::PathBuf, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&path).unwrap();
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&path)
            .output();
        let reason = match output {
            Ok(output) if output.status.success() => return Some(Tmpfs { path }),
            Ok(output) => format!("`mount` says: {}", text(&output.stderr).trim()),
            Err(error) => format!("cannot run `mount`: {error}"),
        };
        assert!(
            std::env::var_os("CI").is_none(),
            "this disk case needs a tmpfs, and CI must run it: {reason}"
        );
        eprintln!(
            "NOT RUN outside CI: cannot mount a tmpfs here ({reason}); this disk case needs root \
             with mount rights"
        );
        None
    }

    fn remount(&self, options: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

#[test]
fn a_read_only_state_directory_is_refused_naming_the_file_and_nothing_is_sent() {
    let mut workspace = Workspace::new(10).state_at("ro/state.json");
    let Some(mount) = Tmpfs::mount(workspace.path("ro"), "size=1m") else {
        return;
    };
    let sim = Sim::any_id(Faults::default(), 1);
    assert_exit(&apply(&workspace, &sim, &[]), 0);
    let before = std::fs::read(workspace.state_path()).unwrap();
    let requests = sim.stats().totals.requests;

    workspace.declare(20);
    mount.remount("ro");
    let output = apply(&workspace, &sim, &[]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("ro/state.json"), "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert_eq!(sim.stats().totals.requests, requests, "nothing was sent");
    assert_eq!(std::fs::read(workspace.state_path()).unwrap(), before);

    // Read-only commands still work on a read-only state.
    let list = run(workspace.command(&sim.endpoint(), &["state", "list"]));
    assert_exit(&list, 0);

    mount.remount("rw");
    assert_exit(&apply(&workspace, &sim, &[]), 0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}

/// Fills a small tmpfs under the state mid-run, then gives it room and finishes.
fn disk_full_case(size: &str, count: usize) {
    let workspace = Workspace::new(count).state_at("full/state.json");
    let Some(mount) = Tmpfs::mount(workspace.path("full"), &format!("size={size}")) else {
        return;
    };
    let sim = Sim::any_id(
        Faults {
            latency: Latency::Range(Duration::from_millis(1), Duration::from_millis(5)),
            ..Faults::default()
        },
        2,
    );
    let output = apply(&workspace, &sim, &[]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("full/state.json"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    // Regression: a run whose requests all finished but whose state save failed printed
    // "Apply complete!" and nothing else on stdout.
    let stdout = text(&output.stdout);
    if stdout.contains("Apply complete!") {
        assert!(
            stdout.contains("The state file was NOT updated"),
            "{stdout}"
        );
    }
    assert_no_duplicates(&sim, &workspace.ids);
    // The state on disk, if any, is whole and claims only what the simulator committed.
    assert_nothing_recorded_falsely(&workspace, &sim);
    let committed = sim.stats().totals.aborts_committed;
    eprintln!(
        "disk full at {size}: {committed} of {count} committed before the run stopped; \
         journal left: {}; error: {}",
        workspace.journal_path().exists(),
        stderr
            .lines()
            .find(|line| line.starts_with("error"))
            .unwrap_or("")
    );

    mount.remount("size=8m");
    apply_until_done(&workspace, &sim, 3);
    assert_all_aborted_exactly_once(&workspace, &sim);
}

#[test]
fn a_disk_that_fills_up_under_the_journal_stops_the_run_and_the_next_apply_finishes() {
    disk_full_case("32k", 300);
}

#[test]
fn a_disk_that_fills_up_under_the_state_save_keeps_the_journal_and_loses_nothing() {
    disk_full_case("160k", 300);
}

#[test]
fn a_state_file_deleted_mid_run_is_not_silently_replaced_and_nothing_is_lost() {
    let mut workspace = Workspace::new(50);
    let sim = Sim::slow(Duration::from_millis(20), 3);
    assert_exit(&apply(&workspace, &sim, &[]), 0);
    workspace.declare(250);
    // Reviewed against serial 1, the state about to be deleted.
    assert_exit(
        &run(workspace.command(&sim.endpoint(), &["plan", "--out", "before.json"])),
        0,
    );
    let child = workspace
        .command(
            &sim.endpoint(),
            &[
                "apply",
                "--auto-approve",
                "--parallelism",
                "4",
                "--requests-per-second",
                "1000",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), || workspace.journal_lines() > 20);
    std::fs::remove_file(workspace.state_path()).unwrap();
    let output = child.wait_with_output().unwrap();
    // Refused at the save: the file is gone, so the serial check cannot pass, and the run's
    // journal stays for the next command.
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("edas-rollback.state.json") && stderr.contains("nothing was saved"),
        "{stderr}"
    );
    assert!(workspace.journal_path().exists(), "the journal is kept");
    assert_no_duplicates(&sim, &workspace.ids);

    // Folding that journal into no file must not recreate serial 1 with other content: the
    // plan reviewed against the deleted serial 1 would then pass as current and send 200
    // aborts the service refuses, recording `failed` over their `aborted` records.
    assert_exit(
        &run(workspace.command(&sim.endpoint(), &["state", "list"])),
        0,
    );
    assert_eq!(
        workspace.state()["serial"],
        2,
        "a serial the deleted file never had"
    );
    let requests = sim.stats().totals.requests;
    let stale = run(workspace.command(&sim.endpoint(), &["apply", "before.json"]));
    assert_exit(&stale, 1);
    assert!(
        text(&stale.stderr).contains("Saved plan is stale"),
        "{}",
        describe(&stale)
    );
    assert_eq!(sim.stats().totals.requests, requests, "nothing was sent");

    // Every change order of the interrupted run is recorded aborted. The 50 records the
    // deleted file held are gone with it; their aborts are refused by the service (already
    // stopped), and the refusal is verified (docs/APPLY.md): status 6, so they are recorded
    // aborted (confirmed by status), never failed, and never committed twice.
    let next = apply(&workspace, &sim, &[]);
    assert_exit(&next, 0);
    assert_no_duplicates(&sim, &workspace.ids);
    assert_nothing_recorded_falsely(&workspace, &sim);
    let state = workspace.state();
    let commits = sim.commits();
    for (index, id) in workspace.ids.iter().enumerate() {
        let record = &state["change_orders"][id];
        assert_eq!(commits[id], 1, "{id}");
        assert_eq!(record["status"], "aborted", "{id}: {record}");
        if index < 50 {
            assert_eq!(record["confirmed_by_status"], true, "{id}: {record}");
        }
    }
}
