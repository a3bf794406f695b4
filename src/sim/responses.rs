//! Every JSON body the simulator sends, in the shapes the service uses (docs/wire.md), in one
//! file so a change of shape is one diff. Field names follow the real API: `changeOrderInfo`
//! is lowercase.
//!
//! These bodies are written out by hand from the service's documented examples rather than
//! serialized from `edas::wire`'s types on purpose: the client parses them with those types,
//! so a wrong field name in `edas::wire` shows up as a failing test instead of agreeing with
//! itself on both sides of the socket.

use serde_json::{Value, json};

/// Where the service sends people for an error code; POP errors carry it as `Recommend`.
fn recommend(code: &str) -> String {
    format!("https://api.aliyun.com/troubleshoot?q={code}&product=Edas")
}

/// HTTP 200 from `AbortAndRollbackChangeOrder`.
pub(crate) fn abort_accepted(request_id: &str, trace_id: &str, rollback_id: &str) -> Value {
    json!({
        "Code": 200,
        "Message": "success",
        "RequestId": request_id,
        "TraceId": trace_id,
        "ErrorCode": "",
        "Data": { "ChangeOrderId": rollback_id },
    })
}

/// HTTP 200 from `ListRecentChangeOrder`: `ChangeOrderList.ChangeOrder` holds the list.
pub(crate) fn change_order_list(request_id: &str, trace_id: &str, rows: Vec<Value>) -> Value {
    json!({
        "Code": 200,
        "Message": "success",
        "RequestId": request_id,
        "TraceId": trace_id,
        "ChangeOrderList": { "ChangeOrder": rows },
    })
}

/// HTTP 200 from `ListApplication`: `ApplicationList.Application` holds the list.
pub(crate) fn application_list(request_id: &str, rows: Vec<Value>) -> Value {
    json!({
        "Code": 200,
        "Message": "success",
        "RequestId": request_id,
        "ApplicationList": { "Application": rows },
    })
}

/// One `ApplicationList.Application` row, with the official SDK's fields this simulator can
/// fill.
pub(crate) fn listed_application(app_id: &str, name: &str, region: &str) -> Value {
    json!({
        "AppId": app_id,
        "Name": name,
        "RegionId": region,
        "ApplicationType": "War",
        "ClusterType": 2,
        "Instances": 1,
        "RunningInstanceCount": 1,
        "State": "RUNNING",
    })
}

/// One `ChangeOrderList.ChangeOrder` row, with the fields of the official API reference's
/// example that this simulator can fill.
/// A rollback change order is listed with `CoTypeCode: CoRollback` (the official reference's
/// code for "rolls back the application").
pub(crate) fn listed_change_order(
    id: &str,
    status: i32,
    create_time: &str,
    app_id: &str,
    rollback: bool,
) -> Value {
    let (co_type, co_type_code) = if rollback {
        ("Application Rollback", "CoRollback")
    } else {
        ("Application Deploy", "CoDeploy")
    };
    json!({
        "ChangeOrderId": id,
        "Status": status,
        "CreateTime": create_time,
        "AppId": app_id,
        "CoType": co_type,
        "CoTypeCode": co_type_code,
        "Source": "pop",
        "BatchCount": 1,
        "BatchType": "Automatic",
    })
}

/// HTTP 200 with `Code` 601: the service refused this change order (a business error: bad
/// parameter, wrong status, wrong kind of cluster, …).
pub(crate) fn business_error(request_id: &str, trace_id: &str, message: &str) -> Value {
    json!({
        "Code": 601,
        "Message": message,
        "RequestId": request_id,
        "TraceId": trace_id,
        "ErrorCode": "",
    })
}

/// HTTP 200 with body `Code` 401 or 403: the caller lacks the RAM permission, as EDAS answers
/// it (a numeric `Code`, not an HTTP status).
pub(crate) fn permission_denied(request_id: &str, trace_id: &str, code: u16) -> Value {
    let message = match code {
        401 => "You are not authorized to perform this operation on this application.",
        _ => "The request was denied: the caller has no permission for this resource.",
    };
    json!({
        "Code": code,
        "Message": message,
        "RequestId": request_id,
        "TraceId": trace_id,
        "ErrorCode": "",
    })
}

/// HTTP 200 from `GetChangeOrderInfo`.
pub(crate) fn change_order_info(
    request_id: &str,
    change_order_id: &str,
    status: i32,
    rollback_of: Option<&str>,
) -> Value {
    json!({
        "Code": 200,
        "Message": "success",
        "RequestId": request_id,
        "changeOrderInfo": {
            "ChangeOrderId": change_order_id,
            "Status": status,
            "CoType": if rollback_of.is_some() { "Rollback" } else { "Deploy" },
            "BatchType": "Manual",
            "BatchCount": 1,
            "ChangeOrderDescription": match rollback_of {
                Some(original) => format!("Rollback of change order {original} (simulator)"),
                None => "Change order held by the edas-rollback simulator".to_string(),
            },
            "CreateUserId": "simulator",
            "SupportRollback": rollback_of.is_none(),
            "Desc": "",
            "PipelineInfoList": { "PipelineInfo": [] },
            "Targets": { "Items": [] },
        },
    })
}

/// A non-2xx answer: `{Code: "<string>", Message, RequestId, HostId, Recommend}`.
pub(crate) fn service_error(request_id: &str, host: &str, code: &str, message: &str) -> Value {
    json!({
        "RequestId": request_id,
        "HostId": host,
        "Code": code,
        "Message": message,
        "Recommend": recommend(code),
    })
}

pub(crate) const THROTTLING_CODE: &str = "Throttling.User";
pub(crate) const THROTTLING_MESSAGE: &str = "Request was denied due to user flow control.";
pub(crate) const UNAVAILABLE_CODE: &str = "ServiceUnavailable";
pub(crate) const UNAVAILABLE_MESSAGE: &str =
    "The request has failed due to a temporary failure of the server.";

pub(crate) fn not_found_message(change_order_id: &str) -> String {
    format!("change order `{change_order_id}` does not exist")
}

pub(crate) fn in_progress_message(change_order_id: &str) -> String {
    format!("change order `{change_order_id}` is already being aborted; try again later")
}

/// The application is in the other kind of cluster than the call is for.
pub(crate) fn wrong_cluster_message(change_order_id: &str, ecs: bool) -> String {
    if ecs {
        format!(
            "AbortAndRollbackChangeOrder supports applications in Kubernetes clusters only; the \
             application of change order `{change_order_id}` is in an ECS cluster"
        )
    } else {
        format!(
            "RollbackChangeOrder supports applications in ECS clusters only; the application of \
             change order `{change_order_id}` is in a Kubernetes cluster"
        )
    }
}

pub(crate) fn not_abortable_message(change_order_id: &str, status: i32) -> String {
    format!(
        "change order `{change_order_id}` cannot be aborted: its status is {status} ({}); only \
         ready (0), running (1) and waiting (8, 9) change orders can be aborted",
        super::status::name(status)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_info_key_is_lowercase_like_the_service() {
        let body = change_order_info("r", "co", 6, None);
        assert_eq!(body["changeOrderInfo"]["Status"], 6);
        assert!(body.get("ChangeOrderInfo").is_none());
    }

    #[test]
    fn business_errors_name_the_change_order_and_the_reason() {
        let message = not_abortable_message("co-1", 2);
        assert!(
            message.contains("`co-1`") && message.contains("succeeded"),
            "{message}"
        );
        assert_eq!(business_error("r", "t", &message)["Code"], 601);
    }
}
