//! Everything that crosses the wire to EDAS (docs/wire.md): wire types, request building (pure),
//! the V3 and ROA v1 signers (pure), credentials, endpoints, the HTTP client, and the one pure outcome
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
/// `RollbackChangeOrder` (applications in ECS clusters): `PUT`, query `ChangeOrderId`.
pub const ROLLBACK_PATH: &str = "/pop/v5/oam/changeorder/rollback";
/// `ListRecentChangeOrder`: `POST`, query `AppId`.
pub const LIST_PATH: &str = "/pop/v5/changeorder/change_order_list";
/// `ListApplication`: `POST`, no query but `RegionId` (every application of the region, so a
/// name can be matched exactly here and an unknown one answered with the closest names).
pub const APP_LIST_PATH: &str = "/pop/v5/app/app_list";
