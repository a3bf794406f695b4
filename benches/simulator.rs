//! Simulator throughput: signed `AbortAndRollbackChangeOrder` requests per second, each verified
//! (HMAC-SHA1 recomputed from the wire) and committed, over keep-alive connections. The simulator
//! must never be the bottleneck of an apply benchmark (docs/BENCHMARKS.md: ≥ 20,000/s).
//!
//! Run: `cargo bench --bench simulator` (env: `SIM_BENCH_REQUESTS`, default 200000;
//! `SIM_BENCH_CONNECTIONS`, default 32). Requests are signed before the clock starts, and a
//! minimal HTTP/1.1 client writes them, so the number is the server's cost plus the
//! unavoidable socket work on the same 2 cores.

use edas_rollback::edas::signer::{RequestSigner, RoaV1Signer};
use edas_rollback::edas::{ABORT_PATH, API_VERSION};
use edas_rollback::sim::{SimConfig, Simulator};
use std::time::{Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The wire bytes of one signed abort.
fn signed_request(config: &SimConfig, host: &str, index: usize) -> Vec<u8> {
    let mut request = http::Request::builder()
        .method("PUT")
        .uri(format!(
            "{ABORT_PATH}?ChangeOrderId=bench-{index:08}&RegionId=cn-hangzhou"
        ))
        .header("accept", "application/json")
        .header("x-acs-version", API_VERSION)
        .header("x-acs-action", "AbortAndRollbackChangeOrder")
        .header("x-acs-region-id", "cn-hangzhou")
        .body(())
        .expect("a valid request");
    RoaV1Signer
        .sign(
            &mut request,
            &config.credentials(),
            SystemTime::now(),
            &format!("bench-nonce-{index}"),
        )
        .expect("signable");
    let mut wire = format!("PUT {} HTTP/1.1\r\nhost: {host}\r\n", request.uri());
    for (name, value) in request.headers() {
        wire.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().expect("ascii header")
        ));
    }
    wire.push_str("content-length: 0\r\n\r\n");
    wire.into_bytes()
}

/// Sends each request and reads its whole response on one keep-alive connection; returns
/// how many answers were `"Code":200`.
async fn drive(host: String, requests: Vec<Vec<u8>>) -> usize {
    let mut stream = TcpStream::connect(&host).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buffer = Vec::with_capacity(4096);
    let mut accepted = 0;
    for request in requests {
        stream.write_all(&request).await.expect("write");
        buffer.clear();
        let body_start = loop {
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await.expect("read");
            assert!(read > 0, "the simulator closed the connection");
            buffer.extend_from_slice(&chunk[..read]);
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..body_start]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .expect("content-length");
        while buffer.len() < body_start + length {
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await.expect("read body");
            assert!(read > 0, "the simulator closed the connection mid-body");
            buffer.extend_from_slice(&chunk[..read]);
        }
        if buffer[body_start..]
            .windows(10)
            .any(|w| w == b"\"Code\":200")
        {
            accepted += 1;
        }
    }
    accepted
}

fn main() {
    let total = env_number("SIM_BENCH_REQUESTS", 200_000);
    let connections = env_number("SIM_BENCH_CONNECTIONS", 32).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let config = SimConfig {
            any_id: true,
            ..SimConfig::default()
        };
        let simulator = Simulator::start("127.0.0.1:0".parse().expect("addr"), config.clone())
            .await
            .expect("simulator");
        let host = simulator.local_addr().to_string();
        let mut batches: Vec<Vec<Vec<u8>>> = vec![Vec::new(); connections];
        for index in 0..total {
            batches[index % connections].push(signed_request(&config, &host, index));
        }
        let started = Instant::now();
        let tasks: Vec<_> = batches
            .into_iter()
            .map(|batch| tokio::spawn(drive(host.clone(), batch)))
            .collect();
        let mut accepted = 0;
        for task in tasks {
            accepted += task.await.expect("client task");
        }
        let elapsed = started.elapsed();
        let stats = simulator.stats();
        simulator.shutdown().await;
        assert_eq!(accepted, total, "every signed abort must be accepted");
        assert_eq!(stats.totals.aborts_committed as usize, total);
        println!(
            "simulator: {total} signed aborts verified and committed over {connections} keep-alive \
             connections in {:.2} s = {:.0} requests/s",
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64()
        );
    });
}
