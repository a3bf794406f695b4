//! The journal records the engine writes, each built once with all its fields: an intent,
//! a withdrawal, a rollback's end, and a response through [`ResponseRecord`], whose optional
//! parts (a message of our own, the rollback change order, the status that decided it) are
//! given before the record exists instead of patched into it afterwards.

use super::AbortTask;
use crate::edas::outcome::ResponseDetails;
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use crate::state::journal::{JournalRecord, RequestKind};
use crate::state::{RecordStatus, RollbackStatus};
use std::borrow::Cow;

/// The intent of one request for `task`: `attempt` counts over the change order's history.
/// An abort names the call it sends; a verification sends no rollback call.
pub(super) fn intent(
    task: &AbortTask,
    request: RequestKind,
    attempt: u32,
    at: String,
) -> JournalRecord {
    JournalRecord::Intent {
        change_order_id: task.change_order_id.clone(),
        attempt,
        at,
        request,
        operation: match request {
            RequestKind::Abort => Some(task.operation),
            RequestKind::Verify => None,
        },
        app: task.app.clone(),
        reason: task.reason.clone(),
    }
}

/// An abort intent written ahead whose request never left (see `JournalRecord::Withdrawn`).
pub(super) fn withdrawn(task: &AbortTask, at: String) -> JournalRecord {
    JournalRecord::Withdrawn {
        change_order_id: task.change_order_id.clone(),
        attempt: task.previous_attempts + 1,
        at,
    }
}

/// How a watched rollback ended.
pub(super) fn rollback_status(
    change_order_id: &ChangeOrderId,
    rollback_status: RollbackStatus,
    at: String,
) -> JournalRecord {
    JournalRecord::RollbackStatus {
        change_order_id: change_order_id.clone(),
        at,
        rollback_status,
    }
}

/// A `response` record being described; [`ResponseRecord::build`] makes the record, once.
/// Starts from the answer's details (its message included) and nothing else.
#[must_use]
pub(super) struct ResponseRecord<'a> {
    change_order_id: &'a ChangeOrderId,
    at: String,
    status: RecordStatus,
    /// Borrowed when the caller still needs the answer's details; owned when they move
    /// into the record.
    details: Cow<'a, ResponseDetails>,
    message: Option<String>,
    rollback_change_order_id: Option<String>,
    confirmed_by_status: bool,
    change_order_status: Option<ChangeOrderStatus>,
}

impl<'a> ResponseRecord<'a> {
    pub(super) fn new(
        change_order_id: &'a ChangeOrderId,
        at: String,
        status: RecordStatus,
        details: &'a ResponseDetails,
    ) -> Self {
        Self {
            change_order_id,
            at,
            status,
            details: Cow::Borrowed(details),
            message: None,
            rollback_change_order_id: None,
            confirmed_by_status: false,
            change_order_status: None,
        }
    }

    /// [`ResponseRecord::new`] with the details moved in: the record takes their strings.
    pub(super) fn new_owned(
        change_order_id: &'a ChangeOrderId,
        at: String,
        status: RecordStatus,
        details: ResponseDetails,
    ) -> Self {
        Self {
            change_order_id,
            at,
            status,
            details: Cow::Owned(details),
            message: None,
            rollback_change_order_id: None,
            confirmed_by_status: false,
            change_order_status: None,
        }
    }

    /// Our own message instead of the service's.
    pub(super) fn message(self, message: String) -> Self {
        Self {
            message: Some(message),
            ..self
        }
    }

    /// The rollback change order the abort started.
    pub(super) fn rollback(self, rollback_change_order_id: Option<String>) -> Self {
        Self {
            rollback_change_order_id,
            ..self
        }
    }

    /// The change order's status as `GetChangeOrderInfo` gave it, which decided the record.
    pub(super) fn status_seen(self, status: ChangeOrderStatus) -> Self {
        Self {
            change_order_status: Some(status),
            ..self
        }
    }

    /// The record's status comes from `GetChangeOrderInfo`, not from the abort's answer.
    pub(super) fn confirmed_by_status(self) -> Self {
        Self {
            confirmed_by_status: true,
            ..self
        }
    }

    pub(super) fn build(self) -> JournalRecord {
        let ResponseDetails {
            http_status,
            request_id,
            trace_id,
            code,
            error_code,
            message,
        } = match self.details {
            Cow::Owned(details) => details,
            Cow::Borrowed(details) => ResponseDetails {
                http_status: details.http_status,
                request_id: details.request_id.clone(),
                trace_id: details.trace_id.clone(),
                code: details.code.clone(),
                error_code: details.error_code.clone(),
                // Not copied when our own message replaces it.
                message: match self.message {
                    Some(_) => None,
                    None => details.message.clone(),
                },
            },
        };
        JournalRecord::Response {
            change_order_id: self.change_order_id.clone(),
            at: self.at,
            status: self.status,
            http_status,
            request_id,
            trace_id,
            code,
            error_code,
            message: self.message.or(message),
            rollback_change_order_id: self.rollback_change_order_id,
            confirmed_by_status: self.confirmed_by_status,
            change_order_status: self.change_order_status,
        }
    }
}
