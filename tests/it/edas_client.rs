//! The client against real HTTP over loopback: a small axum server in this file re-verifies
//! every signature from what arrived on the wire (with the signer's own `string_to_sign` and
//! `signature`) and answers the shapes the service answers. The full simulator lives in `sim`;
//! this server only proves the client's wire behaviour and its transport classification.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use edas_rollback::edas::client::{ClientSettings, EdasClient};
use edas_rollback::edas::credentials::Credentials;
use edas_rollback::edas::endpoint::Endpoint;
use edas_rollback::edas::outcome::{Accepted, Outcome};
use edas_rollback::edas::secret::Secret;
use edas_rollback::edas::signer::{
    EMPTY_BODY_SHA256, SignatureAlgorithm, acs3_authorization, acs3_canonical_request,
    acs3_signature, acs3_string_to_sign, decode_query, parse_acs3_date, signature, string_to_sign,
};
use edas_rollback::edas::wire::{
    AbortData, AbortResponse, ChangeOrderInfo, ChangeOrderInfoResponse, Code, ErrorResponse,
};
use edas_rollback::edas::{ABORT_PATH, INFO_PATH};
use edas_rollback::ids::ChangeOrderId;
use edas_rollback::transport::{ProxyEnvironment, ProxySettings};
use http::StatusCode;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const ACCESS_KEY_ID: &str = "LTAI5tLoopbackTestKey";
const SECRET: &str = "RecognisableSecret-7f3a9c";
const TOKEN: &str = "RecognisableStsToken-51bd0e";

#[derive(Clone, Copy)]
enum Behaviour {
    /// Verify the signature with this secret, then answer like the service.
    Verify { secret: &'static str },
    /// Take the request, then say nothing for this long.
    Stall(Duration),
    /// HTTP 503 ServiceUnavailable.
    Unavailable,
    /// HTTP 400 Throttling.User with `x-acs-retry-after` in milliseconds.
    Throttle { retry_after_ms: u64 },
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    nonce: Option<String>,
    user_agent: Option<String>,
    security_token: Option<String>,
    authorization: Option<String>,
}

struct Server {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn serve(behaviour: Behaviour) -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let app = Router::new().fallback(move |request: Request| {
        let recorded = recorded.clone();
        async move { answer(behaviour, request, &recorded).await }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { address, seen }
}

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::to_string(body).unwrap(),
    )
        .into_response()
}

async fn answer(behaviour: Behaviour, request: Request, seen: &Mutex<Vec<Seen>>) -> Response {
    seen.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        nonce: header(&request, "x-acs-signature-nonce"),
        user_agent: header(&request, "user-agent"),
        security_token: header(&request, "x-acs-security-token"),
        authorization: header(&request, "authorization"),
    });
    match behaviour {
        Behaviour::Stall(duration) => {
            tokio::time::sleep(duration).await;
            Response::new(Body::empty())
        }
        Behaviour::Unavailable => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &ErrorResponse {
                code: Some(Code::Text("ServiceUnavailable".into())),
                message: Some(
                    "The request has failed due to a temporary failure of the server.".into(),
                ),
                request_id: Some("req-503".into()),
                ..ErrorResponse::default()
            },
        ),
        Behaviour::Throttle { retry_after_ms } => {
            let mut response = json(
                StatusCode::BAD_REQUEST,
                &ErrorResponse {
                    code: Some(Code::Text("Throttling.User".into())),
                    message: Some("Request was denied due to user flow control.".into()),
                    request_id: Some("req-throttled".into()),
                    ..ErrorResponse::default()
                },
            );
            response.headers_mut().insert(
                "x-acs-retry-after",
                retry_after_ms.to_string().parse().unwrap(),
            );
            response
        }
        Behaviour::Verify { secret } => verify_and_answer(secret, &request),
    }
}

/// What a correct signature over this request is, by the algorithm its `Authorization`
/// names: (expected `Authorization`, the string to sign the server echoes, the sent date).
fn expected_signature(secret: &str, request: &Request) -> (String, String, Option<SystemTime>) {
    let query = decode_query(request.uri().query().unwrap_or(""));
    let sent = header(request, "authorization").unwrap_or_default();
    if let Some(signed) = sent
        .split_once("SignedHeaders=")
        .and_then(|(_, rest)| rest.split(',').next())
        .filter(|_| sent.starts_with("ACS3-HMAC-SHA256 "))
    {
        let signed: Vec<String> = signed.split(';').map(str::to_string).collect();
        let canonical = acs3_canonical_request(
            request.method().as_str(),
            request.uri().path(),
            &query,
            request.headers(),
            &signed,
            EMPTY_BODY_SHA256,
        );
        let text = acs3_string_to_sign(&canonical);
        let expected = acs3_authorization(
            ACCESS_KEY_ID,
            &signed,
            &acs3_signature(&Secret::new(secret), &text),
        );
        let date = header(request, "x-acs-date").and_then(|date| parse_acs3_date(&date));
        return (expected, text, date);
    }
    let text = string_to_sign(
        request.method().as_str(),
        request.headers(),
        request.uri().path(),
        &query,
    );
    let expected = format!(
        "acs {ACCESS_KEY_ID}:{}",
        signature(&Secret::new(secret), &text)
    );
    let date = header(request, "date").and_then(|date| httpdate::parse_http_date(&date).ok());
    (expected, text, date)
}

fn verify_and_answer(secret: &str, request: &Request) -> Response {
    let query = decode_query(request.uri().query().unwrap_or(""));
    let (expected, expected_text, date) = expected_signature(secret, request);
    let date_is_fresh = date.is_some_and(|date| {
        let now = SystemTime::now();
        let skew = now
            .duration_since(date)
            .or_else(|e| Ok::<_, ()>(e.duration()));
        skew.is_ok_and(|skew| skew < Duration::from_secs(15 * 60))
    });
    if header(request, "authorization").as_deref() != Some(expected.as_str()) || !date_is_fresh {
        return json(
            StatusCode::BAD_REQUEST,
            &ErrorResponse {
                code: Some(Code::Text("SignatureDoesNotMatch".into())),
                message: Some(format!(
                    "Specified signature is not matched with our calculation. server string to sign is:{expected_text}"
                )),
                request_id: Some("req-bad-signature".into()),
                host_id: Some("127.0.0.1".into()),
                ..ErrorResponse::default()
            },
        );
    }
    let change_order_id = query
        .iter()
        .find(|(key, _)| key == "ChangeOrderId")
        .and_then(|(_, value)| value.clone())
        .unwrap_or_default();
    match (request.method().as_str(), request.uri().path()) {
        ("PUT", ABORT_PATH) => json(
            StatusCode::OK,
            &AbortResponse {
                code: Some(Code::Number(200)),
                message: Some("success".into()),
                request_id: Some("req-abort".into()),
                trace_id: Some("trace-abort".into()),
                error_code: Some("success".into()),
                data: Some(AbortData {
                    change_order_id: Some(format!("rollback-of-{change_order_id}")),
                }),
            },
        ),
        ("POST", INFO_PATH) => json(
            StatusCode::OK,
            &ChangeOrderInfoResponse {
                code: Some(Code::Number(200)),
                message: Some("success".into()),
                request_id: Some("req-info".into()),
                change_order_info: Some(ChangeOrderInfo {
                    change_order_id: Some(change_order_id),
                    status: Some(6.into()),
                    ..ChangeOrderInfo::default()
                }),
                ..ChangeOrderInfoResponse::default()
            },
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            &ErrorResponse {
                code: Some(Code::Text("InvalidApi.NotFound".into())),
                message: Some("no such api".into()),
                ..ErrorResponse::default()
            },
        ),
    }
}

fn client_for(address: SocketAddr, credentials: Credentials, read_timeout: Duration) -> EdasClient {
    client_signing_with(
        address,
        credentials,
        read_timeout,
        SignatureAlgorithm::default(),
    )
}

fn client_signing_with(
    address: SocketAddr,
    credentials: Credentials,
    read_timeout: Duration,
    signature_algorithm: SignatureAlgorithm,
) -> EdasClient {
    let mut settings = ClientSettings::new(
        Endpoint::parse(&format!("http://{address}")).unwrap(),
        "cn-hangzhou",
        credentials,
        4,
    );
    settings.read_timeout = read_timeout;
    settings.connect_timeout = Duration::from_secs(2);
    settings.signature_algorithm = signature_algorithm;
    EdasClient::new(settings).unwrap()
}

fn access_key(secret: &str) -> Credentials {
    Credentials::new(ACCESS_KEY_ID, Secret::new(secret))
}

fn id(text: &str) -> ChangeOrderId {
    ChangeOrderId::new(text)
}

#[tokio::test]
async fn real_requests_over_loopback_are_signed_so_the_server_accepts_them() {
    let server = serve(Behaviour::Verify { secret: SECRET }).await;
    let client = client_for(server.address, access_key(SECRET), Duration::from_secs(5));

    let outcome = client
        .abort(
            &id("6b55106c-c7f2-40f7-a1d4-0928700aaaaa"),
            Default::default(),
        )
        .await;
    let Outcome::Done {
        answer: Accepted {
            rollback_change_order_id,
        },
        details,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        rollback_change_order_id.as_deref(),
        Some("rollback-of-6b55106c-c7f2-40f7-a1d4-0928700aaaaa")
    );
    assert_eq!(details.request_id.as_deref(), Some("req-abort"));
    assert_eq!(details.trace_id.as_deref(), Some("trace-abort"));

    // An id that needs percent-encoding is signed decoded and verified decoded.
    let awkward = client
        .abort(&id("id with space+&=%"), Default::default())
        .await;
    assert!(matches!(awkward, Outcome::Done { .. }), "{awkward:?}");

    let info = client.change_order_info(&id("co-1")).await;
    assert!(
        matches!(info, Outcome::Done { answer, .. } if answer.code() == 6),
        "{info:?}"
    );

    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("PUT", ABORT_PATH)
    );
    assert_eq!(
        (seen[2].method.as_str(), seen[2].path.as_str()),
        ("POST", INFO_PATH)
    );
    let nonces: std::collections::HashSet<_> = seen.iter().map(|s| s.nonce.clone()).collect();
    assert_eq!(nonces.len(), 3, "every attempt carries a fresh nonce");
    assert!(seen.iter().all(|s| s.security_token.is_none()));
    assert_eq!(
        seen[0].user_agent.as_deref(),
        Some(concat!("edas-rollback/", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn both_signatures_are_sent_as_configured_and_v3_is_the_default() {
    let server = serve(Behaviour::Verify { secret: SECRET }).await;
    for (algorithm, prefix) in [
        (
            SignatureAlgorithm::Acs3HmacSha256,
            "ACS3-HMAC-SHA256 Credential=",
        ),
        (SignatureAlgorithm::HmacSha1, "acs "),
    ] {
        let credentials = access_key(SECRET).with_security_token(Secret::new(TOKEN));
        let client = client_signing_with(
            server.address,
            credentials,
            Duration::from_secs(5),
            algorithm,
        );
        let outcome = client
            .abort(&id("id with space+&=%"), Default::default())
            .await;
        assert!(
            matches!(outcome, Outcome::Done { .. }),
            "{algorithm}: {outcome:?}"
        );
        let seen = server.seen.lock().unwrap().clone();
        let last = seen.last().unwrap();
        assert!(
            last.authorization.as_deref().unwrap().starts_with(prefix),
            "{algorithm}: {:?}",
            last.authorization
        );
    }
    let default = client_for(server.address, access_key(SECRET), Duration::from_secs(5));
    assert!(matches!(
        default.abort(&id("co-default"), Default::default()).await,
        Outcome::Done { .. }
    ));
    let seen = server.seen.lock().unwrap().clone();
    assert!(
        seen.last()
            .unwrap()
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("ACS3-HMAC-SHA256 ")
    );
}

#[tokio::test]
async fn sts_credentials_send_and_sign_the_security_token() {
    let server = serve(Behaviour::Verify { secret: SECRET }).await;
    let credentials = access_key(SECRET).with_security_token(Secret::new(TOKEN));
    let client = client_for(server.address, credentials, Duration::from_secs(5));
    let outcome = client.abort(&id("co-sts"), Default::default()).await;
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen[0].security_token.as_deref(), Some(TOKEN));
}

#[tokio::test]
async fn a_wrong_secret_gets_signature_does_not_match_and_stops_the_run() {
    let server = serve(Behaviour::Verify { secret: SECRET }).await;
    for algorithm in SignatureAlgorithm::ALL {
        let client = client_signing_with(
            server.address,
            access_key("not-the-secret"),
            Duration::from_secs(5),
            algorithm,
        );
        let outcome = client.abort(&id("co-2"), Default::default()).await;
        let Outcome::Fatal {
            details,
            server_string_to_sign,
            ..
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(details.code.as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(details.http_status, Some(400));
        let server_text = server_string_to_sign.expect("the server's string to sign is shown");
        match algorithm {
            // V3's string to sign is the algorithm and the canonical request's hash.
            SignatureAlgorithm::Acs3HmacSha256 => assert!(
                server_text.starts_with("ACS3-HMAC-SHA256\n") && server_text.len() == 17 + 64,
                "{server_text}"
            ),
            SignatureAlgorithm::HmacSha1 => assert!(
                server_text.starts_with("PUT\napplication/json\n\n\n")
                    && server_text.ends_with(&format!(
                        "{ABORT_PATH}?ChangeOrderId=co-2&RegionId=cn-hangzhou"
                    )),
                "{server_text}"
            ),
        }
    }
}

#[tokio::test]
async fn a_server_that_takes_the_request_and_goes_quiet_is_verified_not_retried() {
    let server = serve(Behaviour::Stall(Duration::from_secs(5))).await;
    let client = client_for(
        server.address,
        access_key(SECRET),
        Duration::from_millis(300),
    );
    let outcome = client.abort(&id("co-3"), Default::default()).await;
    let Outcome::Verify { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("no response within the read timeout"),
        "{reason}"
    );
    assert_eq!(
        server.seen.lock().unwrap().len(),
        1,
        "the request did arrive"
    );
}

#[tokio::test]
async fn a_connection_dropped_after_the_request_was_written_is_verified() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(0usize));
    let counter = received.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0u8; 4096];
        let read = socket.read(&mut buffer).await.unwrap();
        *counter.lock().unwrap() = read;
        drop(socket);
    });
    let client = client_for(address, access_key(SECRET), Duration::from_secs(5));
    let outcome = client.abort(&id("co-lost"), Default::default()).await;
    assert!(matches!(outcome, Outcome::Verify { .. }), "{outcome:?}");
    assert!(*received.lock().unwrap() > 0, "the request was written");
}

#[tokio::test]
async fn a_closed_port_is_retried_because_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = client_for(address, access_key(SECRET), Duration::from_secs(5));
    let outcome = client.abort(&id("co-4"), Default::default()).await;
    let Outcome::Retry {
        throttled,
        after,
        reason,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(!throttled);
    assert_eq!(after, None);
    assert!(reason.starts_with("connection refused"), "{reason}");
    let info = client.change_order_info(&id("co-4")).await;
    assert!(matches!(info, Outcome::Retry { .. }), "{info:?}");
}

#[tokio::test]
async fn a_503_is_verified() {
    let server = serve(Behaviour::Unavailable).await;
    let client = client_for(server.address, access_key(SECRET), Duration::from_secs(5));
    let outcome = client.abort(&id("co-5"), Default::default()).await;
    let Outcome::Verify { details, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(details.http_status, Some(503));
    assert_eq!(details.request_id.as_deref(), Some("req-503"));
}

#[tokio::test]
async fn throttling_is_retried_after_the_servers_hint() {
    let server = serve(Behaviour::Throttle {
        retry_after_ms: 1200,
    })
    .await;
    let client = client_for(server.address, access_key(SECRET), Duration::from_secs(5));
    let outcome = client.abort(&id("co-6"), Default::default()).await;
    let Outcome::Retry {
        throttled,
        after,
        details,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(throttled);
    assert_eq!(after, Some(Duration::from_millis(1200)));
    assert_eq!(details.code.as_deref(), Some("Throttling.User"));
}

/// A `std::io::Write` into a shared buffer, for capturing log output.
#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_at_the_most_verbose_level_never_hold_the_secret_or_the_token() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = Captured(buffer.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = serve(Behaviour::Verify { secret: SECRET }).await;
    let good = client_for(
        server.address,
        access_key(SECRET).with_security_token(Secret::new(TOKEN)),
        Duration::from_secs(5),
    );
    assert!(matches!(
        good.abort(&id("co-log"), Default::default()).await,
        Outcome::Done { .. }
    ));
    // A rejected v1 STS request makes the server echo its string to sign, token included
    // (a V3 one echoes a hash).
    let wrong = client_signing_with(
        server.address,
        access_key("wrong-secret").with_security_token(Secret::new(TOKEN)),
        Duration::from_secs(5),
        SignatureAlgorithm::HmacSha1,
    );
    let outcome = wrong.abort(&id("co-log"), Default::default()).await;
    assert!(matches!(outcome, Outcome::Fatal { .. }), "{outcome:?}");
    assert!(!format!("{outcome:?}").contains(TOKEN));

    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("sending request"), "{logs}");
    // V3 logs its canonical request, v1 its string to sign; both with the token redacted.
    assert!(logs.contains("canonical request"), "{logs}");
    assert!(logs.contains("string to sign"), "{logs}");
    assert!(logs.contains("x-acs-content-sha256:"), "{logs}");
    assert!(logs.contains("x-acs-security-token:<redacted>"), "{logs}");
    assert!(
        logs.contains("req-abort"),
        "the RequestId is logged: {logs}"
    );
    assert!(!logs.contains(SECRET), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_retried_because_nothing_was_sent() {
    let settings = ClientSettings::new(
        Endpoint::parse("http://edas-rollback-test.invalid:80").unwrap(),
        "cn-hangzhou",
        access_key(SECRET),
        1,
    );
    let client = EdasClient::new(settings).unwrap();
    let outcome = client.abort(&id("co-dns"), Default::default()).await;
    let Outcome::Retry {
        throttled, reason, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(!throttled);
    assert!(reason.starts_with("cannot resolve"), "{reason}");
}

#[tokio::test]
async fn a_server_trickling_its_body_is_cut_at_the_attempts_deadline_and_verified() {
    // Each byte comes well within the read timeout, so only the whole-attempt deadline
    // (connect timeout + read timeout) can end this.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if socket.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut settings = ClientSettings::new(
        Endpoint::parse(&format!("http://{address}")).unwrap(),
        "cn-hangzhou",
        access_key(SECRET),
        1,
    );
    settings.connect_timeout = Duration::from_millis(700);
    settings.read_timeout = Duration::from_millis(500);
    let client = EdasClient::new(settings).unwrap();
    let started = std::time::Instant::now();
    let outcome = client.abort(&id("co-trickle"), Default::default()).await;
    let elapsed = started.elapsed();
    let Outcome::Verify { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("deadline"), "{reason}");
    assert!(
        elapsed >= Duration::from_millis(1100) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

/// A forwarding proxy for plain `http` (absolute-form request lines, forwarded in origin form)
/// and CONNECT tunnels. It records each head it receives and checks `Proxy-Authorization`.
/// A CONNECT goes to `tunnel_to` whatever authority it names (so a made-up host name works).
pub(crate) async fn forwarding_proxy(
    expected_authorization: &'static str,
    tunnel_to: Option<SocketAddr>,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let recorded = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.ok() != Some(1) {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8(head).unwrap();
                recorded.lock().unwrap().push(head.clone());
                if !head
                    .lines()
                    .any(|line| line == format!("proxy-authorization: {expected_authorization}"))
                {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let line = head.lines().next().unwrap().to_string();
                let mut words = line.split(' ');
                let (method, uri) = (words.next().unwrap(), words.next().unwrap());
                if method == "CONNECT" {
                    let mut origin = tokio::net::TcpStream::connect(tunnel_to.unwrap())
                        .await
                        .unwrap();
                    client
                        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
                    return;
                }
                let rest = uri.strip_prefix("http://").unwrap();
                let (authority, path) = rest.split_at(rest.find('/').unwrap());
                let mut origin = tokio::net::TcpStream::connect(authority).await.unwrap();
                let forwarded: String = head
                    .lines()
                    .skip(1)
                    .filter(|line| !line.starts_with("proxy-authorization"))
                    .map(|line| format!("{line}\r\n"))
                    .collect();
                origin
                    .write_all(format!("{method} {path} HTTP/1.1\r\n{forwarded}").as_bytes())
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
            });
        }
    });
    (address, heads)
}

fn proxies(pairs: &[(&str, String)]) -> ProxySettings {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    ProxySettings::from_environment(&ProxyEnvironment {
        http_proxy: get("HTTP_PROXY"),
        https_proxy: get("HTTPS_PROXY"),
        all_proxy: None,
        no_proxy: get("NO_PROXY"),
        is_cgi: false,
    })
    .unwrap()
}

const PROXY_PASSWORD: &str = "Pr0xyPassw0rd-9d1c";

#[tokio::test]
async fn signed_requests_pass_through_an_authenticating_proxy_whose_password_is_never_logged() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = Captured(buffer.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = serve(Behaviour::Verify { secret: SECRET }).await;
    // base64("ops:Pr0xyPassw0rd-9d1c")
    let expected = "Basic b3BzOlByMHh5UGFzc3cwcmQtOWQxYw==";
    let (proxy, heads) = forwarding_proxy(expected, None).await;
    let mut settings = ClientSettings::new(
        Endpoint::parse(&format!("http://{}", server.address)).unwrap(),
        "cn-hangzhou",
        access_key(SECRET),
        2,
    );
    settings.proxy = proxies(&[("HTTP_PROXY", format!("http://ops:{PROXY_PASSWORD}@{proxy}"))]);
    let client = EdasClient::new(settings.clone()).unwrap();
    let outcome = client.abort(&id("co-proxied"), Default::default()).await;
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].starts_with(&format!("PUT http://{}{ABORT_PATH}?", server.address)),
        "{heads:?}"
    );
    assert_eq!(server.seen.lock().unwrap().len(), 1, "the origin got it");

    // NO_PROXY: straight to the origin.
    settings.proxy = proxies(&[
        ("HTTP_PROXY", format!("http://ops:{PROXY_PASSWORD}@{proxy}")),
        ("NO_PROXY", "127.0.0.1".to_string()),
    ]);
    let direct = EdasClient::new(settings.clone()).unwrap();
    assert!(matches!(
        direct.abort(&id("co-direct"), Default::default()).await,
        Outcome::Done { .. }
    ));
    assert_eq!(server.seen.lock().unwrap().len(), 2);

    // A wrong password: the proxy answers 407 itself, which the policy sees as a response.
    settings.proxy = proxies(&[("HTTP_PROXY", format!("http://ops:nope@{proxy}"))]);
    let refused = EdasClient::new(settings).unwrap();
    let outcome = refused.abort(&id("co-refused"), Default::default()).await;
    assert!(!matches!(outcome, Outcome::Done { .. }), "{outcome:?}");

    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("sending request"), "{logs}");
    assert!(!logs.contains(PROXY_PASSWORD), "{logs}");
    assert!(!logs.contains("b3BzOlByMHh5UGFzc3cwcmQtOWQxYw"), "{logs}");
    let shown = format!("{client:?} {outcome:?}");
    assert!(!shown.contains(PROXY_PASSWORD), "{shown}");
}

#[tokio::test]
async fn an_https_endpoint_behind_a_proxy_is_tunnelled_and_its_host_resolved_by_the_proxy() {
    // The tunnel leads to a server that is not TLS at all: the handshake fails after the
    // CONNECT succeeded, which shows the CONNECT carried the made-up host name (this machine
    // never resolved it) and the proxy's credentials.
    let not_tls = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let not_tls_address = not_tls.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut socket, _)) = not_tls.accept().await {
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let expected = "Basic b3BzOlByMHh5UGFzc3cwcmQtOWQxYw==";
    let (proxy, heads) = forwarding_proxy(expected, Some(not_tls_address)).await;
    let mut settings = ClientSettings::new(
        Endpoint::parse("https://edas.cn-hangzhou.proxied.invalid").unwrap(),
        "cn-hangzhou",
        access_key(SECRET),
        1,
    );
    settings.proxy = proxies(&[(
        "HTTPS_PROXY",
        format!("http://ops:{PROXY_PASSWORD}@{proxy}"),
    )]);
    let client = match EdasClient::new(settings) {
        Ok(client) => client,
        // A machine without CA certificates cannot build an https client at all.
        Err(error) => {
            assert!(error.to_string().contains("root certificates"), "{error}");
            return;
        }
    };
    let outcome = client.abort(&id("co-tunnel"), Default::default()).await;
    let reason = match &outcome {
        Outcome::Fatal { details, .. } => details.message.clone().unwrap_or_default(),
        Outcome::Retry { reason, .. } => reason.clone(),
        other => panic!("a failed handshake is never sent: {other:?}"),
    };
    assert!(!reason.contains(PROXY_PASSWORD), "{reason}");
    let heads = heads.lock().unwrap().clone();
    assert!(
        heads[0].starts_with("CONNECT edas.cn-hangzhou.proxied.invalid:443 HTTP/1.1\r\n"),
        "{heads:?}"
    );
}
