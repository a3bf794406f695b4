//! Build + sign one request, the per-attempt CPU cost of the client before any I/O
//! (docs/BENCHMARKS.md: under 5 µs), with signature V3 (the default) and ROA v1. Run with
//! `cargo bench --bench sign`; prints ns per request.
//!
//! `SIGN_BENCH_ITERATIONS`, `SIGN_BENCH_ROUNDS` and `SIGN_BENCH_ONLY` (a part of a case's name)
//! shorten a run, e.g. under `valgrind --tool=callgrind` (docs/BENCHMARKS.md, "Build + sign").
//!
//! The machine this runs on may be shared, so besides wall time it reports on-CPU time from
//! `/proc/thread-self/schedstat` (Linux): time spent waiting for a core is not our cost.

use edas_rollback::edas::credentials::Credentials;
use edas_rollback::edas::endpoint::Endpoint;
use edas_rollback::edas::request::{Operation, build_request};
use edas_rollback::edas::secret::Secret;
use edas_rollback::edas::signer::{Acs3Signer, RequestSigner, RoaV1Signer};
use edas_rollback::ids::ChangeOrderId;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

/// Defaults; `SIGN_BENCH_ITERATIONS` and `SIGN_BENCH_ROUNDS` override them (a small count
/// keeps a run under `valgrind --tool=callgrind` short), and `SIGN_BENCH_ONLY` runs only the
/// cases whose name contains it.
const ITERATIONS: u32 = 200_000;
const ROUNDS: usize = 5;

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// A nonce made the way `edas::client` makes one per attempt: 128 bits from fastrand's
/// thread-local generator in UUID v4 form (not `Uuid::new_v4`, a `getrandom` system call).
fn client_nonce() -> String {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
        .into_uuid()
        .to_string()
}

/// Nanoseconds this thread has spent on a CPU, when the kernel says.
fn cpu_nanos() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Best (lowest) wall and CPU time per iteration of `work` over `ROUNDS` rounds.
fn measure(mut work: impl FnMut()) -> (u128, Option<u128>) {
    let iterations: u32 = env_number("SIGN_BENCH_ITERATIONS", ITERATIONS).max(1);
    let rounds: usize = env_number("SIGN_BENCH_ROUNDS", ROUNDS).max(1);
    for _ in 0..iterations / 10 {
        work();
    }
    let mut best_wall = u128::MAX;
    let mut best_cpu: Option<u128> = None;
    for _ in 0..rounds {
        let cpu_start = cpu_nanos();
        let start = Instant::now();
        for _ in 0..iterations {
            work();
        }
        let wall = start.elapsed().as_nanos() / u128::from(iterations);
        best_wall = best_wall.min(wall);
        if let (Some(before), Some(after)) = (cpu_start, cpu_nanos()) {
            let cpu = (after - before) / u128::from(iterations);
            best_cpu = Some(best_cpu.map_or(cpu, |best| best.min(cpu)));
        }
    }
    (best_wall, best_cpu)
}

/// Runs and reports `work` unless `SIGN_BENCH_ONLY` names another case.
fn case(name: &str, work: impl FnMut()) {
    if let Ok(only) = std::env::var("SIGN_BENCH_ONLY")
        && !name.contains(only.as_str())
    {
        return;
    }
    report(name, measure(work));
}

fn report(name: &str, (wall, cpu): (u128, Option<u128>)) {
    match cpu {
        Some(cpu) => println!("{name}: {cpu} ns/request on-CPU, {wall} ns wall"),
        None => println!("{name}: {wall} ns/request wall"),
    }
}

fn main() {
    let endpoint = Endpoint::parse("https://edas.cn-hangzhou.aliyuncs.com").unwrap();
    let credentials =
        Credentials::new("LTAI5tBenchAccessKey", Secret::new("BenchSecret0123456789"))
            .with_security_token(Secret::new("CAIS+bench/sts=token"));
    let id = ChangeOrderId::new("6b55106c-c7f2-40f7-a1d4-0928700aaaaa");
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let nonce = uuid::Uuid::new_v4().to_string();

    println!(
        "(best of {} rounds x {} iterations)",
        env_number("SIGN_BENCH_ROUNDS", ROUNDS),
        env_number("SIGN_BENCH_ITERATIONS", ITERATIONS)
    );
    case("build only", || {
        black_box(
            build_request(
                Operation::AbortAndRollback,
                black_box(&id),
                "cn-hangzhou",
                &endpoint,
            )
            .unwrap(),
        );
    });
    case("V3: build + sign (STS, PUT abort)", || {
        let mut request = build_request(
            Operation::AbortAndRollback,
            black_box(&id),
            "cn-hangzhou",
            &endpoint,
        )
        .unwrap();
        let text = Acs3Signer
            .sign(&mut request, &credentials, date, black_box(&nonce))
            .unwrap();
        black_box((text, request));
    });
    case(
        "V3: build + sign + fresh nonce (what the client does per attempt)",
        || {
            let mut request = build_request(
                Operation::AbortAndRollback,
                black_box(&id),
                "cn-hangzhou",
                &endpoint,
            )
            .unwrap();
            let nonce = client_nonce();
            let text = Acs3Signer
                .sign(&mut request, &credentials, SystemTime::now(), &nonce)
                .unwrap();
            black_box((text, request));
        },
    );
    case("v1: build + sign (STS, PUT abort)", || {
        let mut request = build_request(
            Operation::AbortAndRollback,
            black_box(&id),
            "cn-hangzhou",
            &endpoint,
        )
        .unwrap();
        let text = RoaV1Signer
            .sign(&mut request, &credentials, date, black_box(&nonce))
            .unwrap();
        black_box((text, request));
    });
    case("v1: build + sign + fresh nonce", || {
        let mut request = build_request(
            Operation::AbortAndRollback,
            black_box(&id),
            "cn-hangzhou",
            &endpoint,
        )
        .unwrap();
        let nonce = client_nonce();
        let text = RoaV1Signer
            .sign(&mut request, &credentials, SystemTime::now(), &nonce)
            .unwrap();
        black_box((text, request));
    });
}
