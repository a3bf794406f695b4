//! The HTTP side of the simulator: the accept loop, one hyper HTTP/1 connection task per
//! client (so a drop fault can reset exactly that connection), the axum router, and the
//! handler that applies the checks and faults in the order `sim`'s module doc lists.
//! The model, the verifier and the fault decisions are pure and live in their own files;
//! this file only sequences them and owns the clock.

use super::faults::{TokenBucket, roll, sample_latency};
use super::model::{AbortResult, ChangeOrders, RollbackCall, uuid_like};
use super::responses;
use super::stats::{SimStats, Totals};
use super::verify::{Accepted, Operation, Received, Rejection, SignatureKind, Verified, verify};
use super::{RETRY_AFTER_HEADER, STATS_PATH, ScriptedOutcome, SimConfig};
use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// How long a scripted `timeout` holds a request: longer than any client's read timeout.
const TIMEOUT_HOLD: Duration = Duration::from_secs(3600);
/// How long shutdown waits for open connections before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Nonces are remembered this long: a request older than the 15-minute Date window is
/// refused anyway, so a replay can only succeed within it.
const NONCE_MEMORY: Duration = Duration::from_secs(30 * 60);
/// Bounds the nonce memory of a long benchmark run.
const NONCE_CAPACITY: usize = 1_000_000;
/// The largest request body read (EDAS calls send none).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// State shared by every connection.
pub(crate) struct Shared {
    config: SimConfig,
    /// Set once to stop the server; held requests and connections watch it.
    pub(crate) shutdown: watch::Sender<bool>,
    inner: Mutex<Inner>,
    requests: AtomicU64,
}

struct Inner {
    orders: ChangeOrders,
    applications: Vec<super::SimApplication>,
    totals: Totals,
    rng: fastrand::Rng,
    bucket: Option<TokenBucket>,
    scripted: HashMap<String, VecDeque<ScriptedOutcome>>,
    nonces: NonceWindow,
}

impl Shared {
    pub(crate) fn new(config: SimConfig) -> Self {
        let now = Instant::now();
        let inner = Inner {
            orders: ChangeOrders::new(
                config
                    .change_orders
                    .iter()
                    .map(|(id, status)| (id.as_str().to_string(), *status))
                    .chain(config.applications.iter().flat_map(|application| {
                        application
                            .change_orders
                            .iter()
                            .map(|order| (order.id.as_str().to_string(), order.status))
                    })),
                config.any_id,
                config.seed,
                config.rollback_duration,
            )
            .in_ecs_clusters(config.ecs_change_orders.iter().map(|id| id.as_str()))
            .with_abort_delay(config.abort_delay),
            applications: config.applications.clone(),
            totals: Totals::default(),
            rng: fastrand::Rng::with_seed(config.seed),
            bucket: config
                .faults
                .requests_per_second
                .map(|rate| TokenBucket::new(rate, now)),
            scripted: config
                .faults
                .scripted
                .iter()
                .map(|(id, outcomes)| (id.as_str().to_string(), outcomes.iter().copied().collect()))
                .collect(),
            nonces: NonceWindow::default(),
        };
        Self {
            config,
            shutdown: watch::channel(false).0,
            inner: Mutex::new(inner),
            requests: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves counters that are still meaningful.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn stats(&self) -> SimStats {
        let now = Instant::now();
        let inner = self.lock();
        SimStats {
            totals: inner.totals.clone(),
            change_orders: inner.orders.stats(now).collect(),
        }
    }
}

#[derive(Default)]
struct NonceWindow {
    seen: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

impl NonceWindow {
    /// False when the nonce was already used within the window.
    fn insert(&mut self, nonce: &str, now: Instant) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) <= NONCE_MEMORY
                && self.order.len() < NONCE_CAPACITY
            {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if !self.seen.insert(nonce.to_string()) {
            return false;
        }
        self.order.push_back((now, nonce.to_string()));
        true
    }
}

/// What the handler knows about its connection.
#[derive(Clone)]
struct ConnectionContext {
    peer: SocketAddr,
    /// Notified to reset the connection without a response.
    reset: Arc<Notify>,
}

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let router = Router::new()
        .route(STATS_PATH, get(stats))
        .fallback(api)
        .with_state(Arc::clone(&shared));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, router.clone(), shared.shutdown.subscribe()));
                }
                // Out of file descriptors and the like: pause instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = stopped(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        connections.abort_all();
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    // A second descriptor of the same socket, so a drop fault can set SO_LINGER 0 and make
    // the close a reset while hyper owns the stream.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(reset_handle) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    let context = ConnectionContext {
        peer,
        reset: Arc::new(Notify::new()),
    };
    let reset = Arc::clone(&context.reset);
    let tower = TowerToHyperService::new(router);
    let service =
        hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(context.clone());
            hyper::service::Service::call(&tower, request)
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = reset.notified() => {
                if let Ok(handle) = TcpStream::from_std(reset_handle) {
                    let _ = handle.set_zero_linger();
                }
                // Returning drops the connection mid-request: the client sees a reset.
                return;
            }
            _ = stopped(&mut shutdown), if !shutting_down => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn stats(
    State(shared): State<Arc<Shared>>,
    Extension(connection): Extension<ConnectionContext>,
) -> Response {
    if !connection.peer.ip().is_loopback() {
        return (
            StatusCode::FORBIDDEN,
            "the simulator's stats are served to loopback peers only\n",
        )
            .into_response();
    }
    match serde_json::to_vec(&shared.stats()) {
        Ok(body) => json_response(StatusCode::OK, body, None, None),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// What the handler decided under the lock, carried out after releasing it.
enum Decision {
    Respond {
        status: StatusCode,
        body: serde_json::Value,
        retry_after: Option<Duration>,
    },
    /// Reset the connection without answering (the abort, if any, is committed).
    Drop,
    /// Hold the request without answering until shutdown.
    Timeout,
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Extension(connection): Extension<ConnectionContext>,
    request: Request,
) -> Response {
    let number = shared.requests.fetch_add(1, Ordering::Relaxed);
    let request_id = uuid_like(shared.config.seed, number, true);
    let delay = {
        let mut inner = shared.lock();
        inner.totals.requests += 1;
        let Inner { rng, .. } = &mut *inner;
        sample_latency(&shared.config.faults.latency, rng)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (parts, body) = request.into_parts();
    // The V3 check hashes the body. EDAS calls carry none; a body over the limit is refused
    // like any unreadable request.
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("edas-simulator")
        .to_string();
    let accepted = Accepted {
        access_key_id: &shared.config.access_key_id,
        access_key_secret: &shared.config.access_key_secret,
        security_token: shared.config.security_token.as_ref(),
    };
    let verified = verify(
        &Received {
            method: &parts.method,
            path: parts.uri.path(),
            raw_query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
        },
        &accepted,
        SystemTime::now(),
    );
    let decision = decide(&shared, verified, &request_id, &host, Instant::now());
    match decision {
        Decision::Respond {
            status,
            body,
            retry_after,
        } => match serde_json::to_vec(&body) {
            Ok(bytes) => json_response(status, bytes, Some(&request_id), retry_after),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Decision::Drop => {
            connection.reset.notify_one();
            std::future::pending().await
        }
        Decision::Timeout => {
            let mut shutdown = shared.shutdown.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(TIMEOUT_HOLD) => {}
                _ = stopped(&mut shutdown) => {}
            }
            connection.reset.notify_one();
            std::future::pending().await
        }
    }
}

fn decide(
    shared: &Shared,
    verified: Result<Verified, Rejection>,
    request_id: &str,
    host: &str,
    now: Instant,
) -> Decision {
    let faults = &shared.config.faults;
    let trace_id = request_id.replace('-', "").to_ascii_lowercase();
    let mut inner = shared.lock();
    let inner = &mut *inner;
    let reject = |status: StatusCode, code: &str, message: &str| Decision::Respond {
        status,
        body: responses::service_error(request_id, host, code, message),
        retry_after: None,
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(rejection) => {
            if rejection.is_signature_mismatch() {
                inner.totals.signature_failures += 1;
            } else {
                inner.totals.rejected += 1;
            }
            return reject(rejection.status, &rejection.code, &rejection.message);
        }
    };
    if let Some(nonce) = &verified.nonce
        && !inner.nonces.insert(nonce, now)
    {
        inner.totals.rejected += 1;
        return reject(
            StatusCode::BAD_REQUEST,
            "SignatureNonceUsed",
            &format!("Specified signature nonce `{nonce}` was used already."),
        );
    }
    match verified.signature {
        SignatureKind::V3 => inner.totals.signed_v3 += 1,
        SignatureKind::RoaV1 => inner.totals.signed_roa_v1 += 1,
    }
    let id = verified.id.as_str();
    let mut info = None;
    let exists = match verified.operation {
        // A listing names an application, not a change order.
        Operation::List => {
            inner.totals.list_requests += 1;
            true
        }
        Operation::Apps => {
            inner.totals.application_list_requests += 1;
            true
        }
        Operation::Abort => {
            inner.totals.aborts_received += 1;
            inner
                .orders
                .record_abort_received(id, RollbackCall::AbortAndRollback)
        }
        Operation::Rollback => {
            inner.totals.aborts_received += 1;
            inner
                .orders
                .record_abort_received(id, RollbackCall::Rollback)
        }
        Operation::Info => {
            inner.totals.info_requests += 1;
            info = inner.orders.info(id, now);
            info.is_some()
        }
    };
    if !exists {
        inner.totals.unknown_change_orders += 1;
    }
    let throttle = |inner: &mut Inner| {
        inner.totals.throttled += 1;
        Decision::Respond {
            status: StatusCode::BAD_REQUEST,
            body: responses::service_error(
                request_id,
                host,
                responses::THROTTLING_CODE,
                responses::THROTTLING_MESSAGE,
            ),
            retry_after: faults.retry_after,
        }
    };
    let unavailable = |inner: &mut Inner| {
        inner.totals.unavailable += 1;
        Decision::Respond {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: responses::service_error(
                request_id,
                host,
                responses::UNAVAILABLE_CODE,
                responses::UNAVAILABLE_MESSAGE,
            ),
            retry_after: None,
        }
    };
    if let Some(bucket) = &mut inner.bucket
        && !bucket.try_take(now)
    {
        return throttle(inner);
    }
    if let Some(code) = shared.config.denied {
        inner.totals.rejected += 1;
        return Decision::Respond {
            status: StatusCode::OK,
            body: responses::permission_denied(request_id, &trace_id, code),
            retry_after: None,
        };
    }
    // Listings are throttled and denied like every call (above), so selectors and the
    // rollback-id search can be tested against a rate limit; no other fault applies to them.
    if verified.operation == Operation::Apps {
        // Every application the simulator holds, whatever the region asked (one region).
        let rows: Vec<serde_json::Value> = inner
            .applications
            .iter()
            .map(|application| {
                responses::listed_application(&application.app_id, &application.name, id)
            })
            .collect();
        return Decision::Respond {
            status: StatusCode::OK,
            body: responses::application_list(request_id, rows),
            retry_after: None,
        };
    }
    if verified.operation == Operation::List {
        // The application's change orders with their current status (an abort moves one
        // on); an application the simulator does not hold lists none.
        let now = Instant::now();
        let rows: Vec<serde_json::Value> = inner
            .applications
            .iter()
            .filter(|application| application.app_id == id)
            .flat_map(|application| {
                application.change_orders.iter().map(|order| {
                    let status = inner
                        .orders
                        .status_now(order.id.as_str(), now)
                        .unwrap_or(order.status);
                    responses::listed_change_order(
                        order.id.as_str(),
                        status,
                        &order.create_time,
                        &application.app_id,
                        inner.orders.is_rollback(order.id.as_str()),
                    )
                })
            })
            .collect();
        return Decision::Respond {
            status: StatusCode::OK,
            body: responses::change_order_list(request_id, &trace_id, rows),
            retry_after: None,
        };
    }
    match verified.operation {
        Operation::Info => {
            if roll(faults.fail_rate, &mut inner.rng) {
                return unavailable(inner);
            }
            let body = match info {
                Some((status, rollback_of)) => {
                    responses::change_order_info(request_id, id, status, rollback_of.as_deref())
                }
                None => responses::business_error(
                    request_id,
                    &trace_id,
                    &responses::not_found_message(id),
                ),
            };
            Decision::Respond {
                status: StatusCode::OK,
                body,
                retry_after: None,
            }
        }
        Operation::Abort | Operation::Rollback | Operation::List | Operation::Apps => {
            let call = match verified.operation {
                Operation::Rollback => RollbackCall::Rollback,
                _ => RollbackCall::AbortAndRollback,
            };
            let scripted = inner.scripted.get_mut(id).and_then(VecDeque::pop_front);
            match scripted {
                Some(ScriptedOutcome::Throttle) => return throttle(inner),
                Some(ScriptedOutcome::Fail503) => return unavailable(inner),
                Some(ScriptedOutcome::Timeout) => {
                    inner.totals.timed_out += 1;
                    return Decision::Timeout;
                }
                Some(ScriptedOutcome::Ok | ScriptedOutcome::Drop) => {}
                None => {
                    if roll(faults.fail_rate, &mut inner.rng) {
                        return unavailable(inner);
                    }
                }
            }
            let body = match inner.orders.abort(id, now, call) {
                AbortResult::Committed {
                    rollback_change_order_id,
                } => {
                    inner.totals.aborts_committed += 1;
                    // As EDAS does, the rollback change order joins the aborted one's
                    // application, so ListRecentChangeOrder shows it (a lost answer's
                    // rollback id is found there).
                    let created = list_time(std::time::SystemTime::now());
                    if let Some(application) = inner.applications.iter_mut().find(|app| {
                        app.change_orders
                            .iter()
                            .any(|order| order.id.as_str() == id)
                    }) {
                        application.change_orders.push(super::SimAppChangeOrder {
                            id: crate::ids::ChangeOrderId::new(rollback_change_order_id.clone()),
                            status: super::status::RUNNING,
                            create_time: created,
                        });
                    }
                    responses::abort_accepted(request_id, &trace_id, &rollback_change_order_id)
                }
                AbortResult::NotAbortable { status } => responses::business_error(
                    request_id,
                    &trace_id,
                    &responses::not_abortable_message(id, status),
                ),
                AbortResult::InProgress => responses::business_error(
                    request_id,
                    &trace_id,
                    &responses::in_progress_message(id),
                ),
                AbortResult::WrongCluster { ecs } => responses::business_error(
                    request_id,
                    &trace_id,
                    &responses::wrong_cluster_message(id, ecs),
                ),
                AbortResult::NotFound => responses::business_error(
                    request_id,
                    &trace_id,
                    &responses::not_found_message(id),
                ),
            };
            let drop_response = match scripted {
                Some(ScriptedOutcome::Drop) => true,
                Some(_) => false,
                None => roll(faults.drop_rate, &mut inner.rng),
            };
            if drop_response {
                inner.totals.dropped += 1;
                return Decision::Drop;
            }
            Decision::Respond {
                status: StatusCode::OK,
                body,
                retry_after: None,
            }
        }
    }
}

/// Resolves once shutdown is requested (or the simulator is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, before any other await.
    let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
}

fn json_response(
    status: StatusCode,
    body: Vec<u8>,
    request_id: Option<&str>,
    retry_after: Option<Duration>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        headers.insert("x-acs-request-id", value);
    }
    if let Some(after) = retry_after {
        headers.insert(
            RETRY_AFTER_HEADER,
            HeaderValue::from(after.as_millis() as u64),
        );
    }
    response
}

/// `CreateTime` as ListRecentChangeOrder writes it: `2019-11-13 14:23:46` (UTC here).
fn list_time(at: std::time::SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    text.replace('T', " ").chars().take(19).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_while_remembered_and_forgotten_after_the_window() {
        let start = Instant::now();
        let mut window = NonceWindow::default();
        assert!(window.insert("n-1", start));
        assert!(!window.insert("n-1", start + Duration::from_secs(60)));
        assert!(window.insert("n-2", start + Duration::from_secs(60)));
        let later = start + NONCE_MEMORY + Duration::from_secs(120);
        assert!(window.insert("n-1", later));
        assert_eq!(window.seen.len(), window.order.len());
    }
}
