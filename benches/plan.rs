//! Benchmark of the plan target (docs/CONTRACT.md, "Performance targets"): 100,000 change orders
//! with 100,000 state records in under 1 s and 200 MB. Two parts:
//!
//! 1. In process: `plan()` + `file::encode`, and `draft()` + `write_sealed` (the decisions
//!    streamed through the encoder and the hasher, what `plan --out --format json` runs), at 1k, 10k and 100k change orders (with as many
//!    state records), best of several runs, and the process's peak RSS (VmHWM, reset before
//!    each size through /proc/self/clear_refs).
//! 2. End to end: the release binary's `plan --out` on a generated 100k config + state,
//!    several runs, each timed and measured (user + sys CPU, peak RSS) with `/usr/bin/time
//!    -v` when present. The machine may be shared: CPU time is the steadier number, wall
//!    time the target.
//!
//! Run: `cargo bench --bench plan` (add `-- --quick` for one run per size, `-- --end-to-end`
//! for part 2 only: what `scripts/bench plan-100k` runs).

use edas_rollback::config::{ApplySettings, ChangeOrderSpec, DesiredState, Provider};
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::plan::{PlanInputs, draft, file, plan};
use edas_rollback::state::{ChangeOrderRecord, RecordStatus, State};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn id(index: usize) -> String {
    format!("{index:08x}-c7f2-40f7-a1d4-0928700aaaaa")
}

/// `count` declared change orders and `count` records: 60% aborted, 20% failed, 10% unknown
/// and 10% recorded ids no longer declared (so 10% of the declared ones are fresh).
fn inputs(count: usize) -> (DesiredState, State) {
    let change_orders = (0..count)
        .map(|index| ChangeOrderSpec {
            id: ChangeOrderId::new(id(index)),
            app: Some(format!("app-{}", index % 50)),
            reason: Some("release 2026-11-27 broke checkout".to_string()),
            operation: Default::default(),
            app_id: None,
            selected_by: None,
        })
        .collect();
    let mut state = State::new_empty("5f0c1d2e-7a0b-4c3d-8e9f-0123456789ab", "0.1.0");
    state.serial = 12;
    for index in 0..count {
        let (key, status) = match index % 10 {
            0..=5 => (id(index), RecordStatus::Aborted),
            6 | 7 => (id(index), RecordStatus::Failed),
            8 => (id(index), RecordStatus::Unknown),
            _ => (format!("old-{index:08}"), RecordStatus::Aborted),
        };
        let mut record = ChangeOrderRecord::new(status);
        record.attempts = 1;
        record.last_attempt_at = Some("2026-11-27T23:10:00Z".to_string());
        record.request_id = Some(format!("REQ-{index:08}"));
        record.http_status = Some(200);
        if status == RecordStatus::Failed {
            record.code = Some("500".to_string());
            record.message = Some("status forbids abort".to_string());
        } else {
            record.code = Some("200".to_string());
            record.rollback_change_order_id = Some(format!("rb-{index:08}"));
        }
        state.change_orders.insert(ChangeOrderId::new(key), record);
    }
    let desired = DesiredState {
        selectors: Vec::new(),
        version: 1,
        provider: Provider {
            region: "cn-hangzhou".to_string(),
            endpoint: None,
            profile: None,
            signature_algorithm: Default::default(),
            endpoint_type: Default::default(),
        },
        apply: ApplySettings::default(),
        state: None,
        state_name: None,
        change_orders,
    };
    (desired, state)
}

fn plan_inputs() -> PlanInputs {
    PlanInputs {
        created_at: "2026-11-28T01:00:00Z".to_string(),
        config_path: "bench.yaml".to_string(),
        config_sha256: "0".repeat(64),
        endpoint: "https://edas.cn-hangzhou.aliyuncs.com".to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Peak resident set size of this process in MiB, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn current_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets VmHWM to the current RSS so each size reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    if std::env::args().any(|argument| argument == "--end-to-end") {
        end_to_end(100_000);
        return;
    }
    let quick = std::env::args().any(|argument| argument == "--quick");
    let runs = if quick { 1 } else { 5 };
    println!("plan(): best of {runs} runs; RSS in MiB (inputs = after building config and state)");
    println!(
        "| change orders | state records | plan() ms | (of which checksum) | encode ms | plan + encode ms | draft + write_sealed ms | plan file MB | RSS inputs | peak RSS |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for count in [1_000, 10_000, 100_000] {
        let (desired, state) = inputs(count);
        reset_peak_rss();
        let before = current_rss_mib().unwrap_or(f64::NAN);
        let mut best_plan = Duration::MAX;
        let mut best_encode = Duration::MAX;
        let mut best_checksum = Duration::MAX;
        let mut best_one_pass = Duration::MAX;
        let mut bytes = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let planned = plan(&desired, Some(&state), &plan_inputs());
            let planned_at = Instant::now();
            let encoded = file::encode(&planned);
            let encoded_at = Instant::now();
            // plan() computes the checksum itself; timed again here on the plan unsealed in
            // place (no clone) to show its share of plan().
            let mut planned = planned;
            planned.checksum.clear();
            let checksum_started = Instant::now();
            let _ = std::hint::black_box(file::checksum(&planned));
            best_checksum = best_checksum.min(checksum_started.elapsed());
            bytes = encoded.len();
            best_plan = best_plan.min(planned_at - started);
            best_encode = best_encode.min(encoded_at - planned_at);
            std::hint::black_box((planned, encoded));
            // What `plan --out --format json` runs: the decisions, streamed through the
            // encoder and the hasher (here into a sink; the command writes a file).
            let one_pass_started = Instant::now();
            let drafted = draft(&desired, Some(&state), &plan_inputs());
            let _ = std::hint::black_box(drafted.write_sealed(std::io::sink()));
            best_one_pass = best_one_pass.min(one_pass_started.elapsed());
        }
        println!(
            "| {count} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |",
            state.change_orders.len(),
            millis(best_plan),
            millis(best_checksum),
            millis(best_encode),
            millis(best_plan + best_encode),
            millis(best_one_pass),
            bytes as f64 / 1e6,
            before,
            peak_rss_mib().unwrap_or(f64::NAN),
        );
    }
    end_to_end(100_000);
}

/// The release binary on real files: YAML parse, state load, plan, encode, write.
fn end_to_end(count: usize) {
    let binary = env!("CARGO_BIN_EXE_edas-rollback");
    let directory = match tempfile::tempdir() {
        Ok(directory) => directory,
        Err(error) => {
            println!("end to end: skipped, no temp dir: {error}");
            return;
        }
    };
    let (_, state) = inputs(count);
    let mut yaml = String::from("version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n");
    for index in 0..count {
        yaml.push_str(&format!(
            "  - id: {}\n    app: app-{}\n    reason: release 2026-11-27 broke checkout\n",
            id(index),
            index % 50
        ));
    }
    let config = directory.path().join("bench.yaml");
    let state_path = directory.path().join("bench.state.json");
    let plan_path = directory.path().join("plan.json");
    let written = std::fs::write(&config, yaml).and_then(|()| {
        let text = serde_json::to_string_pretty(&state).map_err(std::io::Error::other)?;
        std::fs::write(&state_path, text)
    });
    if let Err(error) = written {
        println!("end to end: skipped, cannot write inputs: {error}");
        return;
    }
    let arguments = [
        "--no-color",
        "-c",
        path_str(&config),
        "plan",
        "--out",
        path_str(&plan_path),
        "--format",
        "json",
    ];
    let gnu_time = Path::new("/usr/bin/time").exists();
    let runs = if std::env::args().any(|argument| argument == "--quick") {
        1
    } else {
        5
    };
    println!();
    println!(
        "end to end: `edas-rollback -c bench.yaml plan --out plan.json --format json` on {count} change orders + {} state records, {runs} runs",
        state.change_orders.len()
    );
    println!(
        "| run | exit | wall ms | user + sys CPU ms | peak RSS MiB | plan file MB | load average |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|");
    for run in 1..=runs {
        // A new plan file each run, as in an incident: replacing one first reads the old one
        // to check that it is a plan (cli::out_file), which is not what is measured here.
        let _ = std::fs::remove_file(&plan_path);
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "-".to_string());
        let started = Instant::now();
        let output = if gnu_time {
            Command::new("/usr/bin/time")
                .arg("-v")
                .arg(binary)
                .args(arguments)
                .output()
        } else {
            Command::new(binary).args(arguments).output()
        };
        let wall = started.elapsed();
        let output = match output {
            Ok(output) => output,
            Err(error) => {
                println!("end to end: could not run `{binary}`: {error}");
                return;
            }
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        // GNU time's report; absent without it, so the columns say "-".
        let field = |name: &str| -> Option<f64> {
            stderr.lines().find_map(|line| {
                line.trim()
                    .strip_prefix(name)
                    .and_then(|value| value.trim().parse::<f64>().ok())
            })
        };
        let cpu = field("User time (seconds): ")
            .zip(field("System time (seconds): "))
            .map(|(user, system)| format!("{:.0}", (user + system) * 1000.0))
            .unwrap_or_else(|| "-".to_string());
        let peak = field("Maximum resident set size (kbytes): ")
            .map(|kib| format!("{:.0}", kib / 1024.0))
            .unwrap_or_else(|| "-".to_string());
        println!(
            "| {run} | {:?} | {:.0} | {cpu} | {peak} | {:.1} | {load} |",
            output.status.code(),
            millis(wall),
            std::fs::metadata(&plan_path)
                .map(|metadata| metadata.len() as f64 / 1e6)
                .unwrap_or(0.0),
        );
        if !output.status.success() {
            println!(
                "  stderr: {}",
                stderr.lines().take(5).collect::<Vec<_>>().join("\n  ")
            );
            return;
        }
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}
