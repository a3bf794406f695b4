//! The engine: one coordinator keeps at most `parallelism` change orders in progress, each a
//! task that walks one change order from its first request to a final record; every request
//! starts on a slot of the shared [`Pacer`]; every abort's intent is durable before the
//! abort leaves; every answer is journaled as it arrives (group commit).
//!
//! Per change order (docs/APPLY.md, "One change order, start to end"): `verify_first` asks `GetChangeOrderInfo` first. An abort's
//! answer is classified by `edas::outcome`: aborted → done; throttled or never sent → back
//! off and send again (bounded); ambiguous → ask `GetChangeOrderInfo` (status 6 → aborted,
//! 0/1/8/9 → send again, anything else → failed), so an abort is never sent twice without a
//! status check in between; business error → failed; fatal → nothing new starts anywhere.
//!
//! This module owns the run's inputs and outputs (config, tasks, the pure record builders
//! `observed_records`/`unfinished_rollbacks`, [`WaitReport`]) and the state every task
//! shares. The parts: [`coordinator`] ([`Engine`]: spawning, collecting, the report),
//! [`worker`] (one change order's state machine), [`poller`] (`--wait`'s watch of one
//! rollback) and [`records`] (each journal record built once, whole).

mod coordinator;
mod poller;
mod records;
mod worker;

pub use coordinator::Engine;

use records::ResponseRecord;

use super::journal_writer::JournalHandle;
use super::pacing::Pacer;
use super::{Clock, FatalError, RetryPolicy};
use crate::civil_time::{LAST_SECOND, civil, put_digits};
use crate::edas::outcome::ResponseDetails;
use crate::edas::request::RollbackOperation;
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use crate::plan::{Action, Plan};
use crate::state::journal::JournalRecord;
use crate::state::{RecordStatus, RollbackStatus, State};
use std::time::{Duration, SystemTime};

/// How a run is paced and retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Requests in flight at once.
    pub parallelism: u32,
    /// Requests started per second, aborts and info requests together.
    pub requests_per_second: u32,
    pub retry: RetryPolicy,
    /// How long an abortable status after an ambiguous abort is watched before resending.
    pub settle: SettlePolicy,
    /// Seeds the jitter of backoffs, so a run's timing is repeatable under a paused clock.
    pub seed: u64,
    /// The circuit breaker (`apply.halt_after_failures`, resolved to a count for this run):
    /// once this many change orders failed, no new request starts; those in flight finish.
    pub halt_after_failures: Option<usize>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            parallelism: super::DEFAULT_PARALLELISM,
            requests_per_second: super::DEFAULT_REQUESTS_PER_SECOND,
            retry: RetryPolicy::default(),
            settle: SettlePolicy::default(),
            seed: 0,
            halt_after_failures: None,
        }
    }
}

/// After an ambiguous abort, a status that still reads abortable is asked about `checks` more
/// times, evenly over `window`, before the abort is sent again: EDAS applies an abort
/// asynchronously, and a resend while it does is refused. `apply.verify_window` sets the
/// window (default 3 s: the simulator's and the service's observed delays are well under it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettlePolicy {
    pub window: Duration,
    pub checks: u32,
}

impl Default for SettlePolicy {
    fn default() -> Self {
        Self {
            window: DEFAULT_VERIFY_WINDOW,
            checks: 3,
        }
    }
}

/// The default `apply.verify_window`.
pub const DEFAULT_VERIFY_WINDOW: Duration = Duration::from_secs(3);

/// One change order to abort, as the plan says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbortTask {
    pub change_order_id: ChangeOrderId,
    pub verify_first: bool,
    pub app: Option<String>,
    pub reason: Option<String>,
    /// The call that rolls it back (AbortAndRollbackChangeOrder or RollbackChangeOrder).
    pub operation: RollbackOperation,
    /// The application id, when the config gives one (ListRecentChangeOrder).
    pub app_id: Option<String>,
    /// Aborts recorded in state before this run: intents count attempts over the change
    /// order's whole history.
    pub previous_attempts: u32,
}

impl AbortTask {
    /// The plan's `abort` actions, in the plan's order, with their attempts so far from
    /// `state`.
    pub fn from_plan(plan: &Plan, state: &State) -> Vec<AbortTask> {
        plan.actions
            .iter()
            .filter(|action| action.action == Action::Abort)
            .map(|action| AbortTask {
                change_order_id: action.change_order_id.clone(),
                verify_first: action.verify_first,
                app: action.app.clone(),
                reason: action.reason.clone(),
                operation: action.operation,
                app_id: action.app_id.clone(),
                previous_attempts: state
                    .change_orders
                    .get(&action.change_order_id)
                    .map_or(0, |record| record.attempts),
            })
            .collect()
    }
}

/// A rollback change order to watch (`apply --wait`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackTarget {
    pub change_order_id: ChangeOrderId,
    pub rollback_change_order_id: String,
}

/// What a refreshed plan saw and nothing needs to be sent for: a change order whose live
/// status is final (6 stopped, or 2, 3, 7, 10 ended by itself) and whose record does not say
/// so yet. Apply journals these, so the state converges and the next plan is a no-op (issue
/// 10). Pure.
pub fn observed_records(plan: &Plan, state: &State, at: &str) -> Vec<JournalRecord> {
    plan.actions
        .iter()
        .filter(|action| action.action == Action::NoOp)
        .filter_map(|action| {
            let live = action.live_status.as_ref()?;
            let status = live.status.filter(|status| status.is_final())?;
            let (record_status, message) = if status == ChangeOrderStatus::Stopped {
                (
                    RecordStatus::Aborted,
                    "`GetChangeOrderInfo` showed status 6 (stopped) when the plan was refreshed"
                        .to_string(),
                )
            } else {
                (
                    RecordStatus::Finished,
                    format!(
                        "change order was in status {status} when the plan was refreshed, \
                         which cannot be aborted: {}",
                        crate::plan::cannot_abort_hint(status)
                    ),
                )
            };
            let recorded = state.change_orders.get(&action.change_order_id);
            if recorded.is_some_and(|record| record.status == record_status) {
                return None;
            }
            let details = ResponseDetails {
                request_id: live.request_id.clone(),
                ..ResponseDetails::default()
            };
            Some(
                ResponseRecord::new(
                    &action.change_order_id,
                    at.to_string(),
                    record_status,
                    &details,
                )
                .message(message)
                .confirmed_by_status()
                .status_seen(status)
                .build(),
            )
        })
        .collect()
}

/// Rollbacks an earlier run started and never saw end (`apply --wait` timed out, was
/// stopped, or was not asked for): aborted records with a rollback change order id and no
/// final rollback status, except `skip` (this run's own). `apply --wait` resumes watching
/// them. Pure.
pub fn unfinished_rollbacks(state: &State, skip: &[ChangeOrderId]) -> Vec<RollbackTarget> {
    state
        .change_orders
        .iter()
        .filter(|(id, _)| !skip.contains(id))
        .filter(|(_, record)| record.status == RecordStatus::Aborted)
        .filter(|(_, record)| {
            matches!(
                record.rollback_status,
                None | Some(RollbackStatus::Running | RollbackStatus::TimedOut)
            )
        })
        .filter_map(|(id, record)| {
            Some(RollbackTarget {
                change_order_id: id.clone(),
                rollback_change_order_id: record.rollback_change_order_id.clone()?,
            })
        })
        .collect()
}

/// How the watched rollbacks ended.
#[derive(Debug, Default)]
pub struct WaitReport {
    pub succeeded: Vec<RollbackTarget>,
    /// Ended in status 7: some batches rolled back and the rollback stopped; what runs now is
    /// a mix of versions, which a person must check.
    pub partially_succeeded: Vec<RollbackTarget>,
    /// With the service's status (3, 6 or 10) or the error that ended the watch.
    pub failed: Vec<(RollbackTarget, String)>,
    pub timed_out: Vec<RollbackTarget>,
    /// Stopped by Ctrl-C or a fatal error before their end was seen.
    pub not_finished: Vec<RollbackTarget>,
    pub interrupted: bool,
    pub fatal: Option<FatalError>,
    /// Aborted change orders whose rollback change order id is not known (their abort was
    /// confirmed by their status after a lost response), so they could not be watched.
    pub without_rollback_id: usize,
    /// Of those, each one's id and why ListRecentChangeOrder did not name its rollback.
    pub not_followed: Vec<(ChangeOrderId, String)>,
}

impl WaitReport {
    pub fn all_succeeded(&self) -> bool {
        self.failed.is_empty()
            && self.partially_succeeded.is_empty()
            && self.timed_out.is_empty()
            && self.not_finished.is_empty()
            && self.fatal.is_none()
            && !self.interrupted
    }
}

/// What every task of a run shares: the transport, the clock for journal times, the pacer,
/// the retry and settle policies, and the handle to the journal writer.
struct Shared<T, C> {
    transport: T,
    clock: C,
    pacer: Pacer,
    retry: RetryPolicy,
    settle: SettlePolicy,
    journal: JournalHandle,
}

impl<T, C: Clock> Shared<T, C> {
    fn now(&self) -> String {
        rfc3339(self.clock.now())
    }
}

/// Formats a wall-clock time for the journal's `at` fields: `2026-11-27T10:00:00.123Z`, as
/// `humantime::format_rfc3339_millis` does, written straight into the string (two per
/// change order; the `Display` route cost ~600 instructions each). Times outside years
/// 1970–9999 go through humantime.
pub fn rfc3339(time: SystemTime) -> String {
    let since_epoch = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) if since.as_secs() <= LAST_SECOND.unsigned_abs() => since,
        _ => return humantime::format_rfc3339_millis(time).to_string(),
    };
    let civil = civil(time);
    let mut text = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut text[0..4], civil.year);
    put_digits(&mut text[5..7], civil.month);
    put_digits(&mut text[8..10], civil.day);
    put_digits(&mut text[11..13], civil.hour);
    put_digits(&mut text[14..16], civil.minute);
    put_digits(&mut text[17..19], civil.second);
    put_digits(&mut text[20..23], since_epoch.subsec_millis());
    // ASCII digits and separators only, so always UTF-8.
    String::from_utf8(text.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;
    use proptest::prelude::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_journal_time_is_rfc3339_in_utc_with_milliseconds() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_773_600_123);
        assert_eq!(rfc3339(at), "2026-11-27T10:00:00.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    proptest! {
        /// Every leap day, month end and century rule, as humantime writes them.
        #[test]
        fn a_journal_time_is_written_as_humantime_writes_it(
            millis in 0u64..253_402_300_800_000,
            nanos in 0u32..1_000_000,
        ) {
            let at = SystemTime::UNIX_EPOCH
                + Duration::from_millis(millis)
                + Duration::from_nanos(u64::from(nanos));
            prop_assert_eq!(rfc3339(at), humantime::format_rfc3339_millis(at).to_string());
        }
    }
}
