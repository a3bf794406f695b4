//! ROA signature v1 (`HMAC-SHA1`, `provider.signature_algorithm: HMAC-SHA1`), the legacy
//! signature the service still documents for `AbortAndRollbackChangeOrder`. Pure; reproduces
//! the official SDKs' vectors in `tests/data/roa-v1-vectors.jsonl`.
//!
//! String to sign: `METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n` (an empty line for an
//! absent header), then every `x-acs-*` header as `lowercase-name:value\n` sorted by name, then
//! the path, `?`, and the decoded query pairs sorted by key, `key=value` joined by `&`.

use super::{
    HEADER_NONCE, HEADER_SECURITY_TOKEN, QueryPair, RequestSigner, SignError, decode_query,
    set_header,
};
use crate::edas::credentials::Credentials;
use crate::edas::secret::Secret;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::header::HeaderMap;
use sha1::Sha1;
use std::time::SystemTime;

pub const HEADER_DATE: &str = "date";
pub const HEADER_SIGNATURE_METHOD: &str = "x-acs-signature-method";
pub const HEADER_SIGNATURE_VERSION: &str = "x-acs-signature-version";

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
        for v3_only in [
            super::HEADER_ACS3_DATE,
            super::HEADER_CONTENT_SHA256,
            "authorization",
        ] {
            headers.remove(v3_only);
        }
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

    fn signed_text_name(&self) -> &'static str {
        "string to sign"
    }
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
    fn absent_standard_headers_leave_empty_lines() {
        let headers = HeaderMap::new();
        assert_eq!(
            string_to_sign("PUT", &headers, "/p", &[]),
            "PUT\n\n\n\n\n/p"
        );
    }
}
