//! Checks one request the way the service does, from what arrived on the wire: the raw
//! query decoded, every header that was sent, the body's hash, then the route. Both
//! signatures are accepted (`docs/wire.md`):
//!
//! - V3 (`Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`): `host`
//!   and every `x-acs-*` header sent must be signed; `x-acs-date` within 15 minutes;
//!   `x-acs-content-sha256` equal to the body's hash; the canonical request recomputed with
//!   `edas::signer` from the headers the client named;
//! - ROA v1 (`Authorization: acs <id>:<signature>`): `Date` within 15 minutes, the
//!   signature method and version headers, the string to sign recomputed.
//!
//! Then the security token, then the route (`InvalidApi.NotFound`, HTTP 404, for anything
//! that is not one of the four calls). The nonce's reuse is checked by the server, which owns
//! the memory of nonces. Pure: the clock is an argument. It never sees the change-order model.

use super::MAX_CLOCK_SKEW;
use crate::edas::secret::Secret;
use crate::edas::signer::{
    self, ACS3_ALGORITHM, HEADER_ACS3_DATE, HEADER_CONTENT_SHA256, HEADER_SECURITY_TOKEN, QueryPair,
};
use crate::edas::{ABORT_PATH, API_VERSION, APP_LIST_PATH, INFO_PATH, LIST_PATH, ROLLBACK_PATH};
use http::{HeaderMap, Method, StatusCode};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

/// The operations the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `AbortAndRollbackChangeOrder`, `PUT ABORT_PATH`.
    Abort,
    /// `GetChangeOrderInfo`, `POST INFO_PATH`.
    Info,
    /// `RollbackChangeOrder`, `PUT ROLLBACK_PATH` (applications in ECS clusters).
    Rollback,
    /// `ListRecentChangeOrder`, `POST LIST_PATH`, query `AppId`.
    List,
    /// `ListApplication`, `POST APP_LIST_PATH`, query `RegionId` only.
    Apps,
}

impl Operation {
    const ALL: [Operation; 5] = [
        Operation::Abort,
        Operation::Info,
        Operation::Rollback,
        Operation::List,
        Operation::Apps,
    ];

    pub(crate) fn action(self) -> &'static str {
        match self {
            Operation::Abort => "AbortAndRollbackChangeOrder",
            Operation::Info => "GetChangeOrderInfo",
            Operation::Rollback => "RollbackChangeOrder",
            Operation::List => "ListRecentChangeOrder",
            Operation::Apps => "ListApplication",
        }
    }

    fn method(self) -> Method {
        match self {
            Operation::Abort | Operation::Rollback => Method::PUT,
            Operation::Info | Operation::List | Operation::Apps => Method::POST,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Operation::Abort => ABORT_PATH,
            Operation::Info => INFO_PATH,
            Operation::Rollback => ROLLBACK_PATH,
            Operation::List => LIST_PATH,
            Operation::Apps => APP_LIST_PATH,
        }
    }

    /// The query parameter that names what the call is about (for ListApplication, the
    /// region whose applications are listed).
    fn id_parameter(self) -> &'static str {
        match self {
            Operation::List => "AppId",
            Operation::Apps => "RegionId",
            _ => "ChangeOrderId",
        }
    }
}

/// A refusal, with the HTTP status and the service's error code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl Rejection {
    fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    fn bad(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn is_signature_mismatch(&self) -> bool {
        self.code == "SignatureDoesNotMatch"
    }
}

/// A request that passed every check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) operation: Operation,
    /// `ChangeOrderId`, or `AppId` for [`Operation::List`].
    pub(crate) id: String,
    /// `x-acs-signature-nonce`, when the client sent one (required with V3; the official
    /// Python SDK sends none with ROA v1), for the replay check.
    pub(crate) nonce: Option<String>,
    /// Which signature the request carried.
    pub(crate) signature: SignatureKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureKind {
    V3,
    RoaV1,
}

/// The credentials the simulator accepts.
pub(crate) struct Accepted<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) access_key_secret: &'a Secret,
    pub(crate) security_token: Option<&'a Secret>,
}

/// What arrived: method, path and raw query as sent, headers, body.
pub(crate) struct Received<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) raw_query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// Headers every ROA v1 request must carry, with the code the service uses when one is
/// missing.
const V1_REQUIRED_HEADERS: [(&str, &str); 4] = [
    ("date", "MissingDate"),
    ("x-acs-version", "MissingVersion"),
    ("x-acs-signature-method", "MissingSignatureMethod"),
    ("x-acs-signature-version", "MissingSignatureVersion"),
];

const INCOMPLETE_SIGNATURE: &str = "The request signature does not conform to Aliyun standards";

pub(crate) fn verify(
    received: &Received<'_>,
    accepted: &Accepted<'_>,
    now: SystemTime,
) -> Result<Verified, Rejection> {
    let headers = received.headers;
    let authorization = header(headers, "authorization").ok_or_else(|| {
        Rejection::bad(
            "MissingAuthorization",
            "The request does not carry an Authorization header: \
             `ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=…,Signature=…` (V3) or \
             `acs <AccessKeyId>:<Signature>` (ROA v1).",
        )
    })?;
    let query = signer::decode_query(received.raw_query);
    let signature = if let Some(rest) = authorization
        .strip_prefix(ACS3_ALGORITHM)
        .and_then(|rest| rest.strip_prefix(' '))
    {
        verify_v3(received, rest, &query, accepted, now)?;
        SignatureKind::V3
    } else if let Some(credential) = authorization.strip_prefix("acs ") {
        verify_v1(received, credential, &query, accepted, now)?;
        SignatureKind::RoaV1
    } else {
        return Err(Rejection::bad(
            "IncompleteSignature",
            format!(
                "{INCOMPLETE_SIGNATURE}: expected `Authorization: {ACS3_ALGORITHM} Credential=…` \
                 or `acs <AccessKeyId>:<Signature>`."
            ),
        ));
    };
    verify_token(headers, accepted)?;
    let operation = route(
        received.method,
        received.path,
        header(headers, "x-acs-action"),
    )?;
    let parameter = operation.id_parameter();
    let id = query
        .iter()
        .find(|(key, _)| key == parameter)
        .and_then(|(_, value)| value.clone())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            Rejection::bad(
                format!("Missing{parameter}"),
                format!(
                    "The input parameter `{parameter}` that is mandatory for processing this request is not supplied."
                ),
            )
        })?;
    Ok(Verified {
        operation,
        id,
        nonce: header(headers, signer::HEADER_NONCE).map(str::to_string),
        signature,
    })
}

fn check_version(headers: &HeaderMap) -> Result<(), Rejection> {
    let version = header(headers, "x-acs-version").unwrap_or_default();
    if version == API_VERSION {
        return Ok(());
    }
    Err(Rejection::bad(
        "InvalidVersion",
        format!("Specified parameter Version `{version}` is not valid; expected `{API_VERSION}`."),
    ))
}

fn check_access_key_id(access_key_id: &str, accepted: &Accepted<'_>) -> Result<(), Rejection> {
    if access_key_id == accepted.access_key_id {
        return Ok(());
    }
    Err(Rejection::new(
        StatusCode::NOT_FOUND,
        "InvalidAccessKeyId.NotFound",
        format!("Specified access key is not found: `{access_key_id}`."),
    ))
}

fn check_clock(sent_at: SystemTime, shown: &str, now: SystemTime) -> Result<(), Rejection> {
    if skew(sent_at, now) <= MAX_CLOCK_SKEW {
        return Ok(());
    }
    Err(Rejection::bad(
        "InvalidTimeStamp.Expired",
        format!(
            "Specified time stamp or date value is expired: `{shown}` is more than 15 minutes \
             from the server time `{}`.",
            httpdate::fmt_http_date(now)
        ),
    ))
}

/// Signature V3.
fn verify_v3(
    received: &Received<'_>,
    credential_part: &str,
    query: &[QueryPair],
    accepted: &Accepted<'_>,
    now: SystemTime,
) -> Result<(), Rejection> {
    let headers = received.headers;
    let incomplete = |what: String| {
        Rejection::bad(
            "IncompleteSignature",
            format!("{INCOMPLETE_SIGNATURE}: {what}."),
        )
    };
    let mut access_key_id = None;
    let mut signed_headers = None;
    let mut sent_signature = None;
    for part in credential_part.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", value)) => access_key_id = Some(value),
            Some(("SignedHeaders", value)) => signed_headers = Some(value),
            Some(("Signature", value)) => sent_signature = Some(value),
            _ => {
                return Err(incomplete(format!(
                    "`{part}` is not `Credential=`, `SignedHeaders=` or `Signature=`"
                )));
            }
        }
    }
    let (Some(access_key_id), Some(signed_headers), Some(sent_signature)) =
        (access_key_id, signed_headers, sent_signature)
    else {
        return Err(incomplete(
            "`Authorization` needs `Credential=`, `SignedHeaders=` and `Signature=`".to_string(),
        ));
    };
    if access_key_id.is_empty() || sent_signature.is_empty() {
        return Err(incomplete(
            "the credential or the signature is empty".to_string(),
        ));
    }
    check_access_key_id(access_key_id, accepted)?;
    let signed: Vec<String> = signed_headers.split(';').map(str::to_string).collect();
    let mut sorted = signed.clone();
    sorted.sort();
    sorted.dedup();
    if sorted != signed
        || signed
            .iter()
            .any(|name| name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(incomplete(format!(
            "`SignedHeaders={signed_headers}` must list lowercase header names, sorted, once each"
        )));
    }
    // Everything the service routes or authenticates by must be signed.
    for name in headers.keys().map(|name| name.as_str()) {
        let must_be_signed = name == "host" || name == "content-type" || name.starts_with("x-acs-");
        if must_be_signed && !signed.iter().any(|signed| signed == name) {
            return Err(incomplete(format!(
                "header `{name}` was sent but not signed"
            )));
        }
    }
    if !signed.iter().any(|name| name == "host") {
        return Err(incomplete(
            "header `host` must be sent and signed".to_string(),
        ));
    }
    if let Some(absent) = signed
        .iter()
        .find(|name| !headers.contains_key(name.as_str()))
    {
        return Err(incomplete(format!("signed header `{absent}` was not sent")));
    }
    for required in [
        HEADER_ACS3_DATE,
        signer::HEADER_NONCE,
        HEADER_CONTENT_SHA256,
    ] {
        if header(headers, required).is_none_or(str::is_empty) {
            return Err(incomplete(format!(
                "the required header `{required}` is missing"
            )));
        }
    }
    if header(headers, "x-acs-version").is_none_or(str::is_empty) {
        return Err(Rejection::bad(
            "MissingVersion",
            "The required header `x-acs-version` is missing.",
        ));
    }
    let date = header(headers, HEADER_ACS3_DATE).unwrap_or_default();
    let sent_at = signer::parse_acs3_date(date).ok_or_else(|| {
        Rejection::bad(
            "InvalidTimeStamp.Format",
            format!(
                "Specified x-acs-date `{date}` is not UTC ISO 8601 like `2018-01-01T12:00:00Z`."
            ),
        )
    })?;
    check_clock(sent_at, date, now)?;
    check_version(headers)?;
    // The service hashes the body it received: a body that is not the one the client hashed
    // (and signed) cannot match.
    let body_sha256 = hex::encode(Sha256::digest(received.body));
    let declared = header(headers, HEADER_CONTENT_SHA256).unwrap_or_default();
    if declared != body_sha256 {
        return Err(Rejection::bad(
            "SignatureDoesNotMatch",
            format!(
                "Specified x-acs-content-sha256 `{declared}` is not the hash of the request body \
                 received, `{body_sha256}`."
            ),
        ));
    }
    let canonical = signer::acs3_canonical_request(
        received.method.as_str(),
        received.path,
        query,
        headers,
        &signed,
        &body_sha256,
    );
    let string_to_sign = signer::acs3_string_to_sign(&canonical);
    let expected = signer::acs3_signature(accepted.access_key_secret, &string_to_sign);
    if !constant_time_eq(expected.as_bytes(), sent_signature.as_bytes()) {
        return Err(Rejection::bad(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature does not match our calculation. server string to sign \
                 is:{string_to_sign}"
            ),
        ));
    }
    Ok(())
}

/// ROA signature v1.
fn verify_v1(
    received: &Received<'_>,
    credential: &str,
    query: &[QueryPair],
    accepted: &Accepted<'_>,
    now: SystemTime,
) -> Result<(), Rejection> {
    let headers = received.headers;
    let (access_key_id, sent_signature) = credential
        .split_once(':')
        .filter(|(id, signature)| !id.is_empty() && !signature.is_empty())
        .ok_or_else(|| {
            Rejection::bad(
                "IncompleteSignature",
                format!("{INCOMPLETE_SIGNATURE}: expected `Authorization: acs <AccessKeyId>:<Signature>`."),
            )
        })?;
    check_access_key_id(access_key_id, accepted)?;
    for (name, code) in V1_REQUIRED_HEADERS {
        if header(headers, name).is_none_or(str::is_empty) {
            return Err(Rejection::bad(
                code,
                format!("The required header `{name}` is missing."),
            ));
        }
    }
    let date = header(headers, "date").unwrap_or_default();
    let sent_at = httpdate::parse_http_date(date).map_err(|_| {
        Rejection::bad(
            "InvalidTimeStamp.Format",
            format!("Specified Date `{date}` is not an IMF-fixdate like `Sun, 06 Nov 1994 08:49:37 GMT`."),
        )
    })?;
    check_clock(sent_at, date, now)?;
    let signature_method = header(headers, "x-acs-signature-method").unwrap_or_default();
    if signature_method != "HMAC-SHA1" {
        return Err(Rejection::bad(
            "InvalidSignatureMethod",
            format!(
                "Specified signature method `{signature_method}` is not supported; expected `HMAC-SHA1`."
            ),
        ));
    }
    let signature_version = header(headers, "x-acs-signature-version").unwrap_or_default();
    if signature_version != "1.0" {
        return Err(Rejection::bad(
            "InvalidSignatureVersion",
            format!(
                "Specified signature version `{signature_version}` is not supported; expected `1.0`."
            ),
        ));
    }
    check_version(headers)?;
    let string_to_sign =
        signer::string_to_sign(received.method.as_str(), headers, received.path, query);
    let expected = signer::signature(accepted.access_key_secret, &string_to_sign);
    if !constant_time_eq(expected.as_bytes(), sent_signature.as_bytes()) {
        return Err(Rejection::bad(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign \
                 is:{string_to_sign}"
            ),
        ));
    }
    Ok(())
}

/// An STS key needs its token; a long-term key must not carry one.
fn verify_token(headers: &HeaderMap, accepted: &Accepted<'_>) -> Result<(), Rejection> {
    let sent_token = header(headers, HEADER_SECURITY_TOKEN);
    match (accepted.security_token, sent_token) {
        (None, None) => Ok(()),
        (Some(token), Some(sent))
            if constant_time_eq(token.expose_to_signer().as_bytes(), sent.as_bytes()) =>
        {
            Ok(())
        }
        (Some(_), None) => Err(Rejection::bad(
            "MissingSecurityToken",
            "SecurityToken is mandatory for this AccessKey: it is an STS key and needs `x-acs-security-token`.",
        )),
        (Some(_), Some(_)) => Err(Rejection::bad(
            "InvalidSecurityToken.MisMatch",
            "Specified SecurityToken mismatch with the AccessKey.",
        )),
        (None, Some(_)) => Err(Rejection::bad(
            "InvalidSecurityToken.MisMatch",
            "Specified SecurityToken was sent with an AccessKey that is not an STS key.",
        )),
    }
}

/// The operation a path, method and (when sent) `x-acs-action` name together. Anything else
/// is answered as the service answers an API it does not have.
fn route(method: &Method, path: &str, action: Option<&str>) -> Result<Operation, Rejection> {
    let not_found = |detail: String| {
        Rejection::new(
            StatusCode::NOT_FOUND,
            "InvalidApi.NotFound",
            format!("Specified api is not found, please check your url and method. {detail}"),
        )
    };
    let operation = Operation::ALL
        .into_iter()
        .find(|operation| operation.method() == method && operation.path() == path)
        .ok_or_else(|| not_found(format!("(`{method} {path}`)")))?;
    match action {
        Some(action) if action != operation.action() => Err(not_found(format!(
            "(`x-acs-action: {action}` does not match `{method} {path}`, which is `{}`)",
            operation.action()
        ))),
        _ => Ok(operation),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn skew(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or_default()
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edas::credentials::Credentials;
    use crate::edas::signer::{RequestSigner, RoaV1Signer};

    const SECRET: &str = "test-secret";

    fn signed(
        method: Method,
        path_and_query: &str,
        credentials: &Credentials,
        date: SystemTime,
    ) -> http::Request<()> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header("accept", "application/json")
            .header("x-acs-version", API_VERSION)
            .header("x-acs-action", "AbortAndRollbackChangeOrder")
            .body(())
            .unwrap();
        RoaV1Signer
            .sign(&mut request, credentials, date, "nonce-1")
            .unwrap();
        request
    }

    fn check(
        request: &http::Request<()>,
        token: Option<&Secret>,
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let secret = Secret::new(SECRET);
        verify(
            &Received {
                method: request.method(),
                path: request.uri().path(),
                raw_query: request.uri().query().unwrap_or(""),
                headers: request.headers(),
                body: b"",
            },
            &Accepted {
                access_key_id: "key",
                access_key_secret: &secret,
                security_token: token,
            },
            now,
        )
    }

    fn abort_uri() -> String {
        format!("{ABORT_PATH}?ChangeOrderId=co+1&RegionId=cn-hangzhou")
    }

    #[test]
    fn a_request_signed_with_the_accepted_key_passes_and_names_its_change_order() {
        let now = SystemTime::now();
        let request = signed(
            Method::PUT,
            &abort_uri(),
            &Credentials::new("key", Secret::new(SECRET)),
            now,
        );
        let verified = check(&request, None, now).unwrap();
        assert_eq!(verified.operation, Operation::Abort);
        assert_eq!(verified.id, "co 1");
        assert_eq!(verified.signature, SignatureKind::RoaV1);
        assert_eq!(verified.nonce.as_deref(), Some("nonce-1"));
    }

    #[test]
    fn a_wrong_secret_is_refused_with_the_server_string_to_sign() {
        let now = SystemTime::now();
        let request = signed(
            Method::PUT,
            &abort_uri(),
            &Credentials::new("key", Secret::new("other")),
            now,
        );
        let rejection = check(&request, None, now).unwrap_err();
        assert_eq!(rejection.code, "SignatureDoesNotMatch");
        assert!(
            rejection
                .message
                .ends_with("?ChangeOrderId=co 1&RegionId=cn-hangzhou"),
            "{}",
            rejection.message
        );
    }

    #[test]
    fn a_date_just_inside_the_window_passes_and_just_outside_is_expired() {
        let now = SystemTime::now();
        let credentials = Credentials::new("key", Secret::new(SECRET));
        let inside = signed(
            Method::PUT,
            &abort_uri(),
            &credentials,
            now - Duration::from_secs(14 * 60),
        );
        assert!(check(&inside, None, now).is_ok());
        let outside = signed(
            Method::PUT,
            &abort_uri(),
            &credentials,
            now + Duration::from_secs(16 * 60),
        );
        assert_eq!(
            check(&outside, None, now).unwrap_err().code,
            "InvalidTimeStamp.Expired"
        );
    }

    #[test]
    fn a_token_must_be_sent_exactly_when_one_is_configured() {
        let now = SystemTime::now();
        let token = Secret::new("token");
        let plain = Credentials::new("key", Secret::new(SECRET));
        let with_token = plain.clone().with_security_token(token.clone());
        let wrong_token = plain.clone().with_security_token(Secret::new("other"));
        let request =
            |credentials: &Credentials| signed(Method::PUT, &abort_uri(), credentials, now);
        assert!(check(&request(&with_token), Some(&token), now).is_ok());
        for (credentials, configured, code) in [
            (&plain, Some(&token), "MissingSecurityToken"),
            (&wrong_token, Some(&token), "InvalidSecurityToken.MisMatch"),
            (&with_token, None, "InvalidSecurityToken.MisMatch"),
        ] {
            assert_eq!(
                check(&request(credentials), configured, now)
                    .unwrap_err()
                    .code,
                code
            );
        }
    }

    #[test]
    fn the_method_path_and_action_must_agree() {
        let now = SystemTime::now();
        let credentials = Credentials::new("key", Secret::new(SECRET));
        let wrong_method = signed(Method::POST, &abort_uri(), &credentials, now);
        assert_eq!(
            check(&wrong_method, None, now).unwrap_err().code,
            "InvalidApi.NotFound"
        );
        let info_with_abort_action = signed(
            Method::POST,
            &format!("{INFO_PATH}?ChangeOrderId=x"),
            &credentials,
            now,
        );
        assert_eq!(
            check(&info_with_abort_action, None, now).unwrap_err().code,
            "InvalidApi.NotFound"
        );
    }

    // --- signature V3 ----------------------------------------------------------------

    /// A row of `tests/data/acs3-v3-vectors.jsonl`: what the current official SDK sent.
    #[derive(serde::Deserialize)]
    struct Vector {
        method: String,
        url: String,
        headers: std::collections::BTreeMap<String, String>,
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
        signed_headers: String,
    }

    fn vectors() -> Vec<Vector> {
        include_str!("../../tests/data/acs3-v3-vectors.jsonl")
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// A vector's request as it arrived: its method, path, query and every header sent.
    struct Wire {
        method: Method,
        path: String,
        query: String,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    impl Wire {
        fn from(vector: &Vector) -> Self {
            let (path, query) = vector.url.split_once('?').unwrap_or((&vector.url, ""));
            let mut headers = HeaderMap::new();
            for (name, value) in &vector.headers {
                headers.append(
                    http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
            Self {
                method: vector.method.parse().unwrap(),
                path: path.to_string(),
                query: query.to_string(),
                headers,
                body: Vec::new(),
            }
        }

        fn check(
            &self,
            secret: &str,
            key: &str,
            token: Option<&Secret>,
            now: SystemTime,
        ) -> Result<Verified, Rejection> {
            let secret = Secret::new(secret);
            verify(
                &Received {
                    method: &self.method,
                    path: &self.path,
                    raw_query: &self.query,
                    headers: &self.headers,
                    body: &self.body,
                },
                &Accepted {
                    access_key_id: key,
                    access_key_secret: &secret,
                    security_token: token,
                },
                now,
            )
        }
    }

    fn vector_date(wire: &Wire) -> SystemTime {
        signer::parse_acs3_date(wire.headers["x-acs-date"].to_str().unwrap()).unwrap()
    }

    #[test]
    fn every_v3_vector_is_accepted_as_sent_by_the_official_sdk() {
        for (row, vector) in vectors().iter().enumerate() {
            let wire = Wire::from(vector);
            let token = vector.security_token.clone().map(Secret::new);
            let verified = wire
                .check(
                    &vector.access_key_secret,
                    &vector.access_key_id,
                    token.as_ref(),
                    vector_date(&wire),
                )
                .unwrap_or_else(|rejection| panic!("row {row}: {rejection:?}"));
            assert_eq!(verified.signature, SignatureKind::V3);
            assert!(verified.nonce.is_some());
        }
    }

    #[test]
    fn a_v3_vector_is_refused_when_any_signed_header_the_query_or_the_secret_changes() {
        for (row, vector) in vectors().iter().enumerate() {
            let token = vector.security_token.clone().map(Secret::new);
            let original = Wire::from(vector);
            let now = vector_date(&original);
            let refused = |wire: &Wire, secret: &str| {
                wire.check(secret, &vector.access_key_id, token.as_ref(), now)
                    .unwrap_err()
            };
            assert_eq!(
                refused(&original, "another-secret").code,
                "SignatureDoesNotMatch",
                "row {row}"
            );
            for name in vector.signed_headers.split(';') {
                let mut wire = Wire::from(vector);
                let changed = format!("{}x", wire.headers[name].to_str().unwrap());
                wire.headers.insert(
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    changed.parse().unwrap(),
                );
                let rejection = refused(&wire, &vector.access_key_secret);
                assert_ne!(rejection.status, StatusCode::OK, "row {row}: {name}");
                assert!(
                    matches!(
                        rejection.code.as_str(),
                        "SignatureDoesNotMatch"
                            | "InvalidTimeStamp.Format"
                            | "InvalidVersion"
                            | "InvalidSecurityToken.MisMatch"
                    ),
                    "row {row}: changing `{name}` gave {rejection:?}"
                );
            }
            let mut wire = Wire::from(vector);
            wire.query.push_str("&Extra=1");
            assert_eq!(
                refused(&wire, &vector.access_key_secret).code,
                "SignatureDoesNotMatch",
                "row {row}"
            );
            let mut wire = Wire::from(vector);
            wire.query = wire.query.replacen('=', "=x", 1);
            assert_eq!(
                refused(&wire, &vector.access_key_secret).code,
                "SignatureDoesNotMatch",
                "row {row}"
            );
        }
    }

    #[test]
    fn a_v3_signature_over_a_different_secret_echoes_the_server_string_to_sign() {
        let vector = &vectors()[1];
        let wire = Wire::from(vector);
        let rejection = wire
            .check("wrong", &vector.access_key_id, None, vector_date(&wire))
            .unwrap_err();
        assert_eq!(rejection.status, StatusCode::BAD_REQUEST);
        assert!(
            rejection
                .message
                .contains("server string to sign is:ACS3-HMAC-SHA256\n"),
            "{}",
            rejection.message
        );
    }

    #[test]
    fn v3_checks_the_clock_the_body_hash_and_that_every_acs_header_and_host_is_signed() {
        let vector = &vectors()[1];
        let key = vector.access_key_id.as_str();
        let secret = vector.access_key_secret.as_str();
        let wire = Wire::from(vector);
        let sent_at = vector_date(&wire);
        let code = |wire: &Wire, now: SystemTime| {
            wire.check(secret, key, None, now)
                .map(|_| ())
                .map_err(|r| r.code)
        };
        assert_eq!(code(&wire, sent_at + Duration::from_secs(14 * 60)), Ok(()));
        assert_eq!(
            code(&wire, sent_at + Duration::from_secs(16 * 60)),
            Err("InvalidTimeStamp.Expired".to_string())
        );
        assert_eq!(
            code(&wire, sent_at - Duration::from_secs(16 * 60)),
            Err("InvalidTimeStamp.Expired".to_string())
        );

        let mut with_body = Wire::from(vector);
        with_body.body = b"{}".to_vec();
        assert_eq!(
            code(&with_body, sent_at),
            Err("SignatureDoesNotMatch".to_string())
        );

        let mut unsigned_acs = Wire::from(vector);
        unsigned_acs
            .headers
            .insert("x-acs-region-id", "cn-hangzhou".parse().unwrap());
        let rejection = unsigned_acs.check(secret, key, None, sent_at).unwrap_err();
        assert_eq!(rejection.code, "IncompleteSignature");
        assert!(
            rejection.message.contains("`x-acs-region-id`"),
            "{}",
            rejection.message
        );

        for dropped in [
            "x-acs-signature-nonce",
            "x-acs-date",
            "x-acs-content-sha256",
            "host",
        ] {
            let mut wire = Wire::from(vector);
            wire.headers.remove(dropped);
            assert_eq!(
                code(&wire, sent_at),
                Err("IncompleteSignature".to_string()),
                "{dropped}"
            );
        }

        let mut host_unsigned = Wire::from(vector);
        let authorization = host_unsigned.headers["authorization"]
            .to_str()
            .unwrap()
            .replace("host;", "");
        host_unsigned
            .headers
            .insert("authorization", authorization.parse().unwrap());
        assert_eq!(
            code(&host_unsigned, sent_at),
            Err("IncompleteSignature".to_string())
        );

        let mut stranger = Wire::from(vector);
        let authorization = stranger.headers["authorization"]
            .to_str()
            .unwrap()
            .replace(key, "LTAI5tStranger");
        stranger
            .headers
            .insert("authorization", authorization.parse().unwrap());
        let rejection = stranger.check(secret, key, None, sent_at).unwrap_err();
        assert_eq!(
            (rejection.status, rejection.code.as_str()),
            (StatusCode::NOT_FOUND, "InvalidAccessKeyId.NotFound")
        );

        let mut garbled = Wire::from(vector);
        garbled.headers.insert(
            "authorization",
            "ACS3-HMAC-SHA256 Credential=x".parse().unwrap(),
        );
        assert_eq!(
            code(&garbled, sent_at),
            Err("IncompleteSignature".to_string())
        );
        garbled
            .headers
            .insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(
            code(&garbled, sent_at),
            Err("IncompleteSignature".to_string())
        );
    }

    #[test]
    fn the_four_calls_are_routed_and_anything_else_is_an_unknown_api() {
        for operation in Operation::ALL {
            assert_eq!(
                route(
                    &operation.method(),
                    operation.path(),
                    Some(operation.action())
                ),
                Ok(operation)
            );
            assert_eq!(
                route(&operation.method(), operation.path(), None),
                Ok(operation)
            );
        }
        for (method, path, action) in [
            (Method::GET, ABORT_PATH, None),
            (Method::PUT, "/pop/v5/nothing/here", None),
            (
                Method::PUT,
                ROLLBACK_PATH,
                Some("AbortAndRollbackChangeOrder"),
            ),
        ] {
            let rejection = route(&method, path, action).unwrap_err();
            assert_eq!(rejection.status, StatusCode::NOT_FOUND);
            assert_eq!(rejection.code, "InvalidApi.NotFound");
        }
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
