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

mod acs3;
mod roa_v1;

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
use http::header::{HeaderMap, HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

pub const HEADER_NONCE: &str = "x-acs-signature-nonce";
pub const HEADER_SECURITY_TOKEN: &str = "x-acs-security-token";

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

pub(crate) fn set_header(
    headers: &mut HeaderMap,
    name: &'static str,
    value: &str,
) -> Result<(), SignError> {
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
