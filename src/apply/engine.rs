//! The engine: one coordinator keeps at most `parallelism` change orders in progress, each a
//! task that walks one change order from its first request to a final record; every request
//! starts on a slot of the shared [`Pacer`]; every abort's intent is durable before the
//! abort leaves; every answer is journaled as it arrives (group commit).
//!
//! Per change order (DESIGN 3): `verify_first` asks `GetChangeOrderInfo` first. An abort's
//! answer is classified by `edas::outcome`: aborted → done; throttled or never sent → back
//! off and send again (bounded); ambiguous → ask `GetChangeOrderInfo` (status 6 → aborted,
//! 0/1/8/9 → send again, anything else → failed), so an abort is never sent twice without a
//! status check in between; business error → failed; fatal → nothing new starts anywhere.

use super::event::{ApplyEvent, Reporter, RetryCause};
use super::journal_writer::{self, DurableTicket, JournalHandle, NotDurable, WriterResult};
use super::pacing::{Pacer, RateChange};
use super::status::{AskObserver, Asked, Quietly, StatusAsker};
use super::{
    AbortedChange, ApplyReport, CancelToken, Clock, FailedChange, FatalError, JournalSink,
    RetryPolicy, Transport, UnknownChange,
};
use crate::edas::outcome::{Accepted, FatalKind, Outcome, ResponseDetails};
use crate::edas::request::RollbackOperation;
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use crate::plan::{Action, Plan};
use crate::state::journal::{JournalRecord, RequestKind};
use crate::state::{RecordStatus, RollbackStatus, State};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

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
            Some(JournalRecord::Response {
                change_order_id: action.change_order_id.clone(),
                at: at.to_string(),
                status: record_status,
                http_status: None,
                request_id: live.request_id.clone(),
                trace_id: None,
                code: None,
                error_code: None,
                message: Some(message),
                rollback_change_order_id: None,
                confirmed_by_status: true,
                change_order_status: Some(status),
            })
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

/// Formats a wall-clock time for the journal's `at` fields.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// A run in progress: the transport, the pacer and the journal writer shared by the aborts
/// and by `--wait`. Create inside a tokio runtime; end with [`Engine::finish`].
pub struct Engine<T, C, S> {
    shared: Arc<Shared<T, C>>,
    writer: JoinHandle<WriterResult<S>>,
    config: EngineConfig,
}

impl<T: Transport, C: Clock, S: JournalSink> Engine<T, C, S> {
    /// Starts the journal writer. The sink already holds the journal's `begin` record.
    pub fn start(transport: T, sink: S, clock: C, config: EngineConfig) -> Self {
        let (journal, writer) = journal_writer::spawn(sink);
        let shared = Arc::new(Shared {
            transport,
            clock,
            pacer: Pacer::new(config.requests_per_second),
            retry: config.retry,
            settle: config.settle,
            journal,
        });
        Self {
            shared,
            writer,
            config,
        }
    }

    /// Journals records that need no request (see [`observed_records`]).
    pub fn record(&self, records: Vec<JournalRecord>) -> Result<(), String> {
        for record in records {
            self.shared
                .journal
                .append(record)
                .map_err(|error| error.message)?;
        }
        Ok(())
    }

    /// The transport, e.g. for counters in benchmarks.
    pub fn transport(&self) -> &T {
        &self.shared.transport
    }

    /// Writes and syncs everything queued, stops the writer and gives the sink back, with the
    /// first journal error of the run if there was one.
    pub async fn finish(self) -> WriterResult<S> {
        let Self { shared, writer, .. } = self;
        // Workers are all joined by now, so this is the last handle to the journal and to
        // the transport; dropping it lets the writer drain its queue and end.
        drop(shared);
        match writer.await {
            Ok(result) => result,
            Err(_) => WriterResult {
                sink: None,
                error: Some(super::ApplyError::JournalClosed),
                syncs: 0,
            },
        }
    }

    /// Aborts every task. Returns when each has a final record, or when a stop (Ctrl-C on
    /// `cancel`, a fatal error, a journal error) has let every request in flight finish.
    pub async fn abort_all<R: Reporter>(
        &self,
        tasks: Vec<AbortTask>,
        reporter: &mut R,
        cancel: &CancelToken,
    ) -> ApplyReport {
        let run_started = Instant::now();
        let parallelism = self.config.parallelism.max(1) as usize;
        reporter.on_event(&ApplyEvent::RunStarted {
            total: tasks.len(),
            parallelism: self.config.parallelism,
            requests_per_second: self.config.requests_per_second,
        });
        let stop = CancelToken::new();
        let (events, mut event_queue) = mpsc::unbounded_channel();
        let mut queue = tasks.into_iter().enumerate();
        let mut running = JoinSet::new();
        let mut running_ids = HashMap::new();
        let mut report = ApplyReport::default();
        let user_cancel = cancel.cancelled();
        tokio::pin!(user_cancel);

        // Tasks whose first abort intent is already queued for the journal (see
        // `intents_ahead`): a slot that frees sends at once instead of waiting for a sync.
        let ahead = intents_ahead(parallelism);
        let mut prepared: VecDeque<(usize, AbortTask, Option<DurableTicket>)> =
            VecDeque::with_capacity(ahead);
        loop {
            // After a stop nothing new starts, not even a task whose intent was written
            // ahead: those intents are withdrawn below.
            while running.len() < parallelism && !stop.is_cancelled() {
                let (index, task, ticket) = match prepared.pop_front() {
                    Some(next) => next,
                    None => match queue.next() {
                        Some((index, task)) => (index, task, None),
                        None => break,
                    },
                };
                let id = task.change_order_id.clone();
                let worker = Worker {
                    shared: Arc::clone(&self.shared),
                    rng: fastrand::Rng::with_seed(task_seed(self.config.seed, index)),
                    task,
                    events: events.clone(),
                    stop: stop.clone(),
                    abort_attempts: 0,
                    info_attempts: 0,
                    announced: false,
                    last: Last::Untouched,
                    prepared: ticket,
                    ambiguous: false,
                    refused: None,
                };
                let handle = running.spawn(worker.run());
                running_ids.insert(handle.id(), id);
            }
            while !stop.is_cancelled() && prepared.len() < ahead {
                let Some((index, task)) = queue.next() else {
                    break;
                };
                let ticket = if task.verify_first {
                    // Its first request is a read, which needs no intent ahead.
                    None
                } else {
                    let intent = abort_intent(&task, task.previous_attempts + 1, self.shared.now());
                    match self.shared.journal.append_ahead(intent) {
                        Ok(ticket) => Some(ticket),
                        Err(error) => {
                            stop.cancel();
                            forward(
                                ApplyEvent::JournalFailed {
                                    message: error.message,
                                },
                                reporter,
                                &mut report,
                            );
                            report.not_started.push(task.change_order_id);
                            break;
                        }
                    }
                };
                prepared.push_back((index, task, ticket));
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                () = &mut user_cancel, if !report.interrupted => {
                    report.interrupted = true;
                    stop.cancel();
                    reporter.on_event(&ApplyEvent::Interrupted { in_flight: running.len() });
                }
                Some(event) = event_queue.recv() => {
                    forward(event, reporter, &mut report);
                }
                Some(joined) = running.join_next_with_id() => {
                    // A worker's own events were queued before it ended: show them first.
                    while let Ok(event) = event_queue.try_recv() {
                        forward(event, reporter, &mut report);
                    }
                    let end = match joined {
                        Ok((id, end)) => {
                            running_ids.remove(&id);
                            end
                        }
                        Err(error) => {
                            // Only a bug panics a worker; its journal tells what was sent.
                            let change_order_id = running_ids
                                .remove(&error.id())
                                .unwrap_or_else(|| ChangeOrderId::new("?"));
                            WorkerEnd {
                                ended: Ended::Unknown(UnknownChange {
                                    change_order_id,
                                    message: format!("the task for this change order failed: {error}"),
                                }),
                                fatal: None,
                            }
                        }
                    };
                    record(end, &mut report, reporter, &stop);
                    if let Some(limit) = self.config.halt_after_failures
                        && report.halted_after_failures.is_none()
                        && report.failed.len() >= limit
                    {
                        // The breaker: a run that fails this often is failing for a reason a
                        // person must look at; what has not started is left for a later run.
                        report.halted_after_failures = Some(limit);
                        stop.cancel();
                    }
                }
            }
        }
        while let Ok(event) = event_queue.try_recv() {
            forward(event, reporter, &mut report);
        }
        for (_, task, ticket) in prepared.drain(..) {
            if ticket.is_some() {
                // If this record cannot be written the intent folds to `unknown` and the next
                // apply asks GetChangeOrderInfo first: safe, one read more.
                let _ = self.shared.journal.append(JournalRecord::Withdrawn {
                    change_order_id: task.change_order_id.clone(),
                    attempt: task.previous_attempts + 1,
                    at: self.shared.now(),
                });
            }
            report.not_started.push(task.change_order_id);
        }
        report
            .not_started
            .extend(queue.map(|(_, task)| task.change_order_id));
        report.elapsed = run_started.elapsed();
        reporter.on_event(&ApplyEvent::Summary {
            aborted: report.aborted.len(),
            failed: report.failed.len(),
            unknown: report.unknown.len(),
            not_started: report.not_started.len(),
            elapsed: report.elapsed,
        });
        report
    }

    /// `--wait`: polls each rollback change order every `poll_interval` (on the same pacer)
    /// until it reaches a final status (2 succeeded; 7 partially succeeded; 3, 6, 10 failed)
    /// or until `timeout`; records the result in the journal.
    /// Finds, with ListRecentChangeOrder, the rollback change order of each abort confirmed by
    /// its status after a lost answer (`apply::rollback_id`), sets it on `aborted` and journals
    /// it (or why it was not found) on the change order's record. `app_ids` maps a change order
    /// to the configured `app_id`. Returns those not found, with the reason.
    pub async fn find_rollback_ids(
        &self,
        aborted: &mut [super::AbortedChange],
        app_ids: &std::collections::HashMap<ChangeOrderId, String>,
        cancel: &CancelToken,
    ) -> Vec<(ChangeOrderId, String)> {
        use super::rollback_id::{Listed, find_rollback, list_app};
        let mut rng = fastrand::Rng::with_seed(task_seed(self.config.seed ^ 0x4c49_5354, 0));
        let mut not_found = Vec::new();
        for change in aborted.iter_mut().filter(|change| {
            change.confirmed_by_status && change.rollback_change_order_id.is_none()
        }) {
            let id = change.change_order_id.clone();
            let found = match app_ids.get(&id) {
                // GetChangeOrderInfo's ChangeOrderInfo has no AppId (official API reference and
                // Go SDK), so the config is the only source.
                None => Err(
                    "no `app_id` is configured for it (GetChangeOrderInfo does not give one)"
                        .to_string(),
                ),
                Some(app_id) => match list_app(
                    &self.shared.transport,
                    &self.shared.pacer,
                    self.shared.retry,
                    cancel,
                    app_id,
                    &mut rng,
                )
                .await
                {
                    Listed::Rows(rows) => find_rollback(&rows, &id)
                        .map_err(|why| format!("{why} (application `{app_id}`)")),
                    Listed::Failed(why) => Err(format!("ListRecentChangeOrder failed: {why}")),
                    Listed::Fatal(fatal) => Err(format!(
                        "ListRecentChangeOrder failed: {}",
                        fatal.details.message.as_deref().unwrap_or(fatal.hint())
                    )),
                    Listed::Stopped => {
                        Err("the run stopped before ListRecentChangeOrder answered".to_string())
                    }
                },
            };
            let message = match &found {
                Ok(rollback) => format!(
                    "`GetChangeOrderInfo` shows status 6 (stopped); rollback change order                      `{rollback}` found with ListRecentChangeOrder"
                ),
                Err(why) => format!(
                    "`GetChangeOrderInfo` shows status 6 (stopped); the rollback change order                      could not be found: {why}"
                ),
            };
            let _ = self.shared.journal.append(JournalRecord::Response {
                change_order_id: id.clone(),
                at: self.shared.now(),
                status: RecordStatus::Aborted,
                http_status: None,
                request_id: change.request_id.clone(),
                trace_id: None,
                code: None,
                error_code: None,
                message: Some(message),
                rollback_change_order_id: found.as_ref().ok().cloned(),
                confirmed_by_status: true,
                change_order_status: Some(ChangeOrderStatus::Stopped),
            });
            match found {
                Ok(rollback) => change.rollback_change_order_id = Some(rollback),
                Err(why) => not_found.push((id, why)),
            }
        }
        not_found
    }

    pub async fn wait_for_rollbacks<R: Reporter>(
        &self,
        targets: Vec<RollbackTarget>,
        poll_interval: Duration,
        timeout: Duration,
        reporter: &mut R,
        cancel: &CancelToken,
    ) -> WaitReport {
        let deadline = Instant::now() + timeout;
        let stop = CancelToken::new();
        let in_flight = Arc::new(Semaphore::new(self.config.parallelism.max(1) as usize));
        let mut running = JoinSet::new();
        for (index, target) in targets.into_iter().enumerate() {
            let poller = Poller {
                shared: Arc::clone(&self.shared),
                rng: fastrand::Rng::with_seed(task_seed(self.config.seed ^ 0x5741_4954, index)),
                target,
                in_flight: Arc::clone(&in_flight),
                stop: stop.clone(),
                poll_interval,
                deadline,
            };
            running.spawn(poller.run());
        }
        let mut report = WaitReport::default();
        let user_cancel = cancel.cancelled();
        tokio::pin!(user_cancel);
        loop {
            tokio::select! {
                biased;
                () = &mut user_cancel, if !report.interrupted => {
                    report.interrupted = true;
                    stop.cancel();
                    reporter.on_event(&ApplyEvent::Interrupted { in_flight: running.len() });
                }
                joined = running.join_next() => {
                    let Some(joined) = joined else { break };
                    let Ok(end) = joined else { continue };
                    if let Some(event) = &end.event {
                        reporter.on_event(event);
                    }
                    if let Some(fatal) = end.fatal {
                        stop.cancel();
                        if report.fatal.is_none() {
                            reporter.on_event(&ApplyEvent::Fatal(fatal.clone()));
                            report.fatal = Some(fatal);
                        }
                    }
                    match end.verdict {
                        PollVerdict::Succeeded => report.succeeded.push(end.target),
                        PollVerdict::Partial => report.partially_succeeded.push(end.target),
                        PollVerdict::Failed(why) => report.failed.push((end.target, why)),
                        PollVerdict::TimedOut => report.timed_out.push(end.target),
                        PollVerdict::NotFinished => report.not_finished.push(end.target),
                    }
                }
            }
        }
        report
    }
}

fn task_seed(seed: u64, index: usize) -> u64 {
    seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn forward<R: Reporter>(event: ApplyEvent, reporter: &mut R, report: &mut ApplyReport) {
    if let ApplyEvent::JournalFailed { message } = &event {
        // Every waiting intent hears of the same failure; say it once.
        if report.journal_error.is_some() {
            return;
        }
        report.journal_error = Some(message.clone());
    }
    reporter.on_event(&event);
}

fn record<R: Reporter>(
    end: WorkerEnd,
    report: &mut ApplyReport,
    reporter: &mut R,
    stop: &CancelToken,
) {
    if let Some(fatal) = end.fatal {
        stop.cancel();
        if report.fatal.is_none() {
            reporter.on_event(&ApplyEvent::Fatal((*fatal).clone()));
            report.fatal = Some(*fatal);
        }
    }
    match end.ended {
        Ended::Aborted(aborted) => {
            reporter.on_event(&ApplyEvent::ChangeAborted(aborted.clone()));
            report.aborted.push(aborted);
        }
        Ended::Failed(failed) => {
            reporter.on_event(&ApplyEvent::ChangeFailed(failed.clone()));
            report.failed.push(failed);
        }
        Ended::Unknown(unknown) => {
            reporter.on_event(&ApplyEvent::ChangeUnknown(unknown.clone()));
            report.unknown.push(unknown);
        }
        Ended::NotStarted(id) => report.not_started.push(id),
    }
}

/// Where one change order ended up, in the terms of its last journal record.
enum Ended {
    Aborted(AbortedChange),
    Failed(FailedChange),
    Unknown(UnknownChange),
    /// Nothing this run did changed its record.
    NotStarted(ChangeOrderId),
}

struct WorkerEnd {
    ended: Ended,
    fatal: Option<Box<FatalError>>,
}

impl From<Ended> for WorkerEnd {
    fn from(ended: Ended) -> Self {
        Self { ended, fatal: None }
    }
}

/// What the journal last says about this change order in this run.
enum Last {
    Untouched,
    Failed(FailedChange),
    Unknown(String),
}

enum Verified {
    Aborted(AbortedChange),
    Abortable(ChangeOrderStatus),
    Ended(WorkerEnd),
}

enum Step {
    Done(WorkerEnd),
    Verify,
    Again,
}

struct Worker<T, C> {
    shared: Arc<Shared<T, C>>,
    rng: fastrand::Rng,
    task: AbortTask,
    events: mpsc::UnboundedSender<ApplyEvent>,
    stop: CancelToken,
    abort_attempts: u32,
    info_attempts: u32,
    announced: bool,
    last: Last,
    /// The first abort's intent, queued ahead by the coordinator; the abort waits for its
    /// sync (usually long done) instead of writing its own intent.
    prepared: Option<DurableTicket>,
    /// An abort of this run had an ambiguous outcome: the service may be applying it.
    ambiguous: bool,
    /// The service refused the last abort (a business error); the status check that follows
    /// decides whether that was because it is already stopped or finished.
    refused: Option<FailedChange>,
}

/// How many tasks ahead of the free slots have their first abort intent written: half the
/// parallelism. At 20 in flight and 50 ms latency a slot frees every 2.5 ms, and a sync
/// here takes 1–6 ms, so a few ahead hide the sync from every slot; the cost is that a crash
/// leaves up to this many intents never sent, which the next run verifies with one read
/// each (never a duplicate), and a stop sends these few too (their intents are written).
fn intents_ahead(parallelism: usize) -> usize {
    parallelism.div_ceil(2)
}

fn abort_intent(task: &AbortTask, attempt: u32, at: String) -> JournalRecord {
    JournalRecord::Intent {
        change_order_id: task.change_order_id.clone(),
        attempt,
        at,
        request: RequestKind::Abort,
        operation: Some(task.operation),
        app: task.app.clone(),
        reason: task.reason.clone(),
    }
}

impl<T: Transport, C: Clock> Worker<T, C> {
    async fn run(mut self) -> WorkerEnd {
        let mut verify = self.task.verify_first;
        loop {
            if verify {
                let mut verified = self.verify().await;
                if matches!(verified, Verified::Abortable(_)) && self.ambiguous {
                    verified = self.settle(verified).await;
                }
                match verified {
                    Verified::Aborted(aborted) => return Ended::Aborted(aborted).into(),
                    Verified::Abortable(status) => {
                        if let Some(refused) = self.refused.take() {
                            return self.refused_while_abortable(refused, status);
                        }
                        if self.abort_attempts > 0 {
                            self.emit(ApplyEvent::Resending {
                                change_order_id: self.id().clone(),
                                status,
                            });
                        }
                        verify = false;
                    }
                    Verified::Ended(end) => return end,
                }
            }
            match self.abort_once().await {
                Step::Done(end) => return end,
                Step::Verify => verify = true,
                Step::Again => {}
            }
        }
    }

    /// After an ambiguous abort the status still reads abortable: EDAS applies an abort
    /// asynchronously, so ask again a few times over a short window before sending it again
    /// (issue 11: a resend of an abort that was being applied was refused and recorded
    /// `failed`).
    async fn settle(&mut self, mut verified: Verified) -> Verified {
        let checks = self.shared.settle.checks;
        if checks == 0 {
            return verified;
        }
        let spacing = self.shared.settle.window / checks;
        for _ in 0..checks {
            if !self.back_off(spacing).await {
                return Verified::Ended(self.stopped());
            }
            verified = self.verify().await;
            if !matches!(verified, Verified::Abortable(_)) {
                break;
            }
        }
        verified
    }

    /// The service refused the abort while the change order can still be aborted: the cause
    /// is not its status. The usual one is the other kind of cluster, so the message names
    /// the other operation.
    fn refused_while_abortable(
        &mut self,
        refused: FailedChange,
        status: ChangeOrderStatus,
    ) -> WorkerEnd {
        let operation = self.task.operation;
        let other = operation.other();
        let message = format!(
            "{} (the change order is still {status}, so the refusal is not about its status; \
             if its application is in an {} cluster, set `operation: {other}` on this change \
             order: `{}` is for {} clusters)",
            refused.message,
            other.cluster_kind(),
            operation.request().action(),
            operation.cluster_kind(),
        );
        let details = ResponseDetails {
            http_status: refused.http_status,
            request_id: refused.request_id.clone(),
            code: refused.code.clone(),
            ..ResponseDetails::default()
        };
        self.journal(self.response(RecordStatus::Failed, &details, Some(message.clone())));
        Ended::Failed(FailedChange { message, ..refused }).into()
    }

    fn id(&self) -> &ChangeOrderId {
        &self.task.change_order_id
    }

    fn emit(&self, event: ApplyEvent) {
        // The coordinator outlives every worker; a closed channel means nobody listens.
        let _ = self.events.send(event);
    }

    fn announce(&mut self) {
        if !std::mem::replace(&mut self.announced, true) {
            self.emit(ApplyEvent::ChangeStarted {
                change_order_id: self.id().clone(),
                verify_first: self.task.verify_first,
            });
        }
    }

    fn rate_changed(&self, change: Option<RateChange>) {
        if let Some(RateChange { from, to }) = change {
            self.emit(ApplyEvent::RateChanged { from, to });
        }
    }

    /// Waits for a start slot; `None` when the run stops first.
    async fn begin(&self) -> Option<Instant> {
        if self.stop.is_cancelled() {
            return None;
        }
        let started = tokio::select! {
            biased;
            () = self.stop.cancelled() => return None,
            started = self.shared.pacer.acquire() => started,
        };
        (!self.stop.is_cancelled()).then_some(started)
    }

    /// Announces the retry after `attempts` and sleeps its backoff (jittered, at least the
    /// server's `after`); false when the run stops first.
    async fn wait_to_retry(
        &mut self,
        attempts: u32,
        after: Option<Duration>,
        throttled: bool,
        reason: String,
    ) -> bool {
        let wait = self.shared.retry.backoff(attempts, self.rng.f64(), after);
        self.emit(ApplyEvent::Retrying {
            change_order_id: self.id().clone(),
            attempt: attempts + 1,
            after: wait,
            cause: if throttled {
                RetryCause::Throttled
            } else {
                RetryCause::Transient
            },
            reason,
        });
        self.back_off(wait).await
    }

    /// Sleeps before a retry; false when the run stops first.
    async fn back_off(&self, wait: Duration) -> bool {
        tokio::select! {
            biased;
            () = self.stop.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }

    fn journal(&self, record: JournalRecord) -> bool {
        match self.shared.journal.append(record) {
            Ok(()) => true,
            Err(error) => {
                self.journal_failed(error);
                false
            }
        }
    }

    fn journal_failed(&self, error: NotDurable) {
        self.stop.cancel();
        self.emit(ApplyEvent::JournalFailed {
            message: error.message,
        });
    }

    fn response(
        &self,
        status: RecordStatus,
        details: &ResponseDetails,
        message: Option<String>,
    ) -> JournalRecord {
        JournalRecord::Response {
            change_order_id: self.id().clone(),
            at: self.shared.now(),
            status,
            http_status: details.http_status,
            request_id: details.request_id.clone(),
            trace_id: details.trace_id.clone(),
            code: details.code.clone(),
            error_code: details.error_code.clone(),
            message: message.or_else(|| details.message.clone()),
            rollback_change_order_id: None,
            confirmed_by_status: false,
            change_order_status: None,
        }
    }

    fn failed(&self, details: &ResponseDetails, message: String) -> FailedChange {
        FailedChange {
            change_order_id: self.id().clone(),
            code: details.code.clone(),
            message,
            request_id: details.request_id.clone(),
            http_status: details.http_status,
        }
    }

    /// The end of a change order whose run stopped before it finished.
    fn stopped(&self) -> WorkerEnd {
        match &self.last {
            Last::Untouched => Ended::NotStarted(self.id().clone()),
            Last::Failed(failed) => Ended::Failed(failed.clone()),
            Last::Unknown(message) => Ended::Unknown(UnknownChange {
                change_order_id: self.id().clone(),
                message: message.clone(),
            }),
        }
        .into()
    }

    fn fatal(
        &self,
        kind: FatalKind,
        details: ResponseDetails,
        server_string_to_sign: Option<String>,
    ) -> FatalError {
        self.stop.cancel();
        FatalError {
            change_order_id: self.id().clone(),
            kind,
            details,
            server_string_to_sign,
        }
    }

    async fn abort_once(&mut self) -> Step {
        if self.shared.retry.exhausted(self.abort_attempts) {
            return Step::Done(self.gave_up());
        }
        let durable = if let Some(ticket) = self.prepared.take() {
            let durable = ticket.durable(&self.shared.journal).await;
            let Some(started) = self.begin().await else {
                // Stopped before this request left: nothing new starts, so the intent that
                // was written ahead is withdrawn (see `JournalRecord::Withdrawn`).
                self.journal(JournalRecord::Withdrawn {
                    change_order_id: self.id().clone(),
                    attempt: self.task.previous_attempts + 1,
                    at: self.shared.now(),
                });
                return Step::Done(self.stopped());
            };
            self.abort_attempts += 1;
            durable.map(|()| started)
        } else {
            let Some(started) = self.begin().await else {
                return Step::Done(self.stopped());
            };
            self.abort_attempts += 1;
            let intent = abort_intent(
                &self.task,
                self.task.previous_attempts + self.abort_attempts,
                self.shared.now(),
            );
            self.shared
                .journal
                .append_durable(intent)
                .await
                .map(|()| started)
        };
        let started = match durable {
            Ok(started) => started,
            Err(error) => {
                // Not sent. The intent may or may not be on disk; if it is, the next run
                // verifies.
                self.journal_failed(error);
                return Step::Done(self.stopped());
            }
        };
        self.announce();
        let outcome = self
            .shared
            .transport
            .abort(self.id(), self.task.operation)
            .await;
        match outcome {
            Outcome::Done {
                answer: Accepted {
                    rollback_change_order_id,
                },
                details,
            } => {
                self.rate_changed(self.shared.pacer.on_success());
                let mut record = self.response(RecordStatus::Aborted, &details, None);
                if let JournalRecord::Response {
                    rollback_change_order_id: rollback,
                    ..
                } = &mut record
                {
                    rollback.clone_from(&rollback_change_order_id);
                }
                self.journal(record);
                Step::Done(
                    Ended::Aborted(AbortedChange {
                        change_order_id: self.id().clone(),
                        request_id: details.request_id,
                        rollback_change_order_id,
                        confirmed_by_status: false,
                        attempts: self.abort_attempts,
                    })
                    .into(),
                )
            }
            Outcome::Retry {
                details,
                after,
                throttled,
                reason,
            } => {
                if throttled {
                    self.rate_changed(self.shared.pacer.on_throttled(started, after));
                }
                // Throttled or never sent: the service did not act on it.
                let message = format!("not carried out: {reason}");
                self.journal(self.response(RecordStatus::Failed, &details, Some(message.clone())));
                self.last = Last::Failed(self.failed(&details, message));
                if self.shared.retry.exhausted(self.abort_attempts) {
                    return Step::Done(self.gave_up());
                }
                if self
                    .wait_to_retry(self.abort_attempts, after, throttled, reason)
                    .await
                {
                    Step::Again
                } else {
                    Step::Done(self.stopped())
                }
            }
            Outcome::Verify { details, reason } => {
                self.ambiguous = true;
                let message = format!("outcome unknown: {reason}");
                self.journal(self.response(RecordStatus::Unknown, &details, Some(message.clone())));
                self.last = Last::Unknown(message);
                self.emit(ApplyEvent::Verifying {
                    change_order_id: self.id().clone(),
                    reason,
                });
                // A 5xx or a reset often means the service is struggling: give it a moment.
                let wait = self
                    .shared
                    .retry
                    .backoff(self.abort_attempts, self.rng.f64(), None);
                if self.back_off(wait).await {
                    Step::Verify
                } else {
                    Step::Done(self.stopped())
                }
            }
            Outcome::Failed { details } => {
                self.rate_changed(self.shared.pacer.on_success());
                self.journal(self.response(RecordStatus::Failed, &details, None));
                let message = details
                    .message
                    .clone()
                    .unwrap_or_else(|| "the service refused the abort".to_string());
                let failed = self.failed(&details, message);
                self.last = Last::Failed(failed.clone());
                // A refusal because of the change order's status (already stopped by an
                // earlier attempt EDAS was still applying, or finished) is verified first:
                // the status decides what is recorded, not the refusal.
                self.refused = Some(failed);
                Step::Verify
            }
            Outcome::Fatal {
                details,
                kind,
                server_string_to_sign,
            } => {
                let fatal = self.fatal(kind, details.clone(), server_string_to_sign);
                self.journal(self.response(RecordStatus::Failed, &details, None));
                let message = details
                    .message
                    .clone()
                    .unwrap_or_else(|| "the service rejected the credentials".to_string());
                Step::Done(WorkerEnd {
                    ended: Ended::Failed(self.failed(&details, message)),
                    fatal: Some(Box::new(fatal)),
                })
            }
        }
    }

    /// Asks `GetChangeOrderInfo` until it answers (retrying what can be retried), through
    /// the one status-asking path; every attempt's intent is journaled.
    async fn verify(&mut self) -> Verified {
        let asker = StatusAsker {
            transport: &self.shared.transport,
            pacer: &self.shared.pacer,
            retry: self.shared.retry,
            stop: &self.stop,
            in_flight: None,
            deadline: None,
        };
        let mut observer = VerifyObserver {
            shared: &self.shared,
            events: &self.events,
            task: &self.task,
            stop: &self.stop,
            info_attempts: &mut self.info_attempts,
            announced: &mut self.announced,
        };
        let asked = asker
            .ask(&self.task.change_order_id, &mut self.rng, &mut observer)
            .await;
        match asked {
            Asked::Status { status, details } => self.on_status(status, details),
            Asked::Refused { details: _ } if self.refused.is_some() && !self.ambiguous => {
                // The abort's own refusal says more than the question's.
                let refused = self.refused.take().map(Ended::Failed);
                Verified::Ended(
                    refused
                        .unwrap_or(Ended::NotStarted(self.id().clone()))
                        .into(),
                )
            }
            Asked::Unanswered { .. } if self.refused.is_some() && !self.ambiguous => {
                // Nothing this run sent can have been carried out: the refusal stands.
                let refused = self.refused.take().map(Ended::Failed);
                Verified::Ended(
                    refused
                        .unwrap_or(Ended::NotStarted(self.id().clone()))
                        .into(),
                )
            }
            Asked::Refused { details } => {
                self.journal(self.response(RecordStatus::Failed, &details, None));
                let message = details
                    .message
                    .clone()
                    .unwrap_or_else(|| "the service refused `GetChangeOrderInfo`".to_string());
                Verified::Ended(Ended::Failed(self.failed(&details, message)).into())
            }
            Asked::Fatal(fatal) => {
                let mut end = self.stopped();
                end.fatal = Some(Box::new(fatal));
                Verified::Ended(end)
            }
            Asked::Unanswered { attempts, reason } => Verified::Ended(self.unverified(format!(
                "could not ask `GetChangeOrderInfo` after {attempts} attempts: {reason}"
            ))),
            Asked::Stopped => Verified::Ended(self.stopped()),
        }
    }

    fn on_status(&mut self, status: ChangeOrderStatus, details: ResponseDetails) -> Verified {
        match status {
            ChangeOrderStatus::Stopped => {
                let message = "`GetChangeOrderInfo` shows status 6 (stopped)".to_string();
                let mut record = self.response(RecordStatus::Aborted, &details, Some(message));
                if let JournalRecord::Response {
                    confirmed_by_status,
                    change_order_status,
                    ..
                } = &mut record
                {
                    *confirmed_by_status = true;
                    *change_order_status = Some(status);
                }
                self.journal(record);
                Verified::Aborted(AbortedChange {
                    change_order_id: self.id().clone(),
                    request_id: details.request_id,
                    rollback_change_order_id: None,
                    confirmed_by_status: true,
                    attempts: self.abort_attempts,
                })
            }
            status if status.is_abortable() => Verified::Abortable(status),
            finished if finished.is_final() => {
                // Ended by itself (2, 3, 7, 10): recorded `finished` with its status so the
                // plan converges instead of offering a retry EDAS will always refuse (issue
                // 10). This run still reports it, once, as not rolled back.
                let message = format!(
                    "change order is in status {finished}, which cannot be aborted: {}",
                    crate::plan::cannot_abort_hint(finished)
                );
                let mut record =
                    self.response(RecordStatus::Finished, &details, Some(message.clone()));
                if let JournalRecord::Response {
                    change_order_status,
                    ..
                } = &mut record
                {
                    *change_order_status = Some(finished);
                }
                self.journal(record);
                Verified::Ended(Ended::Failed(self.failed(&details, message)).into())
            }
            other => {
                let message = format!("change order is in status {other}, which cannot be aborted");
                self.journal(self.response(RecordStatus::Failed, &details, Some(message.clone())));
                Verified::Ended(Ended::Failed(self.failed(&details, message)).into())
            }
        }
    }

    /// Info could not be had: the abort may have happened. The record says so.
    fn unverified(&mut self, message: String) -> WorkerEnd {
        self.journal(self.response(
            RecordStatus::Unknown,
            &ResponseDetails::default(),
            Some(message.clone()),
        ));
        Ended::Unknown(UnknownChange {
            change_order_id: self.id().clone(),
            message,
        })
        .into()
    }

    /// Attempts ran out. Only reached when the last answer said the abort did not happen.
    fn gave_up(&self) -> WorkerEnd {
        let attempts = self.abort_attempts;
        match &self.last {
            Last::Failed(failed) => Ended::Failed(FailedChange {
                message: format!("gave up after {attempts} attempts: {}", failed.message),
                ..failed.clone()
            }),
            Last::Unknown(message) => Ended::Unknown(UnknownChange {
                change_order_id: self.id().clone(),
                message: message.clone(),
            }),
            Last::Untouched => Ended::Failed(FailedChange {
                change_order_id: self.id().clone(),
                code: None,
                message: format!(
                    "gave up after {attempts} attempts: the change order stayed abortable"
                ),
                request_id: None,
                http_status: None,
            }),
        }
        .into()
    }
}

/// What apply's verification records while asking: an intent per attempt (read only, so not
/// made durable first), the first request's `apply_start`, retries and pace changes.
struct VerifyObserver<'a, T, C> {
    shared: &'a Shared<T, C>,
    events: &'a mpsc::UnboundedSender<ApplyEvent>,
    task: &'a AbortTask,
    stop: &'a CancelToken,
    info_attempts: &'a mut u32,
    announced: &'a mut bool,
}

impl<T, C: Clock> AskObserver for VerifyObserver<'_, T, C> {
    fn before_attempt(&mut self, _attempt: u32) -> bool {
        *self.info_attempts += 1;
        let intent = JournalRecord::Intent {
            change_order_id: self.task.change_order_id.clone(),
            attempt: *self.info_attempts,
            at: self.shared.now(),
            request: RequestKind::Verify,
            operation: None,
            app: self.task.app.clone(),
            reason: self.task.reason.clone(),
        };
        if let Err(error) = self.shared.journal.append(intent) {
            self.stop.cancel();
            let _ = self.events.send(ApplyEvent::JournalFailed {
                message: error.message,
            });
            return false;
        }
        if !std::mem::replace(self.announced, true) {
            let _ = self.events.send(ApplyEvent::ChangeStarted {
                change_order_id: self.task.change_order_id.clone(),
                verify_first: self.task.verify_first,
            });
        }
        true
    }

    fn retrying(&mut self, attempt: u32, wait: Duration, throttled: bool, reason: &str) {
        let _ = self.events.send(ApplyEvent::Retrying {
            change_order_id: self.task.change_order_id.clone(),
            attempt: attempt + 1,
            after: wait,
            cause: if throttled {
                RetryCause::Throttled
            } else {
                RetryCause::Transient
            },
            reason: reason.to_string(),
        });
    }

    fn rate_changed(&mut self, RateChange { from, to }: RateChange) {
        let _ = self.events.send(ApplyEvent::RateChanged { from, to });
    }
}

enum PollVerdict {
    Succeeded,
    /// Status 7: some batches rolled back, then the rollback ended.
    Partial,
    Failed(String),
    TimedOut,
    NotFinished,
}

struct PollEnd {
    target: RollbackTarget,
    verdict: PollVerdict,
    event: Option<ApplyEvent>,
    fatal: Option<FatalError>,
}

struct Poller<T, C> {
    shared: Arc<Shared<T, C>>,
    rng: fastrand::Rng,
    target: RollbackTarget,
    in_flight: Arc<Semaphore>,
    stop: CancelToken,
    poll_interval: Duration,
    deadline: Instant,
}

impl<T: Transport, C: Clock> Poller<T, C> {
    async fn run(mut self) -> PollEnd {
        let rollback_id = ChangeOrderId::new(self.target.rollback_change_order_id.clone());
        loop {
            if Instant::now() >= self.deadline {
                return self.end(PollVerdict::TimedOut, RollbackStatus::TimedOut, None, None);
            }
            let asker = StatusAsker {
                transport: &self.shared.transport,
                pacer: &self.shared.pacer,
                retry: self.shared.retry,
                stop: &self.stop,
                in_flight: Some(&self.in_flight),
                deadline: Some(self.deadline),
            };
            let asked = asker.ask(&rollback_id, &mut self.rng, &mut Quietly).await;
            match asked {
                Asked::Status { status, .. } => {
                    // Every final status ends the watch at once (DESIGN 5: 2, 3, 6, 7, 10).
                    match status {
                        ChangeOrderStatus::Succeeded => {
                            return self.end(
                                PollVerdict::Succeeded,
                                RollbackStatus::Succeeded,
                                Some(status),
                                None,
                            );
                        }
                        ChangeOrderStatus::PartiallySucceeded => {
                            return self.end(
                                PollVerdict::Partial,
                                RollbackStatus::PartiallySucceeded,
                                Some(status),
                                None,
                            );
                        }
                        status if status.is_final() => {
                            let why = format!("status {status}");
                            return self.end(
                                PollVerdict::Failed(why),
                                RollbackStatus::Failed,
                                Some(status),
                                None,
                            );
                        }
                        _ => {}
                    }
                }
                Asked::Refused { details } => {
                    let why = details
                        .message
                        .unwrap_or_else(|| "the service refused `GetChangeOrderInfo`".into());
                    return self.end(PollVerdict::Failed(why), RollbackStatus::Failed, None, None);
                }
                Asked::Fatal(mut fatal) => {
                    fatal.change_order_id = self.target.change_order_id.clone();
                    return self.end(
                        PollVerdict::NotFinished,
                        RollbackStatus::Running,
                        None,
                        Some(fatal),
                    );
                }
                Asked::Unanswered { .. } => {
                    return self.end(PollVerdict::TimedOut, RollbackStatus::TimedOut, None, None);
                }
                Asked::Stopped => {
                    return self.end(
                        PollVerdict::NotFinished,
                        RollbackStatus::Running,
                        None,
                        None,
                    );
                }
            }
            let until = (Instant::now() + self.poll_interval).min(self.deadline);
            tokio::select! {
                biased;
                () = self.stop.cancelled() => {
                    return self.end(PollVerdict::NotFinished, RollbackStatus::Running, None, None);
                }
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    fn end(
        self,
        verdict: PollVerdict,
        status: RollbackStatus,
        service_status: Option<ChangeOrderStatus>,
        fatal: Option<FatalError>,
    ) -> PollEnd {
        let finished = !matches!(verdict, PollVerdict::NotFinished);
        if finished {
            // A journal failure here loses only the watch's result, never an abort's.
            let _ = self.shared.journal.append(JournalRecord::RollbackStatus {
                change_order_id: self.target.change_order_id.clone(),
                at: self.shared.now(),
                rollback_status: status,
            });
        }
        let event = finished.then(|| ApplyEvent::RollbackPolled {
            change_order_id: self.target.change_order_id.clone(),
            rollback_change_order_id: self.target.rollback_change_order_id.clone(),
            status,
            service_status,
        });
        PollEnd {
            target: self.target,
            verdict,
            event,
            fatal,
        }
    }
}
