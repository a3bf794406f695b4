//! The local state store on real files: atomic replace, serial and backup rules, refusal of
//! newer and corrupt files, the OS lock between real processes, `force-unlock` through the
//! binary, and folding a journal left by a crash.
//!
//! Lock tests need a second process that holds the lock: this test binary re-executes
//! itself, running only `a_lock_holder_process_or_two_handles_in_one_process` with
//! `HOLDER_ENV` set, which takes the lock, announces its id in a file and sleeps.

use assert_cmd::Command as BinaryCommand;
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::state::journal::{JournalRecord, RequestKind};
use edas_rollback::state::store::{LoadedState, LocalStore, SaveOutcome, StoreError};
use edas_rollback::state::{ChangeOrderRecord, RecordStatus, State};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const HOLDER_ENV: &str = "EDAS_ROLLBACK_TEST_LOCK_HOLDER";
const HOLD_MS_ENV: &str = "EDAS_ROLLBACK_TEST_HOLD_MS";
const TOOL: &str = "0.1.0";

fn ready_path(state: &Path) -> PathBuf {
    PathBuf::from(format!("{}.holder-ready", state.display()))
}

#[test]
fn a_lock_holder_process_or_two_handles_in_one_process() {
    if let Ok(state_path) = std::env::var(HOLDER_ENV) {
        let hold = std::env::var(HOLD_MS_ENV)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(30_000);
        let store = LocalStore::new(&state_path);
        let lock = store.lock("holder", Duration::ZERO).unwrap();
        let ready = ready_path(Path::new(&state_path));
        let temp = ready.with_extension("tmp");
        fs::write(&temp, &lock.info().id).unwrap();
        fs::rename(&temp, &ready).unwrap();
        std::thread::sleep(Duration::from_millis(hold));
        drop(lock);
        return;
    }
    // Run normally: the OS lock also excludes a second handle in the same process.
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let first = store.lock("apply", Duration::ZERO).unwrap();
    match store.lock("state rm", Duration::ZERO) {
        Err(StoreError::Locked {
            info: Some(info), ..
        }) => assert_eq!(info.id, first.info().id),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    assert!(
        !store.lock_path().exists(),
        "a released lock removes its file"
    );
    store.lock("apply", Duration::ZERO).unwrap();
}

/// A process holding the lock on `state` for `hold`; returns it with its lock id. The
/// caller waits for it (clippy cannot see through the returned tuple).
#[allow(clippy::zombie_processes)]
fn spawn_holder(state: &Path, hold: Duration) -> (Child, String) {
    let ready = ready_path(state);
    let _ = fs::remove_file(&ready);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            // The test's full name in the one integration test binary (tests/it/main.rs).
            "state_store::a_lock_holder_process_or_two_handles_in_one_process",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(HOLDER_ENV, state)
        .env(HOLD_MS_ENV, hold.as_millis().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Ok(id) = fs::read_to_string(&ready) {
            return (child, id);
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the holder never took the lock");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn record(status: RecordStatus, request_id: &str) -> ChangeOrderRecord {
    let mut record = ChangeOrderRecord::new(status);
    record.attempts = 1;
    record.request_id = Some(request_id.to_string());
    record
}

/// A store whose state file exists with serial 1 and one change order.
fn store_with_state(dir: &Path) -> LocalStore {
    let store = LocalStore::new(dir.join("incident.state.json"));
    let lock = store.lock("test", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    assert!(!loaded.existed);
    let mut state = loaded.state.clone();
    state.change_orders.insert(
        ChangeOrderId::new("co-1"),
        record(RecordStatus::Failed, "req-1"),
    );
    let outcome = store.save(&lock, &loaded, &state).unwrap();
    assert!(matches!(outcome, SaveOutcome::Written { ref state } if state.serial == 1));
    store
}

fn with_change(state: &State, id: &str, status: RecordStatus) -> State {
    let mut state = state.clone();
    state
        .change_orders
        .insert(ChangeOrderId::new(id), record(status, &format!("req-{id}")));
    state
}

fn assert_only_files(dir: &Path, expected: &[&str]) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = expected.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn a_save_replaces_the_file_atomically_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        let store = store.clone();
        std::thread::spawn(move || {
            let mut reads = 0;
            let mut serials = Vec::new();
            while !done.load(Ordering::Relaxed) || reads == 0 {
                // Every read sees a whole state, old or new: never a prefix or a mix.
                let state = store.read().unwrap().unwrap();
                serials.push(state.serial);
                reads += 1;
            }
            serials
        })
    };
    let lock = store.lock("apply", Duration::ZERO).unwrap();
    let mut loaded = store.load_for_update(&lock, TOOL).unwrap();
    for round in 0..150 {
        let status = if round % 2 == 0 {
            RecordStatus::Aborted
        } else {
            RecordStatus::Unknown
        };
        let next = with_change(&loaded.state, "co-1", status);
        let outcome = store.save(&lock, &loaded, &next).unwrap();
        loaded = outcome.into_loaded(loaded);
    }
    done.store(true, Ordering::Relaxed);
    let serials = reader.join().unwrap();
    assert!(serials.windows(2).all(|pair| pair[0] <= pair[1]));
    assert_eq!(store.read().unwrap().unwrap().serial, 151);
    assert_only_files(
        dir.path(),
        &[
            "incident.state.json",
            "incident.state.json.backup",
            "incident.state.json.lock",
        ],
    );
    drop(lock);
    assert_only_files(
        dir.path(),
        &["incident.state.json", "incident.state.json.backup"],
    );
}

#[test]
fn the_serial_goes_up_only_when_content_changes_and_an_unchanged_state_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let before = fs::metadata(store.state_path()).unwrap();
    let bytes_before = fs::read(store.state_path()).unwrap();
    std::thread::sleep(Duration::from_millis(20));

    let lock = store.lock("apply", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    let mut same = loaded.state.clone();
    same.tool_version = "9.9.9".into(); // not content
    assert_eq!(
        store.save(&lock, &loaded, &same).unwrap(),
        SaveOutcome::Unchanged
    );
    let after = fs::metadata(store.state_path()).unwrap();
    assert_eq!(after.ino(), before.ino());
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    assert_eq!(fs::read(store.state_path()).unwrap(), bytes_before);
    assert!(!store.backup_path().exists(), "no change, no backup");

    let changed = with_change(&loaded.state, "co-2", RecordStatus::Aborted);
    let SaveOutcome::Written { state } = store.save(&lock, &loaded, &changed).unwrap() else {
        panic!("a change must be written");
    };
    assert_eq!(state.serial, 2);
    assert_eq!(store.read().unwrap().unwrap(), state);
    assert_ne!(
        fs::metadata(store.state_path()).unwrap().ino(),
        before.ino()
    );
}

#[test]
fn a_fresh_state_with_nothing_in_it_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let lock = store.lock("plan", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    assert_eq!(loaded.state.serial, 0);
    assert!(uuid::Uuid::parse_str(&loaded.state.lineage).is_ok());
    assert_eq!(
        store.save(&lock, &loaded, &loaded.state.clone()).unwrap(),
        SaveOutcome::Unchanged
    );
    assert!(!store.state_path().exists());
}

#[test]
fn the_backup_holds_the_previous_version_and_is_written_once_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let serial_1 = fs::read(store.state_path()).unwrap();

    let lock = store.lock("apply", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    let loaded = store
        .save(
            &lock,
            &loaded,
            &with_change(&loaded.state, "a", RecordStatus::Aborted),
        )
        .unwrap()
        .into_loaded(loaded);
    assert_eq!(fs::read(store.backup_path()).unwrap(), serial_1);
    let serial_2 = fs::read(store.state_path()).unwrap();
    store
        .save(
            &lock,
            &loaded,
            &with_change(&loaded.state, "b", RecordStatus::Aborted),
        )
        .unwrap();
    assert_eq!(
        fs::read(store.backup_path()).unwrap(),
        serial_1,
        "the second save of a run keeps the run's starting point"
    );
    drop(lock);

    let lock = store.lock("apply", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    assert_eq!(loaded.state.serial, 3);
    store
        .remove(&lock, &loaded, &[ChangeOrderId::new("a")])
        .unwrap();
    assert_ne!(fs::read(store.backup_path()).unwrap(), serial_2);
    let backup: State = serde_json::from_slice(&fs::read(store.backup_path()).unwrap()).unwrap();
    assert_eq!(
        backup.serial, 3,
        "a new run backs up the state it started from"
    );
    assert_eq!(store.read().unwrap().unwrap().serial, 4);
}

#[test]
fn state_rm_of_an_id_not_in_state_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let bytes = fs::read(store.state_path()).unwrap();
    let lock = store.lock("state rm", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    let error = store
        .remove(
            &lock,
            &loaded,
            &[ChangeOrderId::new("co-1"), ChangeOrderId::new("nope")],
        )
        .unwrap_err();
    assert!(error.to_string().contains("`nope`"), "{error}");
    assert_eq!(fs::read(store.state_path()).unwrap(), bytes);
}

#[test]
fn a_save_is_refused_when_the_serial_on_disk_moved_since_loading() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let lock = store.lock("apply", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    let stale: LoadedState = loaded.clone();
    store
        .save(
            &lock,
            &loaded,
            &with_change(&loaded.state, "a", RecordStatus::Aborted),
        )
        .unwrap();
    let written = fs::read(store.state_path()).unwrap();
    let error = store
        .save(
            &lock,
            &stale,
            &with_change(&stale.state, "b", RecordStatus::Aborted),
        )
        .unwrap_err();
    assert!(matches!(error, StoreError::SerialMoved { .. }), "{error}");
    assert!(error.to_string().contains("serial 1"), "{error}");
    assert_eq!(fs::read(store.state_path()).unwrap(), written);
}

#[test]
fn a_state_from_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let newer = br#"{"format_version": 2, "lineage": "x", "serial": 7, "tool_version": "9.0.0", "change_orders": {}, "new_field": true}"#;
    fs::write(store.state_path(), newer).unwrap();
    let lock = store.lock("apply", Duration::ZERO).unwrap();
    for error in [
        store.read().unwrap_err(),
        store.load_for_update(&lock, TOOL).unwrap_err(),
    ] {
        assert!(
            matches!(
                error,
                StoreError::NewerFormat {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{error}"
        );
        let message = error.to_string();
        assert!(message.contains("s.json"), "{message}");
        assert!(error.hint().unwrap().contains("upgrade"));
    }
    drop(lock);
    assert!(matches!(
        store.load_recovering("show", Duration::ZERO, TOOL),
        Err(StoreError::NewerFormat { .. })
    ));
    assert_eq!(fs::read(store.state_path()).unwrap(), newer);
}

#[test]
fn a_corrupt_state_is_a_clear_error_and_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let good = fs::read_to_string(store.state_path()).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good.as_bytes()[..good.len() / 2].to_vec(),
            "ends early",
        ),
        ("empty", Vec::new(), "ends early"),
        ("not json", b"serial = 3\n".to_vec(), "not JSON"),
        (
            "wrong shape",
            br#"{"format_version": 1, "lineage": "x", "serial": "three", "tool_version": "0"}"#
                .to_vec(),
            "not a state",
        ),
        (
            "unknown field",
            good.replacen("\"serial\"", "\"serail\": 1, \"serial\"", 1)
                .into_bytes(),
            "not a state",
        ),
        ("not an object", b"[1, 2]".to_vec(), "not a state"),
    ];
    for (name, bytes, expected) in cases {
        fs::write(store.state_path(), &bytes).unwrap();
        let lock = store.lock("apply", Duration::ZERO).unwrap();
        let error = store.load_for_update(&lock, TOOL).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, StoreError::Corrupt { .. }),
            "{name}: {message}"
        );
        assert!(message.contains("incident.state.json"), "{name}: {message}");
        assert!(message.contains("line "), "{name}: {message}");
        assert!(message.contains(expected), "{name}: {message}");
        assert!(error.hint().unwrap().contains("backup"), "{name}");
        drop(lock);
        assert_eq!(fs::read(store.state_path()).unwrap(), bytes, "{name}");
    }

    let mut not_utf8 = good.clone().into_bytes();
    not_utf8.splice(10..10, [0xff, 0xfe]);
    fs::write(store.state_path(), &not_utf8).unwrap();
    let error = store.read().unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::NotUtf8 {
                line: 2,
                byte: 11,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(fs::read(store.state_path()).unwrap(), not_utf8);
}

#[test]
fn a_directory_given_as_the_state_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let error = store.read().unwrap_err();
    assert!(
        error.to_string().contains("could not read state file"),
        "{error}"
    );
}

#[test]
fn a_second_process_is_refused_at_once_with_the_holders_info() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let (mut holder, id) = spawn_holder(store.state_path(), Duration::from_secs(60));

    let started = Instant::now();
    let error = store.lock("apply", Duration::ZERO).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "fails at once");
    let StoreError::Locked {
        info: Some(ref info),
        ..
    } = error
    else {
        panic!("expected Locked with info, got {error:?}");
    };
    assert_eq!(info.id, id);
    assert_eq!(info.pid, holder.id());
    assert_eq!(info.operation, "holder");
    let message = error.to_string();
    for part in [id.as_str(), "operation `holder`", "pid", "host", "since"] {
        assert!(message.contains(part), "{message}");
    }
    let hint = error.hint().unwrap();
    assert!(hint.contains("--lock-timeout"), "{hint}");
    assert!(hint.contains(&format!("force-unlock {id}")), "{hint}");

    // A short wait still fails, after waiting.
    let error = store.lock("apply", Duration::from_millis(300)).unwrap_err();
    assert!(
        matches!(error, StoreError::Locked { waited, .. } if waited >= Duration::from_millis(300))
    );

    // force-unlock refuses while a live process holds it.
    let output = BinaryCommand::cargo_bin("edas-rollback")
        .unwrap()
        .current_dir(dir.path())
        .args(["--state", "s.json", "force-unlock", &id])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("held by a running process"), "{stderr}");
    assert!(store.lock_path().exists());

    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[test]
fn a_waiting_locker_gets_the_lock_once_the_holder_exits() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let (mut holder, id) = spawn_holder(store.state_path(), Duration::from_millis(800));
    let lock = store.lock("apply", Duration::from_secs(60)).unwrap();
    assert_ne!(lock.info().id, id);
    assert_eq!(lock.info().pid, std::process::id());
    assert!(holder.wait().unwrap().success());
}

#[test]
fn a_sigkilled_holders_lock_is_taken_at_once_and_force_unlock_checks_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let (mut holder, id) = spawn_holder(store.state_path(), Duration::from_secs(60));
    holder.kill().unwrap(); // SIGKILL: no destructor runs, the lock file stays behind
    holder.wait().unwrap();
    let stale: serde_json::Value =
        serde_json::from_slice(&fs::read(store.lock_path()).unwrap()).unwrap();
    assert_eq!(stale["id"], id.as_str());

    // force-unlock with the wrong id: refused, both ids named, file kept.
    let output = BinaryCommand::cargo_bin("edas-rollback")
        .unwrap()
        .current_dir(dir.path())
        .args(["--state", "s.json", "force-unlock", "not-the-id"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not-the-id") && stderr.contains(&id),
        "{stderr}"
    );
    assert!(store.lock_path().exists());

    // The right id, found through the config's `state:`.
    fs::write(
        dir.path().join("edas-rollback.yaml"),
        "version: 1\nstate: s.json\nchange_orders: []\n",
    )
    .unwrap();
    let output = BinaryCommand::cargo_bin("edas-rollback")
        .unwrap()
        .current_dir(dir.path())
        .args(["force-unlock", &id])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("Lock {id} removed from s.json.\n")
    );
    assert!(!store.lock_path().exists());
    let output = BinaryCommand::cargo_bin("edas-rollback")
        .unwrap()
        .current_dir(dir.path())
        .args(["force-unlock", &id])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("there is no lock file `s.json.lock`")
    );

    // And a killed holder never blocks the next command, force-unlock or not.
    let (mut holder, id) = spawn_holder(store.state_path(), Duration::from_secs(60));
    holder.kill().unwrap();
    holder.wait().unwrap();
    let started = Instant::now();
    let lock = store.lock("apply", Duration::ZERO).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_ne!(lock.info().id, id);
    let on_disk: serde_json::Value =
        serde_json::from_slice(&fs::read(store.lock_path()).unwrap()).unwrap();
    assert_eq!(
        on_disk["id"],
        lock.info().id.as_str(),
        "stale info replaced"
    );
}

fn begin(lineage: &str, serial: u64) -> JournalRecord {
    JournalRecord::Begin {
        lineage: lineage.to_string(),
        serial,
        at: "2026-11-27T10:00:00Z".into(),
        operation: "apply".into(),
        endpoint: None,
    }
}

fn intent(id: &str, attempt: u32) -> JournalRecord {
    JournalRecord::Intent {
        change_order_id: ChangeOrderId::new(id),
        attempt,
        at: "2026-11-27T10:00:01Z".into(),
        request: RequestKind::Abort,
        operation: None,
        app: Some("checkout".into()),
        reason: None,
    }
}

fn aborted(id: &str) -> JournalRecord {
    JournalRecord::Response {
        change_order_id: ChangeOrderId::new(id),
        at: "2026-11-27T10:00:02Z".into(),
        status: RecordStatus::Aborted,
        http_status: Some(200),
        request_id: Some(format!("req-{id}")),
        trace_id: None,
        code: Some("200".into()),
        error_code: Some("success".into()),
        message: Some("success".into()),
        rollback_change_order_id: Some(format!("rb-{id}")),
        confirmed_by_status: false,
        change_order_status: None,
    }
}

#[test]
fn a_journal_left_by_a_crash_is_folded_once_saved_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let before = store.read().unwrap().unwrap();
    let before_bytes = fs::read(store.state_path()).unwrap();

    {
        let lock = store.lock("apply", Duration::ZERO).unwrap();
        let loaded = store.load_for_update(&lock, TOOL).unwrap();
        let mut writer = store
            .begin_journal(&lock, &begin(&loaded.state.lineage, loaded.state.serial))
            .unwrap();
        for record in [
            intent("co-1", 2),
            intent("co-2", 1),
            intent("co-3", 1),
            aborted("co-1"),
            aborted("co-2"),
        ] {
            writer.append(&record).unwrap();
        }
        writer.sync().unwrap();
        assert!(writer.bytes_written() > 0);
        // The crash: no fold, no finish_journal, and half a response on the last line.
        drop(writer);
        let mut journal = fs::read(store.journal_path()).unwrap();
        journal.extend_from_slice(&serde_json::to_vec(&aborted("co-3")).unwrap()[..40]);
        fs::write(store.journal_path(), journal).unwrap();
        std::mem::forget(lock); // as if killed: the lock file stays, and is held until exit
    }
    // A killed process's OS lock is gone; in this process the forgotten handle still holds
    // it, so release it the way the OS would for a dead process: take the lock file over.
    fs::remove_file(store.lock_path()).unwrap();

    let lock = store.lock("plan", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    let recovery = loaded.recovered.clone().unwrap();
    assert_eq!(recovery.records, 6);
    assert_eq!(recovery.unknown, 1);
    assert!(recovery.torn_last_line);
    assert_eq!(recovery.serial, before.serial + 1);
    assert!(
        recovery
            .to_string()
            .contains("1 change order(s) left unknown")
    );
    let state = &loaded.state;
    assert_eq!(state.serial, before.serial + 1);
    assert_eq!(
        state.change_orders[&ChangeOrderId::new("co-1")].status,
        RecordStatus::Aborted
    );
    assert_eq!(
        state.change_orders[&ChangeOrderId::new("co-2")]
            .request_id
            .as_deref(),
        Some("req-co-2")
    );
    assert_eq!(
        state.change_orders[&ChangeOrderId::new("co-3")].status,
        RecordStatus::Unknown
    );
    assert_eq!(state.change_orders[&ChangeOrderId::new("co-3")].attempts, 1);
    assert!(!store.journal_path().exists());
    assert_eq!(store.read().unwrap().unwrap(), *state);
    assert_eq!(fs::read(store.backup_path()).unwrap(), before_bytes);

    // Nothing left to fold: the next load changes nothing.
    let again = store.load_for_update(&lock, TOOL).unwrap();
    assert_eq!(again.recovered, None);
    assert_eq!(again.state.serial, state.serial);
}

#[test]
fn a_crash_in_the_very_first_run_recovers_into_the_journals_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let lineage = {
        let lock = store.lock("apply", Duration::ZERO).unwrap();
        let loaded = store.load_for_update(&lock, TOOL).unwrap();
        let mut writer = store
            .begin_journal(&lock, &begin(&loaded.state.lineage, 0))
            .unwrap();
        writer.append(&intent("co-9", 1)).unwrap();
        writer.sync().unwrap();
        // A second journal cannot start over a leftover one.
        assert!(matches!(
            store.begin_journal(&lock, &begin(&loaded.state.lineage, 0)),
            Err(StoreError::JournalExists { .. })
        ));
        loaded.state.lineage
    };
    let loaded = store.load_recovering("show", Duration::ZERO, TOOL).unwrap();
    assert_eq!(loaded.state.lineage, lineage);
    assert_eq!(loaded.state.serial, 1);
    assert!(loaded.existed);
    assert_eq!(
        loaded.state.change_orders[&ChangeOrderId::new("co-9")].status,
        RecordStatus::Unknown
    );
    assert!(!store.journal_path().exists());
}

#[test]
fn a_journal_of_another_state_is_refused_and_nothing_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let state_bytes = fs::read(store.state_path()).unwrap();
    let journal = format!(
        "{}\n{}\n",
        serde_json::to_string(&begin("another-lineage", 1)).unwrap(),
        serde_json::to_string(&intent("co-1", 2)).unwrap()
    );
    fs::write(store.journal_path(), &journal).unwrap();
    let error = store
        .load_recovering("plan", Duration::ZERO, TOOL)
        .unwrap_err();
    assert!(matches!(error, StoreError::JournalFold { .. }), "{error}");
    assert_eq!(fs::read(store.state_path()).unwrap(), state_bytes);
    assert_eq!(fs::read_to_string(store.journal_path()).unwrap(), journal);

    // A corrupt line in the middle is named by number, and also touches nothing.
    let corrupt = format!(
        "{}\nnot json\n{}\n",
        serde_json::to_string(&begin("x", 1)).unwrap(),
        serde_json::to_string(&intent("co-1", 2)).unwrap()
    );
    fs::write(store.journal_path(), &corrupt).unwrap();
    let error = store
        .load_recovering("plan", Duration::ZERO, TOOL)
        .unwrap_err();
    assert!(error.to_string().contains("at line 2"), "{error}");
    assert_eq!(fs::read(store.state_path()).unwrap(), state_bytes);
}

#[test]
fn a_read_only_command_leaves_a_running_commands_journal_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_state(dir.path());
    let lock = store.lock("apply", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    let mut writer = store
        .begin_journal(&lock, &begin(&loaded.state.lineage, loaded.state.serial))
        .unwrap();
    writer.append(&intent("co-2", 1)).unwrap();
    writer.sync().unwrap();

    let seen = store.load_recovering("show", Duration::ZERO, TOOL).unwrap();
    assert_eq!(seen.state, loaded.state);
    assert_eq!(seen.recovered, None);
    assert_eq!(seen.live_journal.unwrap().id, lock.info().id);
    assert!(store.journal_path().exists());

    // The run ends normally: fold, save, finish.
    let records = store.read_journal().unwrap().unwrap().records;
    let folded = edas_rollback::state::journal::fold(loaded.state.clone(), &records).unwrap();
    store.save(&lock, &loaded, &folded).unwrap();
    store.finish_journal(&lock, writer).unwrap();
    assert!(!store.journal_path().exists());
    assert_eq!(store.read().unwrap().unwrap().serial, 2);
}

#[test]
fn lockers_exclude_each_other_while_holders_keep_releasing_and_removing_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let inside = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            let inside = Arc::clone(&inside);
            std::thread::spawn(move || {
                for _ in 0..40 {
                    // Each call opens its own handle, so threads contend like processes do.
                    let lock = store.lock("apply", Duration::from_secs(60)).unwrap();
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    std::thread::sleep(Duration::from_micros(300));
                    inside.store(false, Ordering::SeqCst);
                    drop(lock);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(!store.lock_path().exists());
}
