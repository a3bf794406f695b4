//! One connection: opening it (DNS, TCP with `TCP_NODELAY`, a CONNECT tunnel through a proxy,
//! the TLS handshake), its reused write and read buffers, and the classification of every
//! failure to open it as "never sent" (docs/wire.md, "Transport").

use super::proxy::Proxy;
use super::{Deadline, MAX_HEAD, Target};
use crate::edas::outcome::TransportError;
use bytes::{Buf, BytesMut};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// How a connection reaches the origin.
#[derive(Clone, Debug)]
pub(super) enum Route {
    Direct,
    /// Plain `http` through a proxy: absolute-form request lines to the proxy.
    Forward(Proxy),
    /// Through a proxy's CONNECT tunnel (every `https` origin behind a proxy).
    Tunnel(Proxy),
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error(
        "cannot load the system's root certificates; install the system's CA certificates (e.g. the `ca-certificates` package)"
    )]
    RootCertificates(#[source] rustls::Error),
    #[error("cannot configure TLS")]
    Config(#[source] rustls::Error),
    #[error("`{0}` is not a host name TLS can verify")]
    ServerName(String),
}

/// The TLS side of an `https` origin: rustls with the ring provider (no process-global
/// provider is installed) verifying against the platform's roots.
pub(super) struct Tls {
    connector: tokio_rustls::TlsConnector,
    server_name: rustls::pki_types::ServerName<'static>,
}

impl Tls {
    pub(super) fn new(host: &str) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(TlsSetupError::RootCertificates)?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsSetupError::Config)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let server_name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|_| TlsSetupError::ServerName(host.to_string()))?;
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }
}

pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Why a read gave nothing.
pub(super) enum ReadFailure {
    /// Nothing arrived for the read timeout.
    TimedOut,
    /// The attempt's deadline passed first.
    DeadlinePassed,
    Io(io::Error),
}

/// An open connection and its buffers, reused from request to request.
pub(super) struct Connection {
    stream: Stream,
    /// The request being written.
    output: Vec<u8>,
    /// Bytes read and not yet consumed.
    pub(super) input: BytesMut,
    /// The one timer of the connection, bounding whatever waits now (a read, or a write
    /// against the attempt's deadline). Kept and moved with [`Sleep::reset`] rather than a new
    /// timer per wait: a later deadline than the one registered only updates it in place (no
    /// lock, no wake-up of the timer driver), and it is only polled, so only registered, when
    /// the socket is not ready at once.
    timer: Pin<Box<Sleep>>,
}

/// What bounds the waits of one request: each read, and the whole attempt.
pub(super) struct Waits<'a> {
    pub(super) read_timeout: Duration,
    pub(super) deadline: Option<Deadline<'a>>,
}

/// `future`, unless `timer` (moved to `until`) fires first (`None`). The timer is moved and
/// polled only if the future is not ready at its first poll.
async fn within<F: Future>(
    timer: &mut Pin<Box<Sleep>>,
    until: Instant,
    future: F,
) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut armed = false;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if !armed {
            armed = true;
            if timer.deadline() != until {
                timer.as_mut().reset(until);
            }
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// As far as tokio's own "no deadline" (about 30 years).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

const READ_CHUNK: usize = 8 * 1024;

impl Connection {
    fn new(stream: Stream, input: BytesMut) -> Self {
        Self {
            stream,
            output: Vec::with_capacity(1024),
            input,
            // Not registered with the timer driver until first polled.
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
        }
    }

    /// Reads more into `input`; `Ok(0)` is the end of the stream. The read waits at most
    /// `waits.read_timeout`, and never past the attempt's deadline.
    pub(super) async fn fill(&mut self, waits: &Waits<'_>) -> Result<usize, ReadFailure> {
        if self.input.capacity() - self.input.len() < READ_CHUNK / 2 {
            self.input.reserve(READ_CHUNK);
        }
        let now = Instant::now();
        let read_by = now
            .checked_add(waits.read_timeout)
            .unwrap_or_else(far_future);
        let (until, attempt_ends) = match waits.deadline {
            Some(deadline) if deadline.at <= read_by => (deadline.at, true),
            _ => (read_by, false),
        };
        if attempt_ends && until <= now {
            return Err(ReadFailure::DeadlinePassed);
        }
        let Self {
            stream,
            input,
            timer,
            ..
        } = self;
        match within(timer, until, stream.read_buf(input)).await {
            Some(Ok(read)) => Ok(read),
            Some(Err(error)) => Err(ReadFailure::Io(error)),
            None if attempt_ends => Err(ReadFailure::DeadlinePassed),
            None => Err(ReadFailure::TimedOut),
        }
    }

    /// True when nothing is pending on the idle connection: the server has neither closed it
    /// nor sent anything unasked. One non-blocking poll; a closed connection is dropped before
    /// anything was written on it, so the request goes on a fresh one instead.
    pub(super) fn is_idle_and_open(&mut self) -> bool {
        if !self.input.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        let mut buf = ReadBuf::new(&mut probe);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        matches!(
            Pin::new(&mut self.stream).poll_read(&mut cx, &mut buf),
            Poll::Pending
        )
    }

    /// The whole request into the reused output buffer: request line, the signed headers,
    /// `Host`, `User-Agent`, `Accept` and `Content-Length` when the request has none of its
    /// own, `Proxy-Authorization` for a forwarding proxy that asks for it, then the body.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn encode_request(
        &mut self,
        target: &Target,
        route: &Route,
        user_agent: &str,
        method: &http::Method,
        path_and_query: &str,
        headers: &http::HeaderMap,
        body: &[u8],
    ) {
        let out = &mut self.output;
        out.clear();
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        if let Route::Forward(_) = route {
            out.extend_from_slice(b"http://");
            out.extend_from_slice(target.authority.as_bytes());
        }
        out.extend_from_slice(path_and_query.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in headers {
            put_header(out, name.as_str(), value.as_bytes());
        }
        if !headers.contains_key(http::header::HOST) {
            put_header(out, "host", target.authority.as_bytes());
        }
        if !headers.contains_key(http::header::USER_AGENT) {
            put_header(out, "user-agent", user_agent.as_bytes());
        }
        if !headers.contains_key(http::header::ACCEPT) {
            put_header(out, "accept", b"*/*");
        }
        let body_expected = matches!(
            *method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        );
        if (body_expected || !body.is_empty())
            && !headers.contains_key(http::header::CONTENT_LENGTH)
        {
            let mut digits = itoa_buffer();
            put_header(
                out,
                "content-length",
                format_length(&mut digits, body.len()),
            );
        }
        if let Route::Forward(Proxy {
            authorization: Some(authorization),
            ..
        }) = route
        {
            // The one place besides the CONNECT below where the proxy's credentials are read:
            // into the bytes for the proxy, never into a message or a log.
            put_header(
                out,
                "proxy-authorization",
                authorization.expose_to_signer().as_bytes(),
            );
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }

    /// Writes the encoded request: one write for a plain connection. Only the attempt's
    /// deadline bounds it (`Err(None)` when it passes).
    pub(super) async fn write_request(
        &mut self,
        deadline: Option<Deadline<'_>>,
    ) -> Result<(), Option<io::Error>> {
        let Self {
            stream,
            output,
            timer,
            ..
        } = self;
        let write = async {
            stream.write_all(output).await?;
            stream.flush().await
        };
        match deadline {
            None => write.await.map_err(Some),
            Some(deadline) => match within(timer, deadline.at, write).await {
                Some(written) => written.map_err(Some),
                None => Err(None),
            },
        }
    }
}

fn put_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn itoa_buffer() -> [u8; 20] {
    [0; 20]
}

/// `length` in decimal, without a heap allocation.
fn format_length(buffer: &mut [u8; 20], mut length: usize) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (length % 10) as u8;
        length /= 10;
        if length == 0 {
            break;
        }
    }
    &buffer[start..]
}

/// Opens a connection to `target` along `route` within `connect_timeout` (DNS, TCP, tunnel
/// and TLS handshake together). Every error here is "never sent".
pub(super) async fn connect(
    target: &Target,
    route: &Route,
    tls: Option<&Tls>,
    connect_timeout: Duration,
) -> Result<Connection, TransportError> {
    let open = async {
        let (host, port) = match route {
            Route::Direct => (target.host.as_str(), target.port),
            Route::Forward(proxy) | Route::Tunnel(proxy) => (proxy.host.as_str(), proxy.port),
        };
        let mut tcp = connect_tcp(host, port).await?;
        tcp.set_nodelay(true)
            .map_err(|error| TransportError::Connect(format!("cannot set TCP_NODELAY: {error}")))?;
        let mut input = BytesMut::with_capacity(READ_CHUNK);
        if let Route::Tunnel(proxy) = route {
            tunnel(&mut tcp, target, proxy, &mut input).await?;
        }
        let stream = match tls {
            None => Stream::Plain(tcp),
            Some(tls) => Stream::Tls(Box::new(
                tls.connector
                    .connect(tls.server_name.clone(), tcp)
                    .await
                    .map_err(tls_error)?,
            )),
        };
        Ok(Connection::new(stream, input))
    };
    match tokio::time::timeout(connect_timeout, open).await {
        Ok(opened) => opened,
        Err(_elapsed) => Err(TransportError::ConnectTimeout(format!(
            "no connection to {} within {}",
            match route {
                Route::Direct => target.origin(),
                Route::Forward(proxy) | Route::Tunnel(proxy) => format!("the proxy {proxy}"),
            },
            humantime::format_duration(connect_timeout)
        ))),
    }
}

async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, TransportError> {
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| TransportError::Dns(format!("dns error for `{host}`: {error}")))?;
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some((address, error)),
        }
    }
    let Some((address, error)) = last else {
        return Err(TransportError::Dns(format!(
            "dns error: `{host}` has no address"
        )));
    };
    let text = format!("tcp connect error to {address}: {error}");
    Err(match error.kind() {
        io::ErrorKind::ConnectionRefused => TransportError::ConnectionRefused(text),
        io::ErrorKind::TimedOut => TransportError::ConnectTimeout(text),
        _ => TransportError::Connect(text),
    })
}

/// A CONNECT tunnel to `target` through `proxy`: everything after it goes to the origin.
async fn tunnel(
    tcp: &mut TcpStream,
    target: &Target,
    proxy: &Proxy,
    input: &mut BytesMut,
) -> Result<(), TransportError> {
    let authority = format!("{}:{}", bracketed(&target.host), target.port);
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n");
    if let Some(authorization) = &proxy.authorization {
        request.push_str("proxy-authorization: ");
        request.push_str(authorization.expose_to_signer());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let failed = |what: String| TransportError::Connect(format!("the proxy {proxy} {what}"));
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|error| failed(format!("took no CONNECT request: {error}")))?;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(input) {
            Ok(httparse::Status::Complete(length)) => {
                let status = response.code.unwrap_or(0);
                if !(200..300).contains(&status) {
                    return Err(failed(format!(
                        "refused the tunnel to {authority}: HTTP {status}{}",
                        if status == 407 {
                            " (proxy authentication required: check the user and password in the proxy variable)"
                        } else {
                            ""
                        }
                    )));
                }
                input.advance(length);
                if !input.is_empty() {
                    return Err(failed(
                        "sent bytes after accepting the tunnel, before any request".to_string(),
                    ));
                }
                return Ok(());
            }
            Ok(httparse::Status::Partial) if input.len() > MAX_HEAD => {
                return Err(failed(
                    "answered CONNECT with an oversized head".to_string(),
                ));
            }
            Ok(httparse::Status::Partial) => {}
            Err(error) => {
                return Err(failed(format!("answered CONNECT with no HTTP: {error}")));
            }
        }
        input.reserve(READ_CHUNK);
        match tcp.read_buf(input).await {
            Ok(0) => {
                return Err(failed(
                    "closed the connection instead of opening the tunnel".to_string(),
                ));
            }
            Ok(_) => {}
            Err(error) => return Err(failed(format!("failed during CONNECT: {error}"))),
        }
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// A failed handshake: rustls's own error is a TLS failure (not worth retrying); anything else
/// (a reset, an early close) failed to connect.
fn tls_error(error: io::Error) -> TransportError {
    let text = format!("TLS handshake: {error}");
    if error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
    {
        TransportError::Tls(text)
    } else {
        TransportError::Connect(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_written_in_decimal() {
        for length in [0usize, 7, 10, 1234, usize::MAX] {
            let mut buffer = itoa_buffer();
            assert_eq!(
                format_length(&mut buffer, length),
                length.to_string().as_bytes()
            );
        }
    }
}
