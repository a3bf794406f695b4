//! The hostile environment of docs/RELIABILITY.md: a shell that points somewhere else, signals
//! from CI and dropped sessions, servers that trickle or stall, absurd durations and sizes,
//! files in the wrong place and hostile server text. Each test drives the real binary against
//! the simulator or a small hostile server it starts on 127.0.0.1, and each names the hole
//! it closes.

use edas_rollback::sim::Faults;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support;

use support::{
    Run, Sim, Workspace, assert_all_aborted_exactly_once, assert_cli_snapshot,
    assert_cli_snapshot_counts_hidden, assert_exit, run, send_signal, text, wait_until,
};

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
    let mut apply = workspace.without_endpoint(&["apply", "plan.json"]);
    apply.env("EDAS_ENDPOINT", leftover.endpoint());
    let output = run(apply);
    assert_exit(&output, 1);
    // Both endpoints are named, each for what it is.
    assert_cli_snapshot!(
        text(&output.stderr)
            .replace(&production.endpoint(), "[PRODUCTION]")
            .replace(&leftover.endpoint(), "[LEFTOVER]")
    );
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
    let workspace = Workspace::new(2).against(&sim);
    workspace.plan(&["--out", "plan.json"]).expect(0);
    let output = run(workspace.without_endpoint(&["apply", "plan.json"]));
    assert_exit(&output, 1);
    let stderr = text(&output.stderr).replace(&sim.endpoint(), "[SIMULATOR]");
    assert_cli_snapshot!(stderr);
    assert!(workspace.read_state().is_none());
}

#[test]
fn a_region_edited_after_review_is_refused() {
    let sim = Sim::any_id(Faults::default(), 4);
    let workspace = Workspace::new(2).against(&sim);
    workspace.plan(&["--out", "plan.json"]).expect(0);
    let config = workspace.path("edas-rollback.yaml");
    let edited = std::fs::read_to_string(&config)
        .unwrap()
        .replace("region: cn-hangzhou", "region: cn-shanghai");
    std::fs::write(&config, edited).unwrap();
    let output = workspace.run(&["apply", "plan.json"]).expect(1);
    let stderr = &output.stderr;
    assert_cli_snapshot!(stderr);
    assert_eq!(sim.stats().totals.requests, 0);
}

#[test]
fn a_plan_for_config_a_is_refused_with_dash_c_b_when_neither_state_exists() {
    let sim = Sim::any_id(Faults::default(), 5);
    let workspace = Workspace::new(2).against(&sim);
    // The same content under another name: another config, with another state file.
    std::fs::copy(
        workspace.path("edas-rollback.yaml"),
        workspace.path("other.yaml"),
    )
    .unwrap();
    workspace.plan(&["--out", "plan.json"]).expect(0);
    let output = workspace
        .run(&["-c", "other.yaml", "apply", "plan.json"])
        .expect(1);
    let stderr = &output.stderr;
    assert_cli_snapshot!(stderr);
    assert_eq!(sim.stats().totals.requests, 0);
    assert!(!workspace.path("other.state.json").exists());
    assert!(!workspace.path("edas-rollback.state.json").exists());
}

#[test]
fn a_plan_applied_where_it_was_reviewed_records_the_endpoint_of_each_outcome() {
    let sim = Sim::any_id(Faults::default(), 6);
    let workspace = Workspace::new(3).against(&sim);
    workspace.plan(&["--out", "plan.json"]).expect(0);
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

/// Starts a slow apply of 200, sends `signal` once some aborts were answered, and checks the
/// run drained, saved, said so, exited 130, and that the next apply finishes the rest with no
/// duplicate. Before the fix SIGTERM exited 143 and SIGHUP 129 at once, with no save.
fn a_signal_stops_the_run_like_ctrl_c(signal: &str) {
    let sim = Sim::slow(Duration::from_millis(50), 7);
    let workspace = Workspace::new(200).against(&sim);
    let child = workspace.spawn(&["apply", "--auto-approve", "--parallelism", "4"]);
    wait_until(Duration::from_secs(30), || workspace.journal_lines() > 40);
    send_signal(&child, signal);
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 130);
    // How many were answered before the signal is timing: result lines dropped, counts
    // hidden.
    assert_cli_snapshot_counts_hidden!(
        format!("interrupted_by_sig{signal}_stdout"),
        support::without_outcomes(support::after_the_plan(&text(&output.stdout)))
    );
    assert_cli_snapshot_counts_hidden!(
        format!("interrupted_by_sig{signal}_stderr"),
        support::without_outcomes(&text(&output.stderr))
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
    workspace.apply(&[]).expect(0);
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
    let sim = Sim::slow(Duration::from_secs(3), 8);
    let workspace = Workspace::new(20).against(&sim);
    let child = workspace
        .binary(&["apply", "--auto-approve", "--parallelism", "4"])
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
    workspace.apply(&[]).expect(0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}

// ---- 3. Bounded everything ----

/// A small hostile HTTP/1.1 server on 127.0.0.1: every connection gets its own thread, which
/// reads the request head and hands it, with the connection and the number of requests seen
/// so far, to `answer`. It stops accepting when dropped.
struct HostileServer {
    address: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HostileServer {
    fn start(
        answer: impl Fn(&str, &mut std::net::TcpStream, usize) + Send + Sync + 'static,
    ) -> HostileServer {
        use std::io::Read;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let answer = std::sync::Arc::new(answer);
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let answer = answer.clone();
                let seen = seen.clone();
                std::thread::spawn(move || {
                    stream.set_nonblocking(false).unwrap();
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let count = seen.fetch_add(1, Ordering::SeqCst);
                    answer(&String::from_utf8_lossy(&head), &mut stream, count);
                });
            }
        });
        HostileServer { address, stop }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn respond(stream: &mut std::net::TcpStream, status: &str, headers: &str, body: &str) {
    use std::io::Write;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n{headers}\r\n{body}",
        body.len()
    );
}

fn info_stopped(change_order_id: &str) -> String {
    format!(
        r#"{{"Code":200,"Message":"success","RequestId":"req-info","changeOrderInfo":{{"ChangeOrderId":"{change_order_id}","Status":6}}}}"#
    )
}

const ABORT_ACCEPTED: &str = r#"{"Code":200,"Message":"success","RequestId":"req-abort","TraceId":"t","ErrorCode":"","Data":{"ChangeOrderId":"rollback-1"}}"#;

/// Waits for `child` up to `limit`; a run still going then is killed and the test fails.
fn wait_or_kill(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}; killed\n{}",
                support::describe(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_server_trickling_its_body_cannot_hang_apply_past_the_attempt_deadline() {
    // Each byte comes within the 1 s read timeout, so only a deadline on the whole attempt
    // (5 s connect + 1 s) ends it. Before the fix the apply hung for as long as the body
    // lasted (here 100 s). The status question is answered at once: stopped (6).
    let workspace = Workspace::new(1).apply_settings("request_timeout: 1s");
    let id = workspace.ids[0].clone();
    let server = HostileServer::start(move |head, stream, _| {
        use std::io::Write;
        if head.contains("change_order_info") {
            respond(stream, "200 OK", "", &info_stopped(&id));
            return;
        }
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        );
        for _ in 0..100 {
            if stream.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let start = Instant::now();
    let child = workspace
        .command(&server.endpoint(), &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_or_kill(child, Duration::from_secs(40));
    let took = start.elapsed();
    assert_exit(&output, 0);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let record = &workspace.state()["change_orders"][&workspace.ids[0]];
    assert_eq!(record["status"], "aborted", "{record}");
    assert_eq!(record["confirmed_by_status"], true, "{record}");
}

#[test]
fn a_retry_after_of_thirty_years_is_capped_and_the_run_finishes() {
    // The first abort is throttled with `x-acs-retry-after: 999999999999` (ms, ~31 years);
    // the retry is accepted. Before the fix apply slept for the whole hint.
    let workspace = Workspace::new(1);
    let server = HostileServer::start(|head, stream, count| {
        if head.contains("change_order_info") {
            respond(stream, "500 Internal Server Error", "", "{}");
        } else if count == 0 {
            respond(
                stream,
                "400 Bad Request",
                "x-acs-retry-after: 999999999999\r\n",
                r#"{"Code":"Throttling.User","Message":"Request was denied due to user flow control.","RequestId":"req-throttled"}"#,
            );
        } else {
            respond(stream, "200 OK", "", ABORT_ACCEPTED);
        }
    });
    let start = Instant::now();
    let child = workspace
        .command(&server.endpoint(), &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_or_kill(child, Duration::from_secs(60));
    let took = start.elapsed();
    assert_exit(&output, 0);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let record = &workspace.state()["change_orders"][&workspace.ids[0]];
    assert_eq!(record["status"], "aborted", "{record}");
    assert_eq!(record["request_id"], "req-abort", "{record}");
}

#[test]
fn an_absurd_request_timeout_is_refused_by_validate_with_the_maximum() {
    // It passed `validate` and then panicked every request ("overflow when adding duration
    // to instant"), leaving unknown change orders.
    let workspace = Workspace::new(1).apply_settings("request_timeout: 5124095576030431h");
    let output = workspace.run_bare(&["validate"]).expect(1);
    let stderr = output.stderr;
    assert_cli_snapshot!(stderr);
    let workspace = Workspace::new(1).apply_settings("request_timeout: 11m");
    workspace.run_bare(&["validate"]).expect(1);
}

#[test]
fn absurd_wait_and_lock_timeouts_are_refused_before_anything_is_sent() {
    let sim = Sim::any_id(Faults::default(), 9);
    let workspace = Workspace::new(1).against(&sim);
    let mut shown = String::new();
    for args in [
        &[
            "apply",
            "--auto-approve",
            "--wait",
            "--wait-timeout",
            "5124095576030431h",
        ][..],
        &[
            "apply",
            "--auto-approve",
            "--lock-timeout",
            "5124095576030431h",
        ][..],
        &["plan", "--lock-timeout", "25h"][..],
    ] {
        let output = workspace.run(args).expect(1);
        shown.push_str(&format!("$ {}\n{}", args.join(" "), output.stderr));
    }
    assert_cli_snapshot!(shown);
    assert_eq!(sim.stats().totals.requests, 0);
    assert!(workspace.read_state().is_none());
}

#[test]
fn a_parallelism_over_the_cap_is_refused_and_nothing_is_sent() {
    let sim = Sim::any_id(Faults::default(), 10);
    let workspace = Workspace::new(3);
    let output = run(workspace.command(
        &sim.endpoint(),
        &["apply", "--auto-approve", "--parallelism", "100000"],
    ));
    assert_exit(&output, 1);
    assert_cli_snapshot!("parallelism_flag_over_the_cap", text(&output.stderr));
    let config = Workspace::new(3).apply_settings("parallelism: 100000");
    let output = config.run_bare(&["validate"]).expect(1);
    assert_cli_snapshot!("parallelism_setting_over_the_cap", output.stderr);
    assert_eq!(sim.stats().totals.requests, 0);
}

/// Runs `command` with its open-file limit (soft and hard) set to `files`.
fn with_open_file_limit(command: &mut std::process::Command, files: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: files as libc::rlim_t,
                rlim_max: files as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_parallelism_the_open_file_limit_cannot_hold_is_refused_naming_both_numbers() {
    // With 100 files and 500 connections, healthy requests failed with "too many open files".
    let sim = Sim::any_id(Faults::default(), 11);
    let workspace = Workspace::new(600).against(&sim);
    let mut command = workspace.binary(&["apply", "--auto-approve", "--parallelism", "500"]);
    with_open_file_limit(&mut command, 100);
    let output = Run::from(run(command)).expect(1);
    assert_cli_snapshot!(output.stderr);
    assert_eq!(sim.stats().totals.requests, 0);
}

/// Caps the address space at 2 GiB, so a reader that does not stop fails instead of eating
/// the machine's memory.
fn with_memory_limit(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: as in `with_open_file_limit`.
    unsafe {
        command.pre_exec(|| {
            let bytes = (2u64 << 30) as libc::rlim_t;
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
}

#[test]
fn endless_input_files_are_refused_fast_naming_the_limit() {
    let sim = Sim::any_id(Faults::default(), 12);
    let workspace = Workspace::new(1).against(&sim);
    let mut shown = String::new();
    for args in [
        &["-c", "/dev/zero", "validate"][..],
        &["-c", "/dev/zero", "plan"][..],
        &["apply", "/dev/zero"][..],
        &["show", "/dev/zero"][..],
    ] {
        let mut command = workspace.binary(args);
        with_memory_limit(&mut command);
        let start = Instant::now();
        let output = wait_or_kill(
            command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
            Duration::from_secs(30),
        );
        assert_exit(&output, 1);
        shown.push_str(&format!("$ {}\n{}", args.join(" "), text(&output.stderr)));
        assert!(start.elapsed() < Duration::from_secs(10), "{args:?}");
    }
    // Each names the file, what it is and the limit.
    assert_cli_snapshot!(shown);
    assert_eq!(sim.stats().totals.requests, 0);
}

// ---- 4. Files, plan contents, server text and ids ----

#[test]
fn plan_out_refuses_the_config_state_backup_journal_and_lock_and_any_non_plan_file() {
    let sim = Sim::any_id(Faults::default(), 13);
    let workspace = Workspace::new(2).against(&sim);
    workspace.apply(&[]).expect(0);
    let state_before = std::fs::read(workspace.state_path()).unwrap();
    let config_before = std::fs::read(workspace.path("edas-rollback.yaml")).unwrap();
    std::fs::write(workspace.path("notes.txt"), "my incident notes\n").unwrap();
    let mut shown = String::new();
    for out in [
        "edas-rollback.state.json",
        "./edas-rollback.yaml",
        "edas-rollback.state.json.backup",
        "edas-rollback.state.json.journal",
        "edas-rollback.state.json.lock",
        "notes.txt",
    ] {
        let output = workspace.plan(&["--out", out]).expect(1);
        shown.push_str(&format!("$ plan --out {out}\n{}", output.stderr));
    }
    // Each refusal says what the file is.
    assert_cli_snapshot!(shown);
    assert_eq!(std::fs::read(workspace.state_path()).unwrap(), state_before);
    assert_eq!(
        std::fs::read(workspace.path("edas-rollback.yaml")).unwrap(),
        config_before
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path("notes.txt")).unwrap(),
        "my incident notes\n"
    );
    assert!(!workspace.journal_path().exists());
    // A previous plan is replaced, as before.
    for _ in 0..2 {
        workspace.plan(&["--out", "plan.json"]).expect(0);
    }
}

/// Rewrites the plan file at `path` with `edit` applied and its checksum recomputed, as a
/// hand merge with a careful author would.
fn edit_plan_resealed(path: &std::path::Path, edit: impl FnOnce(&mut edas_rollback::plan::Plan)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut plan: edas_rollback::plan::Plan = serde_json::from_str(&text).unwrap();
    edit(&mut plan);
    let encoded = edas_rollback::plan::file::seal_and_encode(&mut plan);
    std::fs::write(path, encoded).unwrap();
}

#[test]
fn a_plan_listing_a_change_order_twice_is_refused_even_with_a_recomputed_checksum() {
    let sim = Sim::any_id(Faults::default(), 14);
    let workspace = Workspace::new(2).against(&sim);
    let mut shown = String::new();
    for uppercase in [false, true] {
        workspace.plan(&["--out", "plan.json"]).expect(0);
        edit_plan_resealed(&workspace.path("plan.json"), |plan| {
            let mut copy = plan.actions[0].clone();
            if uppercase {
                copy.change_order_id = edas_rollback::ids::ChangeOrderId::new(
                    copy.change_order_id.as_str().to_uppercase(),
                );
            }
            plan.actions.push(copy);
        });
        let output = workspace.run(&["apply", "plan.json"]).expect(1);
        shown.push_str(&format!(
            "$ apply plan.json (uppercase: {uppercase})\n{}",
            output.stderr
        ));
        workspace.run(&["show", "plan.json"]).expect(1);
    }
    assert_cli_snapshot!(shown);
    assert_eq!(sim.stats().totals.requests, 0, "nothing was sent");
    assert!(workspace.read_state().is_none());
}

#[test]
fn server_text_with_terminal_escapes_is_shown_escaped() {
    // The service's Message, RequestId and Code reach the screen: an `ESC]0;` retitled the
    // terminal, and other sequences can recolour, hide or overwrite lines.
    let workspace = Workspace::new(1);
    let server = HostileServer::start(|head, stream, _| {
        if head.contains("change_order_info") {
            respond(stream, "500 Internal Server Error", "", "{}");
        } else {
            respond(
                stream,
                "200 OK",
                "",
                r#"{"Code":500,"Message":"nope\u001b]0;pwned\u0007\r\u001b[8mhidden","RequestId":"req\u001b[2J","TraceId":"t","ErrorCode":"\u009b31m"}"#,
            );
        }
    });
    let output = run(workspace.command(&server.endpoint(), &["apply", "--auto-approve"]));
    assert_exit(&output, 1);
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let shown = text(bytes);
        assert!(
            !bytes.iter().any(|byte| matches!(byte, 0x1b | 0x07 | b'\r')),
            "raw control bytes on {name}: {shown:?}"
        );
        assert!(!shown.contains('\u{9b}'), "raw C1 CSI on {name}: {shown:?}");
    }
    // Message, RequestId and code shown escaped, where they appear.
    assert_cli_snapshot!("escaped_stdout", text(&output.stdout));
    assert_cli_snapshot!("escaped_stderr", text(&output.stderr));
}

#[test]
fn ids_of_only_dashes_or_with_stray_dashes_are_refused() {
    let mut shown = String::new();
    for id in ["-", "---", "-6b55106c", "6b55106c-", "6b55106c--c7f2"] {
        let workspace = Workspace::empty().config(&format!(
            "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  - id: '{id}'\n"
        ));
        let output = workspace.run_bare(&["validate"]).expect(1);
        shown.push_str(&format!("$ validate # id: '{id}'\n{}", output.stderr));
    }
    assert_cli_snapshot!(shown);
}

#[test]
fn ids_that_differ_only_in_case_are_the_same_change_order_and_refused_as_a_duplicate() {
    let workspace = Workspace::empty().config(
        "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  \
         - id: 6b55106c-c7f2-40f7-a1d4-0928700aaaaa\n  \
         - id: 6B55106C-C7F2-40F7-A1D4-0928700AAAAA\n",
    );
    let stderr = workspace.run_bare(&["validate"]).expect(1).stderr;
    assert_cli_snapshot!(stderr);
}

// ---- 5. What a runbook user hits ----

#[test]
fn on_a_terminal_each_result_line_prints_above_the_progress_bar() {
    // Before the fix a terminal showed only the summary: the aborted lines were swallowed by
    // the progress bar, unlike docs/RUNBOOK.md's transcript.
    let sim = Sim::any_id(Faults::default(), 15);
    let workspace = Workspace::new(3).against(&sim);
    let shown = workspace
        .on_a_terminal(&["apply", "--auto-approve"])
        .expect(0);
    // What stays on the screen once the bar is gone: every result line and the summary.
    assert_cli_snapshot!(support::sorted_outcomes(&scrollback(&shown.stdout)));
}

/// What a terminal keeps of `shown` once the progress bar is gone: every non-blank line,
/// without the bars' frames (apply's: a spinner, then `[hh:mm:ss]`, drawn after a line;
/// plan --refresh's: a line of `█`/`░`; how many were drawn is timing), the carriage returns
/// and the line erasures between them.
fn scrollback(shown: &str) -> String {
    let mut kept = String::new();
    for segment in shown
        .split(['\r', '\n'])
        .flat_map(|part| part.split("\u{1b}[2K"))
    {
        let frame = segment.char_indices().find(|&(at, c)| {
            ('\u{2800}'..='\u{28ff}').contains(&c) && segment[at + c.len_utf8()..].starts_with(" [")
        });
        let line = frame.map_or(segment, |(at, _)| &segment[..at]).trim_end();
        if !line.is_empty() && !line.contains(['█', '░']) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

#[test]
fn plan_refresh_shows_progress_on_a_terminal() {
    // Before the fix `plan --refresh` showed nothing for seconds while it asked.
    let sim = Sim::slow(Duration::from_millis(100), 16);
    let workspace = Workspace::new(10)
        .apply_settings("requests_per_second: 5\nparallelism: 2")
        .against(&sim);
    let shown = workspace
        .on_a_terminal(&["plan", "--refresh"])
        .expect(0)
        .stdout;
    // The bar was drawn while it asked; how many frames, and with which counts, is timing.
    assert!(shown.contains("Asking GetChangeOrderInfo"), "{shown}");
    assert!(shown.contains("/10"), "{shown}");
    // Then the plan, as on any terminal.
    assert_cli_snapshot!(scrollback(&shown));
}

#[test]
fn every_run_hint_repeats_the_config_state_and_endpoint_flags_and_the_copied_command_works() {
    // Before the fix the hint said `edas-rollback apply FILE`, which in this directory reads
    // another config (or none) and fails or refuses.
    let sim = Sim::any_id(Faults::default(), 17);
    let workspace = Workspace::new(2);
    std::fs::rename(
        workspace.path("edas-rollback.yaml"),
        workspace.path("incident 42.yaml"),
    )
    .unwrap();
    let endpoint = sim.endpoint();
    let output = run(workspace.command(
        &endpoint,
        &[
            "-c",
            "incident 42.yaml",
            "--state",
            "runs.state.json",
            "plan",
            "--out",
            "p.json",
        ],
    ));
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    // The hint names the config, the state and the endpoint.
    assert_cli_snapshot!("hint_text", stdout.replace(&endpoint, "[SIMULATOR]"));
    // The hint, copied into a shell, carries out the plan.
    let hint = stdout
        .lines()
        .find_map(|line| line.split("run: ").nth(1))
        .unwrap()
        .to_string();
    let mut command = workspace.bare_command(&[]);
    command
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            edas_rollback::sim::DEFAULT_ACCESS_KEY_ID,
        )
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            edas_rollback::sim::DEFAULT_ACCESS_KEY_SECRET,
        );
    let shell = std::process::Command::new("sh")
        .arg("-c")
        .arg(hint.replacen("edas-rollback", &format!("'{}'", support::BINARY), 1))
        .current_dir(workspace.dir.path())
        .envs(
            command
                .get_envs()
                .filter_map(|(key, value)| Some((key, value?))),
        )
        .output()
        .unwrap();
    assert_exit(&shell, 0);
    assert_eq!(
        workspace.state_path().file_name().unwrap(),
        "edas-rollback.state.json"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(workspace.path("runs.state.json")).unwrap())
            .unwrap();
    assert_eq!(state["change_orders"].as_object().unwrap().len(), 2);
    // The markdown hint too.
    let output = run(workspace.command(
        &endpoint,
        &[
            "-c",
            "incident 42.yaml",
            "show",
            "p.json",
            "--format",
            "markdown",
        ],
    ));
    assert_exit(&output, 0);
    assert_cli_snapshot!(
        "hint_markdown",
        text(&output.stdout).replace(&endpoint, "[SIMULATOR]")
    );
}
