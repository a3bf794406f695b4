//! The EDAS client: one [`Transport`] (our own HTTP/1.1 client, src/transport/) to the endpoint,
//! shared by the whole run. One call is one attempt: build the request, sign it anew (fresh `Date`, fresh
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
use crate::transport::{
    Deadline, ProxySettings, Target, TlsSetupError, Transport, TransportSettings,
};
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
    /// The proxy variables (`HTTPS_PROXY`, `NO_PROXY`, ...) as `cli::env` read them.
    pub proxy: ProxySettings,
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
            proxy: ProxySettings::default(),
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
    #[error("cannot set up TLS for `{endpoint}`")]
    Tls {
        endpoint: String,
        #[source]
        source: TlsSetupError,
    },
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
    transport: Transport,
    endpoint: Endpoint,
    region: String,
    credentials: CredentialsProvider,
    signer: Box<dyn RequestSigner>,
    /// [`attempt_deadline`] of the settings.
    deadline: Duration,
    /// What a request cut at that deadline says (formatted once, not per request).
    deadline_message: String,
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
        let deadline = attempt_deadline(settings.connect_timeout, settings.read_timeout);
        // The transport follows no redirect: a redirected PUT would be a different request from
        // the one we signed and journaled; the policy treats a 3xx as "ask before sending again".
        let transport = Transport::new(
            Target::from_endpoint(&settings.endpoint),
            TransportSettings {
                connect_timeout: settings.connect_timeout,
                read_timeout: settings.read_timeout,
                pool_size: settings.pool_size.max(1),
                proxy: settings.proxy,
                user_agent: USER_AGENT,
            },
        )
        .map_err(|source| match source {
            TlsSetupError::RootCertificates(source) => ClientError::RootCertificates {
                endpoint: settings.endpoint.to_string(),
                source,
            },
            source => ClientError::Tls {
                endpoint: settings.endpoint.to_string(),
                source,
            },
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                endpoint: settings.endpoint,
                region: settings.region,
                credentials: settings.credentials,
                signer: settings.signature_algorithm.signer(),
                deadline,
                deadline_message: format!(
                    "no whole response within the attempt's deadline of {} (connect timeout \
                     plus request_timeout)",
                    humantime::format_duration(deadline)
                ),
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
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |path_and_query| path_and_query.as_str());
        // The deadline counts from here, as the timer around the exchange did: connecting,
        // writing and reading all fall within it.
        let deadline = Deadline {
            // A deadline past what an instant can hold (a huge configured timeout) is none.
            at: {
                let now = tokio::time::Instant::now();
                now.checked_add(inner.deadline)
                    .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
            },
            message: &inner.deadline_message,
        };
        let raw = inner
            .transport
            .send_before(
                request.method(),
                path_and_query,
                request.headers(),
                b"",
                deadline,
            )
            .await
            .map_err(AttemptError::Transport)?;
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
                .get_str(wire::HEADER_REQUEST_ID)
                .map(str::to_string)
        })
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
        // No process-global crypto provider is installed or needed: the transport names ring.
        // A machine without CA certificates gets a clear error instead of a client.
        match EdasClient::new(settings("https://edas.cn-hangzhou.aliyuncs.com")) {
            Ok(_) | Err(ClientError::RootCertificates { .. }) => {}
            Err(other) => panic!("{other:?}"),
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
