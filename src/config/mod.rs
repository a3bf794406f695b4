//! The config (DESIGN 2): YAML text → a validated [`DesiredState`]. Never opens files: the
//! caller passes the path (for error messages) and the text.

pub mod duration;

use crate::ids::ChangeOrderId;
use std::path::PathBuf;
use std::time::Duration;

/// The default config file name, looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "edas-rollback.yaml";

/// A validated config: the change orders that must end aborted, and how to reach EDAS.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredState {
    pub version: u32,
    pub provider: Provider,
    pub apply: ApplySettings,
    /// `state:` as written, relative to the config file's directory.
    pub state: Option<PathBuf>,
    pub change_orders: Vec<ChangeOrderSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    pub region: String,
    pub endpoint: Option<String>,
    pub profile: Option<String>,
}

/// Settings from the config's `apply:` section; command-line flags override them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplySettings {
    pub parallelism: Option<u32>,
    pub requests_per_second: Option<u32>,
    pub request_timeout: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChangeOrderSpec {
    pub id: ChangeOrderId,
    pub app: Option<String>,
    pub reason: Option<String>,
}
