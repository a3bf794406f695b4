//! ROA signature v1 (`HMAC-SHA1`, `provider.signature_algorithm: HMAC-SHA1`), the legacy
//! signature the service still documents for `AbortAndRollbackChangeOrder`. Pure; reproduces
//! the official SDKs' vectors in `tests/data/roa-v1-vectors.jsonl`.
//!
//! String to sign: `METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n` (an empty line for an
//! absent header), then every `x-acs-*` header as `lowercase-name:value\n` sorted by name, then
//! the path, `?`, and the decoded query pairs sorted by key, `key=value` joined by `&`.

use super::text::{self, MAX_PLAIN_PAIRS};
use super::{
    KeyMemo, NONCE_NAME, QueryPair, RequestSigner, SignError, authorization_value, decode_query,
    header_value, keyed_mac, set_security_token,
};
use crate::edas::credentials::Credentials;
use crate::edas::secret::Secret;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE, HeaderMap, HeaderName, HeaderValue};
use sha1::Sha1;
use std::borrow::Cow;
use std::cell::RefCell;
use std::time::SystemTime;

pub const HEADER_DATE: &str = "date";
pub const HEADER_SIGNATURE_METHOD: &str = "x-acs-signature-method";
pub const HEADER_SIGNATURE_VERSION: &str = "x-acs-signature-version";

pub(super) static SIGNATURE_METHOD_NAME: HeaderName =
    HeaderName::from_static(HEADER_SIGNATURE_METHOD);
pub(super) static SIGNATURE_VERSION_NAME: HeaderName =
    HeaderName::from_static(HEADER_SIGNATURE_VERSION);
static CONTENT_MD5_NAME: HeaderName = HeaderName::from_static("content-md5");
static HMAC_SHA1_VALUE: HeaderValue = HeaderValue::from_static("HMAC-SHA1");
static VERSION_1_VALUE: HeaderValue = HeaderValue::from_static("1.0");

thread_local! {
    static KEY_MEMO: KeyMemo<Hmac<Sha1>> = const { RefCell::new(None) };
}

/// How many `x-acs-*` header values the signer sorts on the stack; more (never the case for
/// our own requests, which carry six) take the general path.
const MAX_STACK_HEADERS: usize = 24;

/// The length of base64 of an HMAC-SHA1 (20 bytes).
const SIGNATURE_LEN: usize = 28;

/// ROA signature v1, HMAC-SHA1.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoaV1Signer;

impl RequestSigner for RoaV1Signer {
    fn sign(
        &self,
        request: &mut http::Request<()>,
        credentials: &Credentials,
        date: SystemTime,
        nonce: &str,
    ) -> Result<String, SignError> {
        let headers = request.headers_mut();
        // A fresh request carries none of these: one look over its few names spares three
        // hashed lookups.
        let v3_only = [
            &super::acs3::ACS3_DATE_NAME,
            &super::acs3::CONTENT_SHA256_NAME,
            &AUTHORIZATION,
        ];
        if headers.keys().any(|name| v3_only.contains(&name)) {
            for name in v3_only {
                headers.remove(name);
            }
        }
        headers.insert(DATE, header_value(HEADER_DATE, &text::http_date(date))?);
        headers.insert(
            NONCE_NAME.clone(),
            header_value(super::HEADER_NONCE, nonce.as_bytes())?,
        );
        headers.insert(SIGNATURE_METHOD_NAME.clone(), HMAC_SHA1_VALUE.clone());
        headers.insert(SIGNATURE_VERSION_NAME.clone(), VERSION_1_VALUE.clone());
        set_security_token(headers, credentials.security_token.as_ref())?;
        let text = string_to_sign_of(request);
        let mut signature = [0u8; SIGNATURE_LEN];
        let signature = signature_base64(&credentials.access_key_secret, &text, &mut signature);
        let authorization = authorization_value(&[
            b"acs ",
            credentials.access_key_id.as_bytes(),
            b":",
            signature,
        ])?;
        request.headers_mut().insert(AUTHORIZATION, authorization);
        Ok(text)
    }

    fn signed_text_name(&self) -> &'static str {
        "string to sign"
    }
}

/// The string to sign of a request about to be sent. The usual request (every `x-acs-*`
/// value text, no more than [`MAX_STACK_HEADERS`] of them, a query that needs no decoding)
/// is read in one pass over its headers, with nothing allocated but the text; anything else
/// goes through [`string_to_sign`], which gives the same text.
fn string_to_sign_of(request: &http::Request<()>) -> String {
    let headers = request.headers();
    let method = request.method().as_str();
    let path = request.uri().path();
    let raw_query = request.uri().query().unwrap_or("");
    let mut pairs = [("", None); MAX_PLAIN_PAIRS];
    let Some(pair_count) = text::split_plain_query(raw_query, &mut pairs).map(|split| split.count)
    else {
        return string_to_sign(method, headers, path, &decode_query(raw_query));
    };
    // `accept`, `content-md5`, `content-type`, `date`: the first value of each.
    let mut standard: [Option<&[u8]>; 4] = [None; 4];
    let mut acs_headers = [("", ""); MAX_STACK_HEADERS];
    let mut acs_count = 0;
    for (name, value) in headers {
        let slot = if name == ACCEPT {
            Some(0)
        } else if name == CONTENT_MD5_NAME {
            Some(1)
        } else if name == CONTENT_TYPE {
            Some(2)
        } else if name == DATE {
            Some(3)
        } else {
            None
        };
        if let Some(slot) = slot {
            standard[slot].get_or_insert(value.as_bytes());
        } else if name.as_str().starts_with("x-acs-") {
            match (
                acs_headers.get_mut(acs_count),
                std::str::from_utf8(value.as_bytes()),
            ) {
                (Some(entry), Ok(value)) => {
                    *entry = (name.as_str(), value);
                    acs_count += 1;
                }
                _ => return string_to_sign(method, headers, path, &decode_query(raw_query)),
            }
        }
    }
    let acs_headers = &mut acs_headers[..acs_count];
    acs_headers.sort_unstable();
    // Stable: pairs with the same key keep the order they were sent in.
    let pairs = &mut pairs[..pair_count];
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let standard = standard.map(|value| value.map(String::from_utf8_lossy));
    write_string_to_sign(method, &standard, acs_headers, path, pairs)
}

/// The string to sign from its parts: the four standard header values (absent: an empty
/// line), the `x-acs-*` headers sorted, the path, the query pairs sorted by key.
fn write_string_to_sign<S: AsRef<str>, V: AsRef<str>>(
    method: &str,
    standard: &[Option<S>; 4],
    acs_headers: &[(&str, V)],
    path: &str,
    query: &[(&str, Option<&str>)],
) -> String {
    let capacity = method.len()
        + standard
            .iter()
            .map(|value| value.as_ref().map_or(0, |value| value.as_ref().len()) + 1)
            .sum::<usize>()
        + acs_headers
            .iter()
            .map(|(name, value)| name.len() + value.as_ref().len() + 2)
            .sum::<usize>()
        + path.len()
        + query
            .iter()
            .map(|(key, value)| key.len() + value.map_or(0, |value| value.len() + 1) + 1)
            .sum::<usize>()
        + 1;
    let mut text = String::with_capacity(capacity);
    text.push_str(method);
    text.push('\n');
    for value in standard {
        if let Some(value) = value {
            text.push_str(value.as_ref());
        }
        text.push('\n');
    }
    for (name, value) in acs_headers {
        text.push_str(name);
        text.push(':');
        text.push_str(value.as_ref());
        text.push('\n');
    }
    text.push_str(path);
    for (index, (key, value)) in query.iter().enumerate() {
        text.push(if index == 0 { '?' } else { '&' });
        text.push_str(key);
        if let Some(value) = value {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

/// The canonical string to sign. `headers` is looked up case-insensitively.
pub fn string_to_sign(
    method: &str,
    headers: &HeaderMap,
    path: &str,
    query: &[QueryPair],
) -> String {
    let standard = [ACCEPT, CONTENT_MD5_NAME.clone(), CONTENT_TYPE, DATE].map(|name| {
        headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()))
    });
    let mut acs_headers: Vec<(&str, Cow<'_, str>)> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-acs-"))
        .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes())))
        .collect();
    acs_headers.sort();
    let mut sorted: Vec<(&str, Option<&str>)> = query
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_deref()))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    write_string_to_sign(method, &standard, &acs_headers, path, &sorted)
}

/// base64(HMAC-SHA1(secret, string_to_sign)) into `out`.
fn signature_base64<'a>(
    secret: &Secret,
    string_to_sign: &str,
    out: &'a mut [u8; SIGNATURE_LEN],
) -> &'a [u8] {
    let mut mac = keyed_mac(&KEY_MEMO, secret);
    mac.update(string_to_sign.as_bytes());
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(mac.finalize().into_bytes(), out)
        // 20 bytes are 28 characters of base64, the size of `out`.
        .unwrap_or(0);
    &out[..written]
}

/// base64(HMAC-SHA1(secret, string_to_sign)).
pub fn signature(secret: &Secret, string_to_sign: &str) -> String {
    let mut out = [0u8; SIGNATURE_LEN];
    String::from_utf8_lossy(signature_base64(secret, string_to_sign, &mut out)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::KeyInit as _;
    use proptest::prelude::*;

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

    fn general_string_to_sign(request: &http::Request<()>) -> String {
        string_to_sign(
            request.method().as_str(),
            request.headers(),
            request.uri().path(),
            &decode_query(request.uri().query().unwrap_or("")),
        )
    }

    #[test]
    fn the_fast_string_to_sign_is_the_general_one_for_awkward_requests() {
        let many: Vec<String> = (0..30).map(|index| format!("x-acs-h{index:02}")).collect();
        let many: Vec<(&str, &[u8])> = many.iter().map(|name| (name.as_str(), &b"v"[..])).collect();
        let cases: Vec<(&str, Headers<'_>)> = vec![
            (
                "http://h/pop/v5/x?ChangeOrderId=1&RegionId=cn-hangzhou",
                vec![
                    ("accept", b"application/json"),
                    ("accept", b"text/plain"),
                    ("date", b"Thu, 01 Jan 1970 00:00:00 GMT"),
                    ("content-md5", b"abc"),
                    ("x-acs-b", b"2"),
                    ("x-acs-a", b" spaced "),
                    ("x-acs-a", b"1"),
                ],
            ),
            // Same keys keep their order; bare keys and empty values differ.
            ("http://h/p?b=2&a=x&a=w&flag&empty=&=v", vec![]),
            ("http://h/p?id=a+b%20c", vec![("x-acs-a", b"1")]),
            ("http://h/p?a=1", vec![("x-acs-a", b"caf\xe9")]),
            ("http://h/p?a=1", many),
            ("http://h/", vec![]),
        ];
        for (uri, headers) in cases {
            let request = request_with(uri, &headers);
            assert_eq!(
                string_to_sign_of(&request),
                general_string_to_sign(&request),
                "{uri}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_fast_string_to_sign_is_the_general_one_for_any_request(
            headers in proptest::collection::vec(
                (
                    prop::sample::select(vec!["accept", "date", "content-type", "content-md5", "x-acs-a", "x-acs-b", "other"]),
                    "[ -~\t]{0,10}",
                ),
                0..8,
            ),
            pairs in proptest::collection::vec(
                ("[A-Za-z0-9._~*+ -]{0,4}", proptest::option::of("[A-Za-z0-9._~*= é-]{0,4}")),
                0..10,
            ),
        ) {
            let query: Vec<String> = pairs
                .iter()
                .map(|(key, value)| {
                    let key: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
                    match value {
                        Some(value) => format!(
                            "{key}={}",
                            form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
                        ),
                        None => key,
                    }
                })
                .collect();
            let uri = format!("http://h/p?{}", query.join("&"));
            let headers: Vec<(&str, &[u8])> = headers
                .iter()
                .map(|(name, value)| (*name, value.as_bytes()))
                .collect();
            let request = request_with(&uri, &headers);
            prop_assert_eq!(string_to_sign_of(&request), general_string_to_sign(&request));
        }
    }

    #[test]
    fn changing_secrets_between_requests_signs_each_with_its_own() {
        for secret in ["first", "second", "first"] {
            let text = "PUT\n\n\n\n\n/p";
            let mut fresh = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
            fresh.update(text.as_bytes());
            let expected =
                base64::engine::general_purpose::STANDARD.encode(fresh.finalize().into_bytes());
            assert_eq!(signature(&Secret::new(secret), text), expected);
        }
    }

    #[test]
    fn absent_standard_headers_leave_empty_lines() {
        let headers = HeaderMap::new();
        assert_eq!(
            string_to_sign("PUT", &headers, "/p", &[]),
            "PUT\n\n\n\n\n/p"
        );
    }
}
