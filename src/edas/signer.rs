//! The ROA signature v1 (HMAC-SHA1), as the service documents for `AbortAndRollbackChangeOrder`.
//!
//! Pure: the date and the nonce are arguments, so the official SDK's vectors are reproduced
//! exactly (`tests/data/roa-v1-vectors.jsonl`). Signing sits behind [`RequestSigner`] so an
//! ACS3-HMAC-SHA256 (V3) signer can be added without touching request building or the client.
//!
//! String to sign: `METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n` (an empty line for an
//! absent header), then every `x-acs-*` header as `lowercase-name:value\n` sorted by name, then
//! the path, `?`, and the decoded query pairs sorted by key, `key=value` joined by `&`.

use super::credentials::Credentials;
use super::secret::Secret;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use sha1::Sha1;
use std::time::SystemTime;

pub const HEADER_DATE: &str = "date";
pub const HEADER_NONCE: &str = "x-acs-signature-nonce";
pub const HEADER_SIGNATURE_METHOD: &str = "x-acs-signature-method";
pub const HEADER_SIGNATURE_VERSION: &str = "x-acs-signature-version";
pub const HEADER_SECURITY_TOKEN: &str = "x-acs-security-token";

/// One decoded query parameter. `None` is a key sent without `=` (the Tea SDK signs an empty
/// value that way); our own requests never carry empty values.
pub type QueryPair = (String, Option<String>);

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("header `{name}` has a value that is not valid in an HTTP header")]
    InvalidHeaderValue { name: String },
}

/// Signs a request in place: adds the date, nonce, signature and security-token headers and
/// `Authorization`. Returns the string to sign so verbose mode can log it (it holds no secret).
pub trait RequestSigner: Send + Sync {
    fn sign(
        &self,
        request: &mut http::Request<()>,
        credentials: &Credentials,
        date: SystemTime,
        nonce: &str,
    ) -> Result<String, SignError>;
}

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
        set_header(headers, HEADER_DATE, &httpdate::fmt_http_date(date))?;
        set_header(headers, HEADER_NONCE, nonce)?;
        set_header(headers, HEADER_SIGNATURE_METHOD, "HMAC-SHA1")?;
        set_header(headers, HEADER_SIGNATURE_VERSION, "1.0")?;
        match &credentials.security_token {
            Some(token) => set_header(headers, HEADER_SECURITY_TOKEN, token.expose_to_signer())?,
            None => {
                headers.remove(HEADER_SECURITY_TOKEN);
            }
        }
        let query = decode_query(request.uri().query().unwrap_or(""));
        let text = string_to_sign(
            request.method().as_str(),
            request.headers(),
            request.uri().path(),
            &query,
        );
        let authorization = format!(
            "acs {}:{}",
            credentials.access_key_id,
            signature(&credentials.access_key_secret, &text)
        );
        set_header(request.headers_mut(), "authorization", &authorization)?;
        Ok(text)
    }
}

fn set_header(headers: &mut HeaderMap, name: &'static str, value: &str) -> Result<(), SignError> {
    let value = HeaderValue::from_str(value).map_err(|_| SignError::InvalidHeaderValue {
        name: name.to_string(),
    })?;
    headers.insert(HeaderName::from_static(name), value);
    Ok(())
}

/// Decodes a raw query string the way the service does: `+` is a space, `%XX` is a byte.
pub fn decode_query(raw_query: &str) -> Vec<QueryPair> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (decode_component(key), Some(decode_component(value))),
            None => (decode_component(pair), None),
        })
        .collect()
}

fn decode_component(text: &str) -> String {
    // Most ids and regions need no decoding; skip the parser for them (it is most of the
    // signing cost otherwise).
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return text.to_string();
    }
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// The canonical string to sign. `headers` is looked up case-insensitively.
pub fn string_to_sign(
    method: &str,
    headers: &HeaderMap,
    path: &str,
    query: &[QueryPair],
) -> String {
    let mut text = String::with_capacity(512);
    text.push_str(method);
    text.push('\n');
    for standard in ["accept", "content-md5", "content-type", "date"] {
        if let Some(value) = headers.get(standard) {
            text.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        text.push('\n');
    }
    let mut acs_headers: Vec<(&str, std::borrow::Cow<'_, str>)> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-acs-"))
        .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes())))
        .collect();
    acs_headers.sort();
    for (name, value) in acs_headers {
        text.push_str(name);
        text.push(':');
        text.push_str(&value);
        text.push('\n');
    }
    text.push_str(path);
    let mut sorted: Vec<&QueryPair> = query.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (index, (key, value)) in sorted.into_iter().enumerate() {
        text.push(if index == 0 { '?' } else { '&' });
        text.push_str(key);
        if let Some(value) = value {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

/// base64(HMAC-SHA1(secret, string_to_sign)).
pub fn signature(secret: &Secret, string_to_sign: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.expose_to_signer().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_query_turns_plus_into_space_and_keeps_keys_without_values() {
        assert_eq!(
            decode_query("ChangeOrderId=id+with%20space&Flag&Empty="),
            vec![
                (
                    "ChangeOrderId".to_string(),
                    Some("id with space".to_string())
                ),
                ("Flag".to_string(), None),
                ("Empty".to_string(), Some(String::new())),
            ]
        );
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
