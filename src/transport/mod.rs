//! The HTTP/1.1 client transport: what carries a signed request to one origin (the EDAS
//! endpoint, STS, the metadata service) and brings back its whole response. Built for this
//! one job rather than as a general client (docs/wire.md, "Transport"; docs/DECISIONS.md):
//!
//! - A [`Transport`] talks to one origin. It keeps up to `pool_size` idle keep-alive
//!   connections; a request borrows one exclusively (no per-connection task, no channel),
//!   writes the whole request with one write from the connection's reused buffer, reads the
//!   head with `httparse` and the body by `Content-Length`, chunked coding or until close, and
//!   gives the connection back only when the response was read to its end and neither side
//!   said `Connection: close`. Interim 1xx responses are skipped; heads over [`MAX_HEAD`] and
//!   bodies over [`MAX_BODY`] are refused.
//! - No redirects are followed: a 3xx is a response like any other.
//! - Every failure is a [`TransportError`] saying whether the request may have reached the
//!   server: failures to resolve, connect, tunnel or shake hands are "never sent"; anything
//!   after the first byte of the request was written is "maybe sent", on a fresh connection or
//!   a reused one alike (a reused connection the server closed while it was idle is noticed
//!   before writing, and a fresh one is opened instead: nothing was sent on it).
//! - Proxies ([`proxy`]): `https` through a proxy is a CONNECT tunnel, plain `http` an
//!   absolute-form request line; `NO_PROXY` bypasses.
//! - TLS is rustls with the ring provider; `https` origins verify against the platform's roots.
//!
//! It never reads the environment (the proxy variables arrive as [`ProxySettings`]), never
//! logs a header (they hold signatures and tokens), and knows nothing of EDAS: the caller
//! builds and signs the request and applies the deadline of a whole attempt.

mod connection;
pub mod proxy;
mod response;

pub use connection::TlsSetupError;
pub use proxy::{Proxy, ProxyEnvironment, ProxyError, ProxySettings};

use crate::edas::outcome::{RawResponse, TransportError};
use connection::{Connection, Route};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The largest response head accepted (status line and headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// The largest response body accepted. EDAS answers are a few KiB; a listing of every
/// application of a large account is well under a MiB.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// Where requests go: scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// The host without IPv6 brackets, as DNS and TLS take it.
    pub host: String,
    pub port: u16,
    /// `host` or `host:port` as the `Host` header says it (brackets kept).
    pub authority: String,
}

impl Target {
    /// The target of an EDAS endpoint.
    pub fn from_endpoint(endpoint: &crate::edas::endpoint::Endpoint) -> Self {
        let authority = endpoint.authority();
        let https = endpoint.is_https();
        // The endpoint was parsed as a URI, so its authority always splits.
        Self::from_authority(https, authority).unwrap_or_else(|| Self {
            https,
            host: authority.to_string(),
            port: if https { 443 } else { 80 },
            authority: authority.to_string(),
        })
    }

    fn from_authority(https: bool, authority: &str) -> Option<Self> {
        let parsed: http::uri::Authority = authority.parse().ok()?;
        let host = parsed
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() || authority.contains('@') {
            return None;
        }
        Some(Self {
            https,
            host,
            port: parsed.port_u16().unwrap_or(if https { 443 } else { 80 }),
            authority: authority.to_string(),
        })
    }

    /// A full `http://` or `https://` URL split into its target and its path and query
    /// (`/` when it has none). The error never quotes the URL (it may hold a token).
    pub fn parse_url(url: &str) -> Result<(Self, String), &'static str> {
        let uri: http::Uri = url.trim().parse().map_err(|_| "it is not a URL")?;
        let https = match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => false,
            _ => return Err("it does not start with `http://` or `https://`"),
        };
        let authority = uri.authority().ok_or("it names no host")?;
        let target = Self::from_authority(https, authority.as_str())
            .ok_or("its host is not a plain host and port")?;
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let path_and_query = if path_and_query.is_empty() {
            "/".to_string()
        } else {
            path_and_query
        };
        Ok((target, path_and_query))
    }

    /// `http://authority` or `https://authority`, for messages.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.authority
        )
    }
}

/// The end of a whole attempt, and what the [`TransportError::ReadTimeout`] says when it
/// passes first.
#[derive(Clone, Copy, Debug)]
pub struct Deadline<'a> {
    pub at: tokio::time::Instant,
    pub message: &'a str,
}

/// How a [`Transport`] connects and waits.
#[derive(Clone, Debug)]
pub struct TransportSettings {
    pub connect_timeout: Duration,
    /// The longest wait for any one read of the response.
    pub read_timeout: Duration,
    /// Idle keep-alive connections kept (at least one).
    pub pool_size: usize,
    pub proxy: ProxySettings,
    /// Sent when the request has no `User-Agent` of its own.
    pub user_agent: &'static str,
}

/// A client for one origin. Cheap to clone; clones share the idle connections.
#[derive(Clone)]
pub struct Transport {
    shared: Arc<Shared>,
}

struct Shared {
    target: Target,
    route: Route,
    tls: Option<connection::Tls>,
    settings: TransportSettings,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("target", &self.shared.target)
            .field("route", &self.shared.route)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport to `target`, through the proxy `settings.proxy` names for it, if any.
    /// `https` targets load the platform's root certificates here.
    pub fn new(target: Target, settings: TransportSettings) -> Result<Self, TlsSetupError> {
        let route = match settings.proxy.proxy_for(target.https, &target.host) {
            None => Route::Direct,
            Some(proxy) if target.https => Route::Tunnel(proxy.clone()),
            Some(proxy) => Route::Forward(proxy.clone()),
        };
        Self::with_route(target, route, settings)
    }

    fn with_route(
        target: Target,
        route: Route,
        settings: TransportSettings,
    ) -> Result<Self, TlsSetupError> {
        let tls = if target.https {
            Some(connection::Tls::new(&target.host)?)
        } else {
            None
        };
        let capacity = settings.pool_size.clamp(1, 1024);
        Ok(Self {
            shared: Arc::new(Shared {
                target,
                route,
                tls,
                settings,
                idle: Mutex::new(Vec::with_capacity(capacity)),
            }),
        })
    }

    pub fn target(&self) -> &Target {
        &self.shared.target
    }

    /// Sends one request (`path_and_query` in origin form; `headers` as signed) and reads its
    /// whole response. No deadline of its own beyond the connect and read timeouts: the caller
    /// bounds the whole attempt (or uses [`Transport::send_before`]).
    pub async fn send(
        &self,
        method: &http::Method,
        path_and_query: &str,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<RawResponse, TransportError> {
        self.exchange(method, path_and_query, headers, body, None)
            .await
    }

    /// [`Transport::send`] within a deadline for the whole attempt: when it passes (while
    /// writing or reading) the answer is a [`TransportError::ReadTimeout`] with the deadline's
    /// message. Connecting stays bounded by the connect timeout alone, which the caller's
    /// deadline is expected to exceed. One timer per connection serves both the read timeout
    /// and this deadline (rather than a timer around the exchange and another per read).
    pub async fn send_before(
        &self,
        method: &http::Method,
        path_and_query: &str,
        headers: &http::HeaderMap,
        body: &[u8],
        deadline: Deadline<'_>,
    ) -> Result<RawResponse, TransportError> {
        self.exchange(method, path_and_query, headers, body, Some(deadline))
            .await
    }

    async fn exchange(
        &self,
        method: &http::Method,
        path_and_query: &str,
        headers: &http::HeaderMap,
        body: &[u8],
        deadline: Option<Deadline<'_>>,
    ) -> Result<RawResponse, TransportError> {
        let shared = &*self.shared;
        let mut connection = match self.idle_connection() {
            Some(connection) => connection,
            None => {
                connection::connect(
                    &shared.target,
                    &shared.route,
                    shared.tls.as_ref(),
                    shared.settings.connect_timeout,
                )
                .await?
            }
        };
        connection.encode_request(
            &shared.target,
            &shared.route,
            shared.settings.user_agent,
            method,
            path_and_query,
            headers,
            body,
        );
        let waits = connection::Waits {
            read_timeout: shared.settings.read_timeout,
            deadline,
        };
        connection
            .write_request(deadline)
            .await
            .map_err(|error| match error {
                Some(error) => {
                    TransportError::ConnectionClosed(format!("cannot send the request: {error}"))
                }
                None => response::deadline_passed(&waits),
            })?;
        let (response, reusable) = response::read(&mut connection, &waits).await?;
        if reusable {
            self.give_back(connection);
        }
        Ok(response)
    }

    /// An idle connection the server has not closed meanwhile, if there is one.
    fn idle_connection(&self) -> Option<Connection> {
        loop {
            let mut connection = self.lock_idle().pop()?;
            if connection.is_idle_and_open() {
                return Some(connection);
            }
        }
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.lock_idle();
        if idle.len() < self.shared.settings.pool_size.max(1) {
            idle.push(connection);
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while holding the lock leaves a valid vector: keep using it.
        self.shared
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Idle connections kept now (tests).
    pub fn idle_connections(&self) -> usize {
        self.lock_idle().len()
    }
}

#[cfg(test)]
mod tests;
