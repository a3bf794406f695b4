//! State durability cost (docs/CONTRACT.md, "Performance targets": O(N) for a run of N, never
//! O(N²)): for N change orders, write the journal an apply writes (an intent and a response each,
//! group commit every 64 records), then fold it and save the state once, as the end of a run does.
//! Prints a markdown table of wall time and bytes written.
//!
//! Run: `cargo bench --bench state_durability` (files go to the system temp directory;
//! set `TMPDIR` to measure another disk).

use edas_rollback::ids::ChangeOrderId;
use edas_rollback::state::RecordStatus;
use edas_rollback::state::journal::{self, JournalRecord, RequestKind};
use edas_rollback::state::store::{LocalStore, SaveOutcome};
use std::time::{Duration, Instant};

const GROUP_COMMIT: usize = 64;
const TOOL: &str = env!("CARGO_PKG_VERSION");

struct Row {
    change_orders: usize,
    journal: Duration,
    fold: Duration,
    save: Duration,
    journal_bytes: u64,
    state_bytes: u64,
}

fn run(change_orders: usize) -> Row {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path().join("bench.state.json"));
    let lock = store.lock("bench", Duration::ZERO).expect("lock");
    let loaded = store.load_for_update(&lock, TOOL).expect("load");

    let started = Instant::now();
    let begin = JournalRecord::Begin {
        lineage: loaded.state.lineage.clone(),
        serial: loaded.state.serial,
        at: "2026-11-27T10:00:00Z".into(),
        operation: "apply".into(),
        endpoint: None,
    };
    let mut writer = store.begin_journal(&lock, &begin).expect("begin");
    let mut pending = 0;
    for index in 0..change_orders {
        let id = ChangeOrderId::new(format!("6b55106c-c7f2-40f7-a1d4-{index:012}"));
        let intent = JournalRecord::Intent {
            change_order_id: id.clone(),
            attempt: 1,
            at: "2026-11-27T10:00:01Z".into(),
            request: RequestKind::Abort,
            operation: None,
            app: Some("checkout".into()),
            reason: Some("release 2026-11-27 broke checkout".into()),
        };
        let response = JournalRecord::Response {
            change_order_id: id,
            at: "2026-11-27T10:00:02Z".into(),
            status: RecordStatus::Aborted,
            http_status: Some(200),
            request_id: Some(format!("D9F1A2B3-0000-4000-8000-{index:012}")),
            trace_id: Some(format!("0bc3b4a5{index:016}")),
            code: Some("200".into()),
            error_code: Some("success".into()),
            message: Some("success".into()),
            rollback_change_order_id: Some(format!("7c66217d-d8f3-41f8-b2e5-{index:012}")),
            confirmed_by_status: false,
            change_order_status: None,
        };
        for record in [&intent, &response] {
            writer.append(record).expect("append");
            pending += 1;
            if pending == GROUP_COMMIT {
                writer.sync().expect("sync");
                pending = 0;
            }
        }
    }
    writer.sync().expect("sync");
    let journal_bytes = writer.bytes_written();
    let journal_time = started.elapsed();

    let started = Instant::now();
    let parsed = store.read_journal().expect("read").expect("journal exists");
    let folded = journal::fold(loaded.state.clone(), &parsed.records).expect("fold");
    let fold_time = started.elapsed();

    let started = Instant::now();
    let outcome = store.save(&lock, &loaded, &folded).expect("save");
    store.finish_journal(&lock, writer).expect("finish");
    let save_time = started.elapsed();
    assert!(
        matches!(outcome, SaveOutcome::Written { ref state } if state.change_orders.len() == change_orders)
    );
    let state_bytes = std::fs::metadata(store.state_path())
        .expect("state file")
        .len();
    Row {
        change_orders,
        journal: journal_time,
        fold: fold_time,
        save: save_time,
        journal_bytes,
        state_bytes,
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument, if any, is ignored.
    let rows: Vec<Row> = [1_000, 10_000, 100_000].into_iter().map(run).collect();
    println!(
        "| change orders | journal write ms | read + fold ms | save ms | total ms | µs / change order | journal bytes | state bytes | bytes / change order |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let total = row.journal + row.fold + row.save;
        let bytes = row.journal_bytes + row.state_bytes;
        println!(
            "| {} | {} | {} | {} | {} | {:.1} | {} | {} | {} |",
            row.change_orders,
            ms(row.journal),
            ms(row.fold),
            ms(row.save),
            ms(total),
            total.as_secs_f64() * 1e6 / row.change_orders as f64,
            row.journal_bytes,
            row.state_bytes,
            bytes / row.change_orders as u64,
        );
    }
    let first = &rows[0];
    let last = &rows[rows.len() - 1];
    let scale = last.change_orders as f64 / first.change_orders as f64;
    let time_ratio = (last.journal + last.fold + last.save).as_secs_f64()
        / (first.journal + first.fold + first.save).as_secs_f64();
    let bytes_ratio = (last.journal_bytes + last.state_bytes) as f64
        / (first.journal_bytes + first.state_bytes) as f64;
    println!();
    println!(
        "{scale:.0}× the change orders: {time_ratio:.1}× the time, {bytes_ratio:.1}× the bytes (linear is {scale:.0}×)."
    );
}
