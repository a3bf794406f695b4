//! The HTTP client: one reqwest client (rustls with the ring provider, no OpenSSL) shared by the
//! whole run. One call is one attempt: build the request, sign it anew (fresh `Date`, fresh
//! nonce), send it, and hand the response or the transport error to the pure policy in
//! [`super::outcome`]. Retrying, pacing and journaling belong to `apply`, not here.
//!
//! The signer is the one `provider.signature_algorithm` names (V3 by default).
//!
//! Verbose mode logs the request line, the canonical request (V3) or string to sign (v1)
//! with the security token redacted, the status and the RequestId at debug level; never a
//! secret, a token or the `Authorization` header.

use super::credentials::{CredentialsError, CredentialsProvider};
use super::endpoint::Endpoint;
use super::outcome::{
    AbortOutcome, AppListOutcome, FatalKind, InfoOutcome, ListOutcome, Outcome, RawResponse,
    ResponseDetails, TransportError, classify_abort, classify_app_list, classify_info,
    classify_list,
};
use super::request::{
    Operation, RequestError, RollbackOperation, build_app_list_request, build_list_request,
    build_request,
};
use super::signer::{RequestSigner, SignError, SignatureAlgorithm};
use super::wire;
use crate::ids::ChangeOrderId;
use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("edas-rollback/", env!("CARGO_PKG_VERSION"));
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole of one attempt (connect, send, the status and the full body) must end within
/// the connect timeout plus the read timeout (`request_timeout`). The read timeout alone
/// bounds each read, so a server trickling its body a byte at a time stayed under it forever;
/// this deadline ends such an attempt as a read timeout (ambiguous: verified before anything
/// is sent again). Saturates rather than overflows.
pub fn attempt_deadline(connect_timeout: Duration, read_timeout: Duration) -> Duration {
    connect_timeout.saturating_add(read_timeout)
}

/// Everything the client needs for a run.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    pub endpoint: Endpoint,
    pub region: String,
    /// Asked for credentials on every attempt: temporary ones are renewed before they expire.
    pub credentials: CredentialsProvider,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Idle keep-alive connections kept per host; the run's parallelism.
    pub pool_size: usize,
    /// `provider.signature_algorithm`; V3 unless the config asks for the legacy one.
    pub signature_algorithm: SignatureAlgorithm,
}

impl ClientSettings {
    /// Settings with the default timeouts of docs/wire.md ("Transport") and a pool of `pool_size`.
    pub fn new(
        endpoint: Endpoint,
        region: impl Into<String>,
        credentials: impl Into<CredentialsProvider>,
        pool_size: usize,
    ) -> Self {
        Self {
            endpoint,
            region: region.into(),
            credentials: credentials.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            pool_size,
            signature_algorithm: SignatureAlgorithm::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot load the system's root certificates for `{endpoint}`; install the system's CA certificates (e.g. the `ca-certificates` package)"
    )]
    RootCertificates {
        endpoint: String,
        #[source]
        source: rustls::Error,
    },
    #[error("cannot configure TLS")]
    Tls(#[source] rustls::Error),
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// Why an attempt produced no response. `Local` errors happen before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("cannot sign the request")]
    Sign(#[from] SignError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Transport(TransportError),
}

/// A client for one endpoint, region and set of credentials. Cheap to clone; clones share the
/// connection pool.
#[derive(Clone)]
pub struct EdasClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The endpoint as a URL, parsed once: each request only sets its path and query.
    base_url: Option<reqwest::Url>,
    endpoint: Endpoint,
    region: String,
    credentials: CredentialsProvider,
    signer: Box<dyn RequestSigner>,
    /// [`attempt_deadline`] of the settings.
    deadline: Duration,
}

impl std::fmt::Debug for EdasClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdasClient")
            .field("endpoint", &self.inner.endpoint)
            .field("region", &self.inner.region)
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

impl EdasClient {
    pub fn new(settings: ClientSettings) -> Result<Self, ClientError> {
        let tls = tls_config(&settings.endpoint)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .pool_max_idle_per_host(settings.pool_size.max(1))
            .user_agent(USER_AGENT)
            // A redirected PUT would be a different request from the one we signed and
            // journaled; the policy treats a 3xx as "ask before sending again".
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()
            .map_err(ClientError::Build)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url: reqwest::Url::parse(&format!("{}/", settings.endpoint)).ok(),
                endpoint: settings.endpoint,
                region: settings.region,
                credentials: settings.credentials,
                signer: settings.signature_algorithm.signer(),
                deadline: attempt_deadline(settings.connect_timeout, settings.read_timeout),
            }),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// One attempt of `operation` (`AbortAndRollbackChangeOrder` or `RollbackChangeOrder`:
    /// the same query and answer), classified.
    pub async fn abort(&self, id: &ChangeOrderId, operation: RollbackOperation) -> AbortOutcome {
        match self.execute(operation.request(), id).await {
            Ok(response) => classify_abort(Ok(&response)),
            Err(AttemptError::Transport(error)) => classify_abort(Err(&error)),
            Err(local) => Outcome::Fatal {
                details: local_details(&local),
                kind: FatalKind::Connection,
                server_string_to_sign: None,
            },
        }
    }

    /// One `GetChangeOrderInfo` attempt, classified.
    pub async fn change_order_info(&self, id: &ChangeOrderId) -> InfoOutcome {
        match self.execute(Operation::GetChangeOrderInfo, id).await {
            Ok(response) => classify_info(Ok(&response)),
            Err(AttemptError::Transport(error)) => classify_info(Err(&error)),
            Err(local) => Outcome::Fatal {
                details: local_details(&local),
                kind: FatalKind::Connection,
                server_string_to_sign: None,
            },
        }
    }

    /// One `ListRecentChangeOrder` attempt for application `app_id`, classified.
    pub async fn list_recent_change_orders(&self, app_id: &str) -> ListOutcome {
        let inner = &self.inner;
        let sent = match build_list_request(app_id, &inner.region, &inner.endpoint) {
            Ok(request) => {
                self.send(
                    Operation::ListRecentChangeOrder,
                    request,
                    &ChangeOrderId::new(app_id),
                )
                .await
            }
            Err(error) => Err(error.into()),
        };
        match sent {
            Ok(response) => classify_list(Ok(&response)),
            Err(AttemptError::Transport(error)) => classify_list(Err(&error)),
            Err(local) => Outcome::Fatal {
                details: local_details(&local),
                kind: FatalKind::Connection,
                server_string_to_sign: None,
            },
        }
    }

    /// One `ListApplication` attempt (the client's region), classified.
    pub async fn list_applications(&self) -> AppListOutcome {
        let inner = &self.inner;
        let sent = match build_app_list_request(&inner.region, &inner.endpoint) {
            Ok(request) => {
                self.send(
                    Operation::ListApplication,
                    request,
                    &ChangeOrderId::new(inner.region.as_str()),
                )
                .await
            }
            Err(error) => Err(error.into()),
        };
        match sent {
            Ok(response) => classify_app_list(Ok(&response)),
            Err(AttemptError::Transport(error)) => classify_app_list(Err(&error)),
            Err(local) => Outcome::Fatal {
                details: local_details(&local),
                kind: FatalKind::Connection,
                server_string_to_sign: None,
            },
        }
    }

    /// One attempt, unclassified: build, sign with the current time and a fresh nonce, send,
    /// read the whole body.
    pub async fn execute(
        &self,
        operation: Operation,
        id: &ChangeOrderId,
    ) -> Result<RawResponse, AttemptError> {
        let inner = &self.inner;
        let request = build_request(operation, id, &inner.region, &inner.endpoint)?;
        self.send(operation, request, id).await
    }

    /// Signs and sends a built request; `id` names its subject in logs.
    async fn send(
        &self,
        operation: Operation,
        mut request: http::Request<()>,
        id: &ChangeOrderId,
    ) -> Result<RawResponse, AttemptError> {
        let inner = &self.inner;
        // The nonce must be unique, not secret (the signature protects the request): a
        // thread-local generator (seeded once per thread) spares a `getrandom` system call per
        // request; 128 random bits in UUID v4 form, as before.
        let nonce = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
            .into_uuid()
            .to_string();
        // Credentials valid now: a refresh, when one is due, happens here (one for all).
        let credentials = inner.credentials.current().await?;
        let signed_text =
            inner
                .signer
                .sign(&mut request, &credentials, SystemTime::now(), &nonce)?;
        tracing::debug!(
            method = %request.method(),
            path = %request.uri().path_and_query().map_or("", |p| p.as_str()),
            change_order_id = %id,
            action = operation.action(),
            "sending request"
        );
        // V3: the canonical request; v1: the string to sign. Neither holds the secret; the
        // token is redacted.
        tracing::debug!(
            signed = %wire::redact_security_token(&signed_text),
            "{}",
            inner.signer.signed_text_name()
        );
        let request = to_reqwest(inner.base_url.as_ref(), request)
            .map_err(|error| AttemptError::Transport(transport_error(&error)))?;
        let exchange = async {
            let response = inner
                .http
                .execute(request)
                .await
                .map_err(|error| AttemptError::Transport(transport_error(&error)))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|error| AttemptError::Transport(body_error(&error)))?;
            Ok::<_, AttemptError>(RawResponse {
                status,
                headers,
                body,
            })
        };
        let raw = match tokio::time::timeout(inner.deadline, exchange).await {
            Ok(answer) => answer?,
            Err(_elapsed) => {
                return Err(AttemptError::Transport(TransportError::ReadTimeout(
                    format!(
                        "no whole response within the attempt's deadline of {} (connect timeout \
                     plus request_timeout)",
                        humantime::format_duration(inner.deadline)
                    ),
                )));
            }
        };
        tracing::debug!(
            status = raw.status,
            request_id = %request_id_of(&raw).unwrap_or_default(),
            change_order_id = %id,
            "response"
        );
        tracing::trace!(
            body = %wire::redact_security_token(&String::from_utf8_lossy(&raw.body)),
            "response body"
        );
        Ok(raw)
    }
}

/// The signed request in reqwest's terms. reqwest's own conversion parses the whole URI into
/// a URL again (host, IDNA and all: a sixth of the client's instructions per request in
/// callgrind); the host never changes, so only the path and query are set on the endpoint's
/// URL parsed once. The result is the same URL.
fn to_reqwest(
    base_url: Option<&reqwest::Url>,
    request: http::Request<()>,
) -> Result<reqwest::Request, reqwest::Error> {
    let Some(base_url) = base_url else {
        return reqwest::Request::try_from(request.map(|()| reqwest::Body::from("")));
    };
    let (parts, ()) = request.into_parts();
    let mut url = base_url.clone();
    url.set_path(parts.uri.path());
    url.set_query(parts.uri.query());
    let mut converted = reqwest::Request::new(parts.method, url);
    *converted.headers_mut() = parts.headers;
    *converted.version_mut() = parts.version;
    *converted.body_mut() = Some(reqwest::Body::from(""));
    Ok(converted)
}

fn local_details(error: &AttemptError) -> ResponseDetails {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ResponseDetails {
        message: Some(message),
        ..ResponseDetails::default()
    }
}

fn request_id_of(response: &RawResponse) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct JustTheId {
        #[serde(rename = "RequestId")]
        request_id: Option<String>,
    }
    serde_json::from_slice::<JustTheId>(&response.body)
        .ok()
        .and_then(|body| body.request_id)
        .or_else(|| {
            response
                .headers
                .get(wire::HEADER_REQUEST_ID)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        })
}

/// TLS with the ring provider. An `https` endpoint verifies against the platform's roots; an
/// `http` endpoint (the simulator) never does TLS, so it skips loading them.
fn tls_config(endpoint: &Endpoint) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(ClientError::Tls)?;
    if endpoint.is_https() {
        let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|source| {
            ClientError::RootCertificates {
                endpoint: endpoint.to_string(),
                source,
            }
        })?;
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth())
    } else {
        Ok(builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth())
    }
}

/// The whole chain of an error on one line, for the reason text.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn io_kind_in_chain(error: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = cause.source();
    }
    None
}

fn has_tls_error(error: &reqwest::Error) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Sorts a reqwest error into "never sent" and "sent, outcome unknown". reqwest marks every
/// failure to establish the connection (refused, DNS, connect timeout, TLS handshake) as a
/// connect error; anything else happened after the request may have been written.
fn transport_error(error: &reqwest::Error) -> TransportError {
    let text = chain(error);
    if error.is_connect() {
        if has_tls_error(error) {
            return TransportError::Tls(text);
        }
        if error.is_timeout() || io_kind_in_chain(error) == Some(std::io::ErrorKind::TimedOut) {
            return TransportError::ConnectTimeout(text);
        }
        if io_kind_in_chain(error) == Some(std::io::ErrorKind::ConnectionRefused) {
            return TransportError::ConnectionRefused(text);
        }
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return TransportError::Dns(text);
        }
        return TransportError::Connect(text);
    }
    if error.is_builder() {
        return TransportError::Connect(text);
    }
    if error.is_timeout() {
        return TransportError::ReadTimeout(text);
    }
    if error.is_body() || error.is_decode() {
        return TransportError::Body(text);
    }
    TransportError::ConnectionClosed(text)
}

fn body_error(error: &reqwest::Error) -> TransportError {
    if error.is_timeout() {
        TransportError::ReadTimeout(chain(error))
    } else {
        TransportError::Body(chain(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edas::credentials::Credentials;
    use crate::edas::secret::Secret;

    fn settings(endpoint: &str) -> ClientSettings {
        ClientSettings::new(
            Endpoint::parse(endpoint).unwrap(),
            "cn-hangzhou",
            Credentials::new("AKID", Secret::new("ClientSecret")),
            4,
        )
    }

    #[test]
    fn a_client_builds_for_http_and_https_endpoints_without_a_global_provider() {
        assert!(EdasClient::new(settings("http://127.0.0.1:1")).is_ok());
        // reqwest panics when it has to pick a crypto provider itself; ours never asks it to.
        // A machine without CA certificates gets a clear error instead of a client.
        match EdasClient::new(settings("https://edas.cn-hangzhou.aliyuncs.com")) {
            Ok(_) | Err(ClientError::RootCertificates { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_request_converted_on_the_parsed_endpoint_has_the_url_a_full_parse_gives() {
        for endpoint in [
            "http://127.0.0.1:8080",
            "https://edas.cn-hangzhou.aliyuncs.com",
        ] {
            let endpoint = Endpoint::parse(endpoint).unwrap();
            let base = reqwest::Url::parse(&format!("{endpoint}/")).unwrap();
            let path_and_query = "/pop/v5/changeorder/change_order_abort_and_rollback?\
                                  ChangeOrderId=6b55106c%2Dc7f2%20%E4%B8%AD&Empty=&Plus=a+b";
            let build = || {
                http::Request::builder()
                    .method(http::Method::PUT)
                    .uri(endpoint.uri(path_and_query).unwrap())
                    .header("x-acs-signature-nonce", "n-1")
                    .body(())
                    .unwrap()
            };
            let fast = to_reqwest(Some(&base), build()).unwrap();
            let full = to_reqwest(None, build()).unwrap();
            assert_eq!(fast.url(), full.url());
            assert_eq!(fast.url().as_str(), format!("{endpoint}{path_and_query}"));
            assert_eq!(fast.method(), full.method());
            assert_eq!(fast.headers(), full.headers());
            assert_eq!(fast.version(), full.version());
        }
    }

    #[test]
    fn the_debug_of_a_client_shows_no_secret() {
        let client = EdasClient::new(settings("http://127.0.0.1:1")).unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("ClientSecret"), "{shown}");
    }

    #[test]
    fn the_user_agent_names_the_tool_and_its_version() {
        assert_eq!(
            USER_AGENT,
            format!("edas-rollback/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
