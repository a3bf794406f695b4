//! The config file exactly as written: serde structs that mirror the YAML (unknown keys are
//! refused) and carry the source position of every value that a later check may point at.
//! The JSON schema (`schemas/edas-rollback.schema.json`) is generated from these types, so
//! what editors accept and what the loader accepts cannot drift apart. Nothing here checks
//! meaning; `config::check` turns these into a `DesiredState`. Defaults in the schema come
//! from the one table, [`super::defaults::DEFAULTS`].

use super::defaults::{DEFAULTS, duration_text};
use super::error::Position;
use crate::edas::endpoint::EndpointType;
use crate::edas::request::RollbackOperation;
use crate::edas::signer::SignatureAlgorithm;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A value and where it is written. Both parsers fill it: the YAML parser's own spans
/// (through `Deserialize`) and the fast path (`config::fast`), so the checks read one type.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub at: Place,
}

/// Where a value is written: its first character, and how many characters its source spans
/// (quotes included; 0 when the parser does not know).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub position: Position,
    pub span: usize,
}

impl Place {
    pub(super) fn of(location: &serde_saphyr::Location) -> Self {
        Self {
            position: super::check::position_of(location),
            span: usize::try_from(location.span().len()).unwrap_or(0),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Self {
            value: spanned.value,
            at: Place::of(&spanned.referenced),
        })
    }
}

/// Regular expressions the schema publishes. The loader checks the same rules in Rust (see
/// `config::check`); a test runs every example through both.
pub const ID_PATTERN: &str = "^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$";
pub const REGION_PATTERN: &str = "^[a-z0-9-]+$";
pub const ENDPOINT_PATTERN: &str = "^https?://[^/?#@\\s]+/?$";
pub const DURATION_PATTERN: &str = "^([0-9]+(ms|s|m|h))+$";
pub const PERCENT_PATTERN: &str = "^([1-9][0-9]?|100)%$";

/// An edas-rollback config (version 1): the EDAS change orders that must end aborted and
/// rolled back, and how to reach EDAS.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
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
    /// Selectors: `plan` asks EDAS (ListRecentChangeOrder) for each application's change
    /// orders and plans those that match, beside `change_orders`; the saved plan pins what
    /// was found. Needs EDAS read access at plan time. docs/CONFIG.md, "Selectors".
    #[serde(default)]
    #[schemars(with = "Vec<RawSelector>")]
    pub select: Vec<Spanned<RawSelector>>,
    /// The change orders to abort and roll back. `[]` is valid: nothing to do.
    pub change_orders: Vec<RawChangeOrder>,
}

/// One selector: every change order of an application in the given statuses. The
/// application is given by `app_id`, or by `app_name` (exactly one of them).
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Selector")]
#[schemars(extend("oneOf" = [{"required": ["app_id"]}, {"required": ["app_name"]}]))]
pub struct RawSelector {
    /// The EDAS application id whose change orders are selected.
    #[schemars(with = "Option<String>", regex(pattern = ID_PATTERN))]
    pub app_id: Option<Spanned<String>>,
    /// The EDAS application's name, instead of `app_id`: `plan` looks it up with
    /// ListApplication (exact match; unknown or shared names are refused) and the plan
    /// freezes the id found.
    #[schemars(with = "Option<String>", length(min = 1))]
    pub app_name: Option<Spanned<String>>,
    /// A label shown in plans for this application's rows (default: the application id).
    pub app: Option<String>,
    /// Which statuses are selected, by name: `ready`, `running`, `waiting_for_manual_batch`,
    /// `waiting_for_next_batch`. Default: all four (every abortable status: 0, 1, 8, 9).
    #[schemars(with = "Option<Vec<SelectorStatus>>", length(min = 1))]
    pub statuses: Option<Vec<Spanned<String>>>,
    /// Only change orders created at most this long before the plan was made, e.g. `2h`.
    #[schemars(with = "Option<String>", regex(pattern = DURATION_PATTERN))]
    pub created_within: Option<Spanned<String>>,
    /// Which EDAS call rolls the selected change orders back, as on a change order.
    #[schemars(extend("default" = DEFAULTS.operation))]
    pub operation: Option<RollbackOperation>,
}

/// The status names a selector accepts (the schema's view; the loader checks the same).
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum SelectorStatus {
    Ready,
    Running,
    WaitingForManualBatch,
    WaitingForNextBatch,
}

/// The EDAS region and how to reach it. Credentials are never read from the config.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
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
    #[schemars(extend("default" = DEFAULTS.signature_algorithm))]
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Which network the endpoint derived from `region` is on: `public` (the default) or
    /// `vpc` (`edas-vpc.<region>.aliyuncs.com`, from inside an Alibaba Cloud VPC). Ignored when
    /// `endpoint` is given.
    #[schemars(extend("default" = DEFAULTS.endpoint_type))]
    pub endpoint_type: Option<EndpointType>,
}

/// Defaults for `apply`. Each is overridden by its command-line flag.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Apply")]
pub struct RawApply {
    /// Requests in flight at once (default 10, `--parallelism`).
    #[schemars(with = "Option<u32>", range(min = 1, max = 1000), extend("default" = DEFAULTS.parallelism))]
    pub parallelism: Option<Spanned<i64>>,
    /// Requests started per second at most, across the whole run (default 20,
    /// `--requests-per-second`).
    #[schemars(
        with = "Option<u32>",
        range(min = 1),
        extend("default" = DEFAULTS.requests_per_second)
    )]
    pub requests_per_second: Option<Spanned<i64>>,
    /// How long one request may take before it is treated as ambiguous, e.g. `10s`, `500ms`,
    /// `2m`, `1m30s` (default 10s).
    #[schemars(
        with = "Option<String>",
        regex(pattern = DURATION_PATTERN),
        extend("default" = duration_text(DEFAULTS.request_timeout))
    )]
    pub request_timeout: Option<Spanned<String>>,
    /// After an abort whose outcome is unknown, how long a status that still reads abortable
    /// is watched (asked three more times) before the abort is sent again: EDAS applies an
    /// abort asynchronously (default 3s; `0s` resends at once).
    #[schemars(
        with = "Option<String>",
        regex(pattern = DURATION_PATTERN),
        extend("default" = duration_text(DEFAULTS.verify_window))
    )]
    pub verify_window: Option<Spanned<String>>,
    /// A guard: the most change orders one plan may send an abort for. A plan above it is
    /// refused with the count, by `plan` and again by `apply`, so a runbook (or a selector)
    /// that matches far more than intended never runs. docs/CONFIG.md.
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub max_change_orders: Option<Spanned<i64>>,
    /// A circuit breaker: once this many change orders failed in one run, no new request is
    /// started; the rest are left not started for a later run. A whole number (`10`) or a
    /// percentage of the run's change orders (`"10%"`, rounded up, at least 1).
    #[serde(default)]
    #[schemars(schema_with = "halt_after_failures_schema")]
    pub halt_after_failures: Option<Spanned<RawThreshold>>,
    /// A guard: `apply PLAN` refuses a plan made without `plan --refresh`, and `apply`
    /// without a plan file is refused (it cannot refresh), so a runbook never acts on
    /// statuses it did not read just before.
    #[schemars(extend("default" = DEFAULTS.require_refresh))]
    pub require_refresh: Option<bool>,
}

/// `apply.halt_after_failures` as written: a count or a percentage.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RawThreshold {
    Count(i64),
    Text(String),
}

fn halt_after_failures_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "A circuit breaker: once this many change orders failed in one run, no new request is started; the rest are left not started for a later run. A whole number (`10`) or a percentage of the run's change orders (`\"10%\"`, rounded up, at least 1).",
        "anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": PERCENT_PATTERN},
            {"type": "null"}
        ]
    })
}

/// One change order to abort and roll back.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
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
    #[schemars(extend("default" = DEFAULTS.operation))]
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
