//! The one pure policy that classifies the result of one EDAS call (docs/wire.md, "Responses and
//! the outcome policy"; docs/APPLY.md): from an HTTP status, headers and body bytes, or a transport
//! error, to what the caller does next. Every call has the same result type, [`Outcome`], whose
//! success carries the call's own answer ([`Accepted`] for the two aborting calls, a
//! [`ChangeOrderStatus`] for `GetChangeOrderInfo`).
//!
//! The real error catalogue, in the order it is checked (`docs/wire.md` lists each code):
//! 1. 2xx with body `Code` 200 (number or string) → [`Outcome::Done`].
//! 2. **Fatal** ([`Outcome::Fatal`], with a [`FatalKind`] naming what to fix): a body `Code`
//!    401 (the RAM user lacks `edas:ManageApplication`), 403 (denied) or 404 (no API at that
//!    path), which EDAS sends with HTTP 200; `InvalidAccessKeyId.*`, `SignatureDoesNotMatch`,
//!    `IncompleteSignature`, `MissingAuthorization`, `InvalidAuthorization`,
//!    `InvalidSecurityToken.*`, `MissingSecurityToken`, `Forbidden*`, `ActionUnauthorized`,
//!    `NoPermission`, `InvalidApi.NotFound`, `InvalidRegion.NotFound`,
//!    `InvalidProduct.NotFound`, `InvalidTimeStamp.*` — at any HTTP status: every other request
//!    would fail the same way.
//! 3. **Retried** with the run-wide backoff: `Throttling*`, `Rejected.Throttling`, HTTP 429 or an
//!    `x-acs-retry-after` header (whole milliseconds, see [`wire::parse_retry_after`]) →
//!    `Retry { throttled: true }`; `SignatureNonceUsed` and HTTP 408 → `Retry`.
//! 4. HTTP 5xx (`ServiceUnavailable`, `InternalError`, a proxy's page), 1xx/3xx, or a 2xx whose
//!    body cannot be read or has no `Code` → [`Outcome::Verify`]: the service may have acted.
//!    For `GetChangeOrderInfo` (read only) the caller simply asks again; for an abort it asks
//!    `GetChangeOrderInfo` first, then sends again after the same backoff — so 5xx *are* retried
//!    with the run-wide backoff, never blindly.
//! 5. Anything else (601 and other business errors, other 4xx) → [`Outcome::Failed`] for that
//!    change order only. Whether the refusal was because of the change order's status is not
//!    read from the message: apply asks `GetChangeOrderInfo` after every refused abort.
//!
//! Transport errors: a request that never left (connection refused, DNS, connect timeout) →
//! `Retry`; a TLS handshake failure → `Fatal` (a certificate problem repeats on every request);
//! anything after the request was written (read timeout, reset, truncated body) → `Verify`.
//! This module does no I/O and reads no clock.

use super::wire::{
    self, AbortResponse, ChangeOrderInfoResponse, ChangeOrderStatus, Code, ErrorResponse,
};
use std::time::Duration;

/// What the service said, in the words the state records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseDetails {
    pub http_status: Option<u16>,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub code: Option<String>,
    pub error_code: Option<String>,
    pub message: Option<String>,
}

/// The answer of an accepted `AbortAndRollbackChangeOrder` or `RollbackChangeOrder`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// `Data.ChangeOrderId`: the rollback change order the call started, when the body has it.
    pub rollback_change_order_id: Option<String>,
}

/// What a fatal answer says must be fixed before anything can succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatalKind {
    /// The RAM user or role lacks the permission (body 401/403, `Forbidden*`,
    /// `ActionUnauthorized`, `NoPermission`).
    Permission,
    /// The access key id does not exist or is disabled.
    AccessKey,
    /// The signature does not match: the secret, or how the request was signed.
    Signature,
    /// The STS security token is missing, expired or does not match the key.
    SecurityToken,
    /// The request's time is too far from the service's clock.
    Clock,
    /// The endpoint or region does not serve this API (body 404, `InvalidApi.NotFound`,
    /// `InvalidRegion.NotFound`, `InvalidProduct.NotFound`).
    Endpoint,
    /// The TLS handshake failed, or this client could not sign the request at all.
    Connection,
}

impl FatalKind {
    /// The kind of a fatal code, `None` when the code is not fatal.
    pub fn of_code(code: &str) -> Option<FatalKind> {
        let kind = match code {
            "401" | "403" | "ActionUnauthorized" | "NoPermission" => FatalKind::Permission,
            "404"
            | "InvalidApi.NotFound"
            | "InvalidRegion.NotFound"
            | "InvalidProduct.NotFound" => FatalKind::Endpoint,
            "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "MissingAuthorization"
            | "InvalidAuthorization" => FatalKind::Signature,
            "MissingSecurityToken" => FatalKind::SecurityToken,
            code if code.starts_with("Forbidden") => FatalKind::Permission,
            code if code.starts_with("InvalidAccessKeyId") => FatalKind::AccessKey,
            code if code.starts_with("InvalidSecurityToken") => FatalKind::SecurityToken,
            code if code.starts_with("InvalidTimeStamp") => FatalKind::Clock,
            _ => return None,
        };
        Some(kind)
    }

    /// What to fix, for the one message a fatal stop prints.
    pub fn hint(self) -> &'static str {
        match self {
            FatalKind::Permission => {
                "grant the RAM permission `edas:ManageApplication` on these applications (a custom policy, or the system policy AliyunEDASFullAccess) to the RAM user or role of this access key, then run again"
            }
            FatalKind::AccessKey => {
                "check the access key id: it must exist and be enabled (environment `ALIBABA_CLOUD_ACCESS_KEY_ID` or the aliyun CLI profile); run `edas-rollback credentials` to see which one is used"
            }
            FatalKind::Signature => {
                "check the access key secret that belongs to this key id; compare the server's string to sign with ours (run with -v)"
            }
            FatalKind::SecurityToken => {
                "the STS security token is missing, expired or not the one issued with this key: obtain fresh temporary credentials (or set `ALIBABA_CLOUD_SECURITY_TOKEN` with the key it came with)"
            }
            FatalKind::Clock => {
                "set this machine's clock right (NTP): the service refuses requests more than 15 minutes off"
            }
            FatalKind::Endpoint => {
                "check `provider.region` and `provider.endpoint` (or `--endpoint`): this endpoint does not serve the EDAS API in that region"
            }
            FatalKind::Connection => {
                "check the endpoint's TLS certificate (or a proxy in the way) and the credentials this client was given"
            }
        }
    }
}

/// The classified result of one call to EDAS, whichever call it was. `T` is the call's answer:
/// [`Accepted`] for an abort or rollback, a [`ChangeOrderStatus`] for `GetChangeOrderInfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// HTTP 2xx with body `Code` 200.
    Done { answer: T, details: ResponseDetails },
    /// Throttled, or never sent: try again later. `after` is the server's `x-acs-retry-after`.
    Retry {
        details: ResponseDetails,
        after: Option<Duration>,
        throttled: bool,
        reason: String,
    },
    /// Sent, outcome unknown (timeout or reset after sending, HTTP 5xx, an unreadable 2xx).
    /// A read is simply asked again; an abort is verified with `GetChangeOrderInfo` first.
    Verify {
        details: ResponseDetails,
        reason: String,
    },
    /// A business error: the service refused this call for this change order.
    Failed { details: ResponseDetails },
    /// Credentials, signature, permission, clock or endpoint: every other request would fail
    /// the same way.
    Fatal {
        details: ResponseDetails,
        kind: FatalKind,
        /// The server's string to sign from a `SignatureDoesNotMatch`, to compare with ours.
        server_string_to_sign: Option<String>,
    },
}

/// The outcome of an abort or rollback call.
pub type AbortOutcome = Outcome<Accepted>;
/// The outcome of a `GetChangeOrderInfo` call.
pub type InfoOutcome = Outcome<ChangeOrderStatus>;
/// The outcome of a `ListRecentChangeOrder` call: the rows a selector can judge.
pub type ListOutcome = Outcome<Vec<crate::edas::wire::ListedChangeOrder>>;
/// The outcome of a `ListApplication` call: the applications a name is matched against.
pub type AppListOutcome = Outcome<Vec<crate::edas::wire::ListedApplication>>;

impl<T> Outcome<T> {
    /// What the service said, whatever the outcome.
    pub fn details(&self) -> &ResponseDetails {
        match self {
            Outcome::Done { details, .. }
            | Outcome::Retry { details, .. }
            | Outcome::Verify { details, .. }
            | Outcome::Failed { details }
            | Outcome::Fatal { details, .. } => details,
        }
    }
}

/// A response as it arrived: status, headers, the whole body.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: ResponseHeaders,
    pub body: bytes::Bytes,
}

/// A response's header lines as they arrived (`name: value`, one per line), looked up by name
/// when asked. The policy reads two or three of them per response, so this keeps the head's
/// bytes (one copy) rather than building a map of every header (an allocation per name and
/// value, ~4.7 k instructions per response; docs/BENCHMARKS.md, "Our own HTTP/1.1 client").
#[derive(Clone, Default)]
pub struct ResponseHeaders {
    /// Header lines, each `name:value` with optional spaces around the value, ended by LF or
    /// CRLF; names are HTTP tokens and values hold no CR or LF, so every line splits at its
    /// first colon. The transport takes them from a head `httparse` accepted; [`Self::from_pairs`]
    /// checks them.
    lines: bytes::Bytes,
}

impl ResponseHeaders {
    /// Header lines already checked by an HTTP parser (see the field's invariant).
    pub fn from_parsed_lines(lines: bytes::Bytes) -> Self {
        Self { lines }
    }

    /// Headers from name and value pairs (tests, fuzzing). A pair that is not a valid header
    /// (a name that is not an HTTP token, a value with a control character) is left out, as a
    /// parser would have refused it.
    pub fn from_pairs<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut lines = Vec::new();
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            let token =
                |byte: &u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(byte);
            let visible = |byte: &u8| *byte == b'\t' || *byte >= b' ' && *byte != 0x7f;
            if name.is_empty() || !name.iter().all(token) || !value.iter().all(visible) {
                continue;
            }
            lines.extend_from_slice(name);
            lines.extend_from_slice(b": ");
            lines.extend_from_slice(value);
            lines.extend_from_slice(b"\r\n");
        }
        Self {
            lines: lines.into(),
        }
    }

    /// Every header as (name, value), in order, the value without surrounding spaces.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.lines.split(|&byte| byte == b'\n').filter_map(|line| {
            let colon = line.iter().position(|&byte| byte == b':')?;
            let (name, value) = line.split_at(colon);
            Some((name, value[1..].trim_ascii()))
        })
    }

    /// The first value of header `name` (any case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| value)
    }

    /// The first value of header `name` (any case), when it is visible ASCII (as
    /// `http::HeaderValue::to_str` took it).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name)
            .filter(|value| value.is_ascii())
            .and_then(|value| std::str::from_utf8(value).ok())
    }
}

impl std::fmt::Debug for ResponseHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(name, value)| {
                (
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value),
                )
            }))
            .finish()
    }
}

/// Why no response arrived. The variant says whether the request may have reached the service.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Never sent: nothing listens there.
    #[error("connection refused: {0}")]
    ConnectionRefused(String),
    /// Never sent: the host name did not resolve.
    #[error("cannot resolve the endpoint's host: {0}")]
    Dns(String),
    /// Never sent: no connection within the connect timeout.
    #[error("connect timed out: {0}")]
    ConnectTimeout(String),
    /// Never sent, and retrying will not help: the TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// Never sent, for another reason found before the connection was made.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// Sent: no response within the read timeout.
    #[error("no response within the read timeout: {0}")]
    ReadTimeout(String),
    /// Sent: the connection was closed or reset before a whole response arrived.
    #[error("connection closed before the response arrived: {0}")]
    ConnectionClosed(String),
    /// Sent: the status arrived but the body could not be read to its end.
    #[error("the response body could not be read: {0}")]
    Body(String),
}

impl TransportError {
    /// True when the request certainly never reached the service.
    pub fn never_sent(&self) -> bool {
        matches!(
            self,
            TransportError::ConnectionRefused(_)
                | TransportError::Dns(_)
                | TransportError::ConnectTimeout(_)
                | TransportError::Tls(_)
                | TransportError::Connect(_)
        )
    }
}

/// Classifies one `AbortAndRollbackChangeOrder` or `RollbackChangeOrder` attempt (the two
/// answer in the same shape).
pub fn classify_abort(response: Result<&RawResponse, &TransportError>) -> AbortOutcome {
    let response = match response {
        Ok(response) => response,
        Err(error) => return from_decision(transport_decision(error), transport_details),
    };
    let parsed: Option<AbortResponse> = serde_json::from_slice(&response.body).ok();
    let mut details = details_from(response, parsed.as_ref().map(envelope_of_abort));
    if is_2xx(response.status)
        && let Some(body) = &parsed
        && body.code.as_ref().is_some_and(Code::is_success)
    {
        return Outcome::Done {
            answer: Accepted {
                rollback_change_order_id: body
                    .data
                    .as_ref()
                    .and_then(|data| data.change_order_id.clone()),
            },
            details,
        };
    }
    let decision = response_decision(response, parsed.is_some(), &mut details);
    from_decision(decision, |_| details)
}

/// Classifies one `GetChangeOrderInfo` attempt. A `Code` 200 without a status is `Verify`
/// (nothing usable: ask again).
pub fn classify_info(response: Result<&RawResponse, &TransportError>) -> InfoOutcome {
    let response = match response {
        Ok(response) => response,
        Err(error) => return from_decision(transport_decision(error), transport_details),
    };
    let parsed: Option<ChangeOrderInfoResponse> = serde_json::from_slice(&response.body).ok();
    let mut details = details_from(response, parsed.as_ref().map(envelope_of_info));
    if is_2xx(response.status)
        && let Some(body) = &parsed
        && body.code.as_ref().is_some_and(Code::is_success)
    {
        return match body.change_order_info.as_ref().and_then(|info| info.status) {
            Some(status) => Outcome::Done {
                answer: status,
                details,
            },
            None => Outcome::Verify {
                details,
                reason: "the response has `Code` 200 but no `changeOrderInfo.Status`".to_string(),
            },
        };
    }
    let decision = response_decision(response, parsed.is_some(), &mut details);
    from_decision(decision, |_| details)
}

/// Classifies one `ListRecentChangeOrder` attempt as [`classify_info`] does a read: HTTP 2xx
/// with `Code` 200 is the list (a missing list is an empty one, as the service answers an
/// application without change orders); anything else by the same rules as every call.
pub fn classify_list(response: Result<&RawResponse, &TransportError>) -> ListOutcome {
    classify_listing(
        response,
        |body: &crate::edas::wire::ChangeOrderListResponse| {
            (
                body.code.as_ref(),
                body.message.as_deref(),
                body.request_id.as_deref(),
            )
        },
        crate::edas::wire::ChangeOrderListResponse::listed,
    )
}

/// Classifies one `ListApplication` attempt as [`classify_list`] does.
pub fn classify_app_list(response: Result<&RawResponse, &TransportError>) -> AppListOutcome {
    classify_listing(
        response,
        |body: &crate::edas::wire::ApplicationListResponse| {
            (
                body.code.as_ref(),
                body.message.as_deref(),
                body.request_id.as_deref(),
            )
        },
        crate::edas::wire::ApplicationListResponse::listed,
    )
}

/// A list body's `Code`, `Message` and `RequestId`.
type ListEnvelope<'a> = (Option<&'a Code>, Option<&'a str>, Option<&'a str>);

/// The one shape of both list reads: a body with `Code`, `Message`, `RequestId` and a list.
fn classify_listing<B: serde::de::DeserializeOwned, T>(
    response: Result<&RawResponse, &TransportError>,
    envelope: fn(&B) -> ListEnvelope<'_>,
    listed: fn(&B) -> T,
) -> Outcome<T> {
    let response = match response {
        Ok(response) => response,
        Err(error) => return from_decision(transport_decision(error), transport_details),
    };
    let parsed: Option<B> = serde_json::from_slice(&response.body).ok();
    let mut details = details_from(
        response,
        parsed.as_ref().map(|body| {
            let (code, message, request_id) = envelope(body);
            Envelope {
                code,
                message,
                request_id,
                trace_id: None,
                error_code: None,
            }
        }),
    );
    if is_2xx(response.status)
        && let Some(body) = &parsed
        && envelope(body).0.is_some_and(Code::is_success)
    {
        return Outcome::Done {
            answer: listed(body),
            details,
        };
    }
    let decision = response_decision(response, parsed.is_some(), &mut details);
    from_decision(decision, |_| details)
}

/// What a transport error leaves to record: nothing from the service, and for a fatal one
/// (a TLS failure) the reason as the message, so the final report can say what went wrong.
fn transport_details(decision: &Decision) -> ResponseDetails {
    match decision {
        Decision::Fatal { reason, .. } => ResponseDetails {
            message: Some(reason.clone()),
            ..ResponseDetails::default()
        },
        _ => ResponseDetails::default(),
    }
}

/// The server's string to sign, when a `SignatureDoesNotMatch` message carries one.
fn echoed_string_to_sign(details: &ResponseDetails) -> Option<String> {
    details
        .message
        .as_deref()
        .and_then(wire::server_string_to_sign)
}

fn from_decision<T>(
    decision: Decision,
    details: impl FnOnce(&Decision) -> ResponseDetails,
) -> Outcome<T> {
    let details = details(&decision);
    match decision {
        Decision::Retry {
            after,
            throttled,
            reason,
        } => Outcome::Retry {
            details,
            after,
            throttled,
            reason,
        },
        Decision::Ambiguous { reason } => Outcome::Verify { details, reason },
        Decision::Failed => Outcome::Failed { details },
        Decision::Fatal { kind, .. } => Outcome::Fatal {
            server_string_to_sign: echoed_string_to_sign(&details),
            details,
            kind,
        },
    }
}

/// The decision shared by both operations for everything but success.
enum Decision {
    Retry {
        after: Option<Duration>,
        throttled: bool,
        reason: String,
    },
    Ambiguous {
        reason: String,
    },
    Failed,
    Fatal {
        kind: FatalKind,
        reason: String,
    },
}

fn transport_decision(error: &TransportError) -> Decision {
    let reason = error.to_string();
    match error {
        TransportError::Tls(_) => Decision::Fatal {
            kind: FatalKind::Connection,
            reason,
        },
        _ if error.never_sent() => Decision::Retry {
            after: None,
            throttled: false,
            reason,
        },
        _ => Decision::Ambiguous { reason },
    }
}

/// The fields both success bodies and both error shapes share.
struct Envelope<'a> {
    code: Option<&'a Code>,
    message: Option<&'a str>,
    request_id: Option<&'a str>,
    trace_id: Option<&'a str>,
    error_code: Option<&'a str>,
}

fn envelope_of_abort(body: &AbortResponse) -> Envelope<'_> {
    Envelope {
        code: body.code.as_ref(),
        message: body.message.as_deref(),
        request_id: body.request_id.as_deref(),
        trace_id: body.trace_id.as_deref(),
        error_code: body.error_code.as_deref(),
    }
}

fn envelope_of_info(body: &ChangeOrderInfoResponse) -> Envelope<'_> {
    Envelope {
        code: body.code.as_ref(),
        message: body.message.as_deref(),
        request_id: body.request_id.as_deref(),
        trace_id: body.trace_id.as_deref(),
        error_code: body.error_code.as_deref(),
    }
}

fn details_from(response: &RawResponse, envelope: Option<Envelope<'_>>) -> ResponseDetails {
    let mut details = details_unredacted(response, envelope);
    // A `SignatureDoesNotMatch` message echoes the server's string to sign, which holds the
    // security token of an STS request; the message is shown and recorded, the token must not be.
    if let Some(message) = &details.message {
        details.message = Some(wire::redact_security_token(message).into_owned());
    }
    details
}

fn details_unredacted(response: &RawResponse, envelope: Option<Envelope<'_>>) -> ResponseDetails {
    let header_request_id = response
        .headers
        .get_str(wire::HEADER_REQUEST_ID)
        .map(str::to_string);
    match envelope {
        Some(envelope) => ResponseDetails {
            http_status: Some(response.status),
            request_id: envelope
                .request_id
                .map(str::to_string)
                .or(header_request_id),
            trace_id: envelope.trace_id.map(str::to_string),
            code: envelope.code.map(Code::to_string),
            error_code: envelope.error_code.map(str::to_string),
            message: envelope.message.map(str::to_string),
        },
        // Not JSON in the operation's shape: perhaps the gateway's error shape, perhaps a
        // proxy's HTML page. Keep the gateway fields if they are there, and a short, printable
        // excerpt of anything else so the user sees what answered.
        None => {
            let error: Option<ErrorResponse> = serde_json::from_slice(&response.body).ok();
            match error {
                Some(error) => ResponseDetails {
                    http_status: Some(response.status),
                    request_id: error.request_id.or(header_request_id),
                    trace_id: None,
                    code: error.code.map(|code| code.to_string()),
                    error_code: None,
                    message: error.message,
                },
                None => ResponseDetails {
                    http_status: Some(response.status),
                    request_id: header_request_id,
                    message: body_excerpt(&response.body),
                    ..ResponseDetails::default()
                },
            }
        }
    }
}

/// At most 200 characters of a body that is not JSON, on one line.
fn body_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return None;
    }
    let mut excerpt: String = collapsed.chars().take(200).collect();
    if collapsed.chars().count() > 200 {
        excerpt.push('…');
    }
    Some(excerpt)
}

fn is_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}

fn response_decision(
    response: &RawResponse,
    parsed_as_operation: bool,
    details: &mut ResponseDetails,
) -> Decision {
    let status = response.status;
    let code = details.code.clone().unwrap_or_default();
    let retry_after_header = response.headers.get_str(wire::HEADER_RETRY_AFTER);

    if let Some(kind) = FatalKind::of_code(&code) {
        return Decision::Fatal {
            kind,
            reason: format!("the service refused the request (`{code}`)"),
        };
    }
    if code.starts_with("Throttling")
        || code == "Rejected.Throttling"
        || status == 429
        || retry_after_header.is_some()
    {
        return Decision::Retry {
            after: retry_after_header.and_then(wire::parse_retry_after),
            throttled: true,
            reason: format!("throttled (HTTP {status}, `{code}`)"),
        };
    }
    if code == "SignatureNonceUsed" {
        return Decision::Retry {
            after: None,
            throttled: false,
            reason: "the service saw this nonce before; a new attempt carries a new one"
                .to_string(),
        };
    }
    if status >= 500 {
        return Decision::Ambiguous {
            reason: format!("HTTP {status}: the service may or may not have acted"),
        };
    }
    if status == 408 {
        return Decision::Retry {
            after: None,
            throttled: false,
            reason: "HTTP 408: the server did not read the whole request".to_string(),
        };
    }
    if !(200..500).contains(&status) || (300..400).contains(&status) {
        return Decision::Ambiguous {
            reason: format!("unexpected HTTP {status}"),
        };
    }
    if is_2xx(status) && (!parsed_as_operation || details.code.is_none()) {
        if details.message.is_none() && response.body.is_empty() {
            details.message = Some("empty body".to_string());
        }
        return Decision::Ambiguous {
            reason: format!("HTTP {status} with a body that has no readable `Code`"),
        };
    }
    Decision::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&'static str, &str)], body: &str) -> RawResponse {
        RawResponse {
            status,
            headers: ResponseHeaders::from_pairs(headers.iter().copied()),
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn response_headers_from_pairs_keep_only_what_a_parser_would_accept() {
        let headers = ResponseHeaders::from_pairs([
            ("X-Acs-Request-Id", &b"r-1"[..]),
            ("bad name", b"x"),
            ("x-split", b"a\r\nx-acs-retry-after: 1"),
            ("x-latin", b"caf\xc3\xa9"),
            ("x-acs-request-id", b"r-2"),
        ]);
        assert_eq!(headers.get_str("x-acs-request-id"), Some("r-1"));
        assert!(headers.get("x-acs-retry-after").is_none());
        assert!(headers.get("bad name").is_none());
        // Not visible ASCII: there as bytes, not as text (as `HeaderValue::to_str` did).
        assert_eq!(headers.get("X-LATIN"), Some(&b"caf\xc3\xa9"[..]));
        assert_eq!(headers.get_str("x-latin"), None);
        assert_eq!(headers.iter().count(), 3);
    }

    fn abort(status: u16, headers: &[(&'static str, &str)], body: &str) -> AbortOutcome {
        classify_abort(Ok(&response(status, headers, body)))
    }

    const SUCCESS_NUMBER: &str = r#"{"Code": 200, "Message": "success", "RequestId": "req-1", "TraceId": "trace-1", "ErrorCode": "success", "Data": {"ChangeOrderId": "rollback-1"}}"#;
    const SUCCESS_STRING: &str = r#"{"Code": "200", "Message": "success", "RequestId": "req-2", "Data": {"ChangeOrderId": "rollback-2"}}"#;

    #[test]
    fn success_with_a_numeric_code_is_aborted_with_the_rollback_id() {
        assert_eq!(
            abort(200, &[], SUCCESS_NUMBER),
            Outcome::Done {
                answer: Accepted {
                    rollback_change_order_id: Some("rollback-1".into()),
                },
                details: ResponseDetails {
                    http_status: Some(200),
                    request_id: Some("req-1".into()),
                    trace_id: Some("trace-1".into()),
                    code: Some("200".into()),
                    error_code: Some("success".into()),
                    message: Some("success".into()),
                },
            }
        );
    }

    #[test]
    fn success_with_a_string_code_is_aborted_too() {
        let Outcome::Done {
            answer: Accepted {
                rollback_change_order_id,
            },
            details,
        } = abort(200, &[], SUCCESS_STRING)
        else {
            panic!("not aborted")
        };
        assert_eq!(rollback_change_order_id.as_deref(), Some("rollback-2"));
        assert_eq!(details.code.as_deref(), Some("200"));
    }

    #[test]
    fn http_200_with_code_500_is_a_business_failure_with_the_message() {
        let outcome = abort(
            200,
            &[],
            r#"{"Code": 500, "Message": "change order status forbids abort", "RequestId": "req-3"}"#,
        );
        let Outcome::Failed { details } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(details.code.as_deref(), Some("500"));
        assert_eq!(
            details.message.as_deref(),
            Some("change order status forbids abort")
        );
        assert_eq!(details.request_id.as_deref(), Some("req-3"));
    }

    #[test]
    fn signature_mismatch_is_fatal_and_carries_the_server_string_to_sign() {
        let body = r#"{"RequestId": "req-4", "HostId": "edas.cn-hangzhou.aliyuncs.com", "Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched with our calculation. server string to sign is:PUT\napplication/json\n\n\nThu, 06 Feb 2020 07:32:54 GMT\nx-acs-action:AbortAndRollbackChangeOrder\n/pop/v5/changeorder/change_order_abort_and_rollback?ChangeOrderId=a&RegionId=cn-hangzhou"}"#;
        let Outcome::Fatal {
            details,
            server_string_to_sign,
            kind: FatalKind::Signature,
        } = abort(400, &[], body)
        else {
            panic!("not fatal")
        };
        assert_eq!(details.code.as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(details.request_id.as_deref(), Some("req-4"));
        assert_eq!(
            server_string_to_sign.as_deref(),
            Some(
                "PUT\napplication/json\n\n\nThu, 06 Feb 2020 07:32:54 GMT\nx-acs-action:AbortAndRollbackChangeOrder\n/pop/v5/changeorder/change_order_abort_and_rollback?ChangeOrderId=a&RegionId=cn-hangzhou"
            )
        );
    }

    #[test]
    fn an_echoed_security_token_is_redacted_from_the_message_and_string_to_sign() {
        let body = r#"{"Code": "SignatureDoesNotMatch", "Message": "server string to sign is:PUT\nx-acs-security-token:EchoedToken123\nx-acs-version:2017-08-01\n/p"}"#;
        let outcome = abort(400, &[], body);
        let shown = format!("{outcome:?}");
        assert!(!shown.contains("EchoedToken123"), "{shown}");
        let Outcome::Fatal {
            server_string_to_sign,
            ..
        } = outcome
        else {
            panic!("{shown}")
        };
        assert_eq!(
            server_string_to_sign.as_deref(),
            Some("PUT\nx-acs-security-token:<redacted>\nx-acs-version:2017-08-01\n/p")
        );
    }

    /// The real catalogue (`docs/wire.md`, "Error codes and where they come from"), code by code:
    /// what each answer means for an abort and for a `GetChangeOrderInfo`, and for a fatal one what
    /// must be fixed.
    #[test]
    fn the_catalogue_code_by_code() {
        use FatalKind::*;
        #[derive(Debug, PartialEq)]
        enum Expect {
            Fatal(FatalKind),
            Throttled,
            Retry,
            Verify,
            Failed,
        }
        use Expect::*;
        // (HTTP status, body Code as sent: a JSON number or string, expected)
        let table: &[(u16, &str, Expect)] = &[
            // EDAS answers HTTP 200 with a numeric body Code.
            (200, "401", Fatal(Permission)),
            (200, "403", Fatal(Permission)),
            (200, "404", Fatal(Endpoint)),
            (200, "601", Failed),
            (200, "500", Failed),
            (200, r#""601""#, Failed),
            (200, r#""401""#, Fatal(Permission)),
            // The gateway's string codes.
            (404, r#""InvalidAccessKeyId.NotFound""#, Fatal(AccessKey)),
            (400, r#""InvalidAccessKeyId.Inactive""#, Fatal(AccessKey)),
            (400, r#""SignatureDoesNotMatch""#, Fatal(Signature)),
            (400, r#""IncompleteSignature""#, Fatal(Signature)),
            (400, r#""MissingAuthorization""#, Fatal(Signature)),
            (
                400,
                r#""InvalidSecurityToken.Expired""#,
                Fatal(SecurityToken),
            ),
            (
                400,
                r#""InvalidSecurityToken.MisMatch""#,
                Fatal(SecurityToken),
            ),
            (
                400,
                r#""InvalidSecurityToken.Malformed""#,
                Fatal(SecurityToken),
            ),
            (400, r#""MissingSecurityToken""#, Fatal(SecurityToken)),
            (403, r#""Forbidden""#, Fatal(Permission)),
            (403, r#""Forbidden.RAM""#, Fatal(Permission)),
            (403, r#""Forbidden.AccessKeyDisabled""#, Fatal(Permission)),
            (403, r#""ActionUnauthorized""#, Fatal(Permission)),
            (403, r#""NoPermission""#, Fatal(Permission)),
            (404, r#""InvalidApi.NotFound""#, Fatal(Endpoint)),
            (404, r#""InvalidRegion.NotFound""#, Fatal(Endpoint)),
            (404, r#""InvalidProduct.NotFound""#, Fatal(Endpoint)),
            (400, r#""InvalidTimeStamp.Expired""#, Fatal(Clock)),
            (400, r#""InvalidTimeStamp.Format""#, Fatal(Clock)),
            (400, r#""Throttling""#, Throttled),
            (400, r#""Throttling.User""#, Throttled),
            (400, r#""Throttling.Api""#, Throttled),
            (503, r#""Throttling.User""#, Throttled),
            (400, r#""Rejected.Throttling""#, Throttled),
            (400, r#""SignatureNonceUsed""#, Retry),
            (503, r#""ServiceUnavailable""#, Verify),
            (500, r#""InternalError""#, Verify),
            (502, r#""BadGateway""#, Verify),
            (400, r#""InvalidParameter""#, Failed),
            (400, r#""MissingChangeOrderId""#, Failed),
        ];
        for (status, code, expected) in table {
            let body = format!(r#"{{"Code": {code}, "Message": "m", "RequestId": "r"}}"#);
            let response = response(*status, &[], &body);
            let abort = classify_abort(Ok(&response));
            let info = classify_info(Ok(&response));
            for (name, got) in [("abort", kind_of(&abort)), ("info", kind_of(&info))] {
                assert_eq!(&got, expected, "{name}: HTTP {status} Code {code}");
            }
        }

        fn kind_of<T>(outcome: &Outcome<T>) -> Expect {
            match outcome {
                Outcome::Fatal { kind, .. } => Fatal(*kind),
                Outcome::Retry {
                    throttled: true, ..
                } => Throttled,
                Outcome::Retry { .. } => Retry,
                Outcome::Verify { .. } => Verify,
                Outcome::Failed { .. } => Failed,
                Outcome::Done { .. } => panic!("not a success"),
            }
        }
    }

    #[test]
    fn each_fatal_kind_says_what_to_fix() {
        assert!(
            FatalKind::Permission
                .hint()
                .contains("`edas:ManageApplication`")
        );
        assert!(FatalKind::AccessKey.hint().contains("access key id"));
        assert!(FatalKind::Signature.hint().contains("secret"));
        assert!(FatalKind::SecurityToken.hint().contains("token"));
        assert!(FatalKind::Clock.hint().contains("clock"));
        assert!(FatalKind::Endpoint.hint().contains("region"));
    }

    #[test]
    fn throttling_user_is_retried_as_throttled() {
        let outcome = abort(
            400,
            &[],
            r#"{"Code": "Throttling.User", "Message": "Request was denied due to user flow control.", "RequestId": "req-5"}"#,
        );
        let Outcome::Retry {
            after,
            throttled,
            details,
            ..
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert!(throttled);
        assert_eq!(after, None);
        assert_eq!(details.code.as_deref(), Some("Throttling.User"));
    }

    #[test]
    fn http_429_is_retried_as_throttled_even_without_a_body() {
        assert!(matches!(
            abort(429, &[], ""),
            Outcome::Retry {
                throttled: true,
                ..
            }
        ));
    }

    #[test]
    fn the_retry_after_header_is_honoured_in_milliseconds() {
        let outcome = abort(
            503,
            &[("x-acs-retry-after", "1500")],
            r#"{"Code": "ServiceUnavailable", "Message": "busy"}"#,
        );
        let Outcome::Retry {
            after, throttled, ..
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert!(throttled);
        assert_eq!(after, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn service_unavailable_and_internal_errors_are_verified() {
        for (status, body) in [
            (
                503,
                r#"{"Code": "ServiceUnavailable", "Message": "The request has failed due to a temporary failure of the server.", "RequestId": "r-503"}"#,
            ),
            (
                500,
                r#"{"Code": "InternalError", "Message": "The request processing has failed due to some unknown error.", "RequestId": "r-500"}"#,
            ),
        ] {
            let outcome = abort(status, &[], body);
            let Outcome::Verify { details, .. } = outcome else {
                panic!("{status}: {outcome:?}")
            };
            assert_eq!(details.http_status, Some(status));
            assert!(details.request_id.is_some());
        }
    }

    #[test]
    fn an_html_502_from_a_proxy_is_verified_with_an_excerpt() {
        let outcome = abort(
            502,
            &[],
            "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>",
        );
        let Outcome::Verify { details, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            details.message.as_deref(),
            Some("<html> <head><title>502 Bad Gateway</title></head> <body>nginx</body></html>")
        );
    }

    #[test]
    fn an_empty_or_truncated_2xx_body_is_verified_not_trusted() {
        for body in ["", r#"{"Code": 200, "Message": "succ"#, "null", "{}"] {
            let outcome = abort(200, &[], body);
            assert!(
                matches!(outcome, Outcome::Verify { .. }),
                "{body:?}: {outcome:?}"
            );
        }
    }

    #[test]
    fn a_4xx_business_error_is_failed() {
        let outcome = abort(
            400,
            &[("x-acs-request-id", "hdr-req")],
            r#"{"Code": "InvalidParameter", "Message": "ChangeOrderId is invalid"}"#,
        );
        let Outcome::Failed { details } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(details.request_id.as_deref(), Some("hdr-req"));
        assert_eq!(details.code.as_deref(), Some("InvalidParameter"));
    }

    #[test]
    fn each_transport_error_is_classified_by_whether_it_was_sent() {
        let table = [
            (TransportError::ConnectionRefused("x".into()), "retry"),
            (TransportError::Dns("x".into()), "retry"),
            (TransportError::ConnectTimeout("x".into()), "retry"),
            (TransportError::Connect("x".into()), "retry"),
            (TransportError::Tls("bad certificate".into()), "fatal"),
            (TransportError::ReadTimeout("x".into()), "verify"),
            (TransportError::ConnectionClosed("x".into()), "verify"),
            (TransportError::Body("x".into()), "verify"),
        ];
        for (error, expected) in table {
            let outcome = classify_abort(Err(&error));
            let got = match outcome {
                Outcome::Retry {
                    throttled: false,
                    after: None,
                    ..
                } => "retry",
                Outcome::Verify { .. } => "verify",
                Outcome::Fatal { .. } => "fatal",
                _ => "other",
            };
            assert_eq!(got, expected, "{error:?}");
        }
    }

    #[test]
    fn info_success_gives_the_status() {
        let body = r#"{"Code": 200, "Message": "success", "RequestId": "r", "changeOrderInfo": {"ChangeOrderId": "co", "Status": 6}}"#;
        let outcome = classify_info(Ok(&response(200, &[], body)));
        let Outcome::Done {
            answer: status,
            details,
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(status, ChangeOrderStatus::Stopped);
        assert_eq!(details.request_id.as_deref(), Some("r"));
    }

    #[test]
    fn info_shapes_follow_the_same_rules() {
        let cases: [(u16, &str, &str); 7] = [
            (200, r#"{"Code": 200, "changeOrderInfo": {}}"#, "unknown"),
            (
                200,
                r#"{"Code": 500, "Message": "change order not found"}"#,
                "failed",
            ),
            (
                400,
                r#"{"Code": "SignatureDoesNotMatch", "Message": "m"}"#,
                "fatal",
            ),
            (400, r#"{"Code": "Throttling.User"}"#, "retry"),
            (503, "", "unknown"),
            (200, "", "unknown"),
            (
                200,
                r#"{"Code": "200", "changeOrderInfo": {"Status": 1"#,
                "unknown",
            ),
        ];
        for (status, body, expected) in cases {
            let outcome = classify_info(Ok(&response(status, &[], body)));
            let got = match outcome {
                Outcome::Done { .. } => "status",
                Outcome::Retry { .. } => "retry",
                Outcome::Verify { .. } => "unknown",
                Outcome::Failed { .. } => "failed",
                Outcome::Fatal { .. } => "fatal",
            };
            assert_eq!(got, expected, "{status} {body}");
        }
        assert!(matches!(
            classify_info(Err(&TransportError::ConnectionRefused("x".into()))),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify_info(Err(&TransportError::ReadTimeout("x".into()))),
            Outcome::Verify { .. }
        ));
    }
}
