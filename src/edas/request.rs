//! Requests as values: (operation, change order id, region, endpoint) → an unsigned
//! `http::Request` carrying the query and headers of DESIGN 5. Pure; signing is the next step
//! ([`crate::edas::signer`]) and sending the one after ([`crate::edas::client`]).

use super::endpoint::Endpoint;
use super::{ABORT_PATH, API_VERSION, INFO_PATH};
use crate::ids::ChangeOrderId;
use http::header::{ACCEPT, HeaderValue};

/// The two calls this tool makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `PUT ABORT_PATH`: terminate the change order and roll the application back.
    AbortAndRollback,
    /// `POST INFO_PATH`: read a change order's status.
    GetChangeOrderInfo,
}

impl Operation {
    pub fn method(self) -> http::Method {
        match self {
            Operation::AbortAndRollback => http::Method::PUT,
            Operation::GetChangeOrderInfo => http::Method::POST,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Operation::AbortAndRollback => ABORT_PATH,
            Operation::GetChangeOrderInfo => INFO_PATH,
        }
    }

    /// The `x-acs-action` header value.
    pub fn action(self) -> &'static str {
        match self {
            Operation::AbortAndRollback => "AbortAndRollbackChangeOrder",
            Operation::GetChangeOrderInfo => "GetChangeOrderInfo",
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
    let region_header = HeaderValue::from_str(region).map_err(|_| RequestError::InvalidRegion {
        region: region.to_string(),
    })?;
    let mut path_and_query = String::with_capacity(operation.path().len() + 96);
    path_and_query.push_str(operation.path());
    path_and_query.push('?');
    let query = form_urlencoded::Serializer::new(String::with_capacity(96))
        .append_pair("ChangeOrderId", change_order_id.as_str())
        .append_pair("RegionId", region)
        .finish();
    path_and_query.push_str(&query);
    let build_error = |source| RequestError::Build {
        action: operation.action(),
        change_order_id: change_order_id.clone(),
        source,
    };
    let uri = endpoint.uri(&path_and_query).map_err(build_error)?;
    http::Request::builder()
        .method(operation.method())
        .uri(uri)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .header(HEADER_VERSION, HeaderValue::from_static(API_VERSION))
        .header(HEADER_ACTION, HeaderValue::from_static(operation.action()))
        .header(HEADER_REGION_ID, region_header)
        .body(())
        .map_err(build_error)
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
