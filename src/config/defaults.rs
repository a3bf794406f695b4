//! The one table of defaults: what a setting is when neither its flag (or environment
//! variable) nor the config gives it. The runtime reads it (`cli::settings` resolves every
//! setting flag → environment → config → [`DEFAULTS`]), the JSON schema's `default`s are
//! written from it ([`super::raw`]), and docs/CONFIG.md's default column is checked against
//! it (`config::tests`), so the three cannot drift apart.

use crate::edas::endpoint::EndpointType;
use crate::edas::request::RollbackOperation;
use crate::edas::signer::SignatureAlgorithm;
use std::time::Duration;

/// Every config key with a default, by the name the config spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// `apply.parallelism`, `--parallelism`.
    pub parallelism: u32,
    /// `apply.requests_per_second`, `--requests-per-second`.
    pub requests_per_second: u32,
    /// `apply.request_timeout`: the read timeout of one request (docs/wire.md, "Transport": 10 s).
    pub request_timeout: Duration,
    /// `apply.verify_window`: how long an abortable status after an ambiguous abort is watched.
    pub verify_window: Duration,
    /// `apply.require_refresh`.
    pub require_refresh: bool,
    /// `provider.signature_algorithm`.
    pub signature_algorithm: SignatureAlgorithm,
    /// `provider.endpoint_type`.
    pub endpoint_type: EndpointType,
    /// `change_orders[].operation` and `select[].operation`.
    pub operation: RollbackOperation,
}

/// The defaults.
pub const DEFAULTS: Defaults = Defaults {
    parallelism: 10,
    requests_per_second: 20,
    request_timeout: Duration::from_secs(10),
    verify_window: Duration::from_secs(3),
    require_refresh: false,
    signature_algorithm: SignatureAlgorithm::Acs3HmacSha256,
    endpoint_type: EndpointType::Public,
    operation: RollbackOperation::AbortAndRollback,
};

impl Defaults {
    /// Each default as the config (and the schema, and docs/CONFIG.md) writes it, keyed by
    /// its dotted config key.
    pub fn as_config_values(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::Value;
        // The enums serialise to their config spelling; `Null` only if one stopped doing so,
        // which the schema tests would then show.
        let spelled = |value: Result<Value, serde_json::Error>| value.unwrap_or(Value::Null);
        vec![
            ("apply.parallelism", Value::from(self.parallelism)),
            (
                "apply.requests_per_second",
                Value::from(self.requests_per_second),
            ),
            (
                "apply.request_timeout",
                Value::String(duration_text(self.request_timeout)),
            ),
            (
                "apply.verify_window",
                Value::String(duration_text(self.verify_window)),
            ),
            ("apply.require_refresh", Value::Bool(self.require_refresh)),
            (
                "provider.signature_algorithm",
                spelled(serde_json::to_value(self.signature_algorithm)),
            ),
            (
                "provider.endpoint_type",
                spelled(serde_json::to_value(self.endpoint_type)),
            ),
            (
                "change_orders[].operation",
                spelled(serde_json::to_value(self.operation)),
            ),
            (
                "select[].operation",
                spelled(serde_json::to_value(self.operation)),
            ),
        ]
    }
}

/// A duration as the config grammar spells it, in its largest whole unit: `10s`, `500ms`,
/// `2m`.
pub fn duration_text(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis > 0 && millis.is_multiple_of(3_600_000) {
        format!("{}h", millis / 3_600_000)
    } else if millis > 0 && millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1_000) {
        format!("{}s", millis / 1_000)
    } else {
        format!("{millis}ms")
    }
}
