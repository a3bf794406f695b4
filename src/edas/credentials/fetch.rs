//! Getting credentials from a [`Source`] over the network or from a process: STS
//! `AssumeRole` (RPC-signed), `AssumeRoleWithOIDC` (unsigned; the token re-read from its file
//! every time), `GetCallerIdentity`, the ECS metadata service (IMDSv2: a token first), a
//! credentials URI, and an external process printing JSON.
//!
//! Building each request and reading each answer is pure (`*_params`, `parse_*`); only
//! [`fetch`] and [`caller_identity`] do I/O. No error quotes an answer's body or a process's
//! output: both hold secrets when they succeed and may echo them when they fail.

use super::rpc;
use super::source::{AssumeRole, Ecs, Oidc, Source};
use super::{Credentials, CredentialsError};
use crate::edas::outcome::TransportError;
use crate::edas::secret::Secret;
use crate::transport::{ProxySettings, Target, Transport, TransportSettings};
use serde::Deserialize;
use std::time::{Duration, SystemTime};

pub const STS_API_VERSION: &str = "2015-04-01";
pub const STS_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const STS_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Off ECS nothing answers at 100.100.100.200: give up quickly, as the official libraries do.
pub const IMDS_TIMEOUT: Duration = Duration::from_secs(1);
/// The metadata token's lifetime asked for (the official libraries ask 21600 s).
pub const IMDS_TOKEN_TTL_SECONDS: u32 = 21600;
pub const IMDS_TOKEN_PATH: &str = "/latest/api/token";
pub const IMDS_CREDENTIALS_PATH: &str = "/latest/meta-data/ram/security-credentials/";
pub const IMDS_TOKEN_TTL_HEADER: &str = "X-aliyun-ecs-metadata-token-ttl-seconds";
pub const IMDS_TOKEN_HEADER: &str = "X-aliyun-ecs-metadata-token";
pub const EXTERNAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Credentials and, for temporary ones, when they expire.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub credentials: Credentials,
    pub expiration: Option<SystemTime>,
}

/// A failure, with words safe to show: every reason built here goes through this, so a
/// review of what may be shown has one place to look.
fn failed(reason: impl Into<String>) -> String {
    reason.into()
}

// ---------------------------------------------------------------------------------------------
// Pure parts.

/// The common RPC parameters of an STS call.
fn common_params(action: &str, now: SystemTime) -> Vec<(String, String)> {
    vec![
        ("Action".into(), action.into()),
        ("Format".into(), "JSON".into()),
        ("Version".into(), STS_API_VERSION.into()),
        (
            "Timestamp".into(),
            humantime::format_rfc3339_seconds(now).to_string(),
        ),
    ]
}

/// Adds the signature parameters and the `Signature` itself (RPC, HMAC-SHA1, POST).
fn signed(
    mut params: Vec<(String, String)>,
    credentials: &Credentials,
    nonce: &str,
) -> Vec<(String, String)> {
    params.push(("AccessKeyId".into(), credentials.access_key_id.clone()));
    params.push(("SignatureMethod".into(), "HMAC-SHA1".into()));
    params.push(("SignatureVersion".into(), "1.0".into()));
    params.push(("SignatureNonce".into(), nonce.into()));
    if let Some(token) = &credentials.security_token {
        params.push(("SecurityToken".into(), token.expose_to_signer().into()));
    }
    let signature = rpc::sign("POST", &params, &credentials.access_key_secret);
    params.push(("Signature".into(), signature));
    params
}

/// The form of an `AssumeRole` signed with `base`.
pub fn assume_role_params(
    role: &AssumeRole,
    base: &Credentials,
    now: SystemTime,
    nonce: &str,
) -> Vec<(String, String)> {
    let mut params = common_params("AssumeRole", now);
    params.push(("RoleArn".into(), role.role_arn.clone()));
    params.push(("RoleSessionName".into(), role.session_name.clone()));
    params.push(("DurationSeconds".into(), role.duration_seconds.to_string()));
    if let Some(external_id) = &role.external_id {
        params.push(("ExternalId".into(), external_id.clone()));
    }
    if let Some(policy) = &role.policy {
        params.push(("Policy".into(), policy.clone()));
    }
    signed(params, base, nonce)
}

/// The form of an `AssumeRoleWithOIDC` (unsigned: the OIDC token is the proof).
pub fn assume_role_with_oidc_params(
    oidc: &Oidc,
    token: &Secret,
    now: SystemTime,
) -> Vec<(String, String)> {
    let mut params = common_params("AssumeRoleWithOIDC", now);
    params.push(("RoleArn".into(), oidc.role_arn.clone()));
    params.push(("OIDCProviderArn".into(), oidc.provider_arn.clone()));
    params.push(("OIDCToken".into(), token.expose_to_signer().into()));
    params.push(("RoleSessionName".into(), oidc.session_name.clone()));
    params.push(("DurationSeconds".into(), oidc.duration_seconds.to_string()));
    if let Some(policy) = &oidc.policy {
        params.push(("Policy".into(), policy.clone()));
    }
    params
}

/// The form of a `GetCallerIdentity` signed with `credentials`.
pub fn caller_identity_params(
    credentials: &Credentials,
    now: SystemTime,
    nonce: &str,
) -> Vec<(String, String)> {
    signed(common_params("GetCallerIdentity", now), credentials, nonce)
}

#[derive(Deserialize)]
struct StsCredentials {
    #[serde(rename = "AccessKeyId")]
    access_key_id: Option<String>,
    #[serde(rename = "AccessKeySecret")]
    access_key_secret: Option<String>,
    #[serde(rename = "SecurityToken")]
    security_token: Option<String>,
    #[serde(rename = "Expiration")]
    expiration: Option<String>,
    #[serde(rename = "Code")]
    code: Option<String>,
}

#[derive(Deserialize)]
struct StsAnswer {
    #[serde(rename = "Credentials")]
    credentials: Option<StsCredentials>,
}

#[derive(Deserialize)]
struct StsError {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
}

fn parse_expiration(text: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339(text.trim()).map_err(|_| {
        failed("the answer's `Expiration` is not a UTC time like 2026-01-01T00:00:00Z")
    })
}

fn temporary(credentials: StsCredentials, what: &str) -> Result<Fetched, String> {
    let (Some(id), Some(secret), Some(token), Some(expiration)) = (
        credentials.access_key_id.filter(|v| !v.is_empty()),
        credentials.access_key_secret.filter(|v| !v.is_empty()),
        credentials.security_token.filter(|v| !v.is_empty()),
        credentials.expiration,
    ) else {
        return Err(failed(format!(
            "{what} lacks one of AccessKeyId, AccessKeySecret, SecurityToken, Expiration"
        )));
    };
    Ok(Fetched {
        credentials: Credentials::new(id, Secret::new(secret))
            .with_security_token(Secret::new(token)),
        expiration: Some(parse_expiration(&expiration)?),
    })
}

/// An STS answer: status and body. Errors name the code and RequestId only.
pub fn parse_sts(status: u16, body: &[u8]) -> Result<Fetched, String> {
    if !(200..300).contains(&status) {
        let error: Option<StsError> = serde_json::from_slice(body).ok();
        let code = error.as_ref().and_then(|e| e.code.clone());
        let request_id = error.and_then(|e| e.request_id);
        return Err(failed(format!(
            "STS answered HTTP {status}{}{}",
            code.map(|c| format!(" `{c}`")).unwrap_or_default(),
            request_id
                .map(|r| format!(" (RequestId {r})"))
                .unwrap_or_default()
        )));
    }
    let answer: StsAnswer = serde_json::from_slice(body)
        .map_err(|_| failed("STS answered with a body that is not the expected JSON"))?;
    let credentials = answer
        .credentials
        .ok_or_else(|| failed("STS answered without `Credentials`"))?;
    temporary(credentials, "STS's answer")
}

/// The metadata service's or a credentials URI's answer: `Code: Success` and the keys.
pub fn parse_flat(status: u16, body: &[u8], what: &str) -> Result<Fetched, String> {
    if !(200..300).contains(&status) {
        return Err(failed(format!("{what} answered HTTP {status}")));
    }
    let credentials: StsCredentials = serde_json::from_slice(body).map_err(|_| {
        failed(format!(
            "{what} answered with a body that is not the expected JSON"
        ))
    })?;
    if credentials.code.as_deref() != Some("Success") {
        return Err(failed(format!(
            "{what} answered `Code: {}`, not `Success`",
            credentials.code.as_deref().unwrap_or("")
        )));
    }
    temporary(credentials, &format!("{what}'s answer"))
}

#[derive(Deserialize)]
struct ExternalAnswer {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    access_key_secret: Option<String>,
    #[serde(default)]
    sts_token: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
}

/// What an external process printed (the aliyun CLI's `External` mode format).
pub fn parse_external(stdout: &[u8]) -> Result<Fetched, String> {
    let answer: ExternalAnswer = serde_json::from_slice(stdout).map_err(|_| {
        failed("the process did not print the expected JSON (its output is not shown: it may hold secrets)")
    })?;
    let (Some(id), Some(secret)) = (
        answer.access_key_id.filter(|v| !v.is_empty()),
        answer.access_key_secret.filter(|v| !v.is_empty()),
    ) else {
        return Err(failed(
            "the process printed no `access_key_id` or `access_key_secret`",
        ));
    };
    let mut credentials = Credentials::new(id, Secret::new(secret));
    match answer.sts_token.filter(|v| !v.is_empty()) {
        Some(token) => credentials = credentials.with_security_token(Secret::new(token)),
        None if answer.mode.as_deref() == Some("StsToken") => {
            return Err(failed(
                "the process printed mode `StsToken` without an `sts_token`",
            ));
        }
        None => {}
    }
    let expiration = match answer.expiration.filter(|v| !v.is_empty()) {
        Some(text) => Some(parse_expiration(&text)?),
        None => None,
    };
    Ok(Fetched {
        credentials,
        expiration,
    })
}

/// Splits a `process_command` into words: whitespace separates, single and double quotes
/// group, a backslash escapes the next character outside single quotes.
pub fn split_command(command: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => match chars.next() {
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
                None => return Err(failed("the command ends with a lone backslash")),
            },
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(failed("the command has an unclosed quote"));
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err(failed("the command is empty"));
    }
    Ok(words)
}

// ---------------------------------------------------------------------------------------------
// I/O.

/// A fresh nonce for an RPC call.
pub fn nonce() -> String {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
        .into_uuid()
        .to_string()
}

/// A transport to the origin of `url` (through the proxy `proxy` names for it) and the URL's
/// path and query. Errors never quote the URL: a credentials URI may carry a token.
fn transport_for(
    url: &str,
    connect: Duration,
    read: Duration,
    proxy: &ProxySettings,
) -> Result<(Transport, String), String> {
    let (target, path_and_query) =
        Target::parse_url(url).map_err(|reason| failed(format!("cannot use the URL: {reason}")))?;
    let transport = Transport::new(
        target,
        TransportSettings {
            connect_timeout: connect,
            read_timeout: read,
            pool_size: 1,
            proxy: proxy.clone(),
            user_agent: crate::edas::client::USER_AGENT,
        },
    )
    .map_err(|error| failed(format!("{error}")))?;
    Ok((transport, path_and_query))
}

/// The error of a request, without the URL's query (none of ours carries a secret there, but
/// a credentials URI might).
fn transport_failure(error: &TransportError, what: &str) -> String {
    let kind = match error {
        TransportError::ConnectTimeout(_) | TransportError::ReadTimeout(_) => "timed out",
        error if error.never_sent() => "cannot connect",
        _ => "the connection failed",
    };
    failed(format!("{what}: {kind}"))
}

/// One request within the connect plus the read timeout, as a whole.
async fn exchange(
    transport: &Transport,
    method: http::Method,
    path_and_query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    deadline: Duration,
    what: &str,
) -> Result<(u16, Vec<u8>), String> {
    let sent = transport.send(&method, path_and_query, headers, body);
    match tokio::time::timeout(deadline, sent).await {
        Ok(Ok(response)) => Ok((response.status, response.body.to_vec())),
        Ok(Err(error)) => Err(transport_failure(&error, what)),
        Err(_elapsed) => Err(failed(format!("{what}: timed out"))),
    }
}

async fn post_form(
    url: &str,
    params: &[(String, String)],
    proxy: &ProxySettings,
) -> Result<(u16, Vec<u8>), String> {
    let what = format!("STS at {url}");
    // `{url}/`: the form goes to the root of a bare host, or under a URL's own path.
    let (transport, path_and_query) = transport_for(
        &format!("{url}/"),
        STS_CONNECT_TIMEOUT,
        STS_READ_TIMEOUT,
        proxy,
    )
    .map_err(|reason| format!("{what}: {reason}"))?;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    exchange(
        &transport,
        http::Method::POST,
        &path_and_query,
        &headers,
        body.as_bytes(),
        STS_CONNECT_TIMEOUT + STS_READ_TIMEOUT,
        &what,
    )
    .await
}

/// The path and query of a URL on the metadata service.
fn path_of(url: &str, what: &str) -> Result<String, String> {
    Target::parse_url(url)
        .map(|(_, path_and_query)| path_and_query)
        .map_err(|reason| failed(format!("{what}: cannot use the URL: {reason}")))
}

/// A GET with the metadata token, if any.
async fn get(
    transport: &Transport,
    path_and_query: &str,
    token: Option<&str>,
    deadline: Duration,
    what: &str,
) -> Result<(u16, Vec<u8>), String> {
    let mut headers = http::HeaderMap::new();
    if let Some(token) = token {
        let value = http::HeaderValue::from_str(token).map_err(|_| {
            failed(format!(
                "{what} gave a metadata token that cannot be sent back"
            ))
        })?;
        headers.insert(IMDS_TOKEN_HEADER, value);
    }
    exchange(
        transport,
        http::Method::GET,
        path_and_query,
        &headers,
        b"",
        deadline,
        what,
    )
    .await
}

/// Fetches credentials from `source`. `now` stamps STS requests.
pub fn fetch<'a>(
    source: &'a Source,
    now: SystemTime,
    proxy: &'a ProxySettings,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Fetched, String>> + Send + 'a>> {
    Box::pin(async move {
        match source {
            Source::Static(credentials) => Ok(Fetched {
                credentials: credentials.clone(),
                expiration: None,
            }),
            Source::RamRoleArn { base, role } => {
                let base = fetch(base, now, proxy)
                    .await
                    .map_err(|reason| format!("the keys to assume the role with: {reason}"))?;
                let params = assume_role_params(role, &base.credentials, now, &nonce());
                let (status, body) = post_form(&role.sts, &params, proxy).await?;
                parse_sts(status, &body).map_err(|reason| format!("AssumeRole: {reason}"))
            }
            Source::Oidc(oidc) => {
                let token = std::fs::read_to_string(&oidc.token_file).map_err(|error| {
                    failed(format!(
                        "cannot read the OIDC token file `{}`: {error}",
                        oidc.token_file.display()
                    ))
                })?;
                let token = Secret::new(token.trim());
                if token.is_empty() {
                    return Err(failed(format!(
                        "the OIDC token file `{}` is empty",
                        oidc.token_file.display()
                    )));
                }
                let params = assume_role_with_oidc_params(oidc, &token, now);
                let (status, body) = post_form(&oidc.sts, &params, proxy).await?;
                parse_sts(status, &body).map_err(|reason| format!("AssumeRoleWithOIDC: {reason}"))
            }
            Source::EcsRamRole(ecs) => fetch_ecs(ecs, proxy).await,
            Source::CredentialsUri(uri) => {
                let what = "the credentials URI";
                let (transport, path_and_query) =
                    transport_for(uri, STS_CONNECT_TIMEOUT, STS_READ_TIMEOUT, proxy)
                        .map_err(|reason| format!("{what}: {reason}"))?;
                let deadline = STS_CONNECT_TIMEOUT + STS_READ_TIMEOUT;
                let (status, body) = get(&transport, &path_and_query, None, deadline, what).await?;
                parse_flat(status, &body, "the credentials URI")
            }
            Source::External(command) => fetch_external(command).await,
        }
    })
}

/// IMDSv2: a token by `PUT`, then the role (given, or the listing's first) and its
/// credentials with the token. Without a token, IMDSv1 only when it is not disabled.
async fn fetch_ecs(ecs: &Ecs, proxy: &ProxySettings) -> Result<Fetched, String> {
    let what = format!("the metadata service at {}", ecs.endpoint);
    let (client, _) = transport_for(&ecs.endpoint, IMDS_TIMEOUT, IMDS_TIMEOUT, proxy)
        .map_err(|reason| format!("{what}: {reason}"))?;
    let deadline = IMDS_TIMEOUT + IMDS_TIMEOUT;
    let mut headers = http::HeaderMap::new();
    headers.insert(
        IMDS_TOKEN_TTL_HEADER,
        http::HeaderValue::from(IMDS_TOKEN_TTL_SECONDS),
    );
    let token = exchange(
        &client,
        http::Method::PUT,
        &path_of(&format!("{}{IMDS_TOKEN_PATH}", ecs.endpoint), &what)?,
        &headers,
        b"",
        deadline,
        &what,
    )
    .await;
    let token = match token {
        Ok((status, body)) if (200..300).contains(&status) => {
            Some(String::from_utf8_lossy(&body).trim().to_string()).filter(|text| !text.is_empty())
        }
        Ok((status, _)) if ecs.imdsv1_disabled => {
            return Err(failed(format!(
                "{what} refused a metadata token (HTTP {status}) and IMDSv1 is disabled"
            )));
        }
        Err(reason) if ecs.imdsv1_disabled => return Err(reason),
        // IMDSv1 is allowed: go on without a token, as the official libraries do.
        Ok(_) | Err(_) => None,
    };
    if token.is_none() && ecs.imdsv1_disabled {
        return Err(failed(format!("{what} gave an empty metadata token")));
    }
    let role = match &ecs.role_name {
        Some(role) => role.clone(),
        None => {
            let path = path_of(&format!("{}{IMDS_CREDENTIALS_PATH}", ecs.endpoint), &what)?;
            let (status, body) = get(&client, &path, token.as_deref(), deadline, &what).await?;
            if !(200..300).contains(&status) {
                return Err(failed(format!(
                    "{what} answered HTTP {status} for the role listing (is a RAM role attached to this instance?)"
                )));
            }
            String::from_utf8_lossy(&body)
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .map(str::to_string)
                .ok_or_else(|| failed(format!("{what} lists no RAM role for this instance")))?
        }
    };
    let path = path_of(
        &format!("{}{IMDS_CREDENTIALS_PATH}{role}", ecs.endpoint),
        &what,
    )?;
    let (status, body) = get(&client, &path, token.as_deref(), deadline, &what).await?;
    parse_flat(status, &body, &format!("{what} (role `{role}`)"))
}

async fn fetch_external(command: &str) -> Result<Fetched, String> {
    let words = split_command(command)?;
    let program = words[0].clone();
    let mut child = tokio::process::Command::new(&program);
    child
        .args(&words[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(EXTERNAL_TIMEOUT, child.output())
        .await
        .map_err(|_| {
            failed(format!(
                "the process `{program}` did not finish within {}s",
                EXTERNAL_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|error| failed(format!("cannot run `{program}`: {error}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "the process `{program}` failed ({}); its output is not shown: it may hold secrets",
            output.status
        )));
    }
    parse_external(&output.stdout).map_err(|reason| format!("`{program}`: {reason}"))
}

/// Who the credentials belong to, by STS `GetCallerIdentity`.
#[derive(Clone, Debug, Deserialize)]
pub struct CallerIdentity {
    #[serde(rename = "AccountId", default)]
    pub account_id: String,
    #[serde(rename = "Arn", default)]
    pub arn: String,
    #[serde(rename = "IdentityType", default)]
    pub identity_type: String,
}

pub async fn caller_identity(
    sts: &str,
    credentials: &Credentials,
    proxy: &ProxySettings,
) -> Result<CallerIdentity, CredentialsError> {
    let fail = |reason: String| CredentialsError::Fetch {
        origin: format!("STS GetCallerIdentity at {sts}"),
        reason,
    };
    let params = caller_identity_params(credentials, SystemTime::now(), &nonce());
    let (status, body) = post_form(sts, &params, proxy).await.map_err(fail)?;
    if !(200..300).contains(&status) {
        let error: Option<StsError> = serde_json::from_slice(&body).ok();
        return Err(fail(format!(
            "HTTP {status}{}",
            error
                .and_then(|e| e.code)
                .map(|c| format!(" `{c}`"))
                .unwrap_or_default()
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|_| fail("the answer is not the expected JSON".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_command_is_split_like_a_shell_would() {
        assert_eq!(
            split_command(r#"vault read -field=x "secret/ali cloud" 'a b' c\ d"#).unwrap(),
            [
                "vault",
                "read",
                "-field=x",
                "secret/ali cloud",
                "a b",
                "c d"
            ]
        );
        assert!(split_command("  ").is_err());
        assert!(split_command("a 'b").is_err());
    }

    #[test]
    fn sts_answers_are_read_and_errors_name_only_code_and_request_id() {
        let ok = br#"{"RequestId":"R","AssumedRoleUser":{"Arn":"acs:ram::1:role/x/s"},"Credentials":{"AccessKeyId":"STS.ID","AccessKeySecret":"TmpSecret","SecurityToken":"TmpToken","Expiration":"2026-11-30T20:00:00Z"}}"#;
        let fetched = parse_sts(200, ok).unwrap();
        assert_eq!(fetched.credentials.access_key_id, "STS.ID");
        assert_eq!(
            fetched.expiration,
            Some(humantime::parse_rfc3339("2026-11-30T20:00:00Z").unwrap())
        );
        let refused = br#"{"RequestId":"R2","Code":"InvalidParameter.OIDCToken","Message":"token TmpToken is bad"}"#;
        let error = parse_sts(400, refused).unwrap_err();
        assert_eq!(
            error,
            "STS answered HTTP 400 `InvalidParameter.OIDCToken` (RequestId R2)"
        );
        let partial = br#"{"Credentials":{"AccessKeyId":"STS.ID","AccessKeySecret":"TmpSecret"}}"#;
        assert!(!parse_sts(200, partial).unwrap_err().contains("TmpSecret"));
    }

    #[test]
    fn flat_answers_need_code_success() {
        let body = br#"{"Code":"Failed","AccessKeyId":"a","AccessKeySecret":"TmpSecret","SecurityToken":"t","Expiration":"2026-11-30T20:00:00Z"}"#;
        let error = parse_flat(200, body, "the credentials URI").unwrap_err();
        assert!(error.contains("`Code: Failed`"), "{error}");
        assert!(!error.contains("TmpSecret"));
    }

    #[test]
    fn external_output_is_read_in_the_aliyun_cli_format() {
        let fetched = parse_external(
            br#"{"mode":"StsToken","access_key_id":"STS.X","access_key_secret":"S","sts_token":"T","expiration":"2026-11-30T20:00:00Z"}"#,
        )
        .unwrap();
        assert!(fetched.credentials.security_token.is_some());
        assert!(fetched.expiration.is_some());
        let ak = parse_external(br#"{"mode":"AK","access_key_id":"X","access_key_secret":"S"}"#)
            .unwrap();
        assert!(ak.expiration.is_none());
        let error =
            parse_external(br#"{"mode":"StsToken","access_key_id":"X","access_key_secret":"S"}"#)
                .unwrap_err();
        assert!(error.contains("sts_token"));
        assert!(
            !parse_external(b"SECRETSECRET")
                .unwrap_err()
                .contains("SECRET")
        );
    }

    #[test]
    fn assume_role_is_signed_over_every_parameter() {
        let role = AssumeRole {
            role_arn: "acs:ram::1:role/ops".into(),
            session_name: "s".into(),
            duration_seconds: 900,
            external_id: None,
            policy: None,
            sts: "https://sts.aliyuncs.com".into(),
        };
        let base = Credentials::new("AKID", Secret::new("BaseSecret"));
        let now = humantime::parse_rfc3339("2026-11-30T19:00:00Z").unwrap();
        let params = assume_role_params(&role, &base, now, "n-1");
        let (signature, rest): (Vec<_>, Vec<_>) =
            params.into_iter().partition(|(k, _)| k == "Signature");
        assert_eq!(
            signature[0].1,
            rpc::sign("POST", &rest, &Secret::new("BaseSecret"))
        );
        assert!(rest.contains(&("Timestamp".into(), "2026-11-30T19:00:00Z".into())));
        assert!(rest.contains(&("SignatureNonce".into(), "n-1".into())));
    }
}
