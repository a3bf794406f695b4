//! Signature V3, `ACS3-HMAC-SHA256` (`provider.signature_algorithm: ACS3-HMAC-SHA256`, the
//! default): what the current official SDKs send. Pure; reproduces the official SDK's wire
//! vectors in `tests/data/acs3-v3-vectors.jsonl` and the published examples cited in
//! `docs/wire.md`.
//!
//! ```text
//! CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
//!                    SignedHeaders \n hex(sha256(body))
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(secret, StringToSign))
//! Authorization    = ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b;…>,Signature=<hex>
//! ```
//!
//! - CanonicalURI: the path, percent-encoded (RFC 3986 unreserved characters and `/` kept);
//! - CanonicalQuery: pairs sorted by encoded key, `key=value` with both percent-encoded the
//!   same way (a space is `%20`, `*` is `%2A`, `~` stays), joined by `&`; an empty value
//!   leaves the bare key (as the official util does);
//! - CanonicalHeaders: each signed header as `lowercase-name:trimmed value\n`, sorted by name,
//!   repeated headers' values sorted and joined by `,`;
//! - SignedHeaders: the same names joined by `;`.
//!
//! Which headers to sign: every header the request carries when it is signed (except
//! `Authorization`), as the official SDKs do. That always covers `host` and every `x-acs-*`
//! header, which the service requires; headers the HTTP layer adds later (`User-Agent`,
//! `Content-Length`) are not signed, as with the SDKs.

use super::text::{self, MAX_PLAIN_PAIRS};
use super::{
    KeyMemo, NONCE_NAME, QueryPair, RequestSigner, SignError, ValueMemo, authorization_value,
    decode_query, header_value, keyed_mac, reuse_header_value, set_security_token,
};
use crate::edas::credentials::Credentials;
use crate::edas::secret::Secret;
use hmac::{Hmac, Mac};
use http::header::{AUTHORIZATION, DATE, HOST, HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::cell::RefCell;
use std::time::SystemTime;

/// The algorithm's name, first word of `Authorization` and of the string to sign.
pub const ACS3_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// The request time, UTC ISO 8601 (`2026-11-01T00:00:00Z`).
pub const HEADER_ACS3_DATE: &str = "x-acs-date";
/// hex(sha256(body)), the last line of the canonical request.
pub const HEADER_CONTENT_SHA256: &str = "x-acs-content-sha256";
/// hex(sha256("")): every request this tool sends has an empty body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub(super) static ACS3_DATE_NAME: HeaderName = HeaderName::from_static(HEADER_ACS3_DATE);
pub(super) static CONTENT_SHA256_NAME: HeaderName = HeaderName::from_static(HEADER_CONTENT_SHA256);
static EMPTY_BODY_SHA256_VALUE: HeaderValue = HeaderValue::from_static(EMPTY_BODY_SHA256);

thread_local! {
    static KEY_MEMO: KeyMemo<Hmac<Sha256>> = const { RefCell::new(None) };
    static HOST_MEMO: ValueMemo = const { RefCell::new(None) };
}

/// How many header values the signer sorts on the stack; more (never the case for our own
/// requests, which carry ten) take the general path.
const MAX_STACK_HEADERS: usize = 24;

/// Signature V3, ACS3-HMAC-SHA256.
#[derive(Clone, Copy, Debug, Default)]
pub struct Acs3Signer;

impl RequestSigner for Acs3Signer {
    fn sign(
        &self,
        request: &mut http::Request<()>,
        credentials: &Credentials,
        date: SystemTime,
        nonce: &str,
    ) -> Result<String, SignError> {
        let host = match request.uri().authority() {
            Some(authority) => Some(
                reuse_header_value(&HOST_MEMO, authority.as_str(), false).map_err(|_| {
                    SignError::InvalidHeaderValue {
                        name: "host".to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let headers = request.headers_mut();
        // A request re-signed after a v1 attempt must not carry v1's headers: they would be
        // signed here, harmlessly, but they would mislead whoever reads the wire. A fresh
        // request has none: one look over its few names spares four hashed lookups.
        let stale = [
            &DATE,
            &super::roa_v1::SIGNATURE_METHOD_NAME,
            &super::roa_v1::SIGNATURE_VERSION_NAME,
            &AUTHORIZATION,
        ];
        if headers.keys().any(|name| stale.contains(&name)) {
            for name in stale {
                headers.remove(name);
            }
        }
        match host {
            Some(host) => {
                headers.insert(HOST, host);
            }
            None if headers.contains_key(HOST) => {}
            None => return Err(SignError::MissingHost),
        }
        headers.insert(
            ACS3_DATE_NAME.clone(),
            header_value(HEADER_ACS3_DATE, &text::acs3_date(date))?,
        );
        headers.insert(
            NONCE_NAME.clone(),
            header_value(super::HEADER_NONCE, nonce.as_bytes())?,
        );
        headers.insert(CONTENT_SHA256_NAME.clone(), EMPTY_BODY_SHA256_VALUE.clone());
        set_security_token(headers, credentials.security_token.as_ref())?;

        let (canonical, signed_headers) = canonical_request_of(request);
        let signature = signature_hex(
            &credentials.access_key_secret,
            &Sha256::digest(canonical.as_bytes()),
        );
        let authorization = authorization_value(&[
            ACS3_ALGORITHM.as_bytes(),
            b" Credential=",
            credentials.access_key_id.as_bytes(),
            b",SignedHeaders=",
            canonical[signed_headers].as_bytes(),
            b",Signature=",
            &signature,
        ])?;
        request.headers_mut().insert(AUTHORIZATION, authorization);
        Ok(canonical)
    }

    fn signed_text_name(&self) -> &'static str {
        "canonical request"
    }
}

/// The canonical request of a request about to be sent, signing every header it carries
/// but `Authorization`, and where in it the signed header names (`a;b;…`) are.
///
/// The usual request (every header value text, no more than [`MAX_STACK_HEADERS`], a query
/// that needs no decoding) is written straight from the request into one buffer; anything
/// else goes through [`acs3_canonical_request`], which gives the same text.
fn canonical_request_of(request: &http::Request<()>) -> (String, std::ops::Range<usize>) {
    let headers = request.headers();
    let mut entries = [("", ""); MAX_STACK_HEADERS];
    let mut count = 0;
    let mut on_stack = true;
    for (name, value) in headers {
        if name == AUTHORIZATION {
            continue;
        }
        match (
            entries.get_mut(count),
            std::str::from_utf8(value.as_bytes()),
        ) {
            (Some(entry), Ok(value)) => {
                *entry = (name.as_str(), text::trim_header_value(value));
                count += 1;
            }
            _ => {
                on_stack = false;
                break;
            }
        }
    }
    let raw_query = request.uri().query().unwrap_or("");
    let mut pairs = [("", None); MAX_PLAIN_PAIRS];
    let plain_pairs = text::split_plain_query(raw_query, &mut pairs)
        .filter(|split| split.unreserved)
        .map(|split| split.count);
    let (Some(pair_count), true) = (plain_pairs, on_stack) else {
        let signed = signed_header_names(headers);
        let query = decode_query(raw_query);
        let canonical = acs3_canonical_request(
            request.method().as_str(),
            request.uri().path(),
            &query,
            headers,
            &signed,
            EMPTY_BODY_SHA256,
        );
        // The names joined by `;` sit between the last two newlines.
        let end = canonical.len() - EMPTY_BODY_SHA256.len() - 1;
        let list_len =
            signed.iter().map(String::len).sum::<usize>() + signed.len().saturating_sub(1);
        return (canonical, end - list_len..end);
    };
    let entries = &mut entries[..count];
    // By name, then by value: a repeated header's values are joined in sorted order.
    entries.sort_unstable();
    // Encoding leaves these pairs as they are, so sorting them raw sorts them encoded.
    let pairs = &mut pairs[..pair_count];
    pairs.sort_unstable_by(|a, b| (a.0, a.1.unwrap_or("")).cmp(&(b.0, b.1.unwrap_or(""))));

    let method = request.method().as_str();
    let path = request.uri().path();
    let capacity = method.len()
        + path.len() * 3
        + raw_query.len()
        + entries
            .iter()
            .map(|(name, value)| 2 * name.len() + value.len() + 3)
            .sum::<usize>()
        + EMPTY_BODY_SHA256.len()
        + 8;
    let mut text = String::with_capacity(capacity);
    text.push_str(method);
    text.push('\n');
    push_canonical_path(&mut text, path);
    text.push('\n');
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            text.push('&');
        }
        text.push_str(key);
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            text.push('=');
            text.push_str(value);
        }
    }
    text.push('\n');
    let mut previous: Option<&str> = None;
    for (name, value) in entries.iter() {
        if previous == Some(*name) {
            text.push(',');
        } else {
            if previous.is_some() {
                text.push('\n');
            }
            text.push_str(name);
            text.push(':');
        }
        text.push_str(value);
        previous = Some(name);
    }
    if previous.is_some() {
        text.push('\n');
    }
    text.push('\n');
    let start = text.len();
    let mut previous: Option<&str> = None;
    for (name, _) in entries.iter() {
        if previous == Some(*name) {
            continue;
        }
        if previous.is_some() {
            text.push(';');
        }
        text.push_str(name);
        previous = Some(name);
    }
    let end = text.len();
    text.push('\n');
    text.push_str(EMPTY_BODY_SHA256);
    (text, start..end)
}

/// Every header name present, lowercase, sorted and unique, except `authorization`.
fn signed_header_names(headers: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers
        .keys()
        .filter(|name| *name != AUTHORIZATION)
        .map(|name| name.as_str().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `2026-11-01T00:00:00Z`: UTC, whole seconds.
pub fn format_acs3_date(date: SystemTime) -> String {
    String::from_utf8_lossy(&text::acs3_date(date)).into_owned()
}

/// Reads an `x-acs-date`. Only the exact `YYYY-MM-DDTHH:MM:SSZ` form is accepted.
pub fn parse_acs3_date(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && bytes[19] == b'Z';
    if !shape_ok {
        return None;
    }
    humantime::parse_rfc3339(text).ok()
}

/// Percent-encodes everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`)
/// and the bytes in `keep`, with uppercase hex: what the official util's
/// `quote(value, safe='~')` gives.
pub fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut encoded = String::with_capacity(text.len() + 8);
    text::push_percent_encoded(&mut encoded, text, keep);
    encoded
}

/// `%XX` → byte; anything else as is (a path is not form-encoded: `+` stays `+`).
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                index += 3;
            }
            (byte, _, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The CanonicalURI: the path decoded then percent-encoded with `/` kept. A path of
/// unreserved characters and `/` (every path this tool sends) is its own result.
fn push_canonical_path(text: &mut String, raw_path: &str) {
    if text::is_plain_path(raw_path) {
        text.push_str(raw_path);
    } else {
        text::push_percent_encoded(text, &percent_decode(raw_path), b"/");
    }
}

/// A header value as the canonical request shows it: trimmed, invalid UTF-8 replaced.
fn canonical_value(value: &HeaderValue) -> Cow<'_, str> {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => Cow::Borrowed(text.trim()),
        Err(_) => Cow::Owned(String::from_utf8_lossy(value.as_bytes()).trim().to_string()),
    }
}

/// Percent-encoded text, borrowed when encoding leaves it as it is.
fn encoded(text: &str) -> Cow<'_, str> {
    if text::is_plain(text) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(percent_encode(text, b""))
    }
}

/// The canonical request for `method`, the path as sent (`raw_path`, percent-encoded or
/// not: it is normalised), the decoded query, the headers (looked up by lowercase name) and
/// the names to sign (lowercase, sorted, unique), over a body whose hex sha256 is
/// `payload_sha256`.
pub fn acs3_canonical_request(
    method: &str,
    raw_path: &str,
    query: &[QueryPair],
    headers: &HeaderMap,
    signed_headers: &[String],
    payload_sha256: &str,
) -> String {
    let mut text = String::with_capacity(640);
    text.push_str(method);
    text.push('\n');
    push_canonical_path(&mut text, raw_path);
    text.push('\n');
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = query
        .iter()
        .map(|(key, value)| (encoded(key), encoded(value.as_deref().unwrap_or(""))))
        .collect();
    pairs.sort();
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            text.push('&');
        }
        text.push_str(key);
        if !value.is_empty() {
            text.push('=');
            text.push_str(value);
        }
    }
    text.push('\n');
    for name in signed_headers {
        text.push_str(name);
        text.push(':');
        let mut values = headers.get_all(name.as_str()).iter();
        match (values.next(), values.next()) {
            (None, _) => {}
            (Some(only), None) => text.push_str(&canonical_value(only)),
            (Some(first), Some(second)) => {
                let mut all: Vec<Cow<'_, str>> = [first, second]
                    .into_iter()
                    .chain(values)
                    .map(canonical_value)
                    .collect();
                all.sort();
                for (index, value) in all.iter().enumerate() {
                    if index > 0 {
                        text.push(',');
                    }
                    text.push_str(value);
                }
            }
        }
        text.push('\n');
    }
    text.push('\n');
    for (index, name) in signed_headers.iter().enumerate() {
        if index > 0 {
            text.push(';');
        }
        text.push_str(name);
    }
    text.push('\n');
    text.push_str(payload_sha256);
    text
}

/// `ACS3-HMAC-SHA256\n` + hex(sha256(canonical request)).
pub fn acs3_string_to_sign(canonical_request: &str) -> String {
    let mut text = String::with_capacity(ACS3_ALGORITHM.len() + 1 + 64);
    text.push_str(ACS3_ALGORITHM);
    text.push('\n');
    text::push_hex_lower(&mut text, &Sha256::digest(canonical_request.as_bytes()));
    text
}

/// hex(HMAC-SHA256(secret, string to sign)), lowercase.
pub fn acs3_signature(secret: &Secret, string_to_sign: &str) -> String {
    let mut mac = keyed_mac(&KEY_MEMO, secret);
    mac.update(string_to_sign.as_bytes());
    let mut text = String::with_capacity(64);
    text::push_hex_lower(&mut text, &mac.finalize().into_bytes());
    text
}

/// The hex signature over the string to sign made from `canonical_sha256`, on the stack:
/// the string to sign is fed to the MAC in its two parts rather than written out.
fn signature_hex(secret: &Secret, canonical_sha256: &[u8]) -> [u8; 64] {
    let mut canonical_hex = [0u8; 64];
    text::hex_lower_into(canonical_sha256, &mut canonical_hex);
    let mut mac = keyed_mac(&KEY_MEMO, secret);
    mac.update(ACS3_ALGORITHM.as_bytes());
    mac.update(b"\n");
    mac.update(&canonical_hex);
    let mut signature = [0u8; 64];
    text::hex_lower_into(&mac.finalize().into_bytes(), &mut signature);
    signature
}

/// The `Authorization` header value.
pub fn acs3_authorization(
    access_key_id: &str,
    signed_headers: &[String],
    signature: &str,
) -> String {
    let mut text = String::with_capacity(
        ACS3_ALGORITHM.len()
            + access_key_id.len()
            + signed_headers
                .iter()
                .map(|name| name.len() + 1)
                .sum::<usize>()
            + signature.len()
            + 40,
    );
    text.push_str(ACS3_ALGORITHM);
    text.push_str(" Credential=");
    text.push_str(access_key_id);
    text.push_str(",SignedHeaders=");
    for (index, name) in signed_headers.iter().enumerate() {
        if index > 0 {
            text.push(';');
        }
        text.push_str(name);
    }
    text.push_str(",Signature=");
    text.push_str(signature);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::KeyInit as _;
    use proptest::prelude::*;
    use std::time::Duration;

    /// A request with `headers` appended in order (a name may repeat).
    /// Header names and values, appended in order.
    type Headers<'a> = Vec<(&'a str, &'a [u8])>;

    fn request_with(uri: &str, headers: &[(&str, &[u8])]) -> http::Request<()> {
        let mut request = http::Request::builder()
            .method("PUT")
            .uri(uri)
            .body(())
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        request
    }

    /// What the signer signs, the slow and general way: the public functions sim/verify.rs
    /// uses, over `decode_query` and every header name.
    fn general_canonical_request(request: &http::Request<()>) -> (String, String) {
        let signed = signed_header_names(request.headers());
        let canonical = acs3_canonical_request(
            request.method().as_str(),
            request.uri().path(),
            &decode_query(request.uri().query().unwrap_or("")),
            request.headers(),
            &signed,
            EMPTY_BODY_SHA256,
        );
        (canonical, signed.join(";"))
    }

    fn assert_fast_is_general(request: &http::Request<()>) {
        let (fast, signed_range) = canonical_request_of(request);
        let (general, signed) = general_canonical_request(request);
        assert_eq!(fast, general, "{}", request.uri());
        assert_eq!(&fast[signed_range], signed, "{}", request.uri());
    }

    #[test]
    fn the_fast_canonical_request_is_the_general_one_for_awkward_requests() {
        let many: Vec<(String, Vec<u8>)> = (0..30)
            .map(|index| (format!("x-acs-h{index:02}"), b"v".to_vec()))
            .collect();
        let many: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        let cases: Vec<(&str, Headers<'_>)> = vec![
            (
                "http://h:1/pop/v5/changeorder/change_order_abort_and_rollback?ChangeOrderId=6b55106c-c7f2&RegionId=cn-hangzhou",
                vec![
                    ("accept", b"application/json"),
                    ("x-acs-version", b"2017-08-01"),
                    ("x-acs-action", b"AbortAndRollbackChangeOrder"),
                    ("host", b"h:1"),
                ],
            ),
            // Repeated values are trimmed then sorted; `authorization` is never signed.
            (
                "http://h/?b=2&a=1&a=0",
                vec![
                    ("x-acs-test", b"c"),
                    ("x-acs-test", b"  a \t"),
                    ("x-acs-test", b"b"),
                    ("authorization", b"old"),
                    ("accept", b""),
                ],
            ),
            // Bare keys, empty values, an empty key, empty pairs.
            ("http://h/p?flag&empty=&=v&&z=1", vec![("x-acs-a", b"1")]),
            // Decoding needed (`+`, `%`), or encoding (`*`, `=` in a value): the general path.
            ("http://h/p?id=a+b%20c&x=%7E", vec![("x-acs-a", b"1")]),
            ("http://h/p?id=a*b&v=x=y", vec![("x-acs-a", b"1")]),
            // A path that is not plain.
            ("http://h/a%20b/c+d/%E2%98%83", vec![("x-acs-a", b"1")]),
            // A value that is not UTF-8, and more headers than the stack holds.
            (
                "http://h/p?a=1",
                vec![("x-acs-a", b"caf\xe9"), ("x-acs-b", b"1")],
            ),
            ("http://h/p?a=1", many),
            // Nothing at all.
            ("http://h/", vec![]),
            ("/only/a/path", vec![]),
        ];
        for (uri, headers) in cases {
            assert_fast_is_general(&request_with(uri, &headers));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_fast_canonical_request_is_the_general_one_for_any_request(
            headers in proptest::collection::vec(
                (
                    prop::sample::select(vec!["accept", "host", "x-acs-a", "x-acs-b", "x-acs-zz", "content-type"]),
                    "[ -~\t]{0,10}",
                ),
                0..8,
            ),
            pairs in proptest::collection::vec(
                ("[A-Za-z0-9._~*+ -]{0,5}", proptest::option::of("[A-Za-z0-9._~*= é-]{0,5}")),
                0..10,
            ),
        ) {
            // The query as request::build writes it, sometimes with `~` left raw.
            let query: Vec<String> = pairs
                .iter()
                .map(|(key, value)| {
                    let key: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
                    match value {
                        Some(value) => format!(
                            "{key}={}",
                            form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
                        ),
                        None => key.replace("%7E", "~"),
                    }
                })
                .collect();
            let uri = format!("http://h/p?{}", query.join("&"));
            let headers: Vec<(&str, &[u8])> = headers
                .iter()
                .map(|(name, value)| (*name, value.as_bytes()))
                .collect();
            let request = request_with(&uri, &headers);
            let (fast, signed_range) = canonical_request_of(&request);
            let (general, signed) = general_canonical_request(&request);
            prop_assert_eq!(&fast, &general);
            prop_assert_eq!(&fast[signed_range], signed.as_str());
        }
    }

    /// The per-thread memos (key, token, host) follow the credentials and the endpoint from
    /// request to request: each signature is the one a fresh key gives.
    #[test]
    fn changing_credentials_and_hosts_between_requests_signs_each_with_its_own() {
        let mut seen = Vec::new();
        for (secret, token, host) in [
            ("first-secret", Some("TOKEN-1"), "a.example"),
            ("second-secret", Some("TOKEN-2"), "b.example"),
            ("first-secret", None, "a.example"),
            ("first-secret", Some("TOKEN-1"), "b.example:8080"),
        ] {
            let mut request = request_with(
                &format!("http://{host}/p?ChangeOrderId=1&RegionId=r"),
                &[("x-acs-action", b"A")],
            );
            let mut credentials = Credentials::new("AKID", Secret::new(secret));
            if let Some(token) = token {
                credentials = credentials.with_security_token(Secret::new(token));
            }
            let canonical = Acs3Signer
                .sign(&mut request, &credentials, SystemTime::UNIX_EPOCH, "n")
                .unwrap();
            let headers = request.headers();
            assert_eq!(headers["host"], host);
            assert_eq!(
                headers
                    .get("x-acs-security-token")
                    .map(|v| v.to_str().unwrap()),
                token
            );
            let mut fresh = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            fresh.update(acs3_string_to_sign(&canonical).as_bytes());
            let expected = hex::encode(fresh.finalize().into_bytes());
            let authorization = headers["authorization"].to_str().unwrap();
            assert!(
                authorization.ends_with(&format!(",Signature={expected}")),
                "{authorization}"
            );
            assert_eq!(
                acs3_signature(&Secret::new(secret), &acs3_string_to_sign(&canonical)),
                expected
            );
            seen.push(expected);
        }
        seen.dedup();
        assert_eq!(seen.len(), 4, "each request signed differently");
    }

    #[test]
    fn the_token_and_the_authorization_are_hidden_from_debug_output() {
        let mut request = request_with("http://h/p?a=1", &[]);
        let credentials = Credentials::new("AKID", Secret::new("SECRET-VALUE"))
            .with_security_token(Secret::new("TOKEN-VALUE"));
        Acs3Signer
            .sign(&mut request, &credentials, SystemTime::UNIX_EPOCH, "n")
            .unwrap();
        let shown = format!("{request:?}");
        assert!(!shown.contains("TOKEN-VALUE"), "{shown}");
        assert!(!shown.contains("Signature="), "{shown}");
        assert!(!shown.contains("SECRET-VALUE"), "{shown}");
        assert_eq!(request.headers()["x-acs-security-token"], "TOKEN-VALUE");
    }

    /// The worked example of the official V3 documentation ("Request syntax and signature
    /// method V3", https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature,
    /// also https://help.aliyun.com/zh/resource-management/common-parameters): a RunInstances
    /// POST signed with `YourAccessKeySecret`; the page publishes
    /// `Signature=06563a9e…83c0` in its `Authorization` example.
    #[test]
    fn the_v3_documentation_worked_example_is_reproduced() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-content-sha256", EMPTY_BODY_SHA256),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let signed = signed_header_names(&headers);
        let query = decode_query(
            "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai",
        );
        let canonical =
            acs3_canonical_request("POST", "/", &query, &headers, &signed, EMPTY_BODY_SHA256);
        assert_eq!(
            canonical,
            "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n\
             host:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\n\
             x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-acs-date:2023-10-26T10:22:32Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n\
             x-acs-version:2014-05-26\n\n\
             host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let string_to_sign = acs3_string_to_sign(&canonical);
        assert_eq!(
            string_to_sign,
            "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        let signature = acs3_signature(&Secret::new("YourAccessKeySecret"), &string_to_sign);
        assert_eq!(
            acs3_authorization("YourAccessKeyId", &signed, &signature),
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;\
             x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    /// The ROA-style example of the official documentation ("ROA风格请求体&签名机制",
    /// https://help.aliyun.com/zh/model-studio/roa-style-request-body-signature-mechanism):
    /// the same request with its header table's date and nonce; the page publishes
    /// `Signature=e521358f…4804`.
    #[test]
    fn the_roa_style_documentation_example_is_reproduced() {
        let mut request = http::Request::builder()
            .method("POST")
            .uri("https://ecs.cn-shanghai.aliyuncs.com/?ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai")
            .header("x-acs-action", "RunInstances")
            .header("x-acs-version", "2014-05-26")
            .body(())
            .unwrap();
        let date = parse_acs3_date("2023-10-26T09:01:01Z").unwrap();
        let credentials = Credentials::new("YourAccessKeyId", Secret::new("YourAccessKeySecret"));
        Acs3Signer
            .sign(
                &mut request,
                &credentials,
                date,
                "d410180a5abf7fe235dd9b74aca91fc0",
            )
            .unwrap();
        assert_eq!(
            request.headers()["authorization"],
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;\
             x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
        );
    }

    /// `test_get_authorization` of the official util's tests
    /// (github.com/aliyun/darabonba-openapi-util, `python/tests/test_client.py`): an empty
    /// pathname, an empty query value signed as a bare key, and two spellings of one header
    /// joined in sorted order.
    #[test]
    fn the_official_util_get_authorization_test_is_reproduced() {
        let mut headers = HeaderMap::new();
        headers.append("x-acs-test", HeaderValue::from_static("http"));
        headers.append("x-acs-TEST", HeaderValue::from_static("https"));
        let query = vec![
            ("test".to_string(), Some("ok".to_string())),
            ("empty".to_string(), Some(String::new())),
        ];
        let signed = signed_header_names(&headers);
        let canonical = acs3_canonical_request(
            "GET",
            "",
            &query,
            &headers,
            &signed,
            "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23",
        );
        assert_eq!(
            canonical,
            "GET\n\nempty&test=ok\nx-acs-test:http,https\n\nx-acs-test\n\
             55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23"
        );
        let signature = acs3_signature(&Secret::new("secret"), &acs3_string_to_sign(&canonical));
        assert_eq!(
            acs3_authorization("acesskey", &signed, &signature),
            "ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test,\
             Signature=da772425f29289d3460d5fc961455d40c5e8c6afd0888b78a910c991e6a14846"
        );
    }

    /// `test_get_canonical_query_string` and `test_get_encode_path` of the same file.
    #[test]
    fn the_official_util_encoding_tests_are_reproduced() {
        let canonical = acs3_canonical_request(
            "GET",
            "/",
            &[("test".to_string(), Some(" ~/*-+".to_string()))],
            &HeaderMap::new(),
            &[],
            "",
        );
        assert_eq!(canonical.lines().nth(2), Some("test=%20~%2F%2A-%2B"));
        assert_eq!(percent_encode("/path/ test", b"/"), "/path/%20test");
        // `test_hex_encode`: hex(sha256("test")).
        assert_eq!(
            hex::encode(Sha256::digest(b"test")),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    #[test]
    fn the_date_is_utc_whole_seconds_and_only_that_form_parses_back() {
        let date = SystemTime::UNIX_EPOCH + Duration::from_millis(1_793_491_200_900);
        assert_eq!(format_acs3_date(date), "2026-11-01T00:00:00Z");
        assert_eq!(
            parse_acs3_date("2026-11-01T00:00:00Z"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_793_491_200))
        );
        for bad in [
            "2026-11-01T00:00:00.5Z",
            "2026-11-01T00:00:00+00:00",
            "Sun, 01 Nov 2026 00:00:00 GMT",
            "2026-13-01T00:00:00Z",
            "",
        ] {
            assert_eq!(parse_acs3_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_signer_signs_host_every_acs_header_and_the_token() {
        let mut request = http::Request::builder()
            .method("PUT")
            .uri("http://127.0.0.1:8080/pop/v5/changeorder/change_order_abort_and_rollback?ChangeOrderId=a+b")
            .header("accept", "application/json")
            .header("x-acs-action", "AbortAndRollbackChangeOrder")
            .header("x-acs-version", "2017-08-01")
            .header("date", "stale v1 header")
            .body(())
            .unwrap();
        let credentials =
            Credentials::new("AKID", Secret::new("s")).with_security_token(Secret::new("TOKEN"));
        let canonical = Acs3Signer
            .sign(&mut request, &credentials, SystemTime::UNIX_EPOCH, "n-1")
            .unwrap();
        let headers = request.headers();
        assert_eq!(headers["host"], "127.0.0.1:8080");
        assert!(headers.get("date").is_none());
        let authorization = headers["authorization"].to_str().unwrap();
        assert!(
            authorization.contains(
                "SignedHeaders=accept;host;x-acs-action;x-acs-content-sha256;x-acs-date;\
                 x-acs-security-token;x-acs-signature-nonce;x-acs-version,"
            ),
            "{authorization}"
        );
        assert!(canonical.contains("\nChangeOrderId=a%20b\n"), "{canonical}");
        assert!(canonical.contains("x-acs-date:1970-01-01T00:00:00Z\n"));
        assert!(canonical.contains("x-acs-security-token:TOKEN\n"));
    }
}
