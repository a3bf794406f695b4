//! The simulator over real HTTP on loopback: requests are signed with the production signer
//! and sent with the crate's own HTTP/1.1 transport (no EDAS client logic on top), so every check the simulator makes is exercised the
//! way the CLI and the official SDK exercise it.

use crate::support::assert_cli_snapshot;
use edas_rollback::edas::credentials::Credentials;
use edas_rollback::edas::outcome::{RawResponse, ResponseHeaders, TransportError};
use edas_rollback::edas::secret::Secret;
use edas_rollback::edas::signer::{Acs3Signer, RequestSigner, RoaV1Signer};
use edas_rollback::edas::{ABORT_PATH, API_VERSION, INFO_PATH, LIST_PATH, ROLLBACK_PATH};
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::sim::{Latency, ScriptedOutcome, SimConfig, SimStats, Simulator};
use edas_rollback::transport::{ProxySettings, Target, Transport, TransportSettings};
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A plain HTTP client: the transport alone, with an optional deadline for a whole exchange.
#[derive(Clone)]
struct HttpClient {
    timeout: Option<Duration>,
}

fn http_client(timeout: Option<Duration>) -> HttpClient {
    HttpClient { timeout }
}

impl HttpClient {
    /// One exchange with the URL's origin; the request's own URI is ignored for the target.
    async fn exchange(
        &self,
        url: &str,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<RawResponse, TransportError> {
        let (target, path_and_query) = Target::parse_url(url).unwrap();
        let transport = Transport::new(
            target,
            TransportSettings {
                connect_timeout: Duration::from_secs(5),
                read_timeout: Duration::from_secs(60),
                pool_size: 1,
                proxy: ProxySettings::default(),
                user_agent: "edas-rollback-tests",
            },
        )
        .unwrap();
        let sent = transport.send(method, &path_and_query, headers, b"");
        match self.timeout {
            Some(timeout) => tokio::time::timeout(timeout, sent)
                .await
                .unwrap_or_else(|_| Err(TransportError::ReadTimeout("deadline".into()))),
            None => sent.await,
        }
    }
}

fn is_timeout(error: &TransportError) -> bool {
    matches!(error, TransportError::ReadTimeout(_))
}

fn config(change_orders: &[(&str, i32)]) -> SimConfig {
    SimConfig {
        change_orders: change_orders
            .iter()
            .map(|(id, status)| (ChangeOrderId::new(*id), *status))
            .collect(),
        seed: 42,
        ..SimConfig::default()
    }
}

/// One request as our client builds it, before signing.
struct Call {
    method: Method,
    path: &'static str,
    action: &'static str,
    change_order_id: String,
    date: SystemTime,
    nonce: String,
    omit_header: Option<&'static str>,
}

impl Call {
    fn abort(id: &str) -> Self {
        Self::new(Method::PUT, ABORT_PATH, "AbortAndRollbackChangeOrder", id)
    }

    fn info(id: &str) -> Self {
        Self::new(Method::POST, INFO_PATH, "GetChangeOrderInfo", id)
    }

    fn new(method: Method, path: &'static str, action: &'static str, id: &str) -> Self {
        Self {
            method,
            path,
            action,
            change_order_id: id.to_string(),
            date: SystemTime::now(),
            nonce: uuid::Uuid::new_v4().to_string(),
            omit_header: None,
        }
    }

    /// Signs the request; returns it with our string to sign.
    fn sign(&self, credentials: &Credentials) -> (http::Request<()>, String) {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("ChangeOrderId", &self.change_order_id)
            .append_pair("RegionId", "cn-hangzhou")
            .finish();
        let mut request = http::Request::builder()
            .method(self.method.clone())
            .uri(format!("{}?{query}", self.path))
            .header("accept", "application/json")
            .header("x-acs-version", API_VERSION)
            .header("x-acs-action", self.action)
            .header("x-acs-region-id", "cn-hangzhou")
            .body(())
            .unwrap();
        if let Some(name) = self.omit_header {
            request.headers_mut().remove(name);
        }
        let text = RoaV1Signer
            .sign(&mut request, credentials, self.date, &self.nonce)
            .unwrap();
        (request, text)
    }
}

/// Signs with signature V3 on the simulator's own endpoint (V3 signs `host`): any method,
/// path, action and query.
fn sign_v3(
    endpoint: &str,
    method: Method,
    path_and_query: &str,
    action: &str,
    credentials: &Credentials,
) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{endpoint}{path_and_query}"))
        .header("accept", "application/json")
        .header("x-acs-version", API_VERSION)
        .header("x-acs-action", action)
        .body(())
        .unwrap();
    Acs3Signer
        .sign(
            &mut request,
            credentials,
            SystemTime::now(),
            &uuid::Uuid::new_v4().to_string(),
        )
        .unwrap();
    request
}

async fn send_absolute(request: &http::Request<()>) -> Answer {
    let url = request.uri().to_string();
    let response = http_client(None)
        .exchange(&url, request.method(), request.headers())
        .await
        .unwrap();
    Answer {
        status: StatusCode::from_u16(response.status).unwrap(),
        headers: response.headers,
        body: serde_json::from_slice(&response.body).unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn v3_signed_calls_of_all_four_apis_are_served_and_bad_ones_refused_as_the_service_does() {
    let mut config = config(&[("co-abort", 1), ("co-rollback", 1)]);
    config.security_token = Some(Secret::new("v3-sts-token"));
    // RollbackChangeOrder is for applications in ECS clusters.
    config
        .ecs_change_orders
        .insert(edas_rollback::ids::ChangeOrderId::new("co-rollback"));
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let endpoint = simulator.endpoint();
    let calls = [
        (
            Method::PUT,
            ABORT_PATH,
            "AbortAndRollbackChangeOrder",
            "ChangeOrderId=co-abort",
        ),
        (
            Method::PUT,
            ROLLBACK_PATH,
            "RollbackChangeOrder",
            "ChangeOrderId=co-rollback",
        ),
        (
            Method::POST,
            INFO_PATH,
            "GetChangeOrderInfo",
            "ChangeOrderId=co-abort",
        ),
        (
            Method::POST,
            LIST_PATH,
            "ListRecentChangeOrder",
            "AppId=app+1",
        ),
    ];
    for (method, path, action, query) in calls {
        let request = sign_v3(
            &endpoint,
            method,
            &format!("{path}?{query}"),
            action,
            &credentials,
        );
        let answer = send_absolute(&request).await;
        assert_eq!(
            (answer.status, &answer.body["Code"]),
            (StatusCode::OK, &Value::from(200)),
            "{action}: {}",
            answer.body
        );
    }
    let stats = simulator.stats();
    assert_eq!(counts(&stats, "co-abort").3, 6);
    assert_eq!(counts(&stats, "co-rollback").3, 6);

    let wrong_secret = Credentials::new(credentials.access_key_id.clone(), Secret::new("wrong"))
        .with_security_token(Secret::new("v3-sts-token"));
    let answer = send_absolute(&sign_v3(
        &endpoint,
        Method::POST,
        &format!("{INFO_PATH}?ChangeOrderId=co-abort"),
        "GetChangeOrderInfo",
        &wrong_secret,
    ))
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["Code"], "SignatureDoesNotMatch");
    // It gives the server's string to sign, as EDAS does.
    assert_cli_snapshot!(
        "signature_does_not_match_message",
        answer.body["Message"].as_str().unwrap()
    );

    let no_token = Credentials::new(
        credentials.access_key_id.clone(),
        credentials.access_key_secret.clone(),
    );
    let answer = send_absolute(&sign_v3(
        &endpoint,
        Method::POST,
        &format!("{INFO_PATH}?ChangeOrderId=co-abort"),
        "GetChangeOrderInfo",
        &no_token,
    ))
    .await;
    assert_eq!(answer.body["Code"], "MissingSecurityToken");

    let answer = send_absolute(&sign_v3(
        &endpoint,
        Method::GET,
        "/pop/v5/nothing?ChangeOrderId=x",
        "Nothing",
        &credentials,
    ))
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["Code"], "InvalidApi.NotFound");
    assert!(answer.body["RequestId"].is_string());

    // The same signed request twice: the nonce is spent.
    let request = sign_v3(
        &endpoint,
        Method::POST,
        &format!("{INFO_PATH}?ChangeOrderId=co-abort"),
        "GetChangeOrderInfo",
        &credentials,
    );
    assert_eq!(send_absolute(&request).await.body["Code"], 200);
    assert_eq!(
        send_absolute(&request).await.body["Code"],
        "SignatureNonceUsed"
    );
    simulator.shutdown().await;
}

struct Answer {
    status: StatusCode,
    headers: ResponseHeaders,
    body: Value,
}

async fn send(
    client: &HttpClient,
    simulator_endpoint: &str,
    request: http::Request<()>,
) -> Result<Answer, TransportError> {
    let url = format!("{simulator_endpoint}{}", request.uri());
    let response = client
        .exchange(&url, request.method(), request.headers())
        .await?;
    Ok(Answer {
        status: StatusCode::from_u16(response.status).unwrap(),
        headers: response.headers,
        body: serde_json::from_slice(&response.body).unwrap_or(Value::Null),
    })
}

async fn call(simulator: &Simulator, credentials: &Credentials, call: Call) -> Answer {
    let (request, _) = call.sign(credentials);
    send(&http_client(None), &simulator.endpoint(), request)
        .await
        .unwrap()
}

fn counts(stats: &SimStats, id: &str) -> (u64, u64, u64, i32) {
    let entry = &stats.change_orders[id];
    (
        entry.aborts_received,
        entry.aborts_committed,
        entry.info_requests,
        entry.status,
    )
}

#[tokio::test]
async fn a_correct_abort_stops_the_change_order_and_starts_a_rollback() {
    let config = config(&[("co-1", 1)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let answer = call(&simulator, &credentials, Call::abort("co-1")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["Code"], 200);
    assert_eq!(answer.body["Message"], "success");
    assert_eq!(answer.body["ErrorCode"], "");
    assert!(
        answer.body["TraceId"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let request_id = answer.body["RequestId"].as_str().unwrap().to_string();
    assert_eq!(request_id.len(), 36);
    assert_eq!(
        answer.headers.get_str("x-acs-request-id"),
        Some(request_id.as_str())
    );
    let rollback = answer.body["Data"]["ChangeOrderId"]
        .as_str()
        .unwrap()
        .to_string();

    let info = call(&simulator, &credentials, Call::info("co-1")).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.body["Code"], 200);
    assert_eq!(info.body["changeOrderInfo"]["ChangeOrderId"], "co-1");
    assert_eq!(info.body["changeOrderInfo"]["Status"], 6);
    let rollback_info = call(&simulator, &credentials, Call::info(&rollback)).await;
    assert_eq!(rollback_info.body["changeOrderInfo"]["Status"], 1);

    let stats = simulator.stats();
    assert_eq!(counts(&stats, "co-1"), (1, 1, 1, 6));
    assert_eq!(
        stats.change_orders["co-1"]
            .rollback_change_order_id
            .as_deref(),
        Some(rollback.as_str())
    );
    assert_eq!(stats.totals.aborts_committed, 1);
    simulator.shutdown().await;
}

#[tokio::test]
async fn rollback_ids_and_request_ids_repeat_for_the_same_seed() {
    let mut answers = Vec::new();
    for _ in 0..2 {
        let config = config(&[("co-1", 1)]);
        let credentials = config.credentials();
        let simulator = Simulator::start(loopback(), config).await.unwrap();
        let answer = call(&simulator, &credentials, Call::abort("co-1")).await;
        answers.push((
            answer.body["RequestId"].clone(),
            answer.body["Data"]["ChangeOrderId"].clone(),
        ));
        simulator.shutdown().await;
    }
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn a_second_abort_is_refused_as_not_abortable_and_commits_nothing() {
    let config = config(&[("co-1", 0)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let first = call(&simulator, &credentials, Call::abort("co-1")).await;
    assert_eq!(first.body["Code"], 200);
    let second = call(&simulator, &credentials, Call::abort("co-1")).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["Code"], 601);
    assert_cli_snapshot!(
        "abort_of_a_stopped_change_order_message",
        second.body["Message"].as_str().unwrap()
    );
    assert_eq!(counts(&simulator.stats(), "co-1"), (2, 1, 0, 6));
    simulator.shutdown().await;
}

#[tokio::test]
async fn change_orders_that_ended_cannot_be_aborted() {
    let config = config(&[("done", 2), ("failed", 3), ("partly", 7), ("waiting", 9)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    for id in ["done", "failed", "partly"] {
        let answer = call(&simulator, &credentials, Call::abort(id)).await;
        assert_eq!(answer.body["Code"], 601, "{id}: {}", answer.body);
    }
    let waiting = call(&simulator, &credentials, Call::abort("waiting")).await;
    assert_eq!(waiting.body["Code"], 200);
    assert_eq!(simulator.stats().totals.aborts_committed, 1);
    simulator.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_the_server_string_to_sign() {
    let config = config(&[("co-1", 1)]);
    let wrong = Credentials::new(config.access_key_id.clone(), Secret::new("not-the-secret"));
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let (request, our_string_to_sign) = Call::abort("co-1").sign(&wrong);
    let answer = send(&http_client(None), &simulator.endpoint(), request)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["Code"], "SignatureDoesNotMatch");
    let message = answer.body["Message"].as_str().unwrap();
    let echoed = message
        .split_once("server string to sign is:")
        .map(|(_, text)| text)
        .unwrap();
    // Same inputs, so the server's string to sign is exactly ours: only the secret differs.
    assert_eq!(echoed, our_string_to_sign);
    let stats = simulator.stats();
    assert_eq!(stats.totals.signature_failures, 1);
    assert_eq!(counts(&stats, "co-1"), (0, 0, 0, 1));
    simulator.shutdown().await;
}

#[tokio::test]
async fn a_date_twenty_minutes_off_is_refused_as_expired() {
    let config = config(&[("co-1", 1)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    for date in [
        SystemTime::now() - Duration::from_secs(20 * 60),
        SystemTime::now() + Duration::from_secs(20 * 60),
    ] {
        let mut skewed = Call::abort("co-1");
        skewed.date = date;
        let answer = call(&simulator, &credentials, skewed).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body["Code"], "InvalidTimeStamp.Expired");
    }
    assert_eq!(simulator.stats().totals.aborts_committed, 0);
    simulator.shutdown().await;
}

#[tokio::test]
async fn a_security_token_must_be_sent_and_match_when_one_is_configured() {
    let mut config = config(&[("co-1", 1)]);
    config.security_token = Some(Secret::new("sts-token-value"));
    let good = config.credentials();
    let missing = Credentials::new(
        config.access_key_id.clone(),
        config.access_key_secret.clone(),
    );
    let wrong = missing
        .clone()
        .with_security_token(Secret::new("another-token"));
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    for (credentials, code) in [
        (&missing, "MissingSecurityToken"),
        (&wrong, "InvalidSecurityToken.MisMatch"),
    ] {
        let answer = call(&simulator, credentials, Call::abort("co-1")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body["Code"], code);
        assert!(!answer.body.to_string().contains("sts-token-value"));
    }
    let accepted = call(&simulator, &good, Call::abort("co-1")).await;
    assert_eq!(accepted.body["Code"], 200);
    assert_eq!(counts(&simulator.stats(), "co-1"), (1, 1, 0, 6));
    simulator.shutdown().await;
}

#[tokio::test]
async fn an_unknown_access_key_is_refused_as_not_found() {
    let config = config(&[("co-1", 1)]);
    let stranger = Credentials::new("LTAI5tSomeoneElse", config.access_key_secret.clone());
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let answer = call(&simulator, &stranger, Call::abort("co-1")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["Code"], "InvalidAccessKeyId.NotFound");
    assert!(answer.body["RequestId"].is_string());
    assert_eq!(simulator.stats().totals.rejected, 1);
    simulator.shutdown().await;
}

#[tokio::test]
async fn missing_headers_and_authorization_are_refused_naming_what_is_missing() {
    let config = config(&[("co-1", 1)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let mut no_version = Call::abort("co-1");
    no_version.omit_header = Some("x-acs-version");
    let answer = call(&simulator, &credentials, no_version).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["Code"], "MissingVersion");
    assert_cli_snapshot!(
        "missing_version_message",
        answer.body["Message"].as_str().unwrap()
    );

    let (mut unsigned, _) = Call::abort("co-1").sign(&credentials);
    unsigned.headers_mut().remove("authorization");
    let answer = send(&http_client(None), &simulator.endpoint(), unsigned)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["Code"], "MissingAuthorization");

    let (mut no_date, _) = Call::abort("co-1").sign(&credentials);
    no_date.headers_mut().remove("date");
    let answer = send(&http_client(None), &simulator.endpoint(), no_date)
        .await
        .unwrap();
    assert_eq!(answer.body["Code"], "MissingDate");
    assert_eq!(simulator.stats().totals.aborts_received, 0);
    simulator.shutdown().await;
}

#[tokio::test]
async fn a_wrong_method_path_action_or_version_is_refused() {
    let config = config(&[("co-1", 1)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let wrong_method = Call::new(
        Method::POST,
        ABORT_PATH,
        "AbortAndRollbackChangeOrder",
        "co-1",
    );
    let answer = call(&simulator, &credentials, wrong_method).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["Code"], "InvalidApi.NotFound");
    let wrong_action = Call::new(Method::PUT, ABORT_PATH, "GetChangeOrderInfo", "co-1");
    let answer = call(&simulator, &credentials, wrong_action).await;
    assert_eq!(answer.body["Code"], "InvalidApi.NotFound");

    let (mut old_version, _) = Call::abort("co-1").sign(&credentials);
    old_version
        .headers_mut()
        .insert("x-acs-version", "2016-01-01".parse().unwrap());
    let answer = send(&http_client(None), &simulator.endpoint(), old_version)
        .await
        .unwrap();
    assert_eq!(answer.body["Code"], "InvalidVersion");
    assert_eq!(simulator.stats().totals.aborts_committed, 0);
    simulator.shutdown().await;
}

#[tokio::test]
async fn a_reused_nonce_is_refused() {
    let config = config(&[("co-1", 1), ("co-2", 1)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let mut first = Call::abort("co-1");
    first.nonce = "the-same-nonce".to_string();
    let mut second = Call::abort("co-2");
    second.nonce = "the-same-nonce".to_string();
    assert_eq!(
        call(&simulator, &credentials, first).await.body["Code"],
        200
    );
    let answer = call(&simulator, &credentials, second).await;
    assert_eq!(answer.body["Code"], "SignatureNonceUsed");
    assert_eq!(counts(&simulator.stats(), "co-2"), (0, 0, 0, 1));
    simulator.shutdown().await;
}

#[tokio::test]
async fn an_unknown_change_order_is_a_business_error_naming_it() {
    let config = config(&[("co-1", 1)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let mut messages = Vec::new();
    for answer in [
        call(&simulator, &credentials, Call::abort("no-such-order")).await,
        call(&simulator, &credentials, Call::info("no-such-order")).await,
    ] {
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body["Code"], 601);
        messages.push(answer.body["Message"].as_str().unwrap().to_string());
    }
    // Abort, then GetChangeOrderInfo.
    assert_cli_snapshot!("unknown_change_order_messages", messages.join("\n"));
    let stats = simulator.stats();
    assert_eq!(stats.totals.unknown_change_orders, 2);
    assert!(!stats.change_orders.contains_key("no-such-order"));
    simulator.shutdown().await;
}

#[tokio::test]
async fn with_any_id_unknown_change_orders_exist_and_are_running() {
    let mut config = config(&[]);
    config.any_id = true;
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let info = call(&simulator, &credentials, Call::info("made-up-1")).await;
    assert_eq!(info.body["changeOrderInfo"]["Status"], 1);
    let abort = call(&simulator, &credentials, Call::abort("made-up-2")).await;
    assert_eq!(abort.body["Code"], 200);
    let stats = simulator.stats();
    assert_eq!(counts(&stats, "made-up-2"), (1, 1, 0, 6));
    assert_eq!(stats.totals.unknown_change_orders, 0);
    simulator.shutdown().await;
}

#[tokio::test]
async fn a_rollback_change_order_runs_then_succeeds_after_the_rollback_duration() {
    let mut config = config(&[("co-1", 8)]);
    // Long enough that the first status read lands inside it even on a loaded machine (at
    // 300 ms it did not, under a load average of 13).
    config.rollback_duration = Duration::from_millis(1500);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let abort = call(&simulator, &credentials, Call::abort("co-1")).await;
    let rollback = abort.body["Data"]["ChangeOrderId"]
        .as_str()
        .unwrap()
        .to_string();
    let early = call(&simulator, &credentials, Call::info(&rollback)).await;
    assert_eq!(early.body["changeOrderInfo"]["Status"], 1);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let late = call(&simulator, &credentials, Call::info(&rollback)).await;
    assert_eq!(late.body["changeOrderInfo"]["Status"], 2);
    assert_eq!(simulator.stats().change_orders[&rollback].status, 2);
    simulator.shutdown().await;
}

#[tokio::test]
async fn requests_over_the_rate_limit_are_throttled_with_a_retry_after() {
    let mut config = config(&[]);
    config.any_id = true;
    config.faults.requests_per_second = Some(2);
    config.faults.retry_after = Some(Duration::from_millis(1500));
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    // All eight at once, so the bucket cannot refill between them however slow the machine.
    let client = http_client(None);
    let tasks: Vec<_> = (0..8)
        .map(|index| {
            let (request, _) = Call::abort(&format!("co-{index}")).sign(&credentials);
            let (client, endpoint) = (client.clone(), simulator.endpoint());
            tokio::spawn(async move { send(&client, &endpoint, request).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    let mut throttled = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.body["Code"] == "Throttling.User" {
            assert_eq!(answer.status, StatusCode::BAD_REQUEST);
            assert_eq!(
                answer.body["Message"],
                "Request was denied due to user flow control."
            );
            assert_eq!(answer.headers.get_str("x-acs-retry-after"), Some("1500"));
            throttled += 1;
        } else {
            assert_eq!(answer.body["Code"], 200);
            accepted += 1;
        }
    }
    // A burst of two passes; eight requests in far less than a second cannot all pass.
    assert!(accepted >= 2, "{accepted} accepted");
    assert!(throttled >= 3, "{throttled} throttled");
    let stats = simulator.stats();
    assert_eq!(stats.totals.throttled, throttled);
    assert_eq!(stats.totals.aborts_committed, accepted);
    simulator.shutdown().await;
}

#[tokio::test]
async fn the_503_rate_fails_requests_before_anything_is_committed() {
    let mut config = config(&[]);
    config.any_id = true;
    config.faults.fail_rate = 0.3;
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let client = http_client(None);
    let mut unavailable = 0u64;
    for index in 0..200 {
        let id = format!("co-{index}");
        let (request, _) = Call::abort(&id).sign(&credentials);
        let answer = send(&client, &simulator.endpoint(), request).await.unwrap();
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(answer.body["Code"], "ServiceUnavailable");
            assert_eq!(simulator.stats().change_orders[&id].aborts_committed, 0);
            unavailable += 1;
        }
    }
    assert!(
        (20..=100).contains(&unavailable),
        "{unavailable} of 200 failed at rate 0.3"
    );
    let stats = simulator.stats();
    assert_eq!(stats.totals.unavailable, unavailable);
    assert_eq!(stats.totals.aborts_committed, 200 - unavailable);
    simulator.shutdown().await;
}

#[tokio::test]
async fn a_dropped_response_is_a_transport_error_after_the_abort_was_committed() {
    let mut config = config(&[("co-1", 1)]);
    config.faults.drop_rate = 1.0;
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let (request, _) = Call::abort("co-1").sign(&credentials);
    let error = send(
        &http_client(Some(Duration::from_secs(10))),
        &simulator.endpoint(),
        request,
    )
    .await
    .err()
    .expect("a dropped connection gives the client no response");
    assert!(!is_timeout(&error), "{error:?}");
    let stats = simulator.stats();
    assert_eq!(stats.totals.dropped, 1);
    assert_eq!(counts(&stats, "co-1"), (1, 1, 0, 6));
    // The client must ask: the change order is stopped even though no answer came back.
    let info = call(&simulator, &credentials, Call::info("co-1")).await;
    assert_eq!(info.body["changeOrderInfo"]["Status"], 6);
    simulator.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let mut config = config(&[("co-1", 1)]);
    config.faults.latency = Latency::Fixed(Duration::from_millis(200));
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let started = Instant::now();
    let answer = call(&simulator, &credentials, Call::info("co-1")).await;
    assert_eq!(answer.body["Code"], 200);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn scripted_outcomes_are_played_in_order_for_their_change_order() {
    let mut config = config(&[("co-1", 1), ("co-2", 1)]);
    config.faults.scripted.insert(
        ChangeOrderId::new("co-1"),
        vec![
            ScriptedOutcome::Throttle,
            ScriptedOutcome::Fail503,
            ScriptedOutcome::Drop,
            ScriptedOutcome::Ok,
        ],
    );
    config
        .faults
        .scripted
        .insert(ChangeOrderId::new("co-2"), vec![ScriptedOutcome::Timeout]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let throttled = call(&simulator, &credentials, Call::abort("co-1")).await;
    assert_eq!(throttled.body["Code"], "Throttling.User");
    let failed = call(&simulator, &credentials, Call::abort("co-1")).await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(simulator.stats().change_orders["co-1"].aborts_committed, 0);
    let (request, _) = Call::abort("co-1").sign(&credentials);
    assert!(
        send(&http_client(None), &simulator.endpoint(), request)
            .await
            .is_err()
    );
    assert_eq!(simulator.stats().change_orders["co-1"].aborts_committed, 1);
    let after = call(&simulator, &credentials, Call::abort("co-1")).await;
    assert_eq!(
        after.body["Code"], 601,
        "already stopped by the dropped abort"
    );

    let (request, _) = Call::abort("co-2").sign(&credentials);
    let error = send(
        &http_client(Some(Duration::from_millis(300))),
        &simulator.endpoint(),
        request,
    )
    .await
    .err()
    .expect("a scripted timeout never answers");
    assert!(is_timeout(&error), "{error:?}");
    let stats = simulator.stats();
    assert_eq!(counts(&stats, "co-1"), (4, 1, 0, 6));
    assert_eq!(counts(&stats, "co-2"), (1, 0, 0, 1));
    assert_eq!(stats.totals.timed_out, 1);
    simulator.shutdown().await;
}

#[tokio::test]
async fn the_stats_endpoint_serves_the_same_counters_unsigned() {
    let config = config(&[("co-1", 1)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    call(&simulator, &credentials, Call::abort("co-1")).await;
    let bytes = http_client(None)
        .exchange(
            &format!("{}/__sim/stats", simulator.endpoint()),
            &Method::GET,
            &HeaderMap::new(),
        )
        .await
        .unwrap()
        .body;
    let served: SimStats = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(served, simulator.stats());
    assert_eq!(served.change_orders["co-1"].aborts_committed, 1);
    simulator.shutdown().await;
}

/// Runs `simulate` with a change order file, checks each abort's `Code`, stops it with
/// `signal`, and returns its stderr after checking it exited 0.
async fn run_simulate_binary(
    signal: &str,
    file_name: &str,
    contents: &str,
    aborts: &[(&str, i64)],
) -> String {
    let directory = tempfile::tempdir().unwrap();
    let list = directory.path().join(file_name);
    std::fs::write(&list, contents).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_edas-rollback"))
        .args(["simulate", "--seed", "7", "--change-orders"])
        .arg(&list)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first_line = String::new();
    stdout.read_line(&mut first_line).unwrap();
    let endpoint = first_line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was `{first_line}`"))
        .to_string();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let credentials = SimConfig::default().credentials();
    let client = http_client(None);
    for (id, code) in aborts {
        let (request, _) = Call::abort(id).sign(&credentials);
        let answer = send(&client, &endpoint, request).await.unwrap();
        assert_eq!(answer.body["Code"], *code, "{id}: {}", answer.body);
    }

    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "simulate did not stop on {signal}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "exit status after {signal}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        !stderr.contains(edas_rollback::sim::DEFAULT_ACCESS_KEY_SECRET),
        "{stderr}"
    );
    stderr
}

#[tokio::test]
async fn the_simulate_command_prints_its_address_first_and_stops_on_sigint() {
    let stderr = run_simulate_binary(
        "-INT",
        "orders.txt",
        "# two change orders\nco-running 1\nco-done 2\n",
        &[("co-running", 200), ("co-done", 601), ("co-unknown", 601)],
    )
    .await;
    assert_cli_snapshot!(stderr);
}

#[tokio::test]
async fn the_simulate_command_reads_a_yaml_config_and_stops_on_sigterm() {
    let config = "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  - id: co-a\n    app: checkout\n  - id: co-b\n";
    let stderr = run_simulate_binary(
        "-TERM",
        "runbook.yaml",
        config,
        &[("co-a", 200), ("co-b", 200), ("co-a", 601)],
    )
    .await;
    assert_cli_snapshot!(stderr);
}

#[tokio::test]
async fn only_loopback_addresses_can_be_bound() {
    let error = Simulator::start("0.0.0.0:0".parse().unwrap(), SimConfig::default())
        .await
        .err()
        .unwrap();
    assert_cli_snapshot!(error.to_string());
}

/// Selectors (docs/CONFIG.md): the client's ListRecentChangeOrder is signed so the simulator
/// accepts it, and its answer decodes (an application the simulator holds nothing for lists
/// no change order); a wrong secret is fatal, as for every call.
#[tokio::test]
async fn the_client_lists_an_applications_recent_change_orders_signed_as_every_call() {
    use edas_rollback::edas::client::{ClientSettings, EdasClient};
    use edas_rollback::edas::endpoint::Endpoint;
    use edas_rollback::edas::outcome::Outcome;
    let config = config(&[("co-1", 1)]);
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let endpoint = Endpoint::parse(&simulator.endpoint()).unwrap();
    let client = EdasClient::new(ClientSettings::new(
        endpoint.clone(),
        "cn-hangzhou",
        credentials,
        1,
    ))
    .unwrap();
    match client.list_recent_change_orders("app-1").await {
        Outcome::Done { answer, details } => {
            assert!(answer.is_empty(), "{answer:?}");
            assert!(details.request_id.is_some());
        }
        other => panic!("expected the list, got {other:?}"),
    }
    let wrong = EdasClient::new(ClientSettings::new(
        endpoint,
        "cn-hangzhou",
        Credentials::new(
            edas_rollback::sim::DEFAULT_ACCESS_KEY_ID,
            Secret::new("not-the-secret"),
        ),
        1,
    ))
    .unwrap();
    assert!(
        matches!(
            wrong.list_recent_change_orders("app-1").await,
            Outcome::Fatal { .. }
        ),
        "a wrong secret is fatal"
    );
}

/// The simulator models applications: ListRecentChangeOrder answers an application's change
/// orders with their seeded CreateTime and their current status, which an abort moves on.
#[tokio::test]
async fn the_simulator_lists_an_applications_change_orders_with_their_current_status() {
    use edas_rollback::edas::client::{ClientSettings, EdasClient};
    use edas_rollback::edas::endpoint::Endpoint;
    use edas_rollback::edas::outcome::Outcome;
    use edas_rollback::edas::request::RollbackOperation;
    use edas_rollback::edas::wire::ChangeOrderStatus;
    use edas_rollback::sim::{SimAppChangeOrder, SimApplication};
    let order = |id: &str, status: i32, create_time: &str| SimAppChangeOrder {
        id: ChangeOrderId::new(id),
        status,
        create_time: create_time.to_string(),
    };
    let mut config = config(&[]);
    config.applications = vec![
        SimApplication {
            app_id: "app-checkout".to_string(),
            name: "checkout".to_string(),
            change_orders: vec![
                order("co-c1", 1, "2026-11-30 19:00:00"),
                order("co-c2", 2, "2026-11-30 18:00:00"),
            ],
        },
        SimApplication {
            app_id: "app-payment".to_string(),
            name: "payment".to_string(),
            change_orders: vec![order("co-p1", 9, "2026-11-30 19:30:00")],
        },
    ];
    let credentials = config.credentials();
    let simulator = Simulator::start(loopback(), config).await.unwrap();
    let client = EdasClient::new(ClientSettings::new(
        Endpoint::parse(&simulator.endpoint()).unwrap(),
        "cn-hangzhou",
        credentials,
        1,
    ))
    .unwrap();
    let list = |app: &'static str| {
        let client = client.clone();
        async move {
            match client.list_recent_change_orders(app).await {
                Outcome::Done { answer, .. } => answer,
                other => panic!("expected the list, got {other:?}"),
            }
        }
    };
    let checkout = list("app-checkout").await;
    let rows: Vec<(&str, ChangeOrderStatus, &str)> = checkout
        .iter()
        .map(|row| {
            (
                row.change_order_id.as_str(),
                row.status,
                row.create_time.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("co-c1", ChangeOrderStatus::Running, "2026-11-30 19:00:00"),
            ("co-c2", ChangeOrderStatus::Succeeded, "2026-11-30 18:00:00"),
        ]
    );
    assert_eq!(list("app-payment").await.len(), 1);
    assert!(list("app-unknown").await.is_empty());
    // An application's change order can be aborted, and the list then says so.
    assert!(matches!(
        client
            .abort(
                &ChangeOrderId::new("co-c1"),
                RollbackOperation::AbortAndRollback
            )
            .await,
        Outcome::Done { .. }
    ));
    assert_eq!(
        list("app-checkout").await[0].status,
        ChangeOrderStatus::Stopped
    );
    let stats = simulator.stats();
    assert_eq!(stats.change_orders["co-c1"].aborts_committed, 1);
    assert_eq!(stats.change_orders["co-p1"].aborts_received, 0);
}
