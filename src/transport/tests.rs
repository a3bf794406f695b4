//! The transport against small real servers on loopback (tokio listeners writing raw bytes),
//! one per wire behaviour: framing, interim responses, closes, limits, proxies.

use super::connection::Route;
use super::*;
use crate::edas::outcome::TransportError;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn settings() -> TransportSettings {
    TransportSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        pool_size: 4,
        proxy: ProxySettings::default(),
        user_agent: "transport-tests",
    }
}

fn target(address: SocketAddr) -> Target {
    Target {
        https: false,
        host: address.ip().to_string(),
        port: address.port(),
        authority: address.to_string(),
    }
}

/// Reads one request head (up to the blank line) off `socket`; `None` at the end of the stream.
async fn read_head(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match socket.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8(head).unwrap())
}

/// A server that answers each connection's requests with `answer(request_number)` (raw
/// bytes written in the given pieces) and counts connections and requests.
struct Server {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

type Answer = fn(usize) -> Option<Vec<&'static [u8]>>;

/// `answer` returns the pieces to write for the n-th request (0-based, across connections);
/// `None` closes the connection without answering. After the pieces, the connection is closed
/// when `close_after` says so for that request.
async fn serve(answer: Answer, close_after: fn(usize) -> bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (c, r, h) = (connections.clone(), requests.clone(), heads.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let (r, h) = (r.clone(), h.clone());
            tokio::spawn(async move {
                while let Some(head) = read_head(&mut socket).await {
                    h.lock().unwrap().push(head);
                    let number = r.fetch_add(1, Ordering::SeqCst);
                    let Some(pieces) = answer(number) else {
                        return;
                    };
                    for piece in pieces {
                        if socket.write_all(piece).await.is_err() {
                            return;
                        }
                        socket.flush().await.unwrap();
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    if close_after(number) {
                        return;
                    }
                }
            });
        }
    });
    Server {
        address,
        connections,
        requests,
        heads,
    }
}

fn never(_: usize) -> bool {
    false
}

async fn get(transport: &Transport) -> Result<RawResponse, TransportError> {
    transport
        .send(&http::Method::GET, "/x?y=1", &http::HeaderMap::new(), b"")
        .await
}

#[tokio::test]
async fn a_chunked_body_is_decoded_and_the_connection_reused() {
    let server = serve(
        |_| {
            Some(vec![
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"5;ext=1\r\nhello\r\n",
                b"7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
            ])
        },
        never,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    for _ in 0..3 {
        let response = get(&transport).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(&response.body[..], b"hello, world");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert_eq!(transport.idle_connections(), 1);
    let head = server.heads.lock().unwrap()[0].clone();
    assert!(head.starts_with("GET /x?y=1 HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("host: {}\r\n", server.address)),
        "{head}"
    );
    assert!(head.contains("user-agent: transport-tests\r\n"), "{head}");
    assert!(
        !head.contains("content-length"),
        "a GET has no body: {head}"
    );
}

#[tokio::test]
async fn a_body_split_across_many_reads_arrives_whole() {
    let server = serve(
        |_| {
            let mut pieces: Vec<&'static [u8]> = vec![
                b"HTTP/1.1 2",
                b"00 OK\r\nContent-",
                b"Length: 26\r\n",
                b"\r\n",
            ];
            let alphabet: &'static [u8] = b"abcdefghijklmnopqrstuvwxyz";
            pieces.extend(alphabet.chunks(1));
            Some(pieces)
        },
        never,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    let response = get(&transport).await.unwrap();
    assert_eq!(&response.body[..], b"abcdefghijklmnopqrstuvwxyz");
    assert_eq!(transport.idle_connections(), 1);
}

#[tokio::test]
async fn connection_close_is_honoured_and_the_next_request_opens_a_new_connection() {
    let server = serve(
        |_| {
            Some(vec![
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            ])
        },
        |_| true,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    for _ in 0..2 {
        assert_eq!(&get(&transport).await.unwrap().body[..], b"ok");
        assert_eq!(transport.idle_connections(), 0);
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);

    // No length and no chunking: the body runs to the end of the connection.
    let until_close = serve(
        |_| Some(vec![b"HTTP/1.1 200 OK\r\n\r\n", b"to the ", b"end"]),
        |_| true,
    )
    .await;
    let transport = Transport::new(target(until_close.address), settings()).unwrap();
    assert_eq!(&get(&transport).await.unwrap().body[..], b"to the end");
    assert_eq!(transport.idle_connections(), 0);
}

#[tokio::test]
async fn a_kept_alive_connection_the_server_closed_while_idle_is_replaced_not_resent_on() {
    // The server answers keep-alive, then closes each connection after its first answer.
    let server = serve(
        |_| Some(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]),
        |_| true,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    assert_eq!(&get(&transport).await.unwrap().body[..], b"ok");
    assert_eq!(transport.idle_connections(), 1);
    // Let the close arrive, then send again: the dead connection is noticed before writing.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(&get(&transport).await.unwrap().body[..], b"ok");
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        2,
        "each request was written exactly once"
    );
}

#[tokio::test]
async fn a_reused_connection_closed_after_the_request_was_written_is_maybe_sent_never_resent() {
    // First request answered on a kept-alive connection; the second is read and then the
    // connection is closed without an answer.
    let server = serve(
        |number| {
            (number == 0).then(|| vec![&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..]])
        },
        never,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    assert_eq!(&get(&transport).await.unwrap().body[..], b"ok");
    let error = get(&transport).await.unwrap_err();
    assert!(
        matches!(error, TransportError::ConnectionClosed(_)),
        "{error:?}"
    );
    assert!(!error.never_sent());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        2,
        "the failed request was not sent again on a fresh connection"
    );
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_head_over_the_limit_is_refused() {
    let server = serve(
        |_| {
            let filler: &'static [u8] = Box::leak(
                format!("X-Filler: {}\r\n", "a".repeat(1000))
                    .repeat(80)
                    .into_bytes()
                    .into_boxed_slice(),
            );
            Some(vec![b"HTTP/1.1 200 OK\r\n", filler, b"\r\n"])
        },
        never,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    let error = get(&transport).await.unwrap_err();
    let TransportError::Body(reason) = &error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("larger than 64 KiB"), "{reason}");
    assert!(!error.never_sent());

    let huge = serve(
        |_| {
            Some(vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
            ])
        },
        never,
    )
    .await;
    let transport = Transport::new(target(huge.address), settings()).unwrap();
    let error = get(&transport).await.unwrap_err();
    assert!(
        matches!(&error, TransportError::Body(reason) if reason.contains("MiB limit")),
        "{error:?}"
    );
}

#[tokio::test]
async fn interim_100_continue_is_skipped_for_the_real_response() {
    let server = serve(
        |_| {
            Some(vec![
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 102 Processing\r\nX-A: b\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\nX-Request-Id: r1\r\n\r\ndone",
            ])
        },
        never,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    let response = transport
        .send(&http::Method::PUT, "/p", &http::HeaderMap::new(), b"")
        .await
        .unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(response.headers.get_str("x-request-id"), Some("r1"));
    assert!(response.headers.get("x-a").is_none());
    assert_eq!(&response.body[..], b"done");
    let head = server.heads.lock().unwrap()[0].clone();
    assert!(
        head.contains("content-length: 0\r\n"),
        "a PUT says its length: {head}"
    );
}

#[tokio::test]
async fn a_server_silent_past_the_read_timeout_is_a_read_timeout() {
    let server = serve(|_| Some(vec![b"HTTP/1.1 200 OK\r\n"]), never).await;
    let mut settings = settings();
    settings.read_timeout = Duration::from_millis(200);
    let transport = Transport::new(target(server.address), settings).unwrap();
    let error = get(&transport).await.unwrap_err();
    assert!(matches!(error, TransportError::ReadTimeout(_)), "{error:?}");
    assert_eq!(transport.idle_connections(), 0);
}

/// One timer serves the read timeout and the attempt's deadline: whichever comes first ends
/// the wait, with its own message, and a connection that served a request keeps serving
/// (its timer moved, not left to fire).
#[tokio::test]
async fn the_read_timeout_and_the_attempts_deadline_each_end_a_silent_wait_with_their_own_message()
{
    let server = serve(|_| Some(vec![b"HTTP/1.1 200 OK\r\n"]), never).await;
    let mut settings = settings();
    settings.read_timeout = Duration::from_millis(300);
    let transport = Transport::new(target(server.address), settings).unwrap();
    let send = |deadline: Duration| {
        let transport = transport.clone();
        async move {
            let started = std::time::Instant::now();
            let error = transport
                .send_before(
                    &http::Method::GET,
                    "/",
                    &http::HeaderMap::new(),
                    b"",
                    Deadline {
                        at: tokio::time::Instant::now() + deadline,
                        message: "the attempt's deadline passed (test)",
                    },
                )
                .await
                .unwrap_err();
            (error, started.elapsed())
        }
    };
    // The deadline before the read timeout: the deadline's message, at the deadline.
    let (error, elapsed) = send(Duration::from_millis(100)).await;
    assert_eq!(
        error,
        TransportError::ReadTimeout("the attempt's deadline passed (test)".to_string())
    );
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_millis(290),
        "{elapsed:?}"
    );
    // The read timeout first: "nothing arrived", at the read timeout.
    let (error, elapsed) = send(Duration::from_secs(5)).await;
    assert_eq!(
        error,
        TransportError::ReadTimeout("nothing arrived for 300ms".to_string())
    );
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_deadline_far_beyond_the_read_timeout_leaves_a_quick_exchange_alone() {
    let server = serve(
        |_| Some(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]),
        never,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    for _ in 0..3 {
        let response = transport
            .send_before(
                &http::Method::GET,
                "/",
                &http::HeaderMap::new(),
                b"",
                Deadline {
                    at: tokio::time::Instant::now() + Duration::from_secs(60),
                    message: "unused",
                },
            )
            .await
            .unwrap();
        assert_eq!(&response.body[..], b"ok");
    }
    // Three requests on one kept connection.
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    assert_eq!(transport.idle_connections(), 1);
}

/// The head's lines are kept as they came and looked up by any case; LF-only line ends (which
/// httparse accepts) work as CRLF does.
#[tokio::test]
async fn response_headers_are_found_by_any_case_with_crlf_or_lf_lines() {
    let server = serve(
        |_| {
            Some(vec![
                b"HTTP/1.1 200 OK\nX-Acs-Request-Id:  r-9 \ncontent-length: 0\nX-Two: a\nx-two: b\n\n",
            ])
        },
        never,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    let response = get(&transport).await.unwrap();
    assert_eq!(response.headers.get_str("x-acs-request-id"), Some("r-9"));
    assert_eq!(response.headers.get_str("X-TWO"), Some("a"));
    assert_eq!(response.headers.iter().count(), 4);
    assert!(response.headers.get("content").is_none());
}

#[tokio::test]
async fn a_redirect_is_returned_as_it_is() {
    let server = serve(
        |_| {
            Some(vec![
                b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n",
            ])
        },
        never,
    )
    .await;
    let transport = Transport::new(target(server.address), settings()).unwrap();
    let response = get(&transport).await.unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

/// A tiny proxy: CONNECT opens a tunnel to the named authority (after checking the
/// `Proxy-Authorization` it was told to expect), an absolute-form request is forwarded in
/// origin form. Records every head it was sent.
struct TestProxy {
    address: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn proxy(expected_authorization: Option<&'static str>) -> TestProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
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
                let Some(head) = read_head(&mut client).await else {
                    return;
                };
                recorded.lock().unwrap().push(head.clone());
                let authorized = match expected_authorization {
                    None => true,
                    Some(expected) => head
                        .lines()
                        .any(|line| line == format!("proxy-authorization: {expected}")),
                };
                if !authorized {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let line = head.lines().next().unwrap().to_string();
                let mut words = line.split(' ');
                let (method, uri) = (words.next().unwrap(), words.next().unwrap());
                if method == "CONNECT" {
                    let mut origin = TcpStream::connect(uri).await.unwrap();
                    client
                        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
                } else {
                    let rest = uri.strip_prefix("http://").unwrap();
                    let (authority, path) = rest.split_at(rest.find('/').unwrap());
                    let mut origin = TcpStream::connect(authority).await.unwrap();
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
                }
            });
        }
    });
    TestProxy { address, heads }
}

fn proxy_environment(pairs: &[(&str, String)]) -> ProxySettings {
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

fn ok_server() -> Answer {
    |_| {
        Some(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nproxied!",
        ])
    }
}

#[tokio::test]
async fn a_connect_tunnel_carries_requests_to_the_origin_with_proxy_authentication() {
    let origin = serve(ok_server(), never).await;
    let proxy = proxy(Some("Basic b3BzOnMzY3JldA==")).await;
    let proxies = proxy_environment(&[(
        "HTTPS_PROXY",
        format!("http://ops:s3cret@{}", proxy.address),
    )]);
    // An https origin is always tunnelled; the tunnel itself is the same for a plain one,
    // which lets this test see the requests inside it without a certificate.
    let route = Route::Tunnel(proxies.proxy_for(true, "origin.test").unwrap().clone());
    let transport = Transport::with_route(target(origin.address), route, settings()).unwrap();
    for _ in 0..2 {
        assert_eq!(&get(&transport).await.unwrap().body[..], b"proxied!");
    }
    let heads = proxy.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "one tunnel for both requests: {heads:?}");
    assert!(
        heads[0].starts_with(&format!("CONNECT {} HTTP/1.1\r\n", origin.address)),
        "{heads:?}"
    );
    let inside = origin.heads.lock().unwrap().clone();
    assert!(
        inside[0].starts_with("GET /x?y=1 HTTP/1.1\r\n"),
        "{inside:?}"
    );
    assert!(
        !inside[0].contains("proxy-authorization"),
        "the origin never sees the proxy's credentials: {inside:?}"
    );
    assert!(!format!("{transport:?}").contains("s3cret"));
    assert!(!format!("{transport:?}").contains("b3BzOnMzY3JldA"));

    // Wrong credentials: the proxy refuses the tunnel; nothing reached the origin.
    let wrong =
        proxy_environment(&[("HTTPS_PROXY", format!("http://ops:wrong@{}", proxy.address))]);
    let route = Route::Tunnel(wrong.proxy_for(true, "origin.test").unwrap().clone());
    let transport = Transport::with_route(target(origin.address), route, settings()).unwrap();
    let error = get(&transport).await.unwrap_err();
    assert!(error.never_sent(), "{error:?}");
    assert!(error.to_string().contains("407"), "{error}");
    assert!(!error.to_string().contains("wrong"), "{error}");
}

#[tokio::test]
async fn plain_http_through_a_proxy_uses_the_absolute_form_and_no_proxy_bypasses_it() {
    let origin = serve(ok_server(), never).await;
    let proxy = proxy(Some("Basic b3BzOnMzY3JldA==")).await;
    let proxied =
        proxy_environment(&[("HTTP_PROXY", format!("http://ops:s3cret@{}", proxy.address))]);
    let mut through = settings();
    through.proxy = proxied;
    let transport = Transport::new(target(origin.address), through).unwrap();
    assert_eq!(&get(&transport).await.unwrap().body[..], b"proxied!");
    let heads = proxy.heads.lock().unwrap().clone();
    assert!(
        heads[0].starts_with(&format!("GET http://{}/x?y=1 HTTP/1.1\r\n", origin.address)),
        "{heads:?}"
    );

    let mut bypassing = settings();
    bypassing.proxy = proxy_environment(&[
        ("HTTP_PROXY", format!("http://ops:s3cret@{}", proxy.address)),
        ("NO_PROXY", "localhost, 127.0.0.0/8".to_string()),
    ]);
    let transport = Transport::new(target(origin.address), bypassing).unwrap();
    assert_eq!(&get(&transport).await.unwrap().body[..], b"proxied!");
    assert_eq!(
        proxy.heads.lock().unwrap().len(),
        1,
        "NO_PROXY sent the second request direct"
    );
    assert_eq!(origin.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn failures_to_connect_are_never_sent_and_say_why() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let transport = Transport::new(target(address), settings()).unwrap();
    let error = get(&transport).await.unwrap_err();
    assert!(
        matches!(error, TransportError::ConnectionRefused(_)),
        "{error:?}"
    );
    let unresolvable = Target {
        https: false,
        host: "edas-rollback-transport-test.invalid".into(),
        port: 80,
        authority: "edas-rollback-transport-test.invalid".into(),
    };
    let error = get(&Transport::new(unresolvable, settings()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, TransportError::Dns(_)), "{error:?}");
}

#[test]
fn urls_split_into_target_and_path() {
    let (target, path) = Target::parse_url("http://127.0.0.1:8911").unwrap();
    assert_eq!(
        (target.host.as_str(), target.port, path.as_str()),
        ("127.0.0.1", 8911, "/")
    );
    let (target, path) = Target::parse_url("https://[::1]/latest/x?a=b").unwrap();
    assert_eq!(
        (
            target.host.as_str(),
            target.port,
            target.authority.as_str(),
            path.as_str()
        ),
        ("::1", 443, "[::1]", "/latest/x?a=b")
    );
    assert!(Target::parse_url("ftp://x").is_err());
    assert!(Target::parse_url("http://user:pw@host/").is_err());
}
