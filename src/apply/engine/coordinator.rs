//! The coordinator: [`Engine`] starts the journal writer, keeps at most `parallelism`
//! [`Worker`]s running (writing the first abort intents of the next few ahead), forwards
//! their events to the reporter in order, collects how each ended into the [`ApplyReport`],
//! trips the circuit breaker, and on a stop withdraws the intents written ahead. It also
//! runs the two steps after the aborts: finding rollback ids, and `--wait`'s [`Poller`]s.

use super::poller::{PollVerdict, Poller};
use super::records::{self, ResponseRecord};
use super::worker::{Ended, Worker, WorkerEnd};
use super::{AbortTask, EngineConfig, RollbackTarget, Shared, WaitReport};
use crate::apply::event::{ApplyEvent, Reporter};
use crate::apply::journal_writer::{self, Durability, DurableTicket, WriterResult};
use crate::apply::pacing::Pacer;
use crate::apply::{
    AbortedChange, ApplyReport, CancelToken, Clock, JournalSink, Transport, UnknownChange,
};
use crate::edas::outcome::ResponseDetails;
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use crate::state::RecordStatus;
use crate::state::journal::{JournalRecord, RequestKind};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

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
        Self::start_counted(transport, sink, clock, config, Arc::default())
    }

    /// [`Engine::start`], with the journal's records counted in `durability`, so that a
    /// reporter can hold a line back until the records it reports are durable.
    pub fn start_counted(
        transport: T,
        sink: S,
        clock: C,
        config: EngineConfig,
        durability: Arc<Durability>,
    ) -> Self {
        let (journal, writer) = journal_writer::spawn(sink, durability);
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
                error: Some(crate::apply::ApplyError::JournalClosed),
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
        let mut pool = Pool::new(parallelism);
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
            while pool.busy < parallelism && !stop.is_cancelled() {
                let (index, task, ticket) = match prepared.pop_front() {
                    Some(next) => next,
                    None => match queue.next() {
                        Some((index, task)) => (index, task, None),
                        None => break,
                    },
                };
                let worker = Worker::new(
                    Arc::clone(&self.shared),
                    fastrand::Rng::with_seed(task_seed(self.config.seed, index)),
                    task,
                    events.clone(),
                    stop.clone(),
                    ticket,
                );
                pool.start(worker);
            }
            while !stop.is_cancelled() && prepared.len() < ahead {
                let Some((index, task)) = queue.next() else {
                    break;
                };
                let ticket = if task.verify_first {
                    // Its first request is a read, which needs no intent ahead.
                    None
                } else {
                    let intent = records::intent(
                        &task,
                        RequestKind::Abort,
                        task.previous_attempts + 1,
                        self.shared.now(),
                    );
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
            if pool.busy == 0 {
                break;
            }
            let end = tokio::select! {
                biased;
                () = &mut user_cancel, if !report.interrupted => {
                    report.interrupted = true;
                    stop.cancel();
                    reporter.on_event(&ApplyEvent::Interrupted { in_flight: pool.busy });
                    continue;
                }
                Some(event) = event_queue.recv() => {
                    forward(event, reporter, &mut report);
                    continue;
                }
                Some((slot, end)) = pool.ends.recv() => {
                    pool.finished(slot);
                    end
                }
                Some(Err(error)) = pool.tasks.join_next_with_id(), if !pool.tasks.is_empty() => {
                    // Only a bug panics a worker; its journal tells what was sent.
                    let change_order_id = pool
                        .lost(error.id())
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
            // A worker's own events were queued before it ended: show them first.
            while let Ok(event) = event_queue.try_recv() {
                forward(event, reporter, &mut report);
            }
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
        // Every worker is idle: ending the pool drops its handles to the journal and the
        // transport, which `finish` relies on.
        pool.close().await;
        while let Ok(event) = event_queue.try_recv() {
            forward(event, reporter, &mut report);
        }
        for (_, task, ticket) in prepared.drain(..) {
            if ticket.is_some() {
                // If this record cannot be written the intent folds to `unknown` and the next
                // apply asks GetChangeOrderInfo first: safe, one read more.
                let _ = self
                    .shared
                    .journal
                    .append(records::withdrawn(&task, self.shared.now()));
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

    /// Finds, with ListRecentChangeOrder, the rollback change order of each abort confirmed by
    /// its status after a lost answer (`apply::rollback_id`), sets it on `aborted` and journals
    /// it (or why it was not found) on the change order's record. `app_ids` maps a change order
    /// to the configured `app_id`. Returns those not found, with the reason.
    pub async fn find_rollback_ids(
        &self,
        aborted: &mut [AbortedChange],
        app_ids: &std::collections::HashMap<ChangeOrderId, String>,
        cancel: &CancelToken,
    ) -> Vec<(ChangeOrderId, String)> {
        use crate::apply::rollback_id::{Listed, find_rollback, list_app};
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
                    "`GetChangeOrderInfo` shows status 6 (stopped); rollback change order \
                     `{rollback}` found with ListRecentChangeOrder"
                ),
                Err(why) => format!(
                    "`GetChangeOrderInfo` shows status 6 (stopped); the rollback change order \
                     could not be found: {why}"
                ),
            };
            let details = ResponseDetails {
                request_id: change.request_id.clone(),
                ..ResponseDetails::default()
            };
            let record =
                ResponseRecord::new(&id, self.shared.now(), RecordStatus::Aborted, &details)
                    .message(message)
                    .rollback(found.as_ref().ok().cloned())
                    .confirmed_by_status()
                    .status_seen(ChangeOrderStatus::Stopped)
                    .build();
            let _ = self.shared.journal.append(record);
            match found {
                Ok(rollback) => change.rollback_change_order_id = Some(rollback),
                Err(why) => not_found.push((id, why)),
            }
        }
        not_found
    }

    /// `--wait`: polls each rollback change order every `poll_interval` (on the same pacer)
    /// until it reaches a final status (2 succeeded; 7 partially succeeded; 3, 6, 10 failed)
    /// or until `timeout`; records the result in the journal.
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

/// At most `parallelism` long-lived tasks, each carrying out one [`Worker`] at a time: a
/// change order costs a message to an idle task instead of a task of its own (tokio's spawn
/// allocated the task and copied the whole worker future into it, and the `JoinSet` kept
/// its bookkeeping, once per change order: callgrind's `JoinSet::spawn` was 4,200
/// instructions per change order). The coordinator alone decides what starts, as before.
struct Pool<T, C> {
    slots: Vec<Slot<T, C>>,
    idle: Vec<usize>,
    /// Change orders being carried out.
    busy: usize,
    tasks: JoinSet<()>,
    /// Which slot each task serves, to name the change order a panicked task was on.
    task_slots: HashMap<tokio::task::Id, usize>,
    ends: mpsc::UnboundedReceiver<(usize, WorkerEnd)>,
    end_sender: mpsc::UnboundedSender<(usize, WorkerEnd)>,
}

struct Slot<T, C> {
    /// `None` once the slot's task is gone (a panic).
    jobs: Option<mpsc::UnboundedSender<Worker<T, C>>>,
    running: Option<ChangeOrderId>,
}

impl<T: Transport, C: Clock> Pool<T, C> {
    fn new(parallelism: usize) -> Self {
        let (end_sender, ends) = mpsc::unbounded_channel();
        Self {
            slots: Vec::with_capacity(parallelism),
            idle: Vec::with_capacity(parallelism),
            busy: 0,
            tasks: JoinSet::new(),
            task_slots: HashMap::with_capacity(parallelism),
            ends,
            end_sender,
        }
    }

    /// Hands `worker` to an idle task, starting one if none is idle.
    fn start(&mut self, mut worker: Worker<T, C>) {
        let id = worker.change_order_id().clone();
        while let Some(slot) = self.idle.pop() {
            let Some(jobs) = &self.slots[slot].jobs else {
                continue;
            };
            match jobs.send(worker) {
                Ok(()) => {
                    self.slots[slot].running = Some(id);
                    self.busy += 1;
                    return;
                }
                // The task is gone; its end (a panic) is collected by `lost`.
                Err(mpsc::error::SendError(returned)) => worker = returned,
            }
        }
        let slot = self.slots.len();
        let (jobs, mut receiver) = mpsc::unbounded_channel::<Worker<T, C>>();
        let ends = self.end_sender.clone();
        let handle = self.tasks.spawn(async move {
            while let Some(worker) = receiver.recv().await {
                let end = worker.run().await;
                if ends.send((slot, end)).is_err() {
                    break;
                }
            }
        });
        self.task_slots.insert(handle.id(), slot);
        // The receiver lives in the task just spawned, so this cannot fail.
        let _ = jobs.send(worker);
        self.slots.push(Slot {
            jobs: Some(jobs),
            running: Some(id),
        });
        self.busy += 1;
    }

    /// The slot's change order ended; the slot takes the next one.
    fn finished(&mut self, slot: usize) {
        self.slots[slot].running = None;
        self.busy -= 1;
        self.idle.push(slot);
    }

    /// A task ended other than by `close` (only a panic does): its slot is retired, and the
    /// change order it was carrying out is returned.
    fn lost(&mut self, task: tokio::task::Id) -> Option<ChangeOrderId> {
        let slot = self.task_slots.remove(&task)?;
        let slot = &mut self.slots[slot];
        slot.jobs = None;
        let running = slot.running.take();
        if running.is_some() {
            self.busy -= 1;
        }
        running
    }

    /// Ends every task (all idle by now) and waits for them.
    async fn close(mut self) {
        for slot in &mut self.slots {
            slot.jobs = None;
        }
        while self.tasks.join_next().await.is_some() {}
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
    // The event is shown, then its contents move into the report: no copy of either.
    let event = match end.ended {
        Ended::Aborted(aborted) => ApplyEvent::ChangeAborted(aborted),
        Ended::Failed(failed) => ApplyEvent::ChangeFailed(failed),
        Ended::Unknown(unknown) => ApplyEvent::ChangeUnknown(unknown),
        Ended::NotStarted(id) => return report.not_started.push(id),
    };
    reporter.on_event(&event);
    match event {
        ApplyEvent::ChangeAborted(aborted) => report.aborted.push(aborted),
        ApplyEvent::ChangeFailed(failed) => report.failed.push(failed),
        ApplyEvent::ChangeUnknown(unknown) => report.unknown.push(unknown),
        _ => {}
    }
}

/// How many tasks ahead of the free slots have their first abort intent written: half the
/// parallelism. At 20 in flight and 50 ms latency a slot frees every 2.5 ms, and a sync
/// here takes 1–6 ms, so a few ahead hide the sync from every slot; the cost is that a crash
/// leaves up to this many intents never sent, which the next run verifies with one read
/// each (never a duplicate), and a stop sends these few too (their intents are written).
fn intents_ahead(parallelism: usize) -> usize {
    parallelism.div_ceil(2)
}
