//! Unit tests of the engine's scheduling logic against an in-memory transport and journal,
//! on tokio's paused clock so that timing is exact. The real client, store and simulator
//! are exercised over loopback by `tests/it/apply.rs`.

use super::engine::{RollbackTarget, WaitReport};
use super::event::{ApplyEvent, Reporter};
use super::*;
use crate::edas::outcome::{
    AbortOutcome, Accepted, FatalKind, InfoOutcome, Outcome, ResponseDetails,
};
use crate::edas::wire::ChangeOrderStatus;
use crate::state::RollbackStatus;
use crate::state::journal::{JournalRecord, RequestKind};
use crate::state::model::RecordStatus;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::time::Instant;

#[derive(Default)]
struct Journal {
    records: Vec<JournalRecord>,
    synced: usize,
    syncs: usize,
    fail_syncs_from: Option<usize>,
}

#[derive(Clone, Default)]
struct MemorySink(Arc<Mutex<Journal>>);

impl JournalSink for MemorySink {
    fn append(&mut self, record: JournalRecord) -> Result<(), ApplyError> {
        self.0.lock().unwrap().records.push(record);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), ApplyError> {
        let mut journal = self.0.lock().unwrap();
        if journal
            .fail_syncs_from
            .is_some_and(|from| journal.syncs >= from)
        {
            return Err(ApplyError::Journal {
                path: "memory.journal".into(),
                source: "no space left on device".into(),
            });
        }
        journal.syncs += 1;
        journal.synced = journal.records.len();
        Ok(())
    }
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }
}

#[derive(Default)]
struct Recorder(Vec<ApplyEvent>);

impl Reporter for Recorder {
    fn on_event(&mut self, event: &ApplyEvent) {
        self.0.push(event.clone());
    }
}

/// A service in memory: scripted answers per change order, a latency, an optional quota of
/// requests per second (answered with throttling), and the checks the tests assert.
#[derive(Default)]
struct FakeService {
    journal: Arc<Mutex<Journal>>,
    latency: Duration,
    quota_per_second: Option<usize>,
    abort_script: Mutex<HashMap<String, VecDeque<AbortOutcome>>>,
    info_script: Mutex<HashMap<String, VecDeque<InfoOutcome>>>,
    aborts: Mutex<HashMap<String, usize>>,
    /// Every request as it arrived: when, which change order, what.
    log: Mutex<Vec<(Instant, String, RequestKind)>>,
    accepted: Mutex<VecDeque<Instant>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Aborts that arrived before their intent was durable.
    unsynced_sends: Mutex<Vec<String>>,
    /// A change order whose abort panics (a bug in a worker), with its latency first.
    panics_on: Option<String>,
}

fn details(request_id: String) -> ResponseDetails {
    ResponseDetails {
        http_status: Some(200),
        request_id: Some(request_id),
        code: Some("200".into()),
        message: Some("success".into()),
        ..ResponseDetails::default()
    }
}

impl FakeService {
    fn script_abort(&self, id: &str, outcomes: impl IntoIterator<Item = AbortOutcome>) {
        self.abort_script
            .lock()
            .unwrap()
            .insert(id.into(), outcomes.into_iter().collect());
    }

    fn script_info(&self, id: &str, answers: impl IntoIterator<Item = InfoOutcome>) {
        self.info_script
            .lock()
            .unwrap()
            .insert(id.into(), answers.into_iter().collect());
    }

    fn aborts_of(&self, id: &str) -> usize {
        self.aborts.lock().unwrap().get(id).copied().unwrap_or(0)
    }

    fn kinds_of(&self, id: &str) -> Vec<RequestKind> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(_, logged, _)| logged == id)
            .map(|(_, _, kind)| *kind)
            .collect()
    }

    /// True when the quota allows one more request now (and counts it).
    fn admit(&self, now: Instant) -> bool {
        let Some(quota) = self.quota_per_second else {
            return true;
        };
        let mut accepted = self.accepted.lock().unwrap();
        while accepted
            .front()
            .is_some_and(|first| now.duration_since(*first) >= Duration::from_secs(1))
        {
            accepted.pop_front();
        }
        if accepted.len() >= quota {
            return false;
        }
        accepted.push_back(now);
        true
    }

    async fn arrive(&self, id: &ChangeOrderId, kind: RequestKind) -> bool {
        let now = Instant::now();
        self.log.lock().unwrap().push((now, id.to_string(), kind));
        let running = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(running, Ordering::SeqCst);
        let admitted = self.admit(now);
        tokio::time::sleep(self.latency).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        admitted
    }
}

fn throttled<T>() -> Outcome<T> {
    Outcome::Retry {
        details: ResponseDetails {
            http_status: Some(400),
            code: Some("Throttling.User".into()),
            ..ResponseDetails::default()
        },
        after: None,
        throttled: true,
        reason: "`Throttling.User`: request was denied due to user flow control".into(),
    }
}

fn ambiguous() -> AbortOutcome {
    Outcome::Verify {
        details: ResponseDetails {
            http_status: Some(503),
            code: Some("ServiceUnavailable".into()),
            ..ResponseDetails::default()
        },
        reason: "HTTP 503".into(),
    }
}

fn status(status: i32) -> InfoOutcome {
    Outcome::Done {
        answer: status.into(),
        details: details(format!("info-{status}")),
    }
}

impl Transport for Arc<FakeService> {
    async fn abort(
        &self,
        id: &ChangeOrderId,
        _operation: crate::edas::request::RollbackOperation,
    ) -> AbortOutcome {
        {
            let journal = self.journal.lock().unwrap();
            let durable_intents = journal.records[..journal.synced]
                .iter()
                .filter(|record| {
                    matches!(record, JournalRecord::Intent { change_order_id, request: RequestKind::Abort, .. } if change_order_id == id)
                })
                .count();
            let sent_before = self.aborts_of(id.as_str());
            if durable_intents <= sent_before {
                self.unsynced_sends.lock().unwrap().push(id.to_string());
            }
        }
        let count = {
            let mut aborts = self.aborts.lock().unwrap();
            let count = aborts.entry(id.to_string()).or_default();
            *count += 1;
            *count
        };
        let admitted = self.arrive(id, RequestKind::Abort).await;
        if self.panics_on.as_deref() == Some(id.as_str()) {
            panic!("a bug while aborting {id}");
        }
        if !admitted {
            return throttled();
        }
        let scripted = self
            .abort_script
            .lock()
            .unwrap()
            .get_mut(id.as_str())
            .and_then(VecDeque::pop_front);
        scripted.unwrap_or_else(|| Outcome::Done {
            answer: Accepted {
                rollback_change_order_id: Some(format!("rollback-{id}")),
            },
            details: details(format!("abort-{id}-{count}")),
        })
    }

    async fn info(&self, id: &ChangeOrderId) -> InfoOutcome {
        let admitted = self.arrive(id, RequestKind::Verify).await;
        if !admitted {
            return Outcome::Retry {
                details: ResponseDetails::default(),
                after: None,
                throttled: true,
                reason: "`Throttling.User`".into(),
            };
        }
        let scripted = self
            .info_script
            .lock()
            .unwrap()
            .get_mut(id.as_str())
            .and_then(VecDeque::pop_front);
        scripted.unwrap_or_else(|| status(1))
    }
}

fn tasks(count: usize) -> Vec<AbortTask> {
    (0..count)
        .map(|index| AbortTask {
            change_order_id: ChangeOrderId::new(format!("co-{index:04}")),
            verify_first: false,
            app: None,
            reason: None,
            previous_attempts: 0,
            operation: Default::default(),
            app_id: None,
        })
        .collect()
}

fn config(parallelism: u32, requests_per_second: u32) -> EngineConfig {
    EngineConfig {
        parallelism,
        requests_per_second,
        retry: RetryPolicy::default(),
        settle: Default::default(),
        seed: 7,
        halt_after_failures: None,
    }
}

struct Run {
    report: ApplyReport,
    events: Vec<ApplyEvent>,
    syncs: u64,
}

async fn run(
    service: &Arc<FakeService>,
    tasks: Vec<AbortTask>,
    config: EngineConfig,
    cancel: &CancelToken,
) -> Run {
    let sink = MemorySink(Arc::clone(&service.journal));
    let engine = Engine::start(Arc::clone(service), sink, FixedClock, config);
    let mut recorder = Recorder::default();
    let report = engine.abort_all(tasks, &mut recorder, cancel).await;
    let finished = engine.finish().await;
    assert!(finished.sink.is_some());
    assert_eq!(
        finished.error.is_some(),
        report.journal_error.is_some(),
        "{:?}",
        finished.error
    );
    Run {
        report,
        events: recorder.0,
        syncs: finished.syncs,
    }
}

fn service() -> Arc<FakeService> {
    Arc::new(FakeService::default())
}

#[tokio::test(start_paused = true)]
async fn every_change_order_is_aborted_once_with_its_intent_durable_before_the_request() {
    let service = service();
    let run = run(&service, tasks(50), config(10, 1_000), &CancelToken::new()).await;
    assert_eq!(run.report.aborted.len(), 50);
    assert!(run.report.all_aborted());
    assert!(service.unsynced_sends.lock().unwrap().is_empty());
    let journal = service.journal.lock().unwrap();
    assert_eq!(
        journal.synced,
        journal.records.len(),
        "everything ends durable"
    );
    for task in tasks(50) {
        let id = task.change_order_id;
        assert_eq!(service.aborts_of(id.as_str()), 1);
        let mine: Vec<&JournalRecord> = journal
            .records
            .iter()
            .filter(|record| match record {
                JournalRecord::Intent {
                    change_order_id, ..
                }
                | JournalRecord::Response {
                    change_order_id, ..
                } => *change_order_id == id,
                _ => false,
            })
            .collect();
        assert!(matches!(
            mine.as_slice(),
            [
                JournalRecord::Intent {
                    attempt: 1,
                    request: RequestKind::Abort,
                    ..
                },
                JournalRecord::Response {
                    status: RecordStatus::Aborted,
                    request_id: Some(_),
                    rollback_change_order_id: Some(_),
                    ..
                },
            ]
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn no_more_than_parallelism_requests_are_ever_in_flight() {
    let service = Arc::new(FakeService {
        latency: Duration::from_millis(100),
        ..FakeService::default()
    });
    let run = run(&service, tasks(40), config(4, 10_000), &CancelToken::new()).await;
    assert_eq!(run.report.aborted.len(), 40);
    assert_eq!(service.max_in_flight.load(Ordering::SeqCst), 4);
    // Latency-bound: 40 requests, 4 at a time, 100 ms each.
    assert!(run.report.elapsed >= Duration::from_millis(1_000));
    assert!(
        run.report.elapsed < Duration::from_millis(1_100),
        "{:?}",
        run.report.elapsed
    );
}

#[tokio::test(start_paused = true)]
async fn no_second_ever_sees_more_than_the_rate_limit_of_starts() {
    let service = service();
    let run = run(&service, tasks(35), config(50, 10), &CancelToken::new()).await;
    assert_eq!(run.report.aborted.len(), 35);
    let starts: Vec<Instant> = service
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|(at, ..)| *at)
        .collect();
    for (index, first) in starts.iter().enumerate() {
        let in_window = starts[index..]
            .iter()
            .take_while(|at| at.duration_since(*first) < Duration::from_secs(1))
            .count();
        assert!(in_window <= 10, "{in_window} starts within a second");
    }
    // Rate-bound: 35 starts spaced 100 ms apart take 3.4 s.
    assert_eq!(run.report.elapsed, Duration::from_millis(3_400));
}

#[tokio::test(start_paused = true)]
async fn one_sync_covers_many_records_when_many_requests_are_in_flight() {
    let service = Arc::new(FakeService {
        latency: Duration::from_millis(10),
        ..FakeService::default()
    });
    let run = run(
        &service,
        tasks(200),
        config(50, 100_000),
        &CancelToken::new(),
    )
    .await;
    assert_eq!(run.report.aborted.len(), 200);
    assert!(service.unsynced_sends.lock().unwrap().is_empty());
    let records = service.journal.lock().unwrap().records.len();
    assert_eq!(records, 400);
    assert!(run.syncs < 200, "{} syncs for {records} records", run.syncs);
}

#[tokio::test(start_paused = true)]
async fn throttling_slows_the_whole_run_and_no_change_order_fails_because_of_it() {
    let service = Arc::new(FakeService {
        latency: Duration::from_millis(5),
        quota_per_second: Some(10),
        ..FakeService::default()
    });
    let run = run(&service, tasks(100), config(10, 40), &CancelToken::new()).await;
    assert!(run.report.all_aborted(), "{:?}", run.report.failed);
    assert_eq!(run.report.aborted.len(), 100);
    assert!(run.events.iter().any(
        |event| matches!(event, ApplyEvent::RateChanged { from, to } if *to < *from && *to <= 20.0)
    ));
    // The quota allows 10/s, so 100 need at least 9.9 s. On the paused clock the run is
    // exact (10.5 s when written); the bound is the 1.2×.
    let ideal = Duration::from_secs(10);
    assert!(run.report.elapsed >= ideal - Duration::from_millis(200));
    assert!(
        run.report.elapsed < ideal.mul_f64(1.2),
        "{:?}",
        run.report.elapsed
    );
    let throttled_sends: usize = service.log.lock().unwrap().len() - 100;
    assert!(throttled_sends < 40, "{throttled_sends} throttled requests");
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_answer_then_status_6_is_aborted_without_sending_again() {
    let service = service();
    service.script_abort("co-0000", [ambiguous()]);
    service.script_info("co-0000", [status(6)]);
    let run = run(&service, tasks(1), config(1, 100), &CancelToken::new()).await;
    assert_eq!(service.aborts_of("co-0000"), 1);
    assert_eq!(
        service.kinds_of("co-0000"),
        [RequestKind::Abort, RequestKind::Verify]
    );
    let aborted = &run.report.aborted[0];
    assert!(aborted.confirmed_by_status);
    let journal = service.journal.lock().unwrap();
    assert!(matches!(
        journal.records.last(),
        Some(JournalRecord::Response {
            status: RecordStatus::Aborted,
            confirmed_by_status: true,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_answer_then_status_1_sends_the_abort_once_more() {
    let service = service();
    service.script_abort("co-0000", [ambiguous()]);
    service.script_info("co-0000", [status(1)]);
    let run = run(&service, tasks(1), config(1, 100), &CancelToken::new()).await;
    // The abortable status is asked about three more times over the verify window (EDAS
    // applies an abort asynchronously) before the abort is sent again.
    assert_eq!(
        service.kinds_of("co-0000"),
        [
            RequestKind::Abort,
            RequestKind::Verify,
            RequestKind::Verify,
            RequestKind::Verify,
            RequestKind::Verify,
            RequestKind::Abort
        ]
    );
    assert!(service.unsynced_sends.lock().unwrap().is_empty());
    let aborted = &run.report.aborted[0];
    assert_eq!(aborted.attempts, 2);
    assert!(!aborted.confirmed_by_status);
    assert!(run.events.iter().any(|event| matches!(
        event,
        ApplyEvent::Resending {
            status: ChangeOrderStatus::Running,
            ..
        }
    )));
}

/// Issue 11: after an ambiguous abort that EDAS applies a moment later, the status reads
/// abortable at first; asking again over the verify window sees it stop, so nothing is resent.
#[tokio::test(start_paused = true)]
async fn an_abort_applied_asynchronously_is_seen_within_the_verify_window_and_not_resent() {
    let service = service();
    service.script_abort("co-0000", [ambiguous()]);
    service.script_info("co-0000", [status(1), status(1), status(6)]);
    let run = run(&service, tasks(1), config(1, 100), &CancelToken::new()).await;
    assert_eq!(service.aborts_of("co-0000"), 1, "never resent");
    let aborted = &run.report.aborted[0];
    assert!(aborted.confirmed_by_status);
    assert!(run.report.failed.is_empty());
}

/// Issue 11: a resend refused because the change order is no longer abortable (EDAS applied
/// the first abort after all) is verified: stopped (6) is `aborted`, never `failed`.
#[tokio::test(start_paused = true)]
async fn a_resend_refused_because_the_first_abort_landed_is_recorded_aborted() {
    let service = service();
    let refused = Outcome::Failed {
        details: ResponseDetails {
            http_status: Some(200),
            code: Some("601".into()),
            message: Some("change order status does not allow this operation".into()),
            ..ResponseDetails::default()
        },
    };
    service.script_abort("co-0000", [ambiguous(), refused]);
    service.script_info(
        "co-0000",
        [status(1), status(1), status(1), status(1), status(6)],
    );
    let run = run(&service, tasks(1), config(1, 100), &CancelToken::new()).await;
    assert_eq!(service.aborts_of("co-0000"), 2);
    assert!(run.report.failed.is_empty(), "{:?}", run.report.failed);
    assert!(run.report.aborted[0].confirmed_by_status);
    let journal = service.journal.lock().unwrap();
    assert!(matches!(
        journal.records.last(),
        Some(JournalRecord::Response {
            status: RecordStatus::Aborted,
            ..
        })
    ));
}

/// Issue 11: a refusal while the change order is still abortable is not about its status;
/// the usual cause is the other kind of cluster, which the message names.
#[tokio::test(start_paused = true)]
async fn a_refusal_of_an_abortable_change_order_names_the_other_operation() {
    let service = service();
    service.script_abort(
        "co-0000",
        [Outcome::Failed {
            details: ResponseDetails {
                http_status: Some(200),
                code: Some("601".into()),
                message: Some("the application is not in a Kubernetes cluster".into()),
                ..ResponseDetails::default()
            },
        }],
    );
    let run = run(&service, tasks(1), config(1, 100), &CancelToken::new()).await;
    assert_eq!(service.aborts_of("co-0000"), 1);
    let failed = &run.report.failed[0];
    assert!(
        failed.message.contains("`operation: rollback`")
            && failed.message.contains("ECS")
            && failed
                .message
                .starts_with("the application is not in a Kubernetes cluster"),
        "{}",
        failed.message
    );
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_answer_then_a_final_status_is_failed_with_the_status() {
    let service = service();
    service.script_abort("co-0000", [ambiguous()]);
    service.script_info("co-0000", [status(2)]);
    let run = run(&service, tasks(1), config(1, 100), &CancelToken::new()).await;
    assert_eq!(service.aborts_of("co-0000"), 1);
    let failed = &run.report.failed[0];
    assert!(
        failed.message.contains("status 2 (succeeded)"),
        "{}",
        failed.message
    );
}

#[tokio::test(start_paused = true)]
async fn verify_first_asks_before_the_first_abort_and_sends_nothing_when_already_stopped() {
    let service = service();
    service.script_info("co-0000", [status(6)]);
    service.script_info("co-0001", [status(8)]);
    let mut work = tasks(2);
    for task in &mut work {
        task.verify_first = true;
    }
    let run = run(&service, work, config(2, 100), &CancelToken::new()).await;
    assert_eq!(service.kinds_of("co-0000"), [RequestKind::Verify]);
    assert_eq!(
        service.kinds_of("co-0001"),
        [RequestKind::Verify, RequestKind::Abort]
    );
    assert_eq!(run.report.aborted.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_business_error_fails_at_once_without_a_retry() {
    let service = service();
    service.script_abort(
        "co-0000",
        [Outcome::Failed {
            details: ResponseDetails {
                http_status: Some(200),
                code: Some("500".into()),
                message: Some("change order `co-0000` is in status 2 and cannot be aborted".into()),
                request_id: Some("req-1".into()),
                ..ResponseDetails::default()
            },
        }],
    );
    let run = run(&service, tasks(3), config(3, 100), &CancelToken::new()).await;
    assert_eq!(service.aborts_of("co-0000"), 1);
    assert_eq!(run.report.aborted.len(), 2);
    let failed = &run.report.failed[0];
    assert_eq!(failed.code.as_deref(), Some("500"));
    assert_eq!(failed.request_id.as_deref(), Some("req-1"));
    assert!(failed.message.contains("cannot be aborted"));
}

#[tokio::test(start_paused = true)]
async fn a_change_order_throttled_on_every_attempt_fails_after_the_bounded_attempts() {
    let service = service();
    service.script_abort("co-0000", std::iter::repeat_n(throttled(), 20));
    let run = run(&service, tasks(1), config(1, 100), &CancelToken::new()).await;
    assert_eq!(service.aborts_of("co-0000"), 8);
    let failed = &run.report.failed[0];
    assert!(
        failed.message.starts_with("gave up after 8 attempts"),
        "{}",
        failed.message
    );
    assert_eq!(failed.code.as_deref(), Some("Throttling.User"));
}

#[tokio::test(start_paused = true)]
async fn a_fatal_error_starts_nothing_new_not_even_an_intent_written_ahead() {
    let service = Arc::new(FakeService {
        latency: Duration::from_millis(100),
        ..FakeService::default()
    });
    service.script_abort(
        "co-0000",
        [Outcome::Fatal {
            details: ResponseDetails {
                http_status: Some(400),
                code: Some("SignatureDoesNotMatch".into()),
                message: Some("the signature does not match".into()),
                request_id: Some("req-bad".into()),
                ..ResponseDetails::default()
            },
            kind: FatalKind::Signature,
            server_string_to_sign: Some("PUT\napplication/json\n\n\n...".into()),
        }],
    );
    let run = run(&service, tasks(20), config(2, 1_000), &CancelToken::new()).await;
    assert_eq!(
        service.log.lock().unwrap().len(),
        2,
        "only the two in flight were sent"
    );
    let fatal = run.report.fatal.as_ref().unwrap();
    assert_eq!(fatal.details.code.as_deref(), Some("SignatureDoesNotMatch"));
    assert!(fatal.hint().contains("access key secret"));
    assert_eq!(
        run.report.aborted.len(),
        1,
        "the other request in flight is recorded"
    );
    assert_eq!(run.report.failed.len(), 1);
    assert_eq!(run.report.not_started.len(), 18);
    let journal = service.journal.lock().unwrap();
    let withdrawn = journal
        .records
        .iter()
        .filter(|record| matches!(record, JournalRecord::Withdrawn { .. }))
        .count();
    assert_eq!(withdrawn, 1, "the intent written ahead is withdrawn");
    drop(journal);
    let fatal_events = run
        .events
        .iter()
        .filter(|event| matches!(event, ApplyEvent::Fatal(_)))
        .count();
    assert_eq!(fatal_events, 1);
}

#[tokio::test(start_paused = true)]
async fn cancelling_starts_nothing_new_finishes_the_requests_in_flight_and_withdraws_intents_written_ahead()
 {
    let service = Arc::new(FakeService {
        latency: Duration::from_secs(1),
        ..FakeService::default()
    });
    let cancel = CancelToken::new();
    let later = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        later.cancel();
    });
    let run = run(&service, tasks(10), config(3, 1_000), &cancel).await;
    assert!(run.report.interrupted);
    // Three in flight finish; the two whose intents were written ahead (half the parallelism,
    // rounded up) are not sent, and their intents are withdrawn.
    assert_eq!(run.report.aborted.len(), 3);
    assert_eq!(run.report.not_started.len(), 7);
    assert_eq!(service.log.lock().unwrap().len(), 3);
    let journal = service.journal.lock().unwrap();
    let responses = journal
        .records
        .iter()
        .filter(|record| matches!(record, JournalRecord::Response { .. }))
        .count();
    assert_eq!(responses, 3);
    let withdrawn = journal
        .records
        .iter()
        .filter(|record| matches!(record, JournalRecord::Withdrawn { .. }))
        .count();
    assert_eq!(withdrawn, 2);
    assert_eq!(journal.synced, journal.records.len());
}

#[tokio::test(start_paused = true)]
async fn a_cancel_during_a_backoff_sends_nothing_more_and_keeps_the_last_answer() {
    let service = service();
    service.script_abort("co-0000", [throttled(), throttled(), throttled()]);
    let cancel = CancelToken::new();
    let later = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        later.cancel();
    });
    let mut config = config(1, 1_000);
    config.retry.base = Duration::from_secs(5);
    let run = run(&service, tasks(1), config, &cancel).await;
    assert_eq!(service.aborts_of("co-0000"), 1);
    assert!(run.report.interrupted);
    assert_eq!(
        run.report.failed.len(),
        1,
        "the journal says it was throttled"
    );
}

#[tokio::test(start_paused = true)]
async fn a_journal_that_cannot_sync_stops_the_run_before_anything_is_sent() {
    let service = service();
    service.journal.lock().unwrap().fail_syncs_from = Some(0);
    let run = run(&service, tasks(5), config(2, 1_000), &CancelToken::new()).await;
    assert!(service.log.lock().unwrap().is_empty());
    let error = run.report.journal_error.as_deref().unwrap_or_default();
    assert!(error.contains("no space left"), "{error}");
    assert_eq!(run.report.not_started.len(), 5);
    let failures = run
        .events
        .iter()
        .filter(|event| matches!(event, ApplyEvent::JournalFailed { message } if message.contains("no space left")))
        .count();
    assert_eq!(failures, 1);
}

#[tokio::test(start_paused = true)]
async fn waiting_records_how_each_rollback_ended() {
    let service = service();
    service.script_info("rollback-a", [status(1), status(1), status(2)]);
    service.script_info("rollback-b", [status(10)]);
    service.script_info("rollback-c", std::iter::repeat_n(status(1), 100));
    let sink = MemorySink(Arc::clone(&service.journal));
    let engine = Engine::start(Arc::clone(&service), sink, FixedClock, config(10, 100));
    let targets: Vec<RollbackTarget> = ["a", "b", "c"]
        .iter()
        .map(|name| RollbackTarget {
            change_order_id: ChangeOrderId::new(*name),
            rollback_change_order_id: format!("rollback-{name}"),
        })
        .collect();
    let mut recorder = Recorder::default();
    let report: WaitReport = engine
        .wait_for_rollbacks(
            targets,
            Duration::from_secs(5),
            Duration::from_secs(30),
            &mut recorder,
            &CancelToken::new(),
        )
        .await;
    engine.finish().await;
    assert_eq!(report.succeeded.len(), 1);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].1.contains("status 10"));
    assert_eq!(report.timed_out.len(), 1);
    assert!(!report.all_succeeded());
    // Every 5 s until the 30 s deadline: at 0, 5, …, 25 s.
    assert_eq!(service.kinds_of("rollback-c").len(), 6);
    let journal = service.journal.lock().unwrap();
    let statuses: HashMap<String, RollbackStatus> = journal
        .records
        .iter()
        .filter_map(|record| match record {
            JournalRecord::RollbackStatus {
                change_order_id,
                rollback_status,
                ..
            } => Some((change_order_id.to_string(), *rollback_status)),
            _ => None,
        })
        .collect();
    assert_eq!(statuses["a"], RollbackStatus::Succeeded);
    assert_eq!(statuses["b"], RollbackStatus::Failed);
    assert_eq!(statuses["c"], RollbackStatus::TimedOut);
}

/// Issue 11: status 7 is final. The watch used to poll it until `--wait-timeout` and never
/// said "partial".
#[tokio::test(start_paused = true)]
async fn a_rollback_that_partially_succeeds_ends_the_watch_at_once_and_is_not_success() {
    let service = service();
    service.script_info("rollback-p", [status(1), status(7)]);
    service.script_info("rollback-s", [status(6)]);
    let sink = MemorySink(Arc::clone(&service.journal));
    let engine = Engine::start(Arc::clone(&service), sink, FixedClock, config(10, 100));
    let targets: Vec<RollbackTarget> = ["p", "s"]
        .iter()
        .map(|name| RollbackTarget {
            change_order_id: ChangeOrderId::new(*name),
            rollback_change_order_id: format!("rollback-{name}"),
        })
        .collect();
    let started = tokio::time::Instant::now();
    let report: WaitReport = engine
        .wait_for_rollbacks(
            targets,
            Duration::from_secs(5),
            Duration::from_secs(3600),
            &mut Recorder::default(),
            &CancelToken::new(),
        )
        .await;
    engine.finish().await;
    // One poll interval after the first answer, not the hour of the timeout.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.partially_succeeded.len(), 1);
    assert_eq!(report.failed.len(), 1, "6 (stopped) is a failed rollback");
    assert!(report.timed_out.is_empty());
    assert!(!report.all_succeeded());
    assert_eq!(service.kinds_of("rollback-p").len(), 2);
    let journal = service.journal.lock().unwrap();
    assert!(journal.records.iter().any(|record| matches!(
        record,
        JournalRecord::RollbackStatus {
            rollback_status: RollbackStatus::PartiallySucceeded,
            ..
        }
    )));
}

#[tokio::test(start_paused = true)]
async fn intents_count_attempts_over_the_change_orders_whole_history() {
    let service = service();
    service.script_abort("co-0000", [throttled()]);
    let mut work = tasks(1);
    work[0].previous_attempts = 2;
    run(&service, work, config(1, 100), &CancelToken::new()).await;
    let journal = service.journal.lock().unwrap();
    let attempts: Vec<u32> = journal
        .records
        .iter()
        .filter_map(|record| match record {
            JournalRecord::Intent { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [3, 4]);
}

fn ahead_intent(id: &str) -> JournalRecord {
    JournalRecord::Intent {
        change_order_id: ChangeOrderId::new(id),
        attempt: 1,
        at: "2026-11-28T00:00:00Z".into(),
        request: RequestKind::Abort,
        operation: None,
        app: None,
        reason: None,
    }
}

#[tokio::test(start_paused = true)]
async fn an_intent_written_ahead_is_synced_within_two_milliseconds_with_nobody_waiting() {
    let sink = MemorySink::default();
    let (journal, writer) = super::journal_writer::spawn(sink.clone(), Default::default());
    let started = Instant::now();
    let first = journal.append_ahead(ahead_intent("co-1")).unwrap();
    let second = journal.append_ahead(ahead_intent("co-2")).unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    {
        let synced = sink.0.lock().unwrap();
        assert_eq!(synced.synced, 2, "both are durable without anyone asking");
        assert_eq!(synced.syncs, 1, "and they shared one sync");
    }
    first.durable(&journal).await.unwrap();
    second.durable(&journal).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(5));
    drop(journal);
    assert!(writer.await.unwrap().error.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_task_waiting_on_an_intent_written_ahead_gets_its_sync_at_once() {
    let sink = MemorySink::default();
    let (journal, writer) = super::journal_writer::spawn(sink.clone(), Default::default());
    let ticket = journal.append_ahead(ahead_intent("co-1")).unwrap();
    tokio::task::yield_now().await;
    let started = Instant::now();
    ticket.durable(&journal).await.unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no 2 ms wait when someone waits"
    );
    assert_eq!(sink.0.lock().unwrap().synced, 1);
    drop(journal);
    assert!(writer.await.unwrap().error.is_none());
}

#[tokio::test(start_paused = true)]
async fn durability_counts_a_record_durable_only_once_a_sync_covers_it() {
    let sink = MemorySink::default();
    let durability = Arc::new(super::journal_writer::Durability::default());
    let (journal, writer) = super::journal_writer::spawn(sink.clone(), Arc::clone(&durability));
    let changes = durability.subscribe();
    // A record nobody waits for (like a response) gets no sync of its own at once.
    journal.append(ahead_intent("co-1")).unwrap();
    assert_eq!(durability.queued(), 1);
    tokio::task::yield_now().await;
    assert_eq!(sink.0.lock().unwrap().records.len(), 1, "appended");
    assert_eq!(durability.durable(), 0, "but not yet synced");
    assert!(!changes.has_changed().unwrap());
    // An intent's sync covers everything appended before it too.
    journal.append_durable(ahead_intent("co-2")).await.unwrap();
    assert_eq!(durability.queued(), 2);
    assert_eq!(durability.durable(), 2);
    assert!(changes.has_changed().unwrap());
    // A failed sync makes nothing more durable.
    sink.0.lock().unwrap().fail_syncs_from = Some(0);
    assert!(journal.append_durable(ahead_intent("co-3")).await.is_err());
    assert_eq!(durability.queued(), 3);
    assert_eq!(durability.durable(), 2);
    drop(journal);
    assert!(writer.await.unwrap().error.is_some());
}

#[tokio::test(start_paused = true)]
async fn the_circuit_breaker_starts_nothing_new_once_enough_change_orders_failed() {
    let failing = service();
    // Every one of the first five is refused; parallelism 1 makes the order exact.
    for index in 0..5 {
        let id = format!("co-{index:04}");
        failing.script_abort(
            &id,
            [Outcome::Failed {
                details: ResponseDetails {
                    http_status: Some(200),
                    code: Some("500".into()),
                    message: Some(format!("change order `{id}` is in status 2")),
                    request_id: Some(format!("req-{index}")),
                    ..ResponseDetails::default()
                },
            }],
        );
    }
    let breaker = EngineConfig {
        halt_after_failures: Some(3),
        ..config(1, 100)
    };
    let halted = run(&failing, tasks(10), breaker, &CancelToken::new()).await;
    assert_eq!(halted.report.failed.len(), 3);
    assert_eq!(halted.report.halted_after_failures, Some(3));
    assert_eq!(halted.report.not_started.len(), 7);
    assert_eq!(halted.report.aborted.len(), 0);
    for index in 3..10 {
        assert_eq!(failing.aborts_of(&format!("co-{index:04}")), 0, "{index}");
    }
    assert!(!halted.report.all_aborted());

    // Without the breaker the same service fails five and aborts the other five.
    let service = service();
    for index in 0..5 {
        let id = format!("co-{index:04}");
        service.script_abort(
            &id,
            [Outcome::Failed {
                details: details(format!("req-{index}")),
            }],
        );
    }
    let unguarded = run(&service, tasks(10), config(1, 100), &CancelToken::new()).await;
    assert_eq!(unguarded.report.failed.len(), 5);
    assert_eq!(unguarded.report.aborted.len(), 5);
    assert_eq!(unguarded.report.halted_after_failures, None);
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_panics_leaves_its_change_order_unknown_and_the_run_goes_on() {
    let service = Arc::new(FakeService {
        latency: Duration::from_millis(10),
        panics_on: Some("co-0005".into()),
        ..FakeService::default()
    });
    let run = run(&service, tasks(40), config(4, 1_000), &CancelToken::new()).await;
    assert_eq!(run.report.total(), 40);
    assert_eq!(run.report.aborted.len(), 39, "{:?}", run.report);
    let [unknown] = run.report.unknown.as_slice() else {
        panic!("one unknown: {:?}", run.report.unknown);
    };
    assert_eq!(unknown.change_order_id.as_str(), "co-0005");
    assert!(
        unknown
            .message
            .starts_with("the task for this change order failed"),
        "{}",
        unknown.message
    );
    // Every other change order was sent once, and no more than 4 were ever in flight.
    for task in tasks(40) {
        assert_eq!(service.aborts_of(task.change_order_id.as_str()), 1);
    }
    assert!(service.max_in_flight.load(Ordering::SeqCst) <= 4);
}
