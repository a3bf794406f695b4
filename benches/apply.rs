//! Benchmarks of the apply engine (docs/CONTRACT.md, "Performance targets"; docs/BENCHMARKS.md).
//! Run with `cargo bench --bench apply` (all) or `cargo bench --bench apply -- NAME…`.
//!
//! - `engine-memory`: the engine alone (pacing, scheduling, group-committed journal to a real
//!   file with fdatasync) against an in-process zero-latency transport: CPU per change order.
//! - `engine-http`: the engine with the real client (signing, HTTP over loopback) and the
//!   store's journal, 10,000 change orders against a zero-latency `simulate` child process:
//!   CPU per change order of this process only (target ≤ 50 µs).
//! - `latency-bound`: 2,000 change orders, simulator latency 50 ms, parallelism 20: wall time
//!   vs the ideal N·L/P (target ≤ 1.1×).
//! - `rate-bound`: 1,000 change orders at 50 requests/s: wall vs N/R (target ≤ 1.1×).
//! - `throttle-bound`: 1,000 change orders, simulator quota 50/s, client at 200/s: wall vs
//!   the ideal (N − 50)/50 (the simulator's bucket lets one second's worth through at once).
//!
//! - `state-backends`: `apply::run` (lock, load, journal, engine, fold, save) of 1,000 and
//!   10,000 change orders with the state in a local file and in PostgreSQL (a throwaway
//!   cluster this bench starts), same simulator and settings (target PostgreSQL ≤ 1.3×).
//!
//! `engine-http`, `latency-bound`, `rate-bound` and `throttle-bound` also run through
//! `apply::run` on a local state file, so they include the lock, the journal's begin and the
//! final fold and save (a few milliseconds at 10,000 change orders).
//!
//! CPU time is the process's user + system time from `/proc/self/stat` (Linux). The simulator
//! runs as a separate process so that its CPU is not counted.

use edas_rollback::apply::engine::rfc3339;
use edas_rollback::apply::event::SilentReporter;
use edas_rollback::apply::run::{Run, RunSettings};
use edas_rollback::apply::{
    ApplyError, CancelToken, Engine, EngineConfig, JournalSink, RetryPolicy, SystemClock,
    Transport, engine::AbortTask,
};
use edas_rollback::edas::client::{ClientSettings, EdasClient};
use edas_rollback::edas::credentials::Credentials;
use edas_rollback::edas::endpoint::Endpoint;
use edas_rollback::edas::outcome::{AbortOutcome, Accepted, InfoOutcome, Outcome, ResponseDetails};
use edas_rollback::edas::secret::Secret;
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::state::journal::JournalRecord;
use edas_rollback::state::store::{LocalStore, StateStore};
use std::io::BufRead;
use std::io::{BufWriter, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use std::time::{Duration, Instant};

// The tests' throwaway cluster; this bench uses only part of it.
#[allow(dead_code)]
#[path = "../tests/it/support/pg_cluster.rs"]
mod pg_cluster;

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
    fn append(&mut self, record: JournalRecord) -> Result<(), ApplyError> {
        serde_json::to_writer(&mut self.file, &record)
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
    async fn abort(
        &self,
        id: &ChangeOrderId,
        _operation: edas_rollback::edas::request::RollbackOperation,
    ) -> AbortOutcome {
        let count = self.aborts.fetch_add(1, Ordering::Relaxed);
        Outcome::Done {
            details: ResponseDetails {
                http_status: Some(200),
                request_id: Some(format!("req-{count}")),
                code: Some("200".into()),
                message: Some("success".into()),
                ..ResponseDetails::default()
            },
            answer: Accepted {
                rollback_change_order_id: Some(format!("rollback-{id}")),
            },
        }
    }

    async fn info(&self, _id: &ChangeOrderId) -> InfoOutcome {
        Outcome::Done {
            answer: 1.into(),
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
            operation: Default::default(),
            app_id: None,
        })
        .collect()
}

fn engine_memory(count: usize) {
    let directory = tempfile::tempdir().expect("a temp dir");
    let path = directory.path().join("bench.state.json.journal");
    let file = std::fs::File::create(&path).expect("the journal file");
    let runtime = runtime();
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
                settle: Default::default(),
                seed: 1,
                halt_after_failures: None,
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

/// The runtime `apply` uses (`EDAS_BENCH_RUNTIME=multi` for a multi-threaded one, to compare).
fn runtime() -> tokio::runtime::Runtime {
    let mut builder = if std::env::var("EDAS_BENCH_RUNTIME").as_deref() == Ok("multi") {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().expect("a runtime")
}

/// `edas-rollback simulate` as a child process; killed on drop.
struct SimulatorProcess {
    child: Child,
    endpoint: String,
}

impl SimulatorProcess {
    fn start(args: &[&str]) -> SimulatorProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edas-rollback"))
            .args(["simulate", "--any-id"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the simulator starts");
        let stdout = child.stdout.take().expect("its stdout");
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("its first line");
        let endpoint = first
            .trim()
            .strip_prefix("listening on ")
            .expect("`listening on http://ADDR`")
            .to_string();
        SimulatorProcess { child, endpoint }
    }
}

impl Drop for SimulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct HttpRun {
    wall: Duration,
    cpu: Duration,
    aborted: usize,
    failed: usize,
    journal_bytes: u64,
    /// fdatasyncs of the journal during the run.
    syncs: u64,
}

/// The plan `apply` would make for `count` never-tried change orders.
fn bench_plan(count: usize, endpoint: &str) -> edas_rollback::plan::Plan {
    let mut yaml = String::from("version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n");
    for task in tasks(count) {
        yaml.push_str(&format!(
            "  - id: {}\n    app: checkout\n    reason: benchmark\n",
            task.change_order_id
        ));
    }
    let desired = edas_rollback::config::parse(std::path::Path::new("bench.yaml"), &yaml)
        .expect("the bench config");
    edas_rollback::plan::plan(
        &desired,
        None,
        &edas_rollback::plan::PlanInputs {
            created_at: rfc3339(SystemTime::now()),
            config_path: "bench.yaml".into(),
            config_sha256: String::new(),
            endpoint: endpoint.to_string(),
            tool_version: "bench".into(),
        },
    )
}

/// One apply of `count` change orders through `apply::run` on `store` (lock, load, journal,
/// engine with the real client, fold, save, unlock): what `apply` does after approval.
fn run_on<S: StateStore>(
    store: &S,
    simulator: &SimulatorProcess,
    count: usize,
    parallelism: u32,
    rate: u32,
) -> HttpRun {
    let credentials = Credentials::new(
        edas_rollback::sim::DEFAULT_ACCESS_KEY_ID,
        Secret::new(edas_rollback::sim::DEFAULT_ACCESS_KEY_SECRET),
    );
    let endpoint = Endpoint::parse(&simulator.endpoint).expect("the endpoint");
    let plan = bench_plan(count, &simulator.endpoint);
    let runtime = runtime();
    let cpu_before = process_cpu();
    let wall = Instant::now();
    let outcome = runtime.block_on(async {
        let client = EdasClient::new(ClientSettings::new(
            endpoint,
            "cn-hangzhou",
            credentials,
            parallelism as usize,
        ))
        .expect("the client");
        let run = Run::start(store, "apply", Duration::ZERO, "bench").expect("the lock");
        run.execute(
            &plan,
            client,
            &mut SilentReporter,
            &CancelToken::new(),
            &RunSettings {
                engine: EngineConfig {
                    parallelism,
                    requests_per_second: rate,
                    retry: RetryPolicy::default(),
                    settle: Default::default(),
                    seed: 1,
                    halt_after_failures: None,
                },
                wait: None,
                operation: "apply".into(),
                endpoint: None,
                durability: Default::default(),
            },
        )
        .await
        .expect("the journal begins")
    });
    let wall = wall.elapsed();
    let cpu = process_cpu() - cpu_before;
    outcome.saved.expect("the state saved");
    HttpRun {
        wall,
        cpu,
        aborted: outcome.report.aborted.len(),
        failed: outcome.report.failed.len() + outcome.report.unknown.len(),
        journal_bytes: outcome.journal_bytes,
        syncs: outcome.syncs,
    }
}

/// One apply of `count` change orders on a fresh local state file.
fn http_run(simulator: &SimulatorProcess, count: usize, parallelism: u32, rate: u32) -> HttpRun {
    let directory = tempfile::tempdir().expect("a temp dir");
    let store = LocalStore::new(directory.path().join("bench.state.json"));
    run_on(&store, simulator, count, parallelism, rate)
}

/// The same apply with the state in a local file and in PostgreSQL (a throwaway cluster on a
/// unix socket, fsync on), same simulator settings (a fresh simulator process per run) and
/// engine settings; three runs each, best and median.
fn state_backends(counts: &[usize], latency: &str) {
    let cluster = pg_cluster::PgCluster::start();
    let simulator_args: Vec<&str> = if latency.is_empty() {
        vec![]
    } else {
        vec!["--latency", latency]
    };
    let url = cluster.url("");
    for &count in counts {
        let mut local = Vec::new();
        let mut postgres = Vec::new();
        for round in 0..3 {
            // A fresh simulator for each run: the same ids aborted once cannot be again.
            let simulator = SimulatorProcess::start(&simulator_args);
            let run = http_run(&simulator, count, 20, 1_000_000);
            assert_eq!(run.aborted, count);
            local.push(run.wall.as_secs_f64());
            let name = format!("bench-{count}-{round}");
            let location =
                edas_rollback::state::postgres::location::parse(&url, &name, &|_| None, None)
                    .expect("the URL");
            let store = edas_rollback::state::postgres::PgStore::open(&location).expect("PG");
            let simulator = SimulatorProcess::start(&simulator_args);
            let run = run_on(&store, &simulator, count, 20, 1_000_000);
            assert_eq!(run.aborted, count);
            postgres.push(run.wall.as_secs_f64());
        }
        local.sort_by(f64::total_cmp);
        postgres.sort_by(f64::total_cmp);
        println!(
            "state-backends: {count} change orders, P=20, latency {}: local file median \
             {:.3}s (best {:.3}s), PostgreSQL median {:.3}s (best {:.3}s) = {:.2}× (target ≤ 1.3)",
            if latency.is_empty() { "0" } else { latency },
            local[1],
            local[0],
            postgres[1],
            postgres[0],
            postgres[1] / local[1]
        );
    }
}

/// The floor under `engine-http`: the same requests through the client alone (20 tasks each
/// sending its share in turn), with no engine, pacing or journal.
fn client_floor(count: usize, simulator_args: &[&str]) {
    let simulator = SimulatorProcess::start(simulator_args);
    let credentials = Credentials::new(
        edas_rollback::sim::DEFAULT_ACCESS_KEY_ID,
        Secret::new(edas_rollback::sim::DEFAULT_ACCESS_KEY_SECRET),
    );
    let endpoint = Endpoint::parse(&simulator.endpoint).expect("the endpoint");
    let runtime = runtime();
    let cpu_before = process_cpu();
    let wall = Instant::now();
    let aborted = runtime.block_on(async {
        let client = EdasClient::new(ClientSettings::new(
            endpoint,
            "cn-hangzhou",
            credentials,
            20,
        ))
        .expect("the client");
        let mut workers = tokio::task::JoinSet::new();
        for worker in 0..20 {
            let client = client.clone();
            let ids: Vec<ChangeOrderId> = tasks(count)
                .into_iter()
                .skip(worker)
                .step_by(20)
                .map(|task| task.change_order_id)
                .collect();
            workers.spawn(async move {
                let mut aborted = 0;
                for id in &ids {
                    if matches!(
                        client.abort(id, Default::default()).await,
                        Outcome::Done { .. }
                    ) {
                        aborted += 1;
                    }
                }
                aborted
            });
        }
        let mut aborted = 0;
        while let Some(Ok(count)) = workers.join_next().await {
            aborted += count;
        }
        aborted
    });
    let wall = wall.elapsed();
    let cpu = process_cpu() - cpu_before;
    println!(
        "client-floor: {count} aborts through the client alone, 20 at a time, simulator \
         {simulator_args:?}: wall {:.3}s, CPU {:.3}s = {:.1} µs per request, {aborted} aborted",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / count as f64,
    );
}

fn engine_http(count: usize) {
    let simulator = SimulatorProcess::start(&[]);
    let run = http_run(&simulator, count, 20, 1_000_000);
    println!(
        "engine-http: {count} change orders, P=20, no latency: wall {:.3}s, CPU {:.3}s = {:.1} µs \
         per change order (target ≤ 50), {} aborted, {} not, journal {} bytes, {} syncs",
        run.wall.as_secs_f64(),
        run.cpu.as_secs_f64(),
        run.cpu.as_secs_f64() * 1e6 / count as f64,
        run.aborted,
        run.failed,
        run.journal_bytes,
        run.syncs
    );
}

fn latency_bound(count: usize, latency_ms: u64, parallelism: u32) {
    let latency = format!("{latency_ms}ms");
    let simulator = SimulatorProcess::start(&["--latency", &latency]);
    let run = http_run(&simulator, count, parallelism, 1_000_000);
    let ideal = count as f64 * latency_ms as f64 / 1000.0 / f64::from(parallelism);
    println!(
        "latency-bound: {count} change orders, L={latency_ms}ms, P={parallelism}: wall {:.3}s vs \
         ideal N·L/P {ideal:.3}s = {:.3}× (target ≤ 1.1), {} aborted, {} not, {} syncs",
        run.wall.as_secs_f64(),
        run.wall.as_secs_f64() / ideal,
        run.aborted,
        run.failed,
        run.syncs
    );
}

fn rate_bound(count: usize, rate: u32) {
    let simulator = SimulatorProcess::start(&[]);
    let run = http_run(&simulator, count, 10, rate);
    let ideal = count as f64 / f64::from(rate);
    println!(
        "rate-bound: {count} change orders, R={rate}/s: wall {:.3}s vs ideal N/R {ideal:.3}s = \
         {:.3}× (target ≤ 1.1), {} aborted, {} not, {} syncs",
        run.wall.as_secs_f64(),
        run.wall.as_secs_f64() / ideal,
        run.aborted,
        run.failed,
        run.syncs
    );
}

fn throttle_bound(count: usize, quota: u32, client_rate: u32) {
    let quota_text = quota.to_string();
    let simulator = SimulatorProcess::start(&["--requests-per-second", &quota_text]);
    let run = http_run(&simulator, count, 10, client_rate);
    let ideal = (count as f64 - f64::from(quota)) / f64::from(quota);
    println!(
        "throttle-bound: {count} change orders, simulator quota {quota}/s, client {client_rate}/s: \
         wall {:.3}s vs ideal (N−Q)/Q {ideal:.3}s = {:.3}×, {} aborted, {} failed",
        run.wall.as_secs_f64(),
        run.wall.as_secs_f64() / ideal,
        run.aborted,
        run.failed
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
    if run("client-floor") {
        client_floor(10_000, &[]);
    }
    if run("client-latency-floor") {
        // The floor under `latency-bound`: what the client alone achieves.
        client_floor(2_000, &["--latency", "50ms"]);
    }
    if run("engine-http") {
        engine_http(10_000);
    }
    if run("latency-bound") {
        latency_bound(2_000, 50, 20);
    }
    if run("rate-bound") {
        rate_bound(1_000, 50);
    }
    if run("throttle-bound") {
        throttle_bound(1_000, 50, 200);
    }
    if run("state-backends") {
        state_backends(&[1_000, 10_000], "");
        state_backends(&[1_000, 10_000], "20ms");
    }
}
