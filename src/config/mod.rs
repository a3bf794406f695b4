//! The config (docs/CONFIG.md): YAML text → a validated [`DesiredState`]. Never opens files: the
//! caller passes the path (for error messages) and the text. Owns the YAML shape
//! ([`raw`], which the JSON schema is generated from), the checks of meaning ([`check`]) and
//! the rendering of config errors ([`error`]); it must not touch state, plans or the network.

mod check;
pub mod defaults;
pub mod duration;
pub mod error;
mod fast;
pub mod raw;
mod syntax;

pub use check::{MAX_PARALLELISM, is_region, normalize_endpoint, parse_config_duration};
pub use defaults::DEFAULTS;
pub use error::{ConfigError, ConfigErrors, Position};

use crate::edas::endpoint::EndpointType;
use crate::edas::request::RollbackOperation;
use crate::edas::signer::SignatureAlgorithm;
use crate::ids::ChangeOrderId;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default config file name, looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "edas-rollback.yaml";

/// The one config format version this build reads.
pub const SUPPORTED_VERSION: u32 = 1;

/// Parses and checks a config. `path` is only used in messages. On error, every problem
/// found is returned: all of them when the YAML parses, else the first syntax or type error
/// (the parser cannot go on past it).
///
/// Runbooks in plain block style take the fast path (`fast`, ~25× cheaper); a file it does
/// not take, or one with any error, is read by the YAML parser, so every error and position
/// reported is the parser's.
pub fn parse(path: &Path, text: &str) -> Result<DesiredState, ConfigErrors> {
    if let Some(raw) = fast::parse(text)
        && let Ok(desired) = check::check(path, text, raw)
    {
        return Ok(desired);
    }
    parse_with_parser(path, text)
}

/// [`parse`] without the fast path: the YAML parser reads every file.
fn parse_with_parser(path: &Path, text: &str) -> Result<DesiredState, ConfigErrors> {
    let raw: raw::RawConfig = serde_saphyr::from_str_with_options(text, parser_options())
        .map_err(|error| ConfigErrors::new(path, vec![syntax::from_parser(text, &error)]))?;
    check::check(path, text, raw)
}

/// The top-level `state:` and `state_name:` keys, every other key ignored, so they can be
/// read from a config that fails its checks (commands that only need the state's location).
/// `None` when the text is not YAML of that shape.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
pub struct StateKeys {
    #[serde(default)]
    pub state: Option<PathBuf>,
    #[serde(default)]
    pub state_name: Option<String>,
}

pub fn state_keys(text: &str) -> Option<StateKeys> {
    if let Some(raw) = fast::parse(text) {
        return Some(StateKeys {
            state: raw.state.map(|state| PathBuf::from(state.value)),
            state_name: raw.state_name.map(|name| name.value),
        });
    }
    // The raised budget: with the defaults a runbook of 100,000 change orders is refused,
    // and its `state:` would be silently ignored.
    serde_saphyr::from_str_with_options(text, parser_options()).ok()
}

/// A guess at [`state_keys`] from the file's unindented lines alone, for opening the store
/// while the config parses; `None` when the file is not plain enough to guess from. It
/// agrees with [`state_keys`] on every file the fast path reads (tested), but it is only a
/// guess: the caller must compare it with the parsed config's keys before using what it
/// opened.
pub fn state_keys_guess(text: &str) -> Option<StateKeys> {
    let (state, state_name) = fast::top_level_state_keys(text)?;
    Some(StateKeys {
        state: state.map(PathBuf::from),
        state_name,
    })
}

/// Parser limits. The defaults guard against hostile YAML (alias bombs, deep nesting) but
/// cap a document at 250,000 nodes and 1,000,000 events, while a runbook of 100,000 change
/// orders with `app` and `reason` has about 700,000 nodes and 800,000 events. Those two caps
/// are raised to fit about a million change orders; the alias, anchor, depth and size caps
/// stay at their defaults.
fn parser_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: 10_000_000,
            max_events: 20_000_000,
        },
        with_snippet: false,
    }
}

/// A validated config: the change orders that must end aborted, and how to reach EDAS.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredState {
    pub version: u32,
    pub provider: Provider,
    pub apply: ApplySettings,
    /// `state:` as written, relative to the config file's directory.
    pub state: Option<PathBuf>,
    /// `state_name:`: the state's name in a PostgreSQL database.
    pub state_name: Option<String>,
    /// `select:`: resolved by `plan` through ListRecentChangeOrder.
    pub selectors: Vec<crate::plan::select::SelectorSpec>,
    pub change_orders: Vec<ChangeOrderSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    pub region: String,
    pub endpoint: Option<String>,
    pub profile: Option<String>,
    /// `provider.signature_algorithm`, V3 unless the config says otherwise.
    pub signature_algorithm: SignatureAlgorithm,
    /// `provider.endpoint_type`, public unless the config says `vpc`.
    pub endpoint_type: EndpointType,
}

/// Settings from the config's `apply:` section; command-line flags override them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplySettings {
    pub parallelism: Option<u32>,
    pub requests_per_second: Option<u32>,
    pub request_timeout: Option<Duration>,
    /// How long an abortable status after an ambiguous abort is watched before the abort is
    /// sent again (`apply.verify_window`).
    pub verify_window: Option<Duration>,
    /// `apply.max_change_orders`: the most aborts one plan may send.
    pub max_change_orders: Option<u32>,
    /// `apply.halt_after_failures`: the circuit breaker.
    pub halt_after_failures: Option<FailureThreshold>,
    /// `apply.require_refresh`: apply only plans made with `plan --refresh`.
    pub require_refresh: bool,
}

/// `apply.halt_after_failures`: after how many failed change orders a run stops starting new
/// requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureThreshold {
    /// This many failures.
    Count(u32),
    /// This percentage (1..=100) of the run's change orders, rounded up, at least one.
    Percent(u32),
}

impl FailureThreshold {
    /// The number of failures that stops a run of `total` change orders.
    pub fn failures_for(self, total: usize) -> usize {
        match self {
            FailureThreshold::Count(count) => count as usize,
            FailureThreshold::Percent(percent) => (total.saturating_mul(percent as usize))
                .div_ceil(100)
                .max(1),
        }
    }
}

impl std::fmt::Display for FailureThreshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureThreshold::Count(count) => write!(f, "{count}"),
            FailureThreshold::Percent(percent) => write!(f, "{percent}%"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChangeOrderSpec {
    pub id: ChangeOrderId,
    pub app: Option<String>,
    pub reason: Option<String>,
    /// Which call rolls it back (ACK: AbortAndRollbackChangeOrder; ECS: RollbackChangeOrder).
    pub operation: RollbackOperation,
    /// The application id, for ListRecentChangeOrder.
    pub app_id: Option<String>,
    /// Set on change orders a selector found (never by the config loader).
    pub selected_by: Option<crate::plan::SelectedBy>,
}

#[cfg(test)]
mod tests;
