//! What the engine tells the person running it, as values. The core never prints (STYLE
//! 12): the CLI's reporter turns these into a progress bar, plain lines or `--json` lines
//! (`apply_start`, `apply_complete`, `apply_errored`, `change_summary`, `diagnostic`).

use super::{AbortedChange, FailedChange, FatalError, UnknownChange};
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use crate::state::RollbackStatus;
use std::time::Duration;

/// Receives the engine's events, in order, on the engine's task.
pub trait Reporter {
    fn on_event(&mut self, event: &ApplyEvent);
}

/// A reporter that drops everything (benchmarks, and callers that only want the report).
#[derive(Clone, Copy, Debug, Default)]
pub struct SilentReporter;

impl Reporter for SilentReporter {
    fn on_event(&mut self, _event: &ApplyEvent) {}
}

/// Why a change order's request is being sent again.
#[derive(Clone, Debug, PartialEq)]
pub enum RetryCause {
    /// The service throttled it.
    Throttled,
    /// It never left (connection refused, DNS, …) or info had no usable answer.
    Transient,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ApplyEvent {
    /// The run begins: `total` change orders to abort.
    RunStarted {
        total: usize,
        parallelism: u32,
        requests_per_second: u32,
    },
    /// The first request for a change order leaves (`apply_start`).
    ChangeStarted {
        change_order_id: ChangeOrderId,
        verify_first: bool,
    },
    /// The change order is aborted (`apply_complete`).
    ChangeAborted(AbortedChange),
    /// The change order failed (`apply_errored`).
    ChangeFailed(FailedChange),
    /// The abort may or may not have happened (`apply_errored` with status unknown).
    ChangeUnknown(UnknownChange),
    /// A request is sent again after `after` (`diagnostic`, warning).
    Retrying {
        change_order_id: ChangeOrderId,
        attempt: u32,
        after: Duration,
        cause: RetryCause,
        reason: String,
    },
    /// An abort's outcome is unknown; `GetChangeOrderInfo` decides what happens next.
    Verifying {
        change_order_id: ChangeOrderId,
        reason: String,
    },
    /// `GetChangeOrderInfo` said the change order can still be aborted: the abort is sent
    /// again.
    Resending {
        change_order_id: ChangeOrderId,
        status: ChangeOrderStatus,
    },
    /// The whole run slows down (throttled) or speeds back up.
    RateChanged { from: f64, to: f64 },
    /// Credentials, signature or permission: nothing new starts (reported once).
    Fatal(FatalError),
    /// Ctrl-C: nothing new starts; `in_flight` change orders are finishing.
    Interrupted { in_flight: usize },
    /// The journal could not be written: nothing new starts.
    JournalFailed { message: String },
    /// `--wait`: a rollback change order's state.
    RollbackPolled {
        change_order_id: ChangeOrderId,
        rollback_change_order_id: String,
        status: RollbackStatus,
        service_status: Option<ChangeOrderStatus>,
    },
    /// The run is over (`change_summary`).
    Summary {
        aborted: usize,
        failed: usize,
        unknown: usize,
        not_started: usize,
        elapsed: Duration,
    },
}

impl<R: Reporter + ?Sized> Reporter for Box<R> {
    fn on_event(&mut self, event: &ApplyEvent) {
        (**self).on_event(event);
    }
}
