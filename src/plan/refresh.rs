//! `plan --refresh` (docs/CI.md, docs/json-output.md): folds the live statuses `GetChangeOrderInfo`
//! gave for the plan's pending change orders into the plan. Pure: the command asks the service and
//! reads the clock; this decides what each answer means for the plan, so the plan file holds every
//! decision and apply sends nothing the refresh showed to be pointless.
//!
//! - abortable (0, 1, 8, 9): stays `abort`, with the status shown next to it;
//! - stopped (6): `no-op` (already stopped), nothing is sent;
//! - anything else (2, 3, 7, 10, or a status this tool does not know): `no-op`, shown as
//!   `cannot abort (status …)`, a warning: EDAS refuses to abort it, so sending would only
//!   record a failure;
//! - the service refused the question (e.g. the change order does not exist): the action
//!   stays as planned from state, with the service's message as a warning, so apply still
//!   tries and records what the service says.

use super::{Action, Plan, PlanSummary, file};
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What `GetChangeOrderInfo` said about one change order when the plan was refreshed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveStatus {
    /// The change order's status (docs/CONTRACT.md, "Change order statuses"); `None` when the
    /// service refused the question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<i32>")]
    pub status: Option<ChangeOrderStatus>,
    /// When the answer arrived, RFC 3339.
    pub checked_at: String,
    /// The service's message when it refused the question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What a person should do about a change order in a status that cannot be aborted.
pub fn cannot_abort_hint(status: ChangeOrderStatus) -> &'static str {
    match status {
        ChangeOrderStatus::Succeeded => {
            "it finished releasing before the abort, so there is nothing left to abort: roll \
             back by releasing the previous version"
        }
        ChangeOrderStatus::PartiallySucceeded => {
            "it ended with some batches released: roll those back by releasing the previous \
             version"
        }
        ChangeOrderStatus::Failed | ChangeOrderStatus::SystemError => {
            "it already ended in failure, so EDAS will not abort it: check the application in \
             the EDAS console and release the previous version if it is not running"
        }
        _ => "check it in the EDAS console; this tool will not send an abort it cannot judge",
    }
}

/// The plan with `live` folded in: every `abort` action whose change order has an answer
/// gets it as `live_status`, and becomes `no-op` when that status cannot (or need not) be
/// aborted. The summary is counted again and the checksum recomputed. Actions that are not
/// `abort`, and ids `live` does not hold, are left as they were.
pub fn refreshed(mut plan: Plan, live: &HashMap<ChangeOrderId, LiveStatus>) -> Plan {
    for action in &mut plan.actions {
        if action.action != Action::Abort {
            continue;
        }
        let Some(answer) = live.get(&action.change_order_id) else {
            continue;
        };
        if let Some(status) = answer.status
            && !status.is_abortable()
        {
            action.action = Action::NoOp;
            // Nothing will be sent, so there is nothing to verify first.
            action.verify_first = false;
        }
        action.live_status = Some(answer.clone());
    }
    plan.summary = PlanSummary::of(&plan.actions);
    plan.refreshed = true;
    plan.checksum = String::new();
    plan.checksum = file::checksum(&plan);
    plan
}
