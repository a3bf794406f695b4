//! Checks one request the way the service does, from what arrived on the wire: the raw
//! query decoded, every `x-acs-*` header that was sent, the `Date` within 15 minutes, the
//! ROA v1 signature recomputed with `edas::signer`, the security token, then the route.
//! Pure: the clock is an argument. It never sees the change-order model.

use super::MAX_CLOCK_SKEW;
use crate::edas::secret::Secret;
use crate::edas::signer::{self, HEADER_SECURITY_TOKEN};
use crate::edas::{ABORT_PATH, API_VERSION, INFO_PATH, ROLLBACK_PATH};
use http::{HeaderMap, Method, StatusCode};
use std::time::{Duration, SystemTime};

/// The operations the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Abort,
    /// `RollbackChangeOrder` (ECS clusters): same query and answer as `Abort`.
    Rollback,
    Info,
}

impl Operation {
    pub(crate) fn action(self) -> &'static str {
        match self {
            Operation::Abort => "AbortAndRollbackChangeOrder",
            Operation::Rollback => "RollbackChangeOrder",
            Operation::Info => "GetChangeOrderInfo",
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

    pub(crate) fn is_signature_mismatch(&self) -> bool {
        self.code == "SignatureDoesNotMatch"
    }
}

/// A request that passed every check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) operation: Operation,
    pub(crate) change_order_id: String,
    /// `x-acs-signature-nonce`, when the client sent one (the official Python SDK does not
    /// for ROA requests), for the replay check.
    pub(crate) nonce: Option<String>,
}

/// The credentials the simulator accepts.
pub(crate) struct Accepted<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) access_key_secret: &'a Secret,
    pub(crate) security_token: Option<&'a Secret>,
}

/// Headers every signed request must carry, with the code the service uses when one is
/// missing.
const REQUIRED_HEADERS: [(&str, &str); 4] = [
    ("date", "MissingDate"),
    ("x-acs-version", "MissingVersion"),
    ("x-acs-signature-method", "MissingSignatureMethod"),
    ("x-acs-signature-version", "MissingSignatureVersion"),
];

pub(crate) fn verify(
    method: &Method,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    accepted: &Accepted<'_>,
    now: SystemTime,
) -> Result<Verified, Rejection> {
    let bad = StatusCode::BAD_REQUEST;
    let authorization = header(headers, "authorization").ok_or_else(|| {
        Rejection::new(
            bad,
            "MissingAuthorization",
            "The request does not carry an Authorization header: `acs <AccessKeyId>:<Signature>`.",
        )
    })?;
    let (access_key_id, sent_signature) = authorization
        .strip_prefix("acs ")
        .and_then(|credential| credential.split_once(':'))
        .filter(|(id, signature)| !id.is_empty() && !signature.is_empty())
        .ok_or_else(|| {
            Rejection::new(
                bad,
                "IncompleteSignature",
                "The request signature does not conform to Aliyun standards: expected \
                 `Authorization: acs <AccessKeyId>:<Signature>`.",
            )
        })?;
    if access_key_id != accepted.access_key_id {
        return Err(Rejection::new(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            format!("Specified access key is not found: `{access_key_id}`."),
        ));
    }
    for (name, code) in REQUIRED_HEADERS {
        if header(headers, name).is_none_or(str::is_empty) {
            return Err(Rejection::new(
                bad,
                code,
                format!("The required header `{name}` is missing."),
            ));
        }
    }
    let date = header(headers, "date").unwrap_or_default();
    let sent_at = httpdate::parse_http_date(date).map_err(|_| {
        Rejection::new(
            bad,
            "InvalidTimeStamp.Format",
            format!("Specified Date `{date}` is not an IMF-fixdate like `Sun, 06 Nov 1994 08:49:37 GMT`."),
        )
    })?;
    if skew(sent_at, now) > MAX_CLOCK_SKEW {
        return Err(Rejection::new(
            bad,
            "InvalidTimeStamp.Expired",
            format!(
                "Specified time stamp or date value is expired: `{date}` is more than 15 minutes \
                 from the server time `{}`.",
                httpdate::fmt_http_date(now)
            ),
        ));
    }
    let signature_method = header(headers, "x-acs-signature-method").unwrap_or_default();
    if signature_method != "HMAC-SHA1" {
        return Err(Rejection::new(
            bad,
            "InvalidSignatureMethod",
            format!(
                "Specified signature method `{signature_method}` is not supported; expected `HMAC-SHA1`."
            ),
        ));
    }
    let signature_version = header(headers, "x-acs-signature-version").unwrap_or_default();
    if signature_version != "1.0" {
        return Err(Rejection::new(
            bad,
            "InvalidSignatureVersion",
            format!(
                "Specified signature version `{signature_version}` is not supported; expected `1.0`."
            ),
        ));
    }
    let version = header(headers, "x-acs-version").unwrap_or_default();
    if version != API_VERSION {
        return Err(Rejection::new(
            bad,
            "InvalidVersion",
            format!(
                "Specified parameter Version `{version}` is not valid; expected `{API_VERSION}`."
            ),
        ));
    }
    let query = signer::decode_query(raw_query);
    let string_to_sign = signer::string_to_sign(method.as_str(), headers, path, &query);
    let expected = signer::signature(accepted.access_key_secret, &string_to_sign);
    if !constant_time_eq(expected.as_bytes(), sent_signature.as_bytes()) {
        return Err(Rejection::new(
            bad,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign \
                 is:{string_to_sign}"
            ),
        ));
    }
    let sent_token = header(headers, HEADER_SECURITY_TOKEN);
    match (accepted.security_token, sent_token) {
        (None, None) => {}
        (Some(token), Some(sent))
            if constant_time_eq(token.expose_to_signer().as_bytes(), sent.as_bytes()) => {}
        (Some(_), None) => {
            return Err(Rejection::new(
                bad,
                "InvalidSecurityToken.MisMatch",
                "Specified SecurityToken is missing: this AccessKey is an STS key and needs `x-acs-security-token`.",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(Rejection::new(
                bad,
                "InvalidSecurityToken.MisMatch",
                "Specified SecurityToken mismatch with the AccessKey.",
            ));
        }
        (None, Some(_)) => {
            return Err(Rejection::new(
                bad,
                "InvalidSecurityToken.MisMatch",
                "Specified SecurityToken was sent with an AccessKey that is not an STS key.",
            ));
        }
    }
    let operation = route(method, path, header(headers, "x-acs-action"))?;
    let change_order_id = query
        .iter()
        .find(|(key, _)| key == "ChangeOrderId")
        .and_then(|(_, value)| value.clone())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            Rejection::new(
                bad,
                "MissingChangeOrderId",
                "The input parameter `ChangeOrderId` that is mandatory for processing this request is not supplied.",
            )
        })?;
    Ok(Verified {
        operation,
        change_order_id,
        nonce: header(headers, signer::HEADER_NONCE).map(str::to_string),
    })
}

/// The operation a path, method and (when sent) `x-acs-action` name together.
fn route(method: &Method, path: &str, action: Option<&str>) -> Result<Operation, Rejection> {
    let operation = match (method, path) {
        (&Method::PUT, ABORT_PATH) => Operation::Abort,
        (&Method::PUT, ROLLBACK_PATH) => Operation::Rollback,
        (&Method::POST, INFO_PATH) => Operation::Info,
        _ => {
            return Err(Rejection::new(
                StatusCode::NOT_FOUND,
                "InvalidAction.NotFound",
                format!(
                    "Specified api is not found, please check your url and method: `{method} {path}` \
                     (expected `PUT {ABORT_PATH}`, `PUT {ROLLBACK_PATH}` or `POST {INFO_PATH}`)."
                ),
            ));
        }
    };
    match action {
        Some(action) if action != operation.action() => Err(Rejection::new(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            format!(
                "Specified api is not found: `x-acs-action: {action}` does not match `{method} {path}`, \
                 which is `{}`.",
                operation.action()
            ),
        )),
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
            request.method(),
            request.uri().path(),
            request.uri().query().unwrap_or(""),
            request.headers(),
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
        assert_eq!(verified.change_order_id, "co 1");
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
        for (credentials, configured) in [
            (&plain, Some(&token)),
            (&wrong_token, Some(&token)),
            (&with_token, None),
        ] {
            assert_eq!(
                check(&request(credentials), configured, now)
                    .unwrap_err()
                    .code,
                "InvalidSecurityToken.MisMatch"
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
            "InvalidAction.NotFound"
        );
        let info_with_abort_action = signed(
            Method::POST,
            &format!("{INFO_PATH}?ChangeOrderId=x"),
            &credentials,
            now,
        );
        assert_eq!(
            check(&info_with_abort_action, None, now).unwrap_err().code,
            "InvalidAction.NotFound"
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
