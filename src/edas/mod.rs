//! Everything that crosses the wire to EDAS (DESIGN 5): wire types, request building (pure),
//! the ROA v1 signer (pure), credentials, endpoints, the HTTP client, and the one pure outcome
//! policy. Nothing here reads state or plans.

pub mod client;
pub mod credentials;
pub mod endpoint;
pub mod outcome;
pub mod request;
pub mod secret;
pub mod signer;
pub mod wire;

/// The API version every request names in `x-acs-version`.
pub const API_VERSION: &str = "2017-08-01";
pub const ABORT_PATH: &str = "/pop/v5/changeorder/change_order_abort_and_rollback";
pub const INFO_PATH: &str = "/pop/v5/changeorder/change_order_info";
/// `RollbackChangeOrder`: the rollback of a change order of an application in an ECS cluster.
pub const ROLLBACK_PATH: &str = "/pop/v5/oam/changeorder/rollback";
