//! The config file exactly as written: serde structs that mirror the YAML (unknown keys are
//! refused) and carry the source position of every value that a later check may point at.
//! The JSON schema (`schemas/edas-rollback.schema.json`) is generated from these types, so
//! what editors accept and what the loader accepts cannot drift apart. Nothing here checks
//! meaning; `config::check` turns these into a `DesiredState`.

use crate::edas::endpoint::EndpointType;
use crate::edas::request::RollbackOperation;
use crate::edas::signer::SignatureAlgorithm;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// Regular expressions the schema publishes. The loader checks the same rules in Rust (see
/// `config::check`); a test runs every example through both.
pub const ID_PATTERN: &str = "^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$";
pub const REGION_PATTERN: &str = "^[a-z0-9-]+$";
pub const ENDPOINT_PATTERN: &str = "^https?://[^/?#@\\s]+/?$";
pub const DURATION_PATTERN: &str = "^([0-9]+(ms|s|m|h))+$";

/// An edas-rollback config (version 1): the EDAS change orders that must end aborted and
/// rolled back, and how to reach EDAS.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "edas-rollback config")]
pub struct RawConfig {
    /// The config format version. Only `1` exists.
    #[schemars(with = "u32", extend("const" = 1))]
    pub version: Spanned<u64>,
    /// Where the change orders live and how to reach EDAS.
    pub provider: RawProvider,
    /// Defaults for `apply`; command-line flags override them.
    pub apply: Option<RawApply>,
    /// The state file, relative to this config's directory. Default: `<config stem>.state.json`
    /// beside the config. `--state` overrides it.
    #[schemars(with = "Option<String>", length(min = 1))]
    pub state: Option<Spanned<String>>,
    /// The state's name in a PostgreSQL database (`state:` is a `postgres://` URL). Default:
    /// the config file's stem. `--state-name` overrides it.
    #[schemars(with = "Option<String>", length(min = 1))]
    pub state_name: Option<Spanned<String>>,
    /// The change orders to abort and roll back. `[]` is valid: nothing to do.
    pub change_orders: Vec<RawChangeOrder>,
}

/// The EDAS region and how to reach it. Credentials are never read from the config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Provider")]
pub struct RawProvider {
    /// The Alibaba Cloud region of the change orders, e.g. `cn-hangzhou`. The endpoint is
    /// derived from it unless `endpoint` is given.
    #[schemars(with = "String", regex(pattern = REGION_PATTERN))]
    pub region: Spanned<String>,
    /// Overrides the EDAS endpoint: an http(s) URL with scheme, host and optional port only,
    /// e.g. `https://edas.cn-hangzhou.aliyuncs.com` or `http://127.0.0.1:8080` (the simulator).
    #[schemars(with = "Option<String>", regex(pattern = ENDPOINT_PATTERN))]
    pub endpoint: Option<Spanned<String>>,
    /// The aliyun CLI profile (`~/.aliyun/config.json`) to take credentials from when the
    /// environment has none.
    #[schemars(with = "Option<String>", length(min = 1))]
    pub profile: Option<Spanned<String>>,
    /// How requests are signed: `ACS3-HMAC-SHA256` (signature V3, what the current official
    /// SDKs send; the default) or `HMAC-SHA1` (ROA signature v1, legacy). See `docs/wire.md`.
    #[schemars(extend("default" = "ACS3-HMAC-SHA256"))]
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Which network the endpoint derived from `region` is on: `public` (the default) or
    /// `vpc` (`edas-vpc.<region>.aliyuncs.com`, from inside an Alibaba Cloud VPC). Ignored when
    /// `endpoint` is given.
    #[schemars(extend("default" = "public"))]
    pub endpoint_type: Option<EndpointType>,
}

/// Defaults for `apply`. Each is overridden by its command-line flag.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Apply")]
pub struct RawApply {
    /// Requests in flight at once (default 10, `--parallelism`).
    #[schemars(with = "Option<u32>", range(min = 1, max = 1000), extend("default" = 10))]
    pub parallelism: Option<Spanned<i64>>,
    /// Requests started per second at most, across the whole run (default 20,
    /// `--requests-per-second`).
    #[schemars(with = "Option<u32>", range(min = 1), extend("default" = 20))]
    pub requests_per_second: Option<Spanned<i64>>,
    /// How long one request may take before it is treated as ambiguous, e.g. `10s`, `500ms`,
    /// `2m`, `1m30s` (default 10s).
    #[schemars(
        with = "Option<String>",
        regex(pattern = DURATION_PATTERN),
        extend("default" = "10s")
    )]
    pub request_timeout: Option<Spanned<String>>,
    /// After an abort whose outcome is unknown, how long a status that still reads abortable
    /// is watched (asked three more times) before the abort is sent again: EDAS applies an
    /// abort asynchronously (default 3s; `0s` resends at once).
    #[schemars(
        with = "Option<String>",
        regex(pattern = DURATION_PATTERN),
        extend("default" = "3s")
    )]
    pub verify_window: Option<Spanned<String>>,
}

/// One change order to abort and roll back.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ChangeOrder")]
pub struct RawChangeOrder {
    /// The EDAS change order id: letters, digits and `-`, unique in the file.
    #[schemars(with = "String", regex(pattern = ID_PATTERN))]
    pub id: Spanned<String>,
    /// A label shown in plans, e.g. the application name.
    pub app: Option<String>,
    /// Why it is aborted; recorded in state.
    pub reason: Option<String>,
    /// Which EDAS call rolls it back: `abort_and_rollback` (the default:
    /// AbortAndRollbackChangeOrder, for applications in ACK/Kubernetes clusters) or `rollback`
    /// (RollbackChangeOrder, for applications in ECS clusters).
    #[schemars(extend("default" = "abort_and_rollback"))]
    pub operation: Option<RollbackOperation>,
    /// The EDAS application id of this change order. Optional: when an abort is confirmed from
    /// the change order's status (a lost response), ListRecentChangeOrder on this application
    /// finds the rollback change order so `apply --wait` can follow it.
    #[schemars(length(min = 1))]
    pub app_id: Option<String>,
}

/// The JSON schema of the config, as committed in `schemas/edas-rollback.schema.json`
/// (pretty-printed, with a trailing newline).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawConfig);
    let mut text = serde_json::to_string_pretty(&schema)
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}
