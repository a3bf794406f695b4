//! The official SDKs' ROA v1 vectors (`tests/data/roa-v1-vectors.jsonl`, copied from
//! `shared/signing`): our signer must reproduce every string to sign and signature exactly.

use edas_rollback::edas::credentials::Credentials;
use edas_rollback::edas::secret::Secret;
use edas_rollback::edas::signer::{
    RequestSigner, RoaV1Signer, decode_query, signature, string_to_sign,
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
    let text = include_str!("data/roa-v1-vectors.jsonl");
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
