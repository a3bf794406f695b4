//! Benchmarks of the apply engine (DESIGN 6, issue 5). Run with
//! `cargo bench --bench apply` (all) or `cargo bench --bench apply -- NAME…`.
//!
//! - `engine-memory`: the engine alone (pacing, scheduling, group-committed journal to a real
//!   file with fdatasync) against an in-process zero-latency transport: CPU per change order.
//!
//! CPU time is the process's user + system time from `/proc/self/stat` (Linux).

use edas_rollback::apply::event::SilentReporter;
use edas_rollback::apply::{
    ApplyError, CancelToken, Engine, EngineConfig, InfoResult, JournalSink, RetryPolicy,
    SystemClock, Transport, engine::AbortTask,
};
use edas_rollback::edas::outcome::{Outcome, ResponseDetails};
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::state::journal::JournalRecord;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// User + system CPU time of this process so far.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|index| fields.get(*index)?.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on Linux's ABI for /proc.
    Duration::from_millis(ticks * 10)
}

struct FileJournal {
    file: BufWriter<std::fs::File>,
}

impl JournalSink for FileJournal {
    fn append(&mut self, record: &JournalRecord) -> Result<(), ApplyError> {
        serde_json::to_writer(&mut self.file, record)
            .map_err(std::io::Error::from)
            .and_then(|()| self.file.write_all(b"\n"))
            .map_err(|error| ApplyError::Journal {
                path: "bench.journal".into(),
                source: Box::new(error),
            })
    }

    fn sync(&mut self) -> Result<(), ApplyError> {
        self.file
            .flush()
            .and_then(|()| self.file.get_ref().sync_data())
            .map_err(|error| ApplyError::Journal {
                path: "bench.journal".into(),
                source: Box::new(error),
            })
    }
}

#[derive(Default)]
struct InstantService {
    aborts: AtomicU64,
}

impl Transport for InstantService {
    async fn abort(&self, id: &ChangeOrderId) -> Outcome {
        let count = self.aborts.fetch_add(1, Ordering::Relaxed);
        Outcome::Aborted {
            details: ResponseDetails {
                http_status: Some(200),
                request_id: Some(format!("req-{count}")),
                code: Some("200".into()),
                message: Some("success".into()),
                ..ResponseDetails::default()
            },
            rollback_change_order_id: Some(format!("rollback-{id}")),
        }
    }

    async fn info(&self, _id: &ChangeOrderId) -> InfoResult {
        InfoResult::Status {
            status: 1,
            details: ResponseDetails::default(),
        }
    }
}

fn tasks(count: usize) -> Vec<AbortTask> {
    (0..count)
        .map(|index| AbortTask {
            change_order_id: ChangeOrderId::new(format!("6b55106c-c7f2-40f7-a1d4-{index:012}")),
            verify_first: false,
            app: Some("checkout".into()),
            reason: Some("benchmark".into()),
            previous_attempts: 0,
        })
        .collect()
}

fn engine_memory(count: usize) {
    let directory = tempfile::tempdir().expect("a temp dir");
    let path = directory.path().join("bench.state.json.journal");
    let file = std::fs::File::create(&path).expect("the journal file");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let cpu_before = process_cpu();
    let wall = Instant::now();
    let (report, syncs) = runtime.block_on(async {
        let engine = Engine::start(
            InstantService::default(),
            FileJournal {
                file: BufWriter::new(file),
            },
            SystemClock,
            EngineConfig {
                parallelism: 50,
                requests_per_second: 1_000_000,
                retry: RetryPolicy::default(),
                seed: 1,
            },
        );
        let report = engine
            .abort_all(tasks(count), &mut SilentReporter, &CancelToken::new())
            .await;
        let writer = engine.finish().await;
        (report, writer.syncs)
    });
    let wall = wall.elapsed();
    let cpu = process_cpu() - cpu_before;
    assert_eq!(report.aborted.len(), count);
    let bytes = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
    println!(
        "engine-memory: {count} change orders, P=50: wall {:.3}s, CPU {:.3}s = {:.1} µs per change \
         order, {syncs} syncs, journal {bytes} bytes",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / count as f64,
    );
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|want| name.contains(want));
    if run("engine-memory") {
        engine_memory(10_000);
    }
}
