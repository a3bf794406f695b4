//! One conformance suite for every [`StateStore`]: the local file store and PostgreSQL (on a
//! throwaway cluster this test starts; it fails, never skips, when PostgreSQL cannot start).
//! Each case opens fresh store handles for the same state, as separate commands would.

use crate::support::pg_cluster;

use edas_rollback::ids::ChangeOrderId;
use edas_rollback::state::journal::{JournalRecord, RequestKind};
use edas_rollback::state::postgres::{PgStore, location};
use edas_rollback::state::store::{LocalStore, SaveOutcome, StateStore, StoreError, StoreJournal};
use edas_rollback::state::{ChangeOrderRecord, RecordStatus};
use std::time::{Duration, Instant};

const TOOL: &str = "0.1.0";

fn id(text: &str) -> ChangeOrderId {
    ChangeOrderId::new(text)
}

fn intent(change_order: &str, attempt: u32) -> JournalRecord {
    JournalRecord::Intent {
        change_order_id: id(change_order),
        attempt,
        at: "2026-11-30T00:00:00Z".into(),
        request: RequestKind::Abort,
        operation: None,
        app: Some("checkout".into()),
        reason: None,
    }
}

fn response(change_order: &str, status: RecordStatus) -> JournalRecord {
    JournalRecord::Response {
        change_order_id: id(change_order),
        at: "2026-11-30T00:00:01Z".into(),
        status,
        http_status: Some(200),
        request_id: Some(format!("req-{change_order}")),
        trace_id: None,
        code: None,
        error_code: None,
        message: None,
        rollback_change_order_id: None,
        confirmed_by_status: false,
        change_order_status: None,
    }
}

/// Every case, against stores `open` makes for one state (`open(name)`: a fresh handle on
/// the state `name`, as a new command would open it).
fn conformance<S: StateStore>(open: impl Fn(&str) -> S) {
    // A state never saved loads empty at serial 0, and the first save makes serial 1.
    let store = open("a");
    let lock = store.lock("apply", Duration::ZERO).unwrap();
    let loaded = store.load_for_update(&lock, TOOL).unwrap();
    assert!(!loaded.existed);
    assert_eq!(loaded.state.serial, 0);
    let mut next = loaded.state.clone();
    for name in ["co-1", "co-2", "co-3"] {
        next.change_orders
            .insert(id(name), ChangeOrderRecord::new(RecordStatus::Aborted));
    }
    let saved = store.save(&lock, &loaded, &next).unwrap();
    let SaveOutcome::Written { state: written } = saved.clone() else {
        panic!("expected a write, got {saved:?}");
    };
    assert_eq!(written.serial, 1);
    let loaded = saved.into_loaded(loaded);
    // The same content again writes nothing.
    assert_eq!(
        store.save(&lock, &loaded, &loaded.state.clone()).unwrap(),
        SaveOutcome::Unchanged
    );
    // Records survive a new handle, with lineage and serial.
    store.unlock(lock).unwrap();
    drop(store);
    let other = open("a");
    let reread = other.load_recovering("plan", Duration::ZERO, TOOL).unwrap();
    assert!(reread.existed);
    assert_eq!(reread.state.serial, 1);
    assert_eq!(reread.state.lineage, written.lineage);
    assert_eq!(reread.state.change_orders, written.change_orders);

    // States are independent: another name is empty.
    let unrelated = open("b");
    assert!(
        !unrelated
            .load_recovering("plan", Duration::ZERO, TOOL)
            .unwrap()
            .existed
    );

    // A save over a state that moved since it was loaded is refused, naming both serials.
    let first = open("a");
    let second = open("a");
    let first_lock = first.lock("apply", Duration::ZERO).unwrap();
    let stale = first.load_for_update(&first_lock, TOOL).unwrap();
    let mut changed = stale.state.clone();
    changed.change_orders.remove(&id("co-3"));
    first.save(&first_lock, &stale, &changed).unwrap();
    first.unlock(first_lock).unwrap();
    let second_lock = second.lock("apply", Duration::ZERO).unwrap();
    match second.save(
        &second_lock,
        &stale,
        &stale.state.clone().without(&[id("co-1")]).unwrap(),
    ) {
        Err(StoreError::SerialMoved { loaded, found, .. }) => {
            assert!(loaded.starts_with("1 "), "{loaded}");
            assert!(found.starts_with("2 "), "{found}");
        }
        other => panic!("expected SerialMoved, got {other:?}"),
    }
    let current = second.load_for_update(&second_lock, TOOL).unwrap();
    assert_eq!(current.state.serial, 2);
    assert!(!current.state.change_orders.contains_key(&id("co-3")));
    // `state rm` of an id the state lacks removes nothing.
    assert!(matches!(
        second.remove(&second_lock, &current, &[id("co-1"), id("nope")]),
        Err(StoreError::NotInState { .. })
    ));
    second.unlock(second_lock).unwrap();

    // One holder at a time: a second handle is refused at once, naming the holder; waiting
    // with a timeout gets the lock once the holder lets go.
    let holder = open("a");
    let held = holder.lock("apply", Duration::ZERO).unwrap();
    let holder_id = S::lock_info(&held).id.clone();
    // Not even the same handle takes it twice.
    assert!(matches!(
        holder.lock("apply", Duration::ZERO),
        Err(StoreError::Locked { .. })
    ));
    let contender = open("a");
    let started = Instant::now();
    match contender.lock("state rm", Duration::ZERO) {
        Err(StoreError::Locked {
            info: Some(info), ..
        }) => {
            assert_eq!(info.id, holder_id);
            assert_eq!(info.operation, "apply");
            assert_eq!(info.pid, std::process::id());
        }
        other => panic!("expected Locked naming the holder, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    // force-unlock never takes a live holder's lock, nor one of another id.
    assert!(matches!(
        contender.force_unlock("not-the-id"),
        Err(StoreError::LockIdMismatch { .. })
    ));
    assert!(matches!(
        contender.force_unlock(&holder_id),
        Err(StoreError::LockHeldByLiveProcess { .. })
    ));
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| contender.lock("apply", Duration::from_secs(20)));
        std::thread::sleep(Duration::from_millis(300));
        holder.unlock(held).unwrap();
        let lock = waiter.join().unwrap().expect("the waiter gets the lock");
        contender.unlock(lock).unwrap();
    });

    // The write-ahead journal: a run that dies after syncing leaves records the next
    // command folds exactly as the journal fold says, once.
    let run = open("a");
    let lock = run.lock("apply", Duration::ZERO).unwrap();
    let loaded = run.load_for_update(&lock, TOOL).unwrap();
    let begin = JournalRecord::Begin {
        lineage: loaded.state.lineage.clone(),
        serial: loaded.state.serial,
        at: "2026-11-30T00:00:00Z".into(),
        operation: "apply".into(),
        endpoint: None,
    };
    let mut journal = run.begin_journal(&lock, &begin).unwrap();
    // A journal exists: a second one is refused.
    assert!(matches!(
        run.begin_journal(&lock, &begin),
        Err(StoreError::JournalExists { .. })
    ));
    journal.append(&intent("co-4", 1)).unwrap();
    journal.append(&intent("co-5", 1)).unwrap();
    journal.sync().unwrap();
    journal
        .append(&response("co-4", RecordStatus::Aborted))
        .unwrap();
    journal.sync().unwrap();
    assert!(journal.bytes_written() > 0);
    // While the run holds the lock, a reader sees the saved state and names the holder; it
    // folds nothing.
    let reader = open("a");
    let seen = reader
        .load_recovering("plan", Duration::ZERO, TOOL)
        .unwrap();
    assert_eq!(seen.state.serial, loaded.state.serial);
    assert_eq!(
        seen.live_journal.as_ref().map(|info| info.id.clone()),
        Some(S::lock_info(&lock).id.clone())
    );
    // The crash: no save, no finish; the process's lock goes with it.
    drop(journal);
    drop(lock);
    drop(run);
    let next = open("a");
    let lock = next.lock("apply", Duration::ZERO).unwrap();
    let recovered = next.load_for_update(&lock, TOOL).unwrap();
    let recovery = recovered.recovered.clone().expect("the journal was folded");
    assert_eq!(recovery.records, 4);
    assert_eq!(recovery.unknown, 1);
    assert_eq!(recovered.state.serial, loaded.state.serial + 1);
    let records = &recovered.state.change_orders;
    assert_eq!(records[&id("co-4")].status, RecordStatus::Aborted);
    assert_eq!(records[&id("co-4")].request_id.as_deref(), Some("req-co-4"));
    assert_eq!(records[&id("co-5")].status, RecordStatus::Unknown);
    assert_eq!(records[&id("co-5")].attempts, 1);
    // Folded once: loading again finds nothing to fold.
    let again = next.load_for_update(&lock, TOOL).unwrap();
    assert!(again.recovered.is_none());
    assert_eq!(again.state, recovered.state);

    // A finished run: save, finish the journal; nothing is left to fold.
    let begin = JournalRecord::Begin {
        lineage: again.state.lineage.clone(),
        serial: again.state.serial,
        at: "2026-11-30T00:00:02Z".into(),
        operation: "apply".into(),
        endpoint: None,
    };
    let mut journal = next.begin_journal(&lock, &begin).unwrap();
    journal.append(&intent("co-5", 2)).unwrap();
    journal.sync().unwrap();
    journal
        .append(&response("co-5", RecordStatus::Aborted))
        .unwrap();
    journal.sync().unwrap();
    let mut done = again.state.clone();
    let mut record = ChangeOrderRecord::new(RecordStatus::Aborted);
    record.attempts = 2;
    done.change_orders.insert(id("co-5"), record);
    next.save(&lock, &again, &done).unwrap();
    next.finish_journal(&lock, journal).unwrap();
    next.unlock(lock).unwrap();
    let last = open("a")
        .load_recovering("plan", Duration::ZERO, TOOL)
        .unwrap();
    assert!(last.recovered.is_none());
    assert_eq!(
        last.state.change_orders[&id("co-5")].status,
        RecordStatus::Aborted
    );
    assert_eq!(last.state.serial, again.state.serial + 1);
}

#[test]
fn the_local_file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(|name| LocalStore::new(dir.path().join(format!("{name}.state.json"))));
}

#[test]
fn the_postgresql_store_conforms() {
    let cluster = pg_cluster::PgCluster::start();
    let url = cluster.url("");
    conformance(|name| {
        let location = location::parse(&url, name, &|_| None, None).unwrap();
        PgStore::open(&location).unwrap()
    });
    // A second schema in the same database is a separate world.
    let url = cluster.url("schema=team_two");
    let location = location::parse(&url, "a", &|_| None, None).unwrap();
    let store = PgStore::open(&location).unwrap();
    assert!(
        !store
            .load_recovering("plan", Duration::ZERO, TOOL)
            .unwrap()
            .existed
    );
}
