//! Requests as values: (operation, change order id, region, endpoint) → an unsigned `http::Request`
//! carrying the query and headers of docs/wire.md, "Requests". Pure; signing is the next step
//! ([`crate::edas::signer`]) and sending the one after ([`crate::edas::client`]).

use super::endpoint::Endpoint;
use super::signer::{ValueMemo, reuse_header_value};
use super::{ABORT_PATH, API_VERSION, APP_LIST_PATH, INFO_PATH, LIST_PATH, ROLLBACK_PATH};
use crate::ids::ChangeOrderId;
use http::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use std::cell::RefCell;

/// How a change order is rolled back, chosen per change order in the config (`operation:`): EDAS
/// has one call for applications in ACK (Kubernetes) clusters and another for applications in ECS
/// clusters, with the same query and response shape (docs/CONTRACT.md, "The job").
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RollbackOperation {
    /// `AbortAndRollbackChangeOrder`: applications in ACK (Kubernetes) clusters. The default.
    #[default]
    AbortAndRollback,
    /// `RollbackChangeOrder`: applications in ECS clusters.
    Rollback,
}

impl RollbackOperation {
    /// The config and plan spelling: `abort_and_rollback` or `rollback`.
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackOperation::AbortAndRollback => "abort_and_rollback",
            RollbackOperation::Rollback => "rollback",
        }
    }

    /// The request that carries it out.
    pub fn request(self) -> Operation {
        match self {
            RollbackOperation::AbortAndRollback => Operation::AbortAndRollback,
            RollbackOperation::Rollback => Operation::Rollback,
        }
    }

    /// The other one, for the message when EDAS refuses this one for the application's kind
    /// of cluster.
    pub fn other(self) -> RollbackOperation {
        match self {
            RollbackOperation::AbortAndRollback => RollbackOperation::Rollback,
            RollbackOperation::Rollback => RollbackOperation::AbortAndRollback,
        }
    }

    /// The kind of cluster it is for, for messages.
    pub fn cluster_kind(self) -> &'static str {
        match self {
            RollbackOperation::AbortAndRollback => "ACK (Kubernetes)",
            RollbackOperation::Rollback => "ECS",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == RollbackOperation::AbortAndRollback
    }
}

impl std::fmt::Display for RollbackOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The calls this tool makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `PUT ABORT_PATH`: terminate the change order and roll the application back (ACK).
    AbortAndRollback,
    /// `PUT ROLLBACK_PATH`: roll back the change order of an application in an ECS cluster.
    Rollback,
    /// `POST INFO_PATH`: read a change order's status.
    GetChangeOrderInfo,
    /// `POST LIST_PATH`, query `AppId`: an application's recent change orders (selectors).
    /// Built by [`build_list_request`], never by [`build_request`].
    ListRecentChangeOrder,
    /// `POST APP_LIST_PATH`: the region's applications (selectors by `app_name`). Built by
    /// [`build_app_list_request`].
    ListApplication,
}

impl Operation {
    pub fn method(self) -> http::Method {
        match self {
            Operation::AbortAndRollback | Operation::Rollback => http::Method::PUT,
            Operation::GetChangeOrderInfo
            | Operation::ListRecentChangeOrder
            | Operation::ListApplication => http::Method::POST,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Operation::AbortAndRollback => ABORT_PATH,
            Operation::Rollback => ROLLBACK_PATH,
            Operation::GetChangeOrderInfo => INFO_PATH,
            Operation::ListRecentChangeOrder => LIST_PATH,
            Operation::ListApplication => APP_LIST_PATH,
        }
    }

    /// The `x-acs-action` header value.
    pub fn action(self) -> &'static str {
        match self {
            Operation::AbortAndRollback => "AbortAndRollbackChangeOrder",
            Operation::Rollback => "RollbackChangeOrder",
            Operation::GetChangeOrderInfo => "GetChangeOrderInfo",
            Operation::ListRecentChangeOrder => "ListRecentChangeOrder",
            Operation::ListApplication => "ListApplication",
        }
    }
}

pub const HEADER_VERSION: &str = "x-acs-version";
pub const HEADER_ACTION: &str = "x-acs-action";
pub const HEADER_REGION_ID: &str = "x-acs-region-id";

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("region `{region}` cannot be sent in an HTTP header")]
    InvalidRegion { region: String },
    #[error("cannot build the {action} request for change order `{change_order_id}`")]
    Build {
        action: &'static str,
        change_order_id: ChangeOrderId,
        #[source]
        source: http::Error,
    },
}

/// Builds the unsigned request. The query is `ChangeOrderId` then `RegionId`, each
/// form-urlencoded (a space becomes `+`, as the official SDKs send it); the signer decodes
/// them again for the string to sign.
pub fn build_request(
    operation: Operation,
    change_order_id: &ChangeOrderId,
    region: &str,
    endpoint: &Endpoint,
) -> Result<http::Request<()>, RequestError> {
    build(
        operation,
        Some(("ChangeOrderId", change_order_id.as_str())),
        change_order_id,
        region,
        endpoint,
    )
}

/// Builds the unsigned `ListRecentChangeOrder` request: query `AppId` then `RegionId`,
/// form-urlencoded as [`build_request`] does.
pub fn build_list_request(
    app_id: &str,
    region: &str,
    endpoint: &Endpoint,
) -> Result<http::Request<()>, RequestError> {
    build(
        Operation::ListRecentChangeOrder,
        Some(("AppId", app_id)),
        // Errors name the subject of the request; for a list, the application.
        &ChangeOrderId::new(app_id),
        region,
        endpoint,
    )
}

/// Builds the unsigned `ListApplication` request: query `RegionId` only. The optional
/// `AppName` filter is not sent: the whole list lets an unknown name be answered with the
/// closest ones (docs/CONFIG.md, "Selectors").
pub fn build_app_list_request(
    region: &str,
    endpoint: &Endpoint,
) -> Result<http::Request<()>, RequestError> {
    build(
        Operation::ListApplication,
        None,
        &ChangeOrderId::new(region),
        region,
        endpoint,
    )
}

/// The header names of every request, built at compile time (inserting by `&str` parses the
/// name on each call).
static VERSION_NAME: HeaderName = HeaderName::from_static(HEADER_VERSION);
static ACTION_NAME: HeaderName = HeaderName::from_static(HEADER_ACTION);
static REGION_ID_NAME: HeaderName = HeaderName::from_static(HEADER_REGION_ID);
static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
static VERSION_VALUE: HeaderValue = HeaderValue::from_static(API_VERSION);

/// Room for the four headers built here and the six a signer adds (host or `Date`, date,
/// nonce, hash or signature method and version, token, `Authorization`): the map is
/// allocated once, not grown while it is signed.
const HEADER_CAPACITY: usize = 12;

thread_local! {
    /// The region is the same on every request of a run: its header value is made once per
    /// thread (see `reuse_header_value`).
    static REGION_MEMO: ValueMemo = const { RefCell::new(None) };
}

/// Appends `text` `application/x-www-form-urlencoded` the way `form_urlencoded` serializes
/// it (and the official SDKs send it): `* - . _` and alphanumerics as they are, a space as
/// `+`, every other byte `%XX` with uppercase hex.
fn push_form_encoded(out: &mut String, text: &str) {
    static FORM_KEPT: [bool; 256] = {
        let mut table = [false; 256];
        let mut index = 0;
        while index < 256 {
            let byte = index as u8;
            table[index] =
                byte.is_ascii_alphanumeric() || matches!(byte, b'*' | b'-' | b'.' | b'_');
            index += 1;
        }
        table
    };
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    // Runs of characters kept as they are are copied whole (ids and regions are one run).
    let mut run_start = 0;
    for (index, byte) in text.bytes().enumerate() {
        if FORM_KEPT[usize::from(byte)] {
            continue;
        }
        // A run is ASCII, so both its ends are char boundaries and `get` finds it.
        out.push_str(text.get(run_start..index).unwrap_or_default());
        run_start = index + 1;
        if byte == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out.push_str(text.get(run_start..).unwrap_or_default());
}

fn build(
    operation: Operation,
    parameter: Option<(&str, &str)>,
    change_order_id: &ChangeOrderId,
    region: &str,
    endpoint: &Endpoint,
) -> Result<http::Request<()>, RequestError> {
    let region_header = reuse_header_value(&REGION_MEMO, region, false).map_err(|_| {
        RequestError::InvalidRegion {
            region: region.to_string(),
        }
    })?;
    let path = operation.path();
    let parameter_len = parameter.map_or(0, |(name, value)| name.len() + 3 * value.len() + 2);
    let mut path_and_query =
        String::with_capacity(path.len() + parameter_len + "?RegionId=".len() + 3 * region.len());
    path_and_query.push_str(path);
    path_and_query.push('?');
    if let Some((name, value)) = parameter {
        push_form_encoded(&mut path_and_query, name);
        path_and_query.push('=');
        push_form_encoded(&mut path_and_query, value);
        path_and_query.push('&');
    }
    path_and_query.push_str("RegionId=");
    push_form_encoded(&mut path_and_query, region);
    let uri = endpoint
        .uri(&path_and_query)
        .map_err(|source| RequestError::Build {
            action: operation.action(),
            change_order_id: change_order_id.clone(),
            source,
        })?;
    let mut request = http::Request::new(());
    *request.method_mut() = operation.method();
    *request.uri_mut() = uri;
    let mut headers = HeaderMap::with_capacity(HEADER_CAPACITY);
    headers.insert(ACCEPT, APPLICATION_JSON.clone());
    headers.insert(VERSION_NAME.clone(), VERSION_VALUE.clone());
    headers.insert(
        ACTION_NAME.clone(),
        HeaderValue::from_static(operation.action()),
    );
    headers.insert(REGION_ID_NAME.clone(), region_header);
    *request.headers_mut() = headers;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edas::credentials::Credentials;
    use crate::edas::secret::Secret;
    use crate::edas::signer::{RequestSigner, RoaV1Signer};
    use std::time::{Duration, SystemTime};

    fn endpoint() -> Endpoint {
        Endpoint::parse("https://edas.cn-hangzhou.aliyuncs.com").unwrap()
    }

    #[test]
    fn the_abort_request_is_a_put_with_the_design_headers_and_query() {
        let id = ChangeOrderId::new("7a7d6cd0-3c3e-4f4a-9b0e-1f2d3c4b5a6e");
        let request =
            build_request(Operation::AbortAndRollback, &id, "cn-hangzhou", &endpoint()).unwrap();
        assert_eq!(request.method(), http::Method::PUT);
        assert_eq!(
            request.uri().to_string(),
            "https://edas.cn-hangzhou.aliyuncs.com/pop/v5/changeorder/change_order_abort_and_rollback?ChangeOrderId=7a7d6cd0-3c3e-4f4a-9b0e-1f2d3c4b5a6e&RegionId=cn-hangzhou"
        );
        let headers = request.headers();
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["x-acs-version"], "2017-08-01");
        assert_eq!(headers["x-acs-action"], "AbortAndRollbackChangeOrder");
        assert_eq!(headers["x-acs-region-id"], "cn-hangzhou");
        assert_eq!(headers.len(), 4);
    }

    #[test]
    fn the_ecs_rollback_request_is_a_put_to_the_oam_path_with_the_same_query() {
        let id = ChangeOrderId::new("co-1");
        let request = build_request(Operation::Rollback, &id, "cn-hangzhou", &endpoint()).unwrap();
        assert_eq!(request.method(), http::Method::PUT);
        assert_eq!(request.uri().path(), "/pop/v5/oam/changeorder/rollback");
        assert_eq!(
            request.uri().query(),
            Some("ChangeOrderId=co-1&RegionId=cn-hangzhou")
        );
        assert_eq!(request.headers()["x-acs-action"], "RollbackChangeOrder");
        assert_eq!(
            RollbackOperation::Rollback.request(),
            Operation::Rollback,
            "config `operation: rollback` sends RollbackChangeOrder"
        );
        assert_eq!(
            serde_json::to_string(&RollbackOperation::AbortAndRollback).unwrap(),
            "\"abort_and_rollback\""
        );
    }

    #[test]
    fn the_info_request_is_a_post_to_the_info_path() {
        let id = ChangeOrderId::new("co-1");
        let request = build_request(
            Operation::GetChangeOrderInfo,
            &id,
            "cn-beijing",
            &endpoint(),
        )
        .unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri().path(), INFO_PATH);
        assert_eq!(
            request.uri().query(),
            Some("ChangeOrderId=co-1&RegionId=cn-beijing")
        );
        assert_eq!(request.headers()["x-acs-action"], "GetChangeOrderInfo");
    }

    #[test]
    fn the_app_list_request_is_a_post_to_the_app_list_path_with_the_region_only() {
        let request = build_app_list_request("cn-hangzhou", &endpoint()).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri().path(), "/pop/v5/app/app_list");
        assert_eq!(request.uri().query(), Some("RegionId=cn-hangzhou"));
        assert_eq!(request.headers()["x-acs-action"], "ListApplication");
    }

    #[test]
    fn the_list_request_is_a_post_to_the_list_path_with_the_app_id() {
        let request = build_list_request("3616cdca-4f92 x&y", "cn-hangzhou", &endpoint()).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(
            request.uri().path(),
            "/pop/v5/changeorder/change_order_list"
        );
        assert_eq!(
            request.uri().query(),
            Some("AppId=3616cdca-4f92+x%26y&RegionId=cn-hangzhou")
        );
        assert_eq!(request.headers()["x-acs-action"], "ListRecentChangeOrder");
    }

    #[test]
    fn awkward_ids_are_percent_encoded_and_signed_decoded() {
        let id = ChangeOrderId::new("id with space&x=1%+é");
        let mut request =
            build_request(Operation::AbortAndRollback, &id, "cn-hangzhou", &endpoint()).unwrap();
        assert_eq!(
            request.uri().query(),
            Some("ChangeOrderId=id+with+space%26x%3D1%25%2B%C3%A9&RegionId=cn-hangzhou")
        );
        let credentials = Credentials::new("AKID", Secret::new("secret"));
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_580_974_374);
        let text = RoaV1Signer
            .sign(&mut request, &credentials, date, "nonce-1")
            .unwrap();
        assert!(
            text.ends_with("?ChangeOrderId=id with space&x=1%+é&RegionId=cn-hangzhou"),
            "{text}"
        );
    }

    /// The query is written by hand; it must be what `form_urlencoded` wrote before, byte for
    /// byte, for every character an id or a region could hold.
    #[test]
    fn the_query_encoding_is_form_urlencoded_for_every_character() {
        let mut all: String = (0u32..0x800).filter_map(char::from_u32).collect();
        all.push_str("é☃😀 +&=%~*");
        for text in [
            all.as_str(),
            "",
            "6b55106c-c7f2-40f7-a1d4-0928700aaaaa",
            "a b",
        ] {
            let mut written = String::new();
            push_form_encoded(&mut written, text);
            let expected: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
            assert_eq!(written, expected);
        }
    }

    #[test]
    fn the_region_header_follows_the_region_from_request_to_request() {
        let id = ChangeOrderId::new("co-1");
        for region in ["cn-hangzhou", "cn-beijing", "cn-hangzhou"] {
            let request =
                build_request(Operation::AbortAndRollback, &id, region, &endpoint()).unwrap();
            assert_eq!(request.headers()["x-acs-region-id"], region);
            assert_eq!(
                request.uri().query(),
                Some(format!("ChangeOrderId=co-1&RegionId={region}").as_str())
            );
        }
    }

    #[test]
    fn a_region_that_cannot_be_a_header_is_an_error_not_a_panic() {
        let id = ChangeOrderId::new("co-1");
        let result = build_request(
            Operation::AbortAndRollback,
            &id,
            "cn\nhangzhou",
            &endpoint(),
        );
        assert!(matches!(result, Err(RequestError::InvalidRegion { .. })));
    }
}
