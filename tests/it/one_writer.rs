//! One state, one writer (docs/state-store.md): through the real binary against the
//! simulator, a state reached through a symbolic link is the same state as its target (one
//! lock, one journal, the link kept), and a lock file removed under a running apply (as
//! `git clean -fdX` does) admits no second apply and no fold of the live journal.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;
use support::*;

fn slow_sim() -> Sim {
    Sim::slow(Duration::from_millis(100), 7)
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn two_applies_through_a_link_and_its_target_never_run_at_once_and_the_link_stays_a_link() {
    let sim = slow_sim();
    let mut workspace = Workspace::new(20);
    let endpoint = sim.endpoint();
    let target = workspace.path("real.state.json");
    let link = workspace.path("link.state.json");
    std::os::unix::fs::symlink("real.state.json", &link).unwrap();

    let mut first = workspace
        .command(
            &endpoint,
            &[
                "apply",
                "--auto-approve",
                "--parallelism",
                "1",
                "--state",
                "real.state.json",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = workspace.path("real.state.json.journal");
    wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(&journal).is_ok_and(|text| text.lines().count() > 1)
    });
    assert_eq!(
        mode(&journal),
        0o600,
        "the journal is private like the state"
    );
    assert_eq!(
        mode(&workspace.path("real.state.json.lock")),
        0o600,
        "the lock file is private like the state"
    );
    let second = run(workspace.command(
        &endpoint,
        &["apply", "--auto-approve", "--state", "link.state.json"],
    ));
    assert_exit(&second, 1);
    let stderr = text(&second.stderr);
    assert!(stderr.contains("locked"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.id())), "{stderr}");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_no_duplicates(&sim, &workspace.ids);

    // A run through the link writes through to the target and leaves the link a link.
    workspace.declare(25);
    let again = run(workspace.command(
        &endpoint,
        &["apply", "--auto-approve", "--state", "link.state.json"],
    ));
    assert_exit(&again, 0);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a regular file"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    for id in &workspace.ids {
        assert_eq!(state["change_orders"][id]["status"], "aborted", "{id}");
        assert_eq!(sim.commits().get(id).copied(), Some(1), "{id}");
    }
    assert!(
        !workspace.path("link.state.json.lock").exists()
            && !workspace.path("link.state.json.journal").exists(),
        "no second set of files keyed on the link's name"
    );
}

#[test]
fn a_lock_file_removed_under_a_running_apply_lets_no_second_apply_in() {
    let sim = slow_sim();
    let workspace = Workspace::new(30);
    let endpoint = sim.endpoint();
    let mut first = workspace
        .command(
            &endpoint,
            &["apply", "--auto-approve", "--parallelism", "1"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(20), || workspace.journal_lines() > 2);
    // What `git clean -fdX` does to an ignored lock file.
    let mut lock = workspace.state_path().into_os_string();
    lock.push(".lock");
    std::fs::remove_file(&lock).unwrap();

    let second = run(workspace.command(&endpoint, &["apply", "--auto-approve"]));
    assert_exit(&second, 1);
    let stderr = text(&second.stderr);
    assert!(
        stderr.contains("being written by another command"),
        "{stderr}"
    );
    assert!(
        workspace.journal_path().exists(),
        "the live journal was not folded"
    );
    // A read-only command does not fold it either.
    let plan = run(workspace.command(&endpoint, &["plan"]));
    assert_exit(&plan, 1);
    assert!(
        workspace.journal_path().exists(),
        "plan folded a live journal"
    );

    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_all_aborted_exactly_once(&workspace, &sim);
    let last = run(workspace.command(&endpoint, &["apply", "--auto-approve"]));
    assert_exit(&last, 0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}
