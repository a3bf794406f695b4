//! Request signing, pure: the date and the nonce are arguments, so the official SDKs' vectors
//! are reproduced exactly (`tests/data/roa-v1-vectors.jsonl`, `tests/data/acs3-v3-vectors.jsonl`).
//! Two signers sit behind [`RequestSigner`], chosen by `provider.signature_algorithm`
//! ([`SignatureAlgorithm`]):
//!
//! - [`Acs3Signer`] (`ACS3-HMAC-SHA256`, signature V3, the default): what the current official
//!   SDKs send (`docs/wire.md`);
//! - [`RoaV1Signer`] (`HMAC-SHA1`, ROA signature v1): the legacy signature, kept on request.
//!
//! The simulator's verifier (`sim::verify`) uses the same functions to recompute what it
//! receives, so a request this module signs wrongly is refused there as EDAS would refuse it.
//! Nothing here reads a clock, the network or a file.
//!
//! Signing is on the path of every attempt, so it is written to cost little (docs/BENCHMARKS.md,
//! "Build + sign"): header names parsed once, the canonical text written into one pre-sized
//! buffer, dates, hex and percent-encoding by hand ([`text`]), and per thread a memo of the
//! last key (its HMAC pads, [`keyed_mac`]) and header values that repeat on every request
//! ([`reuse_header_value`]). The memos change no output: they are keyed by the exact secret or
//! text they were made from.

mod acs3;
mod roa_v1;
mod text;

pub use acs3::{
    ACS3_ALGORITHM, Acs3Signer, EMPTY_BODY_SHA256, HEADER_ACS3_DATE, HEADER_CONTENT_SHA256,
    acs3_authorization, acs3_canonical_request, acs3_signature, acs3_string_to_sign,
    format_acs3_date, parse_acs3_date, percent_encode,
};
pub use roa_v1::{
    HEADER_DATE, HEADER_SIGNATURE_METHOD, HEADER_SIGNATURE_VERSION, RoaV1Signer, signature,
    string_to_sign,
};

use super::credentials::Credentials;
use super::secret::Secret;
use hmac::{KeyInit, Mac};
use http::header::{HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::thread::LocalKey;
use std::time::SystemTime;

pub const HEADER_NONCE: &str = "x-acs-signature-nonce";
pub const HEADER_SECURITY_TOKEN: &str = "x-acs-security-token";

// The names as `HeaderName`s, built at compile time: inserting or removing by `&str` parses
// and classifies the name on every call.
static NONCE_NAME: HeaderName = HeaderName::from_static(HEADER_NONCE);
static SECURITY_TOKEN_NAME: HeaderName = HeaderName::from_static(HEADER_SECURITY_TOKEN);

/// One decoded query parameter. `None` is a key sent without `=` (the Tea SDK signs an empty
/// value that way); our own requests never carry empty values.
pub type QueryPair = (String, Option<String>);

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("header `{name}` has a value that is not valid in an HTTP header")]
    InvalidHeaderValue { name: String },
    #[error("the request names no host to sign (`host` is part of every V3 signature)")]
    MissingHost,
}

/// Which signature the client sends (`provider.signature_algorithm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SignatureAlgorithm {
    /// Signature V3, what the current official SDKs send (the default).
    #[default]
    #[serde(rename = "ACS3-HMAC-SHA256")]
    Acs3HmacSha256,
    /// ROA signature v1, HMAC-SHA1: the legacy signature.
    #[serde(rename = "HMAC-SHA1")]
    HmacSha1,
}

impl SignatureAlgorithm {
    /// Both, the default first.
    pub const ALL: [SignatureAlgorithm; 2] = [Self::Acs3HmacSha256, Self::HmacSha1];

    /// The name used in the config, the plan file and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acs3HmacSha256 => ACS3_ALGORITHM,
            Self::HmacSha1 => "HMAC-SHA1",
        }
    }

    /// The signer for this algorithm.
    pub fn signer(self) -> Box<dyn RequestSigner> {
        match self {
            Self::Acs3HmacSha256 => Box::new(Acs3Signer),
            Self::HmacSha1 => Box::new(RoaV1Signer),
        }
    }
}

impl std::fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SignatureAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str() == text)
            .ok_or_else(|| {
                format!("unknown signature algorithm `{text}`; expected `ACS3-HMAC-SHA256` or `HMAC-SHA1`")
            })
    }
}

/// Signs a request in place: adds the date, nonce, token and signature headers and
/// `Authorization`. Returns the text that was signed (V1: the string to sign; V3: the
/// canonical request) so verbose mode can log it: it holds no secret, but it does hold the
/// security token, which the caller redacts.
pub trait RequestSigner: Send + Sync {
    fn sign(
        &self,
        request: &mut http::Request<()>,
        credentials: &Credentials,
        date: SystemTime,
        nonce: &str,
    ) -> Result<String, SignError>;

    /// What [`RequestSigner::sign`] returns, for the log line.
    fn signed_text_name(&self) -> &'static str;
}

/// `value` as a header value, or the error naming the header.
fn header_value(name: &str, value: &[u8]) -> Result<HeaderValue, SignError> {
    HeaderValue::from_bytes(value).map_err(|_| SignError::InvalidHeaderValue {
        name: name.to_string(),
    })
}

/// The thread's memo of one keyed MAC: the secret it was keyed with and the MAC with the key
/// absorbed (HMAC's inner and outer pads, each one hash block already compressed).
pub(crate) type KeyMemo<M> = RefCell<Option<(Secret, M)>>;

/// A MAC keyed with `secret`, copied from the thread's memo when the memo holds this secret
/// (every request of a run signs with the same one), keyed anew otherwise. Keying costs the
/// key's padding and two hash compressions; the copy costs two hash states. The memo holds a
/// copy of the secret to compare with, and is replaced when the credentials change; neither
/// is ever printed (`Secret` has no `Display` and a redacted `Debug`).
pub(crate) fn keyed_mac<M: Mac + KeyInit + Clone>(
    memo: &'static LocalKey<KeyMemo<M>>,
    secret: &Secret,
) -> M {
    let fresh = || {
        // HMAC accepts keys of any length, so this cannot fail.
        <M as KeyInit>::new_from_slice(secret.expose_to_signer().as_bytes())
            .expect("HMAC takes keys of any length")
    };
    memo.try_with(|memo| {
        let mut memo = memo.borrow_mut();
        match memo.as_ref() {
            Some((held, mac)) if held == secret => mac.clone(),
            _ => {
                let mac = fresh();
                *memo = Some((secret.clone(), mac.clone()));
                mac
            }
        }
    })
    // The thread is exiting and its memo is gone: key it anew.
    .unwrap_or_else(|_| fresh())
}

/// The thread's memo of one header value (the host, the region, the security token): the
/// same on every request of a run.
pub(crate) type ValueMemo = RefCell<Option<HeaderValue>>;

/// `text` as a header value: a copy of the memo's when it holds the same bytes (a reference
/// count, where a new value validates and copies the text into a new allocation), made and
/// kept otherwise. `sensitive` marks it so for `Debug` and HTTP/2 (the security token).
pub(crate) fn reuse_header_value(
    memo: &'static LocalKey<ValueMemo>,
    text: &str,
    sensitive: bool,
) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    let fresh = || {
        let mut value = HeaderValue::from_str(text)?;
        value.set_sensitive(sensitive);
        Ok(value)
    };
    memo.try_with(|memo| {
        let mut memo = memo.borrow_mut();
        match memo.as_ref() {
            Some(value) if value.as_bytes() == text.as_bytes() => Ok(value.clone()),
            _ => {
                let value = fresh()?;
                *memo = Some(value.clone());
                Ok(value)
            }
        }
    })
    .unwrap_or_else(|_| fresh())
}

thread_local! {
    static SECURITY_TOKEN_MEMO: ValueMemo = const { RefCell::new(None) };
}

/// Sets `x-acs-security-token` when the credentials carry one and removes it otherwise.
fn set_security_token(
    headers: &mut http::HeaderMap,
    token: Option<&Secret>,
) -> Result<(), SignError> {
    match token {
        Some(token) => {
            let value = reuse_header_value(&SECURITY_TOKEN_MEMO, token.expose_to_signer(), true)
                .map_err(|_| SignError::InvalidHeaderValue {
                    name: HEADER_SECURITY_TOKEN.to_string(),
                })?;
            headers.insert(SECURITY_TOKEN_NAME.clone(), value);
        }
        None => {
            headers.remove(&SECURITY_TOKEN_NAME);
        }
    }
    Ok(())
}

/// The `Authorization` value from its parts, written into one allocation of the exact size
/// (so the bytes become the header value without a copy).
fn authorization_value(parts: &[&[u8]]) -> Result<HeaderValue, SignError> {
    let mut value = Vec::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        value.extend_from_slice(part);
    }
    let mut value = HeaderValue::from_maybe_shared(bytes::Bytes::from(value)).map_err(|_| {
        SignError::InvalidHeaderValue {
            name: "authorization".to_string(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
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
    fn the_algorithm_names_round_trip_and_v3_is_the_default() {
        assert_eq!(
            SignatureAlgorithm::default(),
            SignatureAlgorithm::Acs3HmacSha256
        );
        for algorithm in SignatureAlgorithm::ALL {
            assert_eq!(
                algorithm.as_str().parse::<SignatureAlgorithm>(),
                Ok(algorithm)
            );
            assert_eq!(
                serde_json::to_string(&algorithm).unwrap(),
                format!("\"{algorithm}\"")
            );
        }
        assert!("hmac-sha256".parse::<SignatureAlgorithm>().is_err());
    }
}
