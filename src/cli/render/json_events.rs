//! The `apply --json` stream as types: each line is a [`JsonLine`], whose `type` and fields
//! are an [`Event`]. The stream's JSON Schema (`schemas/apply-events.schema.json`) is generated
//! from these types, and docs/json-output.md is checked against that schema
//! ([`super::schemas`]), so the wire, the schema and the doc say the same thing. Borrowed
//! fields: a line is serialised straight from the engine's event, with no copies.
//!
//! Fields without a value are left out, never `null` (docs/json-output.md).

use crate::apply::event::{ApplyEvent, RetryCause};
use crate::ids::ChangeOrderId;
use crate::plan::{Action, PlannedAction};
use crate::state::RollbackStatus;
use schemars::JsonSchema;
use serde::Serialize;

/// The `--json` event stream's format version (the `version` line's `ui` field).
pub(crate) const JSON_UI_VERSION: &str = "1.0";

/// One line of `apply --json`: `@level`, `@message`, `@timestamp`, then `type` and that
/// type's fields.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(title = "edas-rollback apply --json line")]
pub(crate) struct JsonLine<'a> {
    #[serde(rename = "@level")]
    pub level: Level,
    /// One human sentence; for people, not for parsing.
    #[serde(rename = "@message")]
    pub message: String,
    /// RFC 3339 with microseconds, when the line was written.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    #[serde(flatten)]
    pub event: Event<'a>,
}

/// `@level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

/// A line's `type` and its fields.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Event<'a> {
    /// The first line.
    Version {
        /// The tool's version.
        edas_rollback: &'a str,
        /// This format's version, [`JSON_UI_VERSION`].
        ui: &'a str,
    },
    /// Once per `abort` action of the plan, before anything is sent.
    PlannedChange {
        change_order_id: &'a ChangeOrderId,
        action: Action,
        verify_first: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        app: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
    /// The first request for a change order leaves.
    ApplyStart {
        change_order_id: &'a ChangeOrderId,
        verify_first: bool,
    },
    /// The change order is aborted.
    ApplyComplete {
        change_order_id: &'a ChangeOrderId,
        status: Aborted,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
        /// Absent when the abort was confirmed by status after a lost response.
        #[serde(skip_serializing_if = "Option::is_none")]
        rollback_change_order_id: Option<&'a str>,
        confirmed_by_status: bool,
        /// Aborts sent in this run.
        attempts: u32,
    },
    /// The change order ended `failed` or `unknown`.
    ApplyErrored {
        change_order_id: &'a ChangeOrderId,
        status: Errored,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'a str>,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        http_status: Option<u16>,
    },
    /// A retry, a verification, a slow-down, a fatal error, an interruption, a journal error,
    /// or (with `--wait`) how a rollback ended.
    Diagnostic { diagnostic: Diagnostic<'a> },
    /// The last line of the run.
    ChangeSummary { changes: Changes },
}

/// `apply_complete`'s `status`: always `aborted`.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Aborted {
    Aborted,
}

/// `apply_errored`'s `status`.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Errored {
    Failed,
    Unknown,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Diagnostic<'a> {
    pub severity: Severity,
    pub summary: String,
    /// Absent when there is nothing more to say (a journal error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail<'a>>,
}

/// `diagnostic.severity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Info,
    Warning,
    Error,
}

/// `diagnostic.detail`: the fields that apply to the diagnostic at hand; the rest are absent.
#[derive(Debug, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Detail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_order_id: Option<&'a ChangeOrderId>,
    /// A retry: the attempt about to be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// A retry: how long until it is made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_seconds: Option<f64>,
    /// A retry: whether the service throttled the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttled: Option<bool>,
    /// The change order's status from `GetChangeOrderInfo` (a resend, a rollback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_status: Option<i32>,
    /// A slow-down: the rate before, requests per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_per_second: Option<f64>,
    /// A slow-down: the rate after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_per_second: Option<f64>,
    /// A fatal error: the service's `Code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    /// A fatal error: the service's `RequestId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    /// A fatal error: what to fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'a str>,
    /// An interruption: change orders still in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<usize>,
    /// `--wait`: the rollback change order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_change_order_id: Option<&'a str>,
    /// `--wait`: how the rollback ended so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_status: Option<RollbackStatus>,
}

/// `change_summary`'s `changes`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Changes {
    /// Always `apply`.
    pub operation: Operation,
    pub aborted: usize,
    pub failed: usize,
    pub unknown: usize,
    pub not_started: usize,
    pub elapsed_seconds: f64,
}

/// `changes.operation`.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Operation {
    Apply,
}

/// A line's level, message and event, before it is stamped with the time.
pub(crate) type Unstamped<'a> = (Level, String, Event<'a>);

/// The `version` line.
pub(crate) fn version() -> Unstamped<'static> {
    let version = env!("CARGO_PKG_VERSION");
    (
        Level::Info,
        format!("edas-rollback {version}"),
        Event::Version {
            edas_rollback: version,
            ui: JSON_UI_VERSION,
        },
    )
}

/// The `planned_change` line of one action of the plan.
pub(crate) fn planned_change(action: &PlannedAction) -> Unstamped<'_> {
    let verb = match (
        action.action,
        action.verify_first,
        action.last_error.is_some(),
    ) {
        (Action::Abort, true, _) => "verify, then abort",
        (Action::Abort, false, true) => "retry abort",
        (Action::Abort, false, false) => "abort",
        (Action::NoOp, ..) => "no-op",
        (Action::NotDeclared, ..) => "not declared",
    };
    (
        Level::Info,
        format!("{}: plan to {verb}", action.change_order_id),
        Event::PlannedChange {
            change_order_id: &action.change_order_id,
            action: action.action,
            verify_first: action.verify_first,
            app: action.app.as_deref(),
            reason: action.reason.as_deref(),
        },
    )
}

fn diagnostic<'a>(severity: Severity, summary: String, detail: Detail<'a>) -> Unstamped<'a> {
    let level = match severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warn,
        Severity::Info => Level::Info,
    };
    (
        level,
        summary.clone(),
        Event::Diagnostic {
            diagnostic: Diagnostic {
                severity,
                summary,
                detail: Some(detail),
            },
        },
    )
}

/// The line for an engine event; `None` for events the stream does not show (the run's
/// start, a rate going back up).
pub(crate) fn of_event(event: &ApplyEvent) -> Option<Unstamped<'_>> {
    use super::apply::{fatal_summary, one_line, rollback_word, safe};
    let line = match event {
        ApplyEvent::RunStarted { .. } => return None,
        ApplyEvent::ChangeStarted {
            change_order_id,
            verify_first,
        } => (
            Level::Info,
            format!("{change_order_id}: aborting…"),
            Event::ApplyStart {
                change_order_id,
                verify_first: *verify_first,
            },
        ),
        ApplyEvent::ChangeAborted(aborted) => (
            Level::Info,
            format!("{}: aborted", aborted.change_order_id),
            Event::ApplyComplete {
                change_order_id: &aborted.change_order_id,
                status: Aborted::Aborted,
                request_id: aborted.request_id.as_deref(),
                rollback_change_order_id: aborted.rollback_change_order_id.as_deref(),
                confirmed_by_status: aborted.confirmed_by_status,
                attempts: aborted.attempts,
            },
        ),
        ApplyEvent::ChangeFailed(failed) => (
            Level::Error,
            format!(
                "{}: failed: {}",
                failed.change_order_id,
                one_line(&failed.message)
            ),
            Event::ApplyErrored {
                change_order_id: &failed.change_order_id,
                status: Errored::Failed,
                code: failed.code.as_deref(),
                message: &failed.message,
                request_id: failed.request_id.as_deref(),
                http_status: failed.http_status,
            },
        ),
        ApplyEvent::ChangeUnknown(unknown) => (
            Level::Error,
            format!(
                "{}: outcome unknown: {}",
                unknown.change_order_id,
                safe(&unknown.message)
            ),
            Event::ApplyErrored {
                change_order_id: &unknown.change_order_id,
                status: Errored::Unknown,
                code: None,
                message: &unknown.message,
                request_id: None,
                http_status: None,
            },
        ),
        ApplyEvent::Retrying {
            change_order_id,
            attempt,
            after,
            cause,
            reason,
        } => diagnostic(
            Severity::Warning,
            format!("{change_order_id}: retrying: {}", safe(reason)),
            Detail {
                change_order_id: Some(change_order_id),
                attempt: Some(*attempt),
                after_seconds: Some(after.as_secs_f64()),
                throttled: Some(*cause == RetryCause::Throttled),
                ..Detail::default()
            },
        ),
        ApplyEvent::Verifying {
            change_order_id,
            reason,
        } => diagnostic(
            Severity::Warning,
            format!(
                "{change_order_id}: outcome unknown ({}); asking GetChangeOrderInfo",
                safe(reason)
            ),
            Detail {
                change_order_id: Some(change_order_id),
                ..Detail::default()
            },
        ),
        ApplyEvent::Resending {
            change_order_id,
            status,
        } => diagnostic(
            Severity::Warning,
            format!(
                "{change_order_id}: still abortable (status {status}); sending the abort again"
            ),
            Detail {
                change_order_id: Some(change_order_id),
                service_status: Some(status.code()),
                ..Detail::default()
            },
        ),
        ApplyEvent::RateChanged { from, to } if to < from => diagnostic(
            Severity::Warning,
            format!("throttled by the service: slowing down to {to:.1} requests/s"),
            Detail {
                from_per_second: Some(*from),
                to_per_second: Some(*to),
                ..Detail::default()
            },
        ),
        ApplyEvent::RateChanged { .. } => return None,
        ApplyEvent::Fatal(fatal) => diagnostic(
            Severity::Error,
            fatal_summary(fatal),
            Detail {
                change_order_id: Some(&fatal.change_order_id),
                code: fatal.details.code.as_deref(),
                request_id: fatal.details.request_id.as_deref(),
                hint: Some(fatal.hint()),
                ..Detail::default()
            },
        ),
        ApplyEvent::Interrupted { in_flight } => diagnostic(
            Severity::Warning,
            format!(
                "interrupted by {}: starting nothing new, finishing {in_flight} in flight",
                crate::cli::signals::stop_reason()
            ),
            Detail {
                in_flight: Some(*in_flight),
                ..Detail::default()
            },
        ),
        ApplyEvent::JournalFailed { message } => {
            let summary = format!("the journal could not be written: {message}");
            (
                Level::Error,
                summary.clone(),
                Event::Diagnostic {
                    diagnostic: Diagnostic {
                        severity: Severity::Error,
                        summary,
                        detail: None,
                    },
                },
            )
        }
        ApplyEvent::RollbackPolled {
            change_order_id,
            rollback_change_order_id,
            status,
            service_status,
        } => {
            let severity = if *status == RollbackStatus::Succeeded {
                Severity::Info
            } else {
                Severity::Error
            };
            let (level, _, event) = diagnostic(
                severity,
                format!("rollback {}", rollback_word(*status)),
                Detail {
                    change_order_id: Some(change_order_id),
                    rollback_change_order_id: Some(rollback_change_order_id),
                    rollback_status: Some(*status),
                    service_status: service_status.map(|status| status.code()),
                    ..Detail::default()
                },
            );
            // The line's message names the change order; the diagnostic's summary does not.
            (
                level,
                format!("{change_order_id}: rollback {}", rollback_word(*status)),
                event,
            )
        }
        ApplyEvent::Summary {
            aborted,
            failed,
            unknown,
            not_started,
            elapsed,
        } => (
            Level::Info,
            format!(
                "Apply complete! Aborted: {aborted}, failed: {failed}, unknown: {unknown}, \
                 not started: {not_started}."
            ),
            Event::ChangeSummary {
                changes: Changes {
                    operation: Operation::Apply,
                    aborted: *aborted,
                    failed: *failed,
                    unknown: *unknown,
                    not_started: *not_started,
                    elapsed_seconds: elapsed.as_secs_f64(),
                },
            },
        ),
    };
    Some(line)
}
