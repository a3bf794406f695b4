//! Loopback fakes of what the credentials chain talks to, in one server on 127.0.0.1 (its own
//! runtime, so tests can block on the binary): STS at `/` (`AssumeRole` with its RPC
//! signature verified against the base keys it knows, `AssumeRoleWithOIDC` checking the
//! token, `GetCallerIdentity` verified likewise), the ECS metadata service (IMDSv2 only: every
//! read needs the token from `PUT /latest/api/token`), and a credentials URI at `/creds`.
//! Every source hands out the same temporary keys ([`TEMP_ID`], [`TEMP_SECRET`],
//! [`TEMP_TOKEN`]), which a simulator can be set to accept and nothing else.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use edas_rollback::edas::credentials::rpc;
use edas_rollback::edas::secret::Secret;
use edas_rollback::sim::SimConfig;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub(crate) const TEMP_ID: &str = "STS.TempKeyId4Tests";
pub(crate) const TEMP_SECRET: &str = "TEMP-SECRET-DO-NOT-LEAK-5e4d";
pub(crate) const TEMP_TOKEN: &str = "TEMP-TOKEN-DO-NOT-LEAK-8c7b";
/// The long-lived keys AssumeRole is signed with.
pub(crate) const BASE_ID: &str = "LTAI5tBaseKeyForRole";
pub(crate) const BASE_SECRET: &str = "BASE-SECRET-DO-NOT-LEAK-3f2a";
pub(crate) const OIDC_TOKEN: &str = "eyJOIDC-TOKEN-DO-NOT-LEAK-6a1c";
pub(crate) const IMDS_TOKEN: &str = "IMDS-TOKEN-DO-NOT-LEAK-0d9e";
pub(crate) const ROLE_NAME: &str = "EdasRollbackBastion";
pub(crate) const ROLE_ARN: &str = "acs:ram::1234567890123456:role/edas-rollback";
pub(crate) const OIDC_PROVIDER_ARN: &str = "acs:ram::1234567890123456:oidc-provider/github";

/// What the fake saw, per request kind.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen {
    /// `AssumeRole`, `AssumeRoleWithOIDC`, `GetCallerIdentity`, `imds-token`, `imds-role`,
    /// `imds-credentials`, `creds`, and `refused:<why>`.
    pub counts: BTreeMap<String, u64>,
    /// The last STS form, minus secrets.
    pub last_role_arn: Option<String>,
    pub last_session_name: Option<String>,
}

struct Shared {
    seen: Mutex<Seen>,
    /// How long issued credentials last.
    life: Duration,
}

pub(crate) struct FakeCloud {
    /// Held, never read: the server's tasks run on it until the fake is dropped.
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeCloud {
    pub(crate) fn start() -> FakeCloud {
        FakeCloud::start_with_life(Duration::from_secs(3600))
    }

    /// Issued credentials expire `life` after each fetch.
    pub(crate) fn start_with_life(life: Duration) -> FakeCloud {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared {
            seen: Mutex::new(Seen::default()),
            life,
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await;
        });
        FakeCloud {
            _runtime: runtime,
            addr,
            shared,
            shutdown: Some(shutdown),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn seen(&self) -> Seen {
        self.shared.seen.lock().unwrap().clone()
    }

    pub(crate) fn count(&self, what: &str) -> u64 {
        self.seen().counts.get(what).copied().unwrap_or(0)
    }

    /// A simulator config that accepts only the temporary keys.
    pub(crate) fn sim_config() -> SimConfig {
        SimConfig {
            access_key_id: TEMP_ID.to_string(),
            access_key_secret: Secret::new(TEMP_SECRET),
            security_token: Some(Secret::new(TEMP_TOKEN)),
            any_id: true,
            ..SimConfig::default()
        }
    }
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn count(shared: &Shared, what: &str) {
    *shared
        .seen
        .lock()
        .unwrap()
        .counts
        .entry(what.to_string())
        .or_insert(0) += 1;
}

fn refuse(shared: &Shared, status: StatusCode, code: &str) -> Response {
    count(shared, &format!("refused:{code}"));
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({"Code": code, "Message": "refused by the fake", "RequestId": "FAKE-REQ"})
            .to_string(),
    )
        .into_response()
}

fn expiration(shared: &Shared) -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() + shared.life).to_string()
}

fn flat_credentials(shared: &Shared) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        serde_json::json!({
            "Code": "Success",
            "AccessKeyId": TEMP_ID,
            "AccessKeySecret": TEMP_SECRET,
            "SecurityToken": TEMP_TOKEN,
            "Expiration": expiration(shared),
            "LastUpdated": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        })
        .to_string(),
    )
        .into_response()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if path == "/latest/api/token" {
        if method != Method::PUT
            || headers
                .get("X-aliyun-ecs-metadata-token-ttl-seconds")
                .is_none()
        {
            return refuse(&shared, StatusCode::BAD_REQUEST, "ImdsTokenRequest");
        }
        count(&shared, "imds-token");
        return (StatusCode::OK, IMDS_TOKEN).into_response();
    }
    if let Some(role) = path.strip_prefix("/latest/meta-data/ram/security-credentials/") {
        // IMDSv2 only: no token, no answer.
        let token = headers
            .get("X-aliyun-ecs-metadata-token")
            .and_then(|v| v.to_str().ok());
        if token != Some(IMDS_TOKEN) {
            return refuse(&shared, StatusCode::UNAUTHORIZED, "ImdsTokenMissing");
        }
        if role.is_empty() {
            count(&shared, "imds-role");
            return (StatusCode::OK, format!("{ROLE_NAME}\n")).into_response();
        }
        if role != ROLE_NAME {
            return refuse(&shared, StatusCode::NOT_FOUND, "ImdsNoSuchRole");
        }
        count(&shared, "imds-credentials");
        return flat_credentials(&shared);
    }
    if path == "/creds" {
        count(&shared, "creds");
        return flat_credentials(&shared);
    }
    if path != "/" || method != Method::POST {
        return refuse(&shared, StatusCode::NOT_FOUND, "NoSuchPath");
    }
    let mut params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    if let Some(query) = uri.query() {
        params.extend(form_urlencoded::parse(query.as_bytes()).into_owned());
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    for required in ["Action", "Format", "Version", "Timestamp"] {
        if get(required).is_none() {
            return refuse(&shared, StatusCode::BAD_REQUEST, "MissingParameter");
        }
    }
    let action = get("Action").unwrap_or_default();
    {
        let mut seen = shared.seen.lock().unwrap();
        seen.last_role_arn = get("RoleArn");
        seen.last_session_name = get("RoleSessionName");
    }
    // The RPC signature, recomputed from the keys this fake knows.
    let verify = |allowed: &[(&str, &str, Option<&str>)]| -> Result<(), &'static str> {
        let id = get("AccessKeyId").ok_or("MissingAccessKeyId")?;
        let signature = get("Signature").ok_or("MissingSignature")?;
        if get("SignatureMethod").as_deref() != Some("HMAC-SHA1")
            || get("SignatureVersion").as_deref() != Some("1.0")
            || get("SignatureNonce").is_none()
        {
            return Err("IncompleteSignature");
        }
        let Some((_, secret, token)) = allowed.iter().find(|(known, _, _)| *known == id) else {
            return Err("InvalidAccessKeyId.NotFound");
        };
        if get("SecurityToken").as_deref() != *token {
            return Err("InvalidSecurityToken");
        }
        let unsigned: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "Signature")
            .cloned()
            .collect();
        if rpc::sign("POST", &unsigned, &Secret::new(*secret)) != signature {
            return Err("SignatureDoesNotMatch");
        }
        Ok(())
    };
    let issued = || {
        (
            StatusCode::OK,
            [("content-type", "application/json")],
            serde_json::json!({
                "RequestId": "FAKE-REQ",
                "AssumedRoleUser": {
                    "Arn": format!("{ROLE_ARN}/{}", get("RoleSessionName").unwrap_or_default()),
                    "AssumedRoleId": "3000:session",
                },
                "Credentials": {
                    "AccessKeyId": TEMP_ID,
                    "AccessKeySecret": TEMP_SECRET,
                    "SecurityToken": TEMP_TOKEN,
                    "Expiration": expiration(&shared),
                },
            })
            .to_string(),
        )
            .into_response()
    };
    match action.as_str() {
        "AssumeRole" => {
            if let Err(code) = verify(&[
                (BASE_ID, BASE_SECRET, None),
                (TEMP_ID, TEMP_SECRET, Some(TEMP_TOKEN)),
            ]) {
                return refuse(&shared, StatusCode::BAD_REQUEST, code);
            }
            if get("RoleArn").is_none() || get("RoleSessionName").is_none() {
                return refuse(&shared, StatusCode::BAD_REQUEST, "MissingRoleArn");
            }
            count(&shared, "AssumeRole");
            issued()
        }
        "AssumeRoleWithOIDC" => {
            if get("OIDCToken").as_deref() != Some(OIDC_TOKEN) {
                return refuse(
                    &shared,
                    StatusCode::BAD_REQUEST,
                    "InvalidParameter.OIDCToken",
                );
            }
            if get("OIDCProviderArn").as_deref() != Some(OIDC_PROVIDER_ARN)
                || get("RoleArn").is_none()
            {
                return refuse(&shared, StatusCode::BAD_REQUEST, "InvalidParameter.RoleArn");
            }
            count(&shared, "AssumeRoleWithOIDC");
            issued()
        }
        "GetCallerIdentity" => {
            if let Err(code) = verify(&[
                (BASE_ID, BASE_SECRET, None),
                (TEMP_ID, TEMP_SECRET, Some(TEMP_TOKEN)),
            ]) {
                return refuse(&shared, StatusCode::BAD_REQUEST, code);
            }
            count(&shared, "GetCallerIdentity");
            let arn = if get("AccessKeyId").as_deref() == Some(TEMP_ID) {
                "acs:ram::1234567890123456:assumed-role/edas-rollback/session".to_string()
            } else {
                "acs:ram::1234567890123456:user/oncall".to_string()
            };
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                serde_json::json!({
                    "RequestId": "FAKE-REQ",
                    "AccountId": "1234567890123456",
                    "Arn": arn,
                    "IdentityType": if get("SecurityToken").is_some() { "AssumedRoleUser" } else { "RAMUser" },
                    "PrincipalId": "p",
                })
                .to_string(),
            )
                .into_response()
        }
        _ => refuse(&shared, StatusCode::BAD_REQUEST, "InvalidAction.NotFound"),
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration files as people write them.

/// A profile with every field `aliyun configure` (3.0.2xx) writes, `fields` overriding some.
pub(crate) fn aliyun_profile(
    name: &str,
    mode: &str,
    fields: serde_json::Value,
) -> serde_json::Value {
    let mut profile = serde_json::json!({
        "name": name, "mode": mode, "access_key_id": "", "access_key_secret": "",
        "sts_token": "", "sts_region": "", "ram_role_name": "", "ram_role_arn": "",
        "ram_session_name": "", "source_profile": "", "private_key": "", "key_pair_name": "",
        "expired_seconds": 0, "verified": "", "region_id": "cn-hangzhou",
        "output_format": "json", "language": "en", "site": "", "retry_timeout": 0,
        "connect_timeout": 0, "retry_count": 0, "process_command": "", "credentials_uri": "",
        "oidc_provider_arn": "", "oidc_token_file": "", "sts_expiration": 0,
    });
    for (key, value) in fields.as_object().unwrap() {
        profile[key] = value.clone();
    }
    profile
}

pub(crate) fn write_aliyun_config(home: &Path, current: &str, profiles: Vec<serde_json::Value>) {
    std::fs::create_dir_all(home.join(".aliyun")).unwrap();
    let config = serde_json::json!({"current": current, "profiles": profiles, "meta_path": ""});
    std::fs::write(
        home.join(".aliyun/config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
}

pub(crate) fn write_token(workspace: &super::Workspace) -> String {
    let path = workspace.path("oidc-token");
    std::fs::write(&path, OIDC_TOKEN).unwrap();
    path.display().to_string()
}

/// A script printing the temporary keys in the aliyun CLI's External format.
pub(crate) fn write_external(workspace: &super::Workspace) -> String {
    let path = workspace.path("print-creds.sh");
    let expiration = humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho 'stderr noise' >&2\nprintf '%s' '{{\"mode\":\"StsToken\",\"access_key_id\":\"{TEMP_ID}\",\"access_key_secret\":\"{TEMP_SECRET}\",\"sts_token\":\"{TEMP_TOKEN}\",\"expiration\":\"{expiration}\"}}'\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.display().to_string()
}
