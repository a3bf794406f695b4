//! The official SDKs' vectors, copied from `shared/signing`: ROA v1
//! (`tests/data/roa-v1-vectors.jsonl`) and signature V3 (`tests/data/acs3-v3-vectors.jsonl`).
//! Our signers must reproduce every string to sign (V3: canonical request) and signature
//! exactly.

use edas_rollback::edas::credentials::Credentials;
use edas_rollback::edas::secret::Secret;
use edas_rollback::edas::signer::{
    Acs3Signer, RequestSigner, RoaV1Signer, SignatureAlgorithm, acs3_authorization,
    acs3_canonical_request, acs3_signature, acs3_string_to_sign, decode_query, parse_acs3_date,
    signature, string_to_sign,
};
use http::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Vector {
    sdk: String,
    method: String,
    url: String,
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
    security_token: Option<String>,
    date: String,
    nonce: Option<String>,
    headers: BTreeMap<String, String>,
    string_to_sign: String,
    signature: String,
    authorization: Option<String>,
}

/// One row (ListRecentChangeOrder) records no credentials; its Authorization header shows it
/// was signed with the same test key as every other row.
const TEST_ACCESS_KEY_ID: &str = "LTAI5tTestAccessKeyId";
const TEST_ACCESS_KEY_SECRET: &str = "TestAccessKeySecret0123456789ab";

impl Vector {
    fn access_key_id(&self) -> &str {
        self.access_key_id.as_deref().unwrap_or(TEST_ACCESS_KEY_ID)
    }
    fn secret(&self) -> Secret {
        Secret::new(
            self.access_key_secret
                .as_deref()
                .unwrap_or(TEST_ACCESS_KEY_SECRET),
        )
    }
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("../data/roa-v1-vectors.jsonl");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("vector rows are valid JSON"))
        .collect()
}

fn request_for(vector: &Vector, skip_signed_headers: bool) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method(vector.method.as_str())
        .uri(vector.url.as_str())
        .body(())
        .expect("vector urls are valid");
    for (name, value) in &vector.headers {
        let lower = name.to_ascii_lowercase();
        let added_by_signer = matches!(
            lower.as_str(),
            "authorization"
                | "date"
                | "x-acs-signature-nonce"
                | "x-acs-signature-method"
                | "x-acs-signature-version"
                | "x-acs-security-token"
        );
        if skip_signed_headers && added_by_signer {
            continue;
        }
        request.headers_mut().insert(
            HeaderName::from_bytes(lower.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    request
}

/// The Tea SDK signs a key with an empty value as a bare key; the core SDK as `key=`.
fn query_as_signed_by(
    vector: &Vector,
    request: &http::Request<()>,
) -> Vec<(String, Option<String>)> {
    let mut query = decode_query(request.uri().query().unwrap_or(""));
    if vector.sdk == "tea-v2" {
        for (_, value) in &mut query {
            if value.as_deref() == Some("") {
                *value = None;
            }
        }
    }
    query
}

#[test]
fn there_are_thirty_vectors_from_both_sdks() {
    let all = vectors();
    assert_eq!(all.len(), 30);
    assert!(all.iter().any(|v| v.sdk == "core"));
    assert!(all.iter().any(|v| v.sdk == "tea-v2"));
}

#[test]
fn every_vector_string_to_sign_and_signature_is_reproduced() {
    for (row, vector) in vectors().iter().enumerate() {
        let request = request_for(vector, false);
        let query = query_as_signed_by(vector, &request);
        let text = string_to_sign(
            request.method().as_str(),
            request.headers(),
            request.uri().path(),
            &query,
        );
        assert_eq!(
            text, vector.string_to_sign,
            "row {row}: string to sign ({})",
            vector.url
        );
        assert_eq!(
            signature(&vector.secret(), &text),
            vector.signature,
            "row {row}: signature"
        );
        let expected_authorization = format!("acs {}:{}", vector.access_key_id(), vector.signature);
        let sent_authorization = vector
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.as_str());
        assert_eq!(
            sent_authorization,
            Some(expected_authorization.as_str()),
            "row {row}"
        );
    }
}

#[test]
fn the_signer_adds_date_nonce_token_and_authorization_exactly_as_the_sdk_did() {
    let mut signed_rows = 0;
    for (row, vector) in vectors().iter().enumerate() {
        // The core SDK sends no nonce; our signer always does, so only the Tea rows
        // (which carry one) can be signed end to end byte for byte.
        let Some(nonce) = &vector.nonce else { continue };
        if vector.string_to_sign.ends_with("?ChangeOrderId") {
            continue; // empty value: our requests never carry one (see query_as_signed_by)
        }
        let mut request = request_for(vector, true);
        let mut credentials = Credentials::new(vector.access_key_id(), vector.secret());
        if let Some(token) = &vector.security_token {
            credentials = credentials.with_security_token(Secret::new(token.clone()));
        }
        let date = httpdate::parse_http_date(&vector.date).unwrap();
        let text = RoaV1Signer
            .sign(&mut request, &credentials, date, nonce)
            .unwrap();
        assert_eq!(text, vector.string_to_sign, "row {row}");
        assert_eq!(
            request.headers()["authorization"].to_str().unwrap(),
            vector.authorization.as_deref().unwrap(),
            "row {row}"
        );
        signed_rows += 1;
    }
    assert!(
        signed_rows >= 10,
        "only {signed_rows} rows were signed end to end"
    );
}

// --- signature V3 (ACS3-HMAC-SHA256) ------------------------------------------------------

/// One row of `tests/data/acs3-v3-vectors.jsonl` (copied from `shared/signing`): a request the
/// current official Python SDK (`alibabacloud-edas20170801` 2.0.0 on `alibabacloud-tea-openapi`
/// 0.4.6) sent on the wire, with what it signed.
#[derive(Deserialize)]
struct V3Vector {
    api: String,
    method: String,
    url: String,
    query_decoded: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
    signed_headers: String,
    canonical_request: String,
    string_to_sign: String,
    signature: String,
    authorization: String,
}

impl V3Vector {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn signed_header_names(&self) -> Vec<String> {
        self.signed_headers.split(';').map(str::to_string).collect()
    }

    /// The request with exactly the headers the SDK signed; `skip` leaves out those our
    /// signer adds itself.
    fn request(&self, skip: &[&str]) -> http::Request<()> {
        let host = self.header("host").expect("every vector names its host");
        let mut request = http::Request::builder()
            .method(self.method.as_str())
            .uri(format!("http://{host}{}", self.url))
            .body(())
            .expect("vector urls are valid");
        for name in self.signed_header_names() {
            if skip.contains(&name.as_str()) {
                continue;
            }
            let value = self.header(&name).expect("signed headers were sent");
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        request
    }
}

fn v3_vectors() -> Vec<V3Vector> {
    include_str!("../data/acs3-v3-vectors.jsonl")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("vector rows are valid JSON"))
        .collect()
}

#[test]
fn there_are_thirty_two_v3_vectors_over_the_four_calls_some_with_a_token() {
    let all = v3_vectors();
    assert_eq!(all.len(), 32);
    for api in [
        "AbortAndRollbackChangeOrder",
        "GetChangeOrderInfo",
        "RollbackChangeOrder",
        "ListRecentChangeOrder",
    ] {
        assert!(all.iter().any(|v| v.api == api), "{api}");
    }
    assert!(all.iter().filter(|v| v.security_token.is_some()).count() >= 10);
}

#[test]
fn every_v3_vector_canonical_request_string_to_sign_and_signature_is_reproduced() {
    for (row, vector) in v3_vectors().iter().enumerate() {
        let request = vector.request(&[]);
        let query = decode_query(request.uri().query().unwrap_or(""));
        let decoded: BTreeMap<String, String> = query
            .iter()
            .map(|(key, value)| (key.clone(), value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(decoded, vector.query_decoded, "row {row}: decoded query");
        let signed = vector.signed_header_names();
        let payload = vector.header("x-acs-content-sha256").unwrap();
        let canonical = acs3_canonical_request(
            request.method().as_str(),
            request.uri().path(),
            &query,
            request.headers(),
            &signed,
            payload,
        );
        assert_eq!(
            canonical, vector.canonical_request,
            "row {row}: canonical request ({})",
            vector.url
        );
        let string_to_sign = acs3_string_to_sign(&canonical);
        assert_eq!(string_to_sign, vector.string_to_sign, "row {row}");
        let signature = acs3_signature(
            &Secret::new(vector.access_key_secret.clone()),
            &string_to_sign,
        );
        assert_eq!(signature, vector.signature, "row {row}: signature");
        let authorization = acs3_authorization(&vector.access_key_id, &signed, &signature);
        assert_eq!(authorization, vector.authorization, "row {row}");
        assert_eq!(vector.header("authorization"), Some(authorization.as_str()));
    }
}

#[test]
fn the_v3_signer_adds_host_date_nonce_hash_token_and_authorization_exactly_as_the_sdk_did() {
    for (row, vector) in v3_vectors().iter().enumerate() {
        let mut request = vector.request(&[
            "host",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
            "x-acs-security-token",
        ]);
        let mut credentials = Credentials::new(
            &vector.access_key_id,
            Secret::new(vector.access_key_secret.clone()),
        );
        if let Some(token) = &vector.security_token {
            credentials = credentials.with_security_token(Secret::new(token.clone()));
        }
        let date = parse_acs3_date(vector.header("x-acs-date").unwrap()).unwrap();
        let nonce = vector.header("x-acs-signature-nonce").unwrap();
        let canonical = Acs3Signer
            .sign(&mut request, &credentials, date, nonce)
            .unwrap();
        assert_eq!(canonical, vector.canonical_request, "row {row}");
        assert_eq!(
            request.headers()["authorization"].to_str().unwrap(),
            vector.authorization,
            "row {row}"
        );
    }
}

#[test]
fn both_signers_are_chosen_by_name_and_v3_is_the_default() {
    assert_eq!(SignatureAlgorithm::default().as_str(), "ACS3-HMAC-SHA256");
    let vector = &v3_vectors()[0];
    for algorithm in SignatureAlgorithm::ALL {
        let mut request = vector.request(&["host", "x-acs-date", "x-acs-signature-nonce"]);
        let credentials = Credentials::new("AKID", Secret::new("secret"));
        algorithm
            .signer()
            .sign(
                &mut request,
                &credentials,
                std::time::SystemTime::UNIX_EPOCH,
                "n",
            )
            .unwrap();
        let authorization = request.headers()["authorization"].to_str().unwrap();
        match algorithm {
            SignatureAlgorithm::Acs3HmacSha256 => {
                assert!(authorization.starts_with("ACS3-HMAC-SHA256 Credential=AKID,"))
            }
            SignatureAlgorithm::HmacSha1 => assert!(authorization.starts_with("acs AKID:")),
        }
    }
}
