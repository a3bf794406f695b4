//! The EDAS simulator (docs/SIMULATOR.md): a real HTTP server on loopback that checks every request
//! with the same rules as the service and models change orders and their statuses. Tests,
//! benchmarks and `rehearse` run against it, so it must be as strict as EDAS itself.
//!
//! It owns the server, its change-order model, its fault injection and its counters. It
//! depends only on `edas`'s signer and constants (and `ids`), so it cannot cheat: a request
//! our client would sign wrongly is refused here as the service would refuse it. It never
//! touches state, plans or the CLI.
//!
//! Default test credentials (also the `simulate` defaults): access key id
//! [`DEFAULT_ACCESS_KEY_ID`] = `LTAI5tSimulatorKeyId`, secret [`DEFAULT_ACCESS_KEY_SECRET`] =
//! `SimulatorSecret0123456789abcdef`, no security token.
//!
//! What the simulator answers, in the order it checks (see `docs/SIMULATOR.md`):
//! 1. latency (if configured) before anything else;
//! 2. authentication (`verify`), signature V3 or ROA v1: `MissingAuthorization`,
//!    `IncompleteSignature` (also a V3 header left unsigned), `InvalidAccessKeyId.NotFound`
//!    (HTTP 404), missing headers (`Missing<Header>`), `InvalidTimeStamp.Format`/`.Expired`
//!    (date more than 15 minutes off), `InvalidSignatureMethod`, `InvalidSignatureVersion`,
//!    `InvalidVersion`, `SignatureDoesNotMatch` (echoing the server's string to sign; also a
//!    V3 body hash that does not match), `MissingSecurityToken`,
//!    `InvalidSecurityToken.MisMatch`, `SignatureNonceUsed`; then routing
//!    (`InvalidApi.NotFound`, HTTP 404, for anything but the four calls);
//! 3. the requests-per-second limit: HTTP 400 `Throttling.User`;
//! 4. a permission denial when configured (HTTP 200, body `Code` 401 or 403); then scripted
//!    outcomes (aborts only), then `fail_rate` HTTP 503 `ServiceUnavailable`;
//! 5. the operation itself, then `drop_rate` (aborts only: the abort is committed and the
//!    connection is reset without a response).

mod change_order_list;
mod faults;
mod model;
mod responses;
pub mod scenario;
mod server;
mod stats;
mod verify;

pub use change_order_list::{ChangeOrderListError, ChangeOrderListFormat, parse_change_order_list};
pub use stats::{ChangeOrderStats, SimStats, Totals};

use crate::edas::credentials::Credentials;
use crate::edas::secret::Secret;
use crate::ids::ChangeOrderId;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The simulator's default access key id; safe to print.
pub const DEFAULT_ACCESS_KEY_ID: &str = "LTAI5tSimulatorKeyId";
/// The simulator's default access key secret. A published test value, never a real key.
pub const DEFAULT_ACCESS_KEY_SECRET: &str = "SimulatorSecret0123456789abcdef";
/// The path of the counters (unsigned, answered to loopback peers only).
pub const STATS_PATH: &str = "/__sim/stats";
/// The header carrying the throttling back-off, in milliseconds.
pub const RETRY_AFTER_HEADER: &str = "x-acs-retry-after";
/// How far a request's `Date` may be from the simulator's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// Change order statuses (docs/CONTRACT.md, "Change order statuses").
pub mod status {
    pub const READY: i32 = 0;
    pub const RUNNING: i32 = 1;
    pub const SUCCEEDED: i32 = 2;
    pub const FAILED: i32 = 3;
    pub const STOPPED: i32 = 6;
    pub const PARTLY_SUCCEEDED: i32 = 7;
    pub const WAITING_FOR_MANUAL_CONFIRMATION: i32 = 8;
    pub const WAITING_FOR_NEXT_BATCH: i32 = 9;
    pub const SYSTEM_ERROR: i32 = 10;
    pub const ALL: [i32; 9] = [0, 1, 2, 3, 6, 7, 8, 9, 10];

    /// Statuses `AbortAndRollbackChangeOrder` accepts (the one definition:
    /// [`crate::edas::wire::ChangeOrderStatus`]).
    pub fn is_abortable(status: i32) -> bool {
        crate::edas::wire::ChangeOrderStatus::from_code(status).is_abortable()
    }

    pub fn name(status: i32) -> &'static str {
        crate::edas::wire::ChangeOrderStatus::from_code(status).name()
    }
}

/// Everything the simulator starts with.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// When set, every request must carry exactly this `x-acs-security-token`.
    pub security_token: Option<Secret>,
    /// The change orders that exist, with their status.
    pub change_orders: Vec<(ChangeOrderId, i32)>,
    /// Unknown ids exist with status 1 (running) on first use.
    pub any_id: bool,
    pub faults: Faults,
    /// Seeds rollback ids, RequestIds and every fault decision, so runs are repeatable.
    pub seed: u64,
    /// How long a rollback change order runs (status 1) before it succeeds (status 2).
    pub rollback_duration: Duration,
    /// When set, every authenticated API request is answered HTTP 200 with this numeric body
    /// `Code` (401: the RAM user lacks `edas:ManageApplication`; 403: denied), as EDAS answers
    /// a caller without the permission.
    pub denied: Option<u16>,
    /// Change orders of applications in ECS clusters: they accept `RollbackChangeOrder` and
    /// refuse `AbortAndRollbackChangeOrder`; every other one is in an ACK cluster and the
    /// other way round, as the service documents the two calls.
    pub ecs_change_orders: BTreeSet<ChangeOrderId>,
    /// An accepted abort takes effect this long after it is answered (the status stays
    /// abortable until then), as EDAS applies aborts asynchronously. Zero: at once.
    pub abort_delay: Duration,
    /// Applications and their change orders, for ListRecentChangeOrder (selectors). Each
    /// change order also exists as if listed in `change_orders` (with its status), so it can
    /// be aborted; the list answers each one's current status.
    pub applications: Vec<SimApplication>,
}

/// An EDAS application the simulator holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimApplication {
    pub app_id: String,
    pub name: String,
    pub change_orders: Vec<SimAppChangeOrder>,
}

/// One change order of an application, as the scenario seeds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimAppChangeOrder {
    pub id: ChangeOrderId,
    pub status: i32,
    /// `CreateTime` exactly as ListRecentChangeOrder answers it, e.g. `2026-11-30 19:00:00`.
    pub create_time: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            access_key_id: DEFAULT_ACCESS_KEY_ID.to_string(),
            access_key_secret: Secret::new(DEFAULT_ACCESS_KEY_SECRET),
            security_token: None,
            change_orders: Vec::new(),
            any_id: false,
            faults: Faults::default(),
            seed: 0,
            rollback_duration: Duration::from_secs(5),
            denied: None,
            ecs_change_orders: BTreeSet::new(),
            abort_delay: Duration::ZERO,
            applications: Vec::new(),
        }
    }
}

impl SimConfig {
    /// The credentials a client needs to be accepted by a simulator with this config.
    pub fn credentials(&self) -> Credentials {
        let credentials =
            Credentials::new(self.access_key_id.clone(), self.access_key_secret.clone());
        match &self.security_token {
            Some(token) => credentials.with_security_token(token.clone()),
            None => credentials,
        }
    }
}

/// Faults injected on request. All random decisions come from the config's seed.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Delay before answering any API request.
    pub latency: Latency,
    /// A token bucket over all authenticated requests (burst = one second's worth).
    pub requests_per_second: Option<u32>,
    /// Sent as `x-acs-retry-after` (milliseconds) with every `Throttling.User` answer.
    pub retry_after: Option<Duration>,
    /// Share of API requests answered HTTP 503 `ServiceUnavailable` before anything is done.
    pub fail_rate: f64,
    /// Share of abort requests answered by resetting the connection after the model ran:
    /// an abortable change order is committed (status 6) and the client never hears it.
    pub drop_rate: f64,
    /// Per change order, outcomes for its next abort requests, consumed in order.
    pub scripted: BTreeMap<ChangeOrderId, Vec<ScriptedOutcome>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Latency {
    #[default]
    None,
    Fixed(Duration),
    /// Uniform in `[low, high]`.
    Range(Duration, Duration),
}

impl FromStr for Latency {
    type Err = String;

    /// `50ms`, `20ms..80ms`, or `0s`.
    fn from_str(text: &str) -> Result<Self, String> {
        let parse = parse_duration;
        match text.split_once("..") {
            Some((low, high)) => {
                let (low, high) = (parse(low)?, parse(high)?);
                if low > high {
                    return Err(format!(
                        "expected a latency range `low..high` with low ≤ high, found `{text}`"
                    ));
                }
                Ok(Latency::Range(low, high))
            }
            None => match parse(text)? {
                zero if zero.is_zero() => Ok(Latency::None),
                fixed => Ok(Latency::Fixed(fixed)),
            },
        }
    }
}

/// `50ms`, `2s`: a unit is required, so `50` is never guessed to mean milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected a duration with a unit like `50ms` or `2s`, found `{trimmed}`"
        ));
    }
    humantime::parse_duration(trimmed)
        .map_err(|_| format!("expected a duration like `50ms` or `2s`, found `{trimmed}`"))
}

/// What the simulator does with one abort request of a scripted change order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptedOutcome {
    /// Answer normally.
    Ok,
    /// HTTP 400 `Throttling.User`; nothing committed.
    Throttle,
    /// HTTP 503 `ServiceUnavailable`; nothing committed.
    Fail503,
    /// Commit the abort, then reset the connection without answering.
    Drop,
    /// Never answer (until shutdown) and commit nothing: the client's read timeout fires.
    Timeout,
}

impl FromStr for ScriptedOutcome {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "ok" => Ok(Self::Ok),
            "throttle" => Ok(Self::Throttle),
            "fail503" => Ok(Self::Fail503),
            "drop" => Ok(Self::Drop),
            "timeout" => Ok(Self::Timeout),
            other => Err(format!(
                "expected one of `ok`, `throttle`, `fail503`, `drop`, `timeout`, found `{other}`"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_reads_a_fixed_delay_a_range_or_zero() {
        assert_eq!(
            "50ms".parse(),
            Ok(Latency::Fixed(Duration::from_millis(50)))
        );
        assert_eq!(
            "20ms..80ms".parse(),
            Ok(Latency::Range(
                Duration::from_millis(20),
                Duration::from_millis(80)
            ))
        );
        assert_eq!("0s".parse(), Ok(Latency::None));
        assert!("80ms..20ms".parse::<Latency>().is_err());
        assert!("50".parse::<Latency>().unwrap_err().contains("`50`"));
    }

    #[test]
    fn scripted_outcomes_read_their_names() {
        assert_eq!("fail503".parse(), Ok(ScriptedOutcome::Fail503));
        assert!(
            "explode"
                .parse::<ScriptedOutcome>()
                .unwrap_err()
                .contains("`explode`")
        );
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on `{addr}`")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the simulator only listens on loopback addresses, not `{addr}`")]
    NotLoopback { addr: SocketAddr },
    #[error("the fault rate `{name}` must be between 0 and 1, found `{value}`")]
    InvalidRate { name: &'static str, value: f64 },
    #[error("a requests-per-second limit of 0 would refuse every request")]
    ZeroRequestsPerSecond,
}

/// A running simulator. Dropping it stops the server; [`Simulator::shutdown`] also waits for
/// open connections to finish.
pub struct Simulator {
    local_addr: SocketAddr,
    shared: Arc<server::Shared>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Binds `listen` (a loopback address; port 0 picks a free one), spawns the server on the
    /// current tokio runtime and returns once it accepts connections.
    pub async fn start(listen: SocketAddr, config: SimConfig) -> Result<Simulator, SimError> {
        if !listen.ip().is_loopback() {
            return Err(SimError::NotLoopback { addr: listen });
        }
        for (name, value) in [
            ("fail_rate", config.faults.fail_rate),
            ("drop_rate", config.faults.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(SimError::InvalidRate { name, value });
            }
        }
        if config.faults.requests_per_second == Some(0) {
            return Err(SimError::ZeroRequestsPerSecond);
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: listen,
            source,
        })?;
        let shared = Arc::new(server::Shared::new(config));
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        Ok(Simulator {
            local_addr,
            shared,
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:PORT`, ready for `--endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The counters, as `GET /__sim/stats` serves them.
    pub fn stats(&self) -> SimStats {
        self.shared.stats()
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), then returns.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Simulator {
    /// [`Simulator::shutdown`], then the final counters: they include the requests that were
    /// in flight when it was called, which [`Simulator::stats`] taken before would miss.
    pub async fn shutdown_with_stats(self) -> SimStats {
        let shared = Arc::clone(&self.shared);
        self.shutdown().await;
        shared.stats()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}
