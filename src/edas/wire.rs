//! The JSON bodies EDAS sends back, with their exact wire field names, for both the client
//! (which deserializes them) and the simulator (which serializes them).
//!
//! The service is inconsistent: `Code` is a number in success bodies and business errors
//! (`"Code": 200`, `"Code": 500`) and a string in gateway errors (`"Code":
//! "SignatureDoesNotMatch"`), and optional fields come and go. So every field is optional and
//! [`Code`] takes either form; [`crate::edas::outcome`] decides what a missing field means.
//! This module holds no policy and touches no network.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The response header that tells a throttled client how long to wait, in **milliseconds**
/// (as the Darabonba SDKs read it: `x-acs-retry-after: 2000` is two seconds).
pub const HEADER_RETRY_AFTER: &str = "x-acs-retry-after";
/// The response header the gateway uses for the request id when the body has none.
pub const HEADER_REQUEST_ID: &str = "x-acs-request-id";

/// A body's `Code`: a number (`200`, `500`) or a string (`"200"`, `"Throttling.User"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Code {
    Number(i64),
    Text(String),
}

impl Code {
    /// True for the success code, whichever way it was written.
    pub fn is_success(&self) -> bool {
        match self {
            Code::Number(number) => *number == 200,
            Code::Text(text) => text.trim() == "200",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Number(number) => write!(f, "{number}"),
            Code::Text(text) => f.write_str(text),
        }
    }
}

/// A change order's `Status` as `GetChangeOrderInfo` reports it, with the official meanings
/// (docs/CONTRACT.md, "Change order statuses"). A number this tool does not know is kept as it came
/// ([`Self::Other`]) and shown as such, never guessed at. Serialized as the bare number, exactly as
/// the service sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i32", into = "i32")]
pub enum ChangeOrderStatus {
    /// 0: ready, not started.
    Ready,
    /// 1: running.
    Running,
    /// 2: succeeded.
    Succeeded,
    /// 3: failed.
    Failed,
    /// 6: stopped (terminated; what an abort leaves behind).
    Stopped,
    /// 7: partially succeeded: some batches released, then it ended.
    PartiallySucceeded,
    /// 8: waiting for a manual confirmation of the next batch.
    WaitingForManualConfirmation,
    /// 9: waiting for the next automatic batch.
    WaitingForNextBatch,
    /// 10: a system error ended it.
    SystemError,
    /// A number the official documentation does not list.
    Other(i32),
}

impl ChangeOrderStatus {
    /// Every status the official documentation lists, in number order.
    pub const KNOWN: [ChangeOrderStatus; 9] = [
        ChangeOrderStatus::Ready,
        ChangeOrderStatus::Running,
        ChangeOrderStatus::Succeeded,
        ChangeOrderStatus::Failed,
        ChangeOrderStatus::Stopped,
        ChangeOrderStatus::PartiallySucceeded,
        ChangeOrderStatus::WaitingForManualConfirmation,
        ChangeOrderStatus::WaitingForNextBatch,
        ChangeOrderStatus::SystemError,
    ];

    pub fn from_code(code: i32) -> Self {
        match code {
            0 => Self::Ready,
            1 => Self::Running,
            2 => Self::Succeeded,
            3 => Self::Failed,
            6 => Self::Stopped,
            7 => Self::PartiallySucceeded,
            8 => Self::WaitingForManualConfirmation,
            9 => Self::WaitingForNextBatch,
            10 => Self::SystemError,
            other => Self::Other(other),
        }
    }

    pub fn code(self) -> i32 {
        match self {
            Self::Ready => 0,
            Self::Running => 1,
            Self::Succeeded => 2,
            Self::Failed => 3,
            Self::Stopped => 6,
            Self::PartiallySucceeded => 7,
            Self::WaitingForManualConfirmation => 8,
            Self::WaitingForNextBatch => 9,
            Self::SystemError => 10,
            Self::Other(code) => code,
        }
    }

    /// The official meaning, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
            Self::PartiallySucceeded => "partially succeeded",
            Self::WaitingForManualConfirmation => "waiting for manual batch confirmation",
            Self::WaitingForNextBatch => "waiting for the next automatic batch",
            Self::SystemError => "system error",
            Self::Other(_) => "not a status this tool knows",
        }
    }

    /// 0, 1, 8, 9: the statuses an abort or rollback is accepted in.
    pub fn is_abortable(self) -> bool {
        matches!(
            self,
            Self::Ready
                | Self::Running
                | Self::WaitingForManualConfirmation
                | Self::WaitingForNextBatch
        )
    }

    /// 2, 3, 6, 7, 10: the change order has ended and its status will not change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded
                | Self::Failed
                | Self::Stopped
                | Self::PartiallySucceeded
                | Self::SystemError
        )
    }

    /// A final status other than success: 3 failed, 10 system error (6 stopped and 7 partly
    /// succeeded have their own meaning for a rollback, see `apply --wait`).
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::SystemError)
    }
}

impl From<i32> for ChangeOrderStatus {
    fn from(code: i32) -> Self {
        Self::from_code(code)
    }
}

impl From<ChangeOrderStatus> for i32 {
    fn from(status: ChangeOrderStatus) -> Self {
        status.code()
    }
}

impl fmt::Display for ChangeOrderStatus {
    /// `7 (partially succeeded)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// `AbortAndRollbackChangeOrder`'s body: on success `Code` 200 and `Data.ChangeOrderId` (the
/// rollback change order); on a business error HTTP 200 with another `Code` and a `Message`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortResponse {
    #[serde(rename = "Code", default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    #[serde(rename = "Message", default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(rename = "RequestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "TraceId", default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(rename = "ErrorCode", default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "Data", default, skip_serializing_if = "Option::is_none")]
    pub data: Option<AbortData>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortData {
    #[serde(
        rename = "ChangeOrderId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub change_order_id: Option<String>,
}

/// `GetChangeOrderInfo`'s body. Note the lowercase `changeOrderInfo` key, as the service
/// sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeOrderInfoResponse {
    #[serde(rename = "Code", default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    #[serde(rename = "Message", default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(rename = "RequestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "TraceId", default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(rename = "ErrorCode", default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(
        rename = "changeOrderInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub change_order_info: Option<ChangeOrderInfo>,
}

/// The fields of `changeOrderInfo` this tool reads or shows; the service sends more (pipeline
/// and target lists), which are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeOrderInfo {
    #[serde(
        rename = "ChangeOrderId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub change_order_id: Option<String>,
    /// 0 ready, 1 running, 2 succeeded, 3 failed, 6 stopped, 7 partly succeeded, 8 waiting
    /// for manual batch confirmation, 9 waiting for the next automatic batch, 10 system error.
    #[serde(rename = "Status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ChangeOrderStatus>,
    #[serde(rename = "CoType", default, skip_serializing_if = "Option::is_none")]
    pub co_type: Option<String>,
    #[serde(rename = "Desc", default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    #[serde(
        rename = "ChangeOrderDescription",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub change_order_description: Option<String>,
    #[serde(
        rename = "CreateTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<String>,
    #[serde(
        rename = "CreateUserId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_user_id: Option<String>,
    #[serde(
        rename = "BatchCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub batch_count: Option<i64>,
    #[serde(rename = "BatchType", default, skip_serializing_if = "Option::is_none")]
    pub batch_type: Option<String>,
    #[serde(
        rename = "SupportRollback",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub support_rollback: Option<bool>,
}

/// One row of a ListRecentChangeOrder answer (`ChangeOrderList.ChangeOrder[]`), the fields a
/// selector reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedChangeOrder {
    pub change_order_id: String,
    pub status: ChangeOrderStatus,
    /// `CreateTime` as the service wrote it.
    pub create_time: String,
    /// `CoType`, e.g. `Application Scale Out`; shown, never filtered on.
    pub co_type: Option<String>,
    /// `CoTypeCode`, e.g. `CoDeploy`, `CoRollback`: finds the rollback change order of a lost
    /// abort answer (`apply::rollback_id`).
    pub co_type_code: Option<String>,
}

/// `ListRecentChangeOrder`'s body (`POST /pop/v5/changeorder/change_order_list`, query
/// `AppId`): `ChangeOrderList.ChangeOrder[]`, as the official API reference and the Go SDK's
/// `ChangeOrder` struct show it. Only the fields a selector reads are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ChangeOrderListResponse {
    #[serde(rename = "Code", default)]
    pub code: Option<Code>,
    #[serde(rename = "Message", default)]
    pub message: Option<String>,
    #[serde(rename = "RequestId", default)]
    pub request_id: Option<String>,
    #[serde(rename = "ChangeOrderList", default)]
    pub change_order_list: Option<ChangeOrderList>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ChangeOrderList {
    #[serde(rename = "ChangeOrder", default)]
    pub change_order: Vec<ListedChangeOrderWire>,
}

/// One `ChangeOrder` of the list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ListedChangeOrderWire {
    #[serde(rename = "ChangeOrderId", default)]
    pub change_order_id: Option<String>,
    #[serde(rename = "Status", default)]
    pub status: Option<ChangeOrderStatus>,
    /// `2019-11-13 14:23:46` in the reference: no zone.
    #[serde(rename = "CreateTime", default)]
    pub create_time: Option<String>,
    #[serde(rename = "CoType", default)]
    pub co_type: Option<String>,
    #[serde(rename = "CoTypeCode", default)]
    pub co_type_code: Option<String>,
    #[serde(rename = "AppId", default)]
    pub app_id: Option<String>,
}

impl ChangeOrderListResponse {
    /// The rows a selector can judge: a row without an id or a status is skipped (there is
    /// nothing to abort, or no way to know it is abortable).
    pub fn listed(&self) -> Vec<ListedChangeOrder> {
        self.change_order_list
            .iter()
            .flat_map(|list| &list.change_order)
            .filter_map(|row| {
                Some(ListedChangeOrder {
                    change_order_id: row.change_order_id.clone()?,
                    status: row.status?,
                    create_time: row.create_time.clone().unwrap_or_default(),
                    co_type: row.co_type.clone(),
                    co_type_code: row.co_type_code.clone(),
                })
            })
            .collect()
    }
}

/// `ListApplication`'s answer (`POST /pop/v5/app/app_list`), the fields name resolution
/// reads: `ApplicationList.Application[]` with `AppId` and `Name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ApplicationListResponse {
    #[serde(rename = "Code", default)]
    pub code: Option<Code>,
    #[serde(rename = "Message", default)]
    pub message: Option<String>,
    #[serde(rename = "RequestId", default)]
    pub request_id: Option<String>,
    #[serde(rename = "ApplicationList", default)]
    pub application_list: Option<ApplicationList>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ApplicationList {
    #[serde(rename = "Application", default)]
    pub application: Vec<ApplicationWire>,
}

/// One `Application` of the list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ApplicationWire {
    #[serde(rename = "AppId", default)]
    pub app_id: Option<String>,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
}

/// An application as name resolution sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedApplication {
    pub app_id: String,
    pub name: String,
}

impl ApplicationListResponse {
    /// The applications with both an id and a name (a row without either cannot be matched).
    pub fn listed(&self) -> Vec<ListedApplication> {
        self.application_list
            .iter()
            .flat_map(|list| &list.application)
            .filter_map(|row| {
                Some(ListedApplication {
                    app_id: row.app_id.clone()?,
                    name: row.name.clone()?,
                })
            })
            .collect()
    }
}

/// The gateway's error body for a non-2xx status (signature, credentials, throttling, 5xx).
/// `Message` of a `SignatureDoesNotMatch` ends with `server string to sign is:<text>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(rename = "Code", default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    #[serde(rename = "Message", default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(rename = "RequestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "HostId", default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    #[serde(rename = "Recommend", default, skip_serializing_if = "Option::is_none")]
    pub recommend: Option<String>,
}

/// The words the gateway puts before its own string to sign in a `SignatureDoesNotMatch`
/// message. The simulator writes its message the same way.
pub const SERVER_STRING_TO_SIGN_MARKER: &str = "server string to sign is:";

/// The server's string to sign from a `SignatureDoesNotMatch` message, if it carries one.
pub fn server_string_to_sign(message: &str) -> Option<String> {
    let lowered = message.to_ascii_lowercase();
    let start = lowered.find(SERVER_STRING_TO_SIGN_MARKER)? + SERVER_STRING_TO_SIGN_MARKER.len();
    // `to_ascii_lowercase` keeps byte offsets, so `start` is a valid index into `message`.
    message.get(start..).map(str::to_string)
}

/// Replaces the value of an `x-acs-security-token:` line with `<redacted>`, wherever such a
/// line appears: in our string to sign before it is logged, and in a server's echoed string to
/// sign before it is shown or recorded. The token is a credential; the rest of the text is not.
pub fn redact_security_token(text: &str) -> std::borrow::Cow<'_, str> {
    const MARKER: &str = "x-acs-security-token:";
    if !text.to_ascii_lowercase().contains(MARKER) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let lowered = rest.to_ascii_lowercase();
        let Some(start) = lowered.find(MARKER) else {
            redacted.push_str(rest);
            break;
        };
        let value_start = start + MARKER.len();
        redacted.push_str(&rest[..value_start]);
        redacted.push_str("<redacted>");
        // The value runs to the end of the line. Servers may echo the string to sign with
        // real newlines or, inside JSON text, with a literal `\n`.
        let tail = &rest[value_start..];
        let end = [tail.find('\n'), tail.find("\\n")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    std::borrow::Cow::Owned(redacted)
}

/// Reads `x-acs-retry-after`: whole milliseconds. `0`, negative or unreadable values give no
/// hint (`None`); the caller still treats the response as throttled.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let milliseconds: u64 = value.trim().parse().ok()?;
    (milliseconds > 0).then(|| Duration::from_millis(milliseconds))
}

/// Writes `x-acs-retry-after` for the simulator, rounding up so a hint is never shorter
/// than meant.
pub fn format_retry_after(after: Duration) -> String {
    let milliseconds =
        after.as_millis() + u128::from(!after.subsec_nanos().is_multiple_of(1_000_000));
    milliseconds.max(1).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reference_change_order_list_decodes_into_rows_a_selector_reads() {
        // The shape of the official API reference's example (ids shortened).
        let body = r#"{"Code": 200, "Message": "success", "RequestId": "D16979DC-4D42",
            "ChangeOrderList": {"ChangeOrder": [
              {"Status": 2, "FinishTime": "2019-11-13 14:24:02", "CreateTime": "2019-11-13 14:23:46",
               "UserId": "1432536", "ChangeOrderDescription": "deploy", "Source": "pop",
               "BatchCount": 1, "CreateUserId": "edas_test1@aliyun-test.com", "CoTypeCode": "CoDeploy",
               "ChangeOrderId": "1074f3e2-e974-4a0e", "BatchType": "Automatic",
               "GroupId": "8123db90", "CoType": "Application Scale Out", "AppId": "3616cdca-4f92"},
              {"Status": 8, "CreateTime": "2019-11-13 15:00:00", "ChangeOrderId": "co-2"},
              {"Status": 1},
              {"ChangeOrderId": "co-no-status"}
            ]}}"#;
        let response: ChangeOrderListResponse = serde_json::from_str(body).unwrap();
        assert!(response.code.as_ref().is_some_and(Code::is_success));
        let listed = response.listed();
        assert_eq!(
            listed.len(),
            2,
            "rows without an id or a status are skipped"
        );
        assert_eq!(listed[0].change_order_id, "1074f3e2-e974-4a0e");
        assert_eq!(listed[0].status, ChangeOrderStatus::Succeeded);
        assert_eq!(listed[0].create_time, "2019-11-13 14:23:46");
        assert_eq!(listed[0].co_type.as_deref(), Some("Application Scale Out"));
        assert_eq!(
            listed[1].status,
            ChangeOrderStatus::WaitingForManualConfirmation
        );
        let empty: ChangeOrderListResponse =
            serde_json::from_str(r#"{"Code": 200, "ChangeOrderList": {"ChangeOrder": []}}"#)
                .unwrap();
        assert!(empty.listed().is_empty());
        let missing: ChangeOrderListResponse = serde_json::from_str(r#"{"Code": 200}"#).unwrap();
        assert!(missing.listed().is_empty());
    }

    use super::*;

    #[test]
    fn an_application_list_yields_ids_and_names() {
        let body = r#"{"Code": 200, "Message": "success", "RequestId": "r-1",
            "ApplicationList": {"Application": [
                {"AppId": "a-1", "Name": "shop", "RegionId": "cn-hangzhou", "Instances": 2},
                {"AppId": "a-2"},
                {"Name": "orphan"}]}}"#;
        let parsed: ApplicationListResponse = serde_json::from_str(body).unwrap();
        assert_eq!(
            parsed.listed(),
            vec![ListedApplication {
                app_id: "a-1".into(),
                name: "shop".into()
            }]
        );
    }

    #[test]
    fn the_documented_abort_example_parses() {
        let body = r#"{"Code": 200, "Message": "success",
            "RequestId": "57F146F6-3C94-****-****-A66EF4B9*****",
            "TraceId": "0b59000b15947****55688656d****", "ErrorCode": "success",
            "Data": {"ChangeOrderId": "4f038ddf-b27b-****-****-88e44375****"}}"#;
        let parsed: AbortResponse = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.code, Some(Code::Number(200)));
        assert!(parsed.code.as_ref().is_some_and(Code::is_success));
        assert_eq!(
            parsed.data.and_then(|data| data.change_order_id).as_deref(),
            Some("4f038ddf-b27b-****-****-88e44375****")
        );
        assert_eq!(parsed.error_code.as_deref(), Some("success"));
    }

    #[test]
    fn code_is_read_as_a_number_or_a_string() {
        let text: AbortResponse = serde_json::from_str(r#"{"Code": "200"}"#).unwrap();
        assert!(text.code.unwrap().is_success());
        let other: ErrorResponse =
            serde_json::from_str(r#"{"Code": "Throttling.User", "Message": "slow"}"#).unwrap();
        assert_eq!(other.code, Some(Code::Text("Throttling.User".into())));
        assert!(!Code::Number(500).is_success());
    }

    #[test]
    fn missing_fields_and_null_data_are_accepted() {
        let parsed: AbortResponse = serde_json::from_str(r#"{"Data": null}"#).unwrap();
        assert_eq!(parsed, AbortResponse::default());
    }

    #[test]
    fn change_order_info_uses_the_lowercase_key_and_ignores_unknown_fields() {
        let body = r#"{"Code": 200, "Message": "success", "RequestId": "r-1",
            "changeOrderInfo": {"ChangeOrderId": "co-1", "Status": 6, "CoType": "Deploy",
              "BatchCount": 2, "SupportRollback": true, "PipelineInfoList": {"PipelineInfo": []}}}"#;
        let parsed: ChangeOrderInfoResponse = serde_json::from_str(body).unwrap();
        let info = parsed.change_order_info.unwrap();
        assert_eq!(info.status, Some(ChangeOrderStatus::Stopped));
        assert_eq!(info.change_order_id.as_deref(), Some("co-1"));
        let written = serde_json::to_string(&ChangeOrderInfoResponse {
            change_order_info: Some(info),
            ..Default::default()
        })
        .unwrap();
        assert!(written.contains(r#""changeOrderInfo":{"ChangeOrderId":"co-1","Status":6"#));
    }

    #[test]
    fn serialized_bodies_use_the_exact_wire_names() {
        let body = AbortResponse {
            code: Some(Code::Number(200)),
            message: Some("success".into()),
            request_id: Some("r".into()),
            trace_id: Some("t".into()),
            error_code: Some("success".into()),
            data: Some(AbortData {
                change_order_id: Some("c".into()),
            }),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"Code":200,"Message":"success","RequestId":"r","TraceId":"t","ErrorCode":"success","Data":{"ChangeOrderId":"c"}}"#
        );
    }

    #[test]
    fn the_server_string_to_sign_is_cut_from_the_message() {
        let message = "Specified signature is not matched with our calculation. server string to sign is:PUT\napplication/json\n\n\nDate\n/p?a=b";
        assert_eq!(
            server_string_to_sign(message).as_deref(),
            Some("PUT\napplication/json\n\n\nDate\n/p?a=b")
        );
        assert_eq!(server_string_to_sign("signature mismatch"), None);
    }

    #[test]
    fn the_security_token_line_is_redacted_and_nothing_else() {
        let text = "PUT\napplication/json\n\n\nDate\nx-acs-region-id:cn-hangzhou\nx-acs-security-token:CAIS+token/=\nx-acs-version:2017-08-01\n/p?a=b";
        assert_eq!(
            redact_security_token(text),
            "PUT\napplication/json\n\n\nDate\nx-acs-region-id:cn-hangzhou\nx-acs-security-token:<redacted>\nx-acs-version:2017-08-01\n/p?a=b"
        );
        assert_eq!(
            redact_security_token(r"a\nx-acs-security-token:tok\nb x-acs-security-token:tok2"),
            r"a\nx-acs-security-token:<redacted>\nb x-acs-security-token:<redacted>"
        );
        assert!(matches!(
            redact_security_token("no token here"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn every_official_status_has_its_number_meaning_and_class() {
        // (number, name, abortable, final): the official GetChangeOrderInfo table.
        let table = [
            (0, "ready", true, false),
            (1, "running", true, false),
            (2, "succeeded", false, true),
            (3, "failed", false, true),
            (6, "stopped", false, true),
            (7, "partially succeeded", false, true),
            (8, "waiting for manual batch confirmation", true, false),
            (9, "waiting for the next automatic batch", true, false),
            (10, "system error", false, true),
        ];
        for (code, name, abortable, is_final) in table {
            let status = ChangeOrderStatus::from_code(code);
            assert!(!matches!(status, ChangeOrderStatus::Other(_)), "{code}");
            assert_eq!(status.code(), code);
            assert_eq!(status.name(), name);
            assert_eq!(status.is_abortable(), abortable, "{code}");
            assert_eq!(status.is_final(), is_final, "{code}");
        }
        assert_eq!(ChangeOrderStatus::KNOWN.len(), table.len());
    }

    #[test]
    fn an_unknown_status_keeps_its_number_and_says_so() {
        let status: ChangeOrderStatus = serde_json::from_str("42").unwrap();
        assert_eq!(status, ChangeOrderStatus::Other(42));
        assert_eq!(status.to_string(), "42 (not a status this tool knows)");
        assert!(!status.is_abortable() && !status.is_final());
        assert_eq!(serde_json::to_string(&status).unwrap(), "42");
        assert_eq!(
            serde_json::to_string(&ChangeOrderStatus::PartiallySucceeded).unwrap(),
            "7"
        );
    }

    #[test]
    fn retry_after_is_whole_milliseconds() {
        assert_eq!(parse_retry_after("2000"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 80 "), Some(Duration::from_millis(80)));
        assert_eq!(parse_retry_after("0"), None);
        assert_eq!(parse_retry_after("-5"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(format_retry_after(Duration::from_millis(1500)), "1500");
        assert_eq!(format_retry_after(Duration::from_micros(1500)), "2");
        assert_eq!(format_retry_after(Duration::ZERO), "1");
    }
}
