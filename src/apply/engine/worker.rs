//! One change order's state machine, run as one task: verify first when the plan says so,
//! send the abort once its intent is durable, classify the answer, back off and resend,
//! verify after an ambiguous answer, let an abort that EDAS is still applying settle, and
//! end with the record and the [`Ended`] that the coordinator reports.

use super::records::{self, ResponseRecord};
use super::{AbortTask, Shared};
use crate::apply::event::{ApplyEvent, RetryCause};
use crate::apply::journal_writer::{DurableTicket, NotDurable};
use crate::apply::pacing::RateChange;
use crate::apply::status::{AskObserver, Asked, StatusAsker};
use crate::apply::{
    AbortedChange, CancelToken, Clock, FailedChange, FatalError, Transport, UnknownChange,
};
use crate::edas::outcome::{Accepted, FatalKind, Outcome, ResponseDetails};
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use crate::state::RecordStatus;
use crate::state::journal::{JournalRecord, RequestKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Where one change order ended up, in the terms of its last journal record.
pub(super) enum Ended {
    Aborted(AbortedChange),
    Failed(FailedChange),
    Unknown(UnknownChange),
    /// Nothing this run did changed its record.
    NotStarted(ChangeOrderId),
}

pub(super) struct WorkerEnd {
    pub(super) ended: Ended,
    pub(super) fatal: Option<Box<FatalError>>,
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

pub(super) struct Worker<T, C> {
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

impl<T: Transport, C: Clock> Worker<T, C> {
    /// A worker for `task`; `prepared` is its first abort intent when the coordinator wrote
    /// it ahead.
    pub(super) fn new(
        shared: Arc<Shared<T, C>>,
        rng: fastrand::Rng,
        task: AbortTask,
        events: mpsc::UnboundedSender<ApplyEvent>,
        stop: CancelToken,
        prepared: Option<DurableTicket>,
    ) -> Self {
        Self {
            shared,
            rng,
            task,
            events,
            stop,
            abort_attempts: 0,
            info_attempts: 0,
            announced: false,
            last: Last::Untouched,
            prepared,
            ambiguous: false,
            refused: None,
        }
    }

    pub(super) async fn run(mut self) -> WorkerEnd {
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
    /// (docs/APPLY.md, "One change order, start to end": a resend of an abort that was being
    /// applied was refused and recorded `failed`).
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
        self.journal(
            self.response(RecordStatus::Failed, &details)
                .message(message.clone())
                .build(),
        );
        Ended::Failed(FailedChange { message, ..refused }).into()
    }

    pub(super) fn change_order_id(&self) -> &ChangeOrderId {
        &self.task.change_order_id
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
        // A slot due at once (the usual case below the rate limit) needs neither a timer
        // nor a watch on the stop signal, which was checked just above.
        let started = match self.shared.pacer.reserve() {
            Ok(now) => now,
            Err(slot) => tokio::select! {
                biased;
                () = self.stop.cancelled() => return None,
                () = tokio::time::sleep_until(slot) => Instant::now(),
            },
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

    /// A response record about this change order, now, from the answer's details.
    fn response<'a>(
        &'a self,
        status: RecordStatus,
        details: &'a ResponseDetails,
    ) -> ResponseRecord<'a> {
        ResponseRecord::new(self.id(), self.shared.now(), status, details)
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
                self.journal(records::withdrawn(&self.task, self.shared.now()));
                return Step::Done(self.stopped());
            };
            self.abort_attempts += 1;
            durable.map(|()| started)
        } else {
            let Some(started) = self.begin().await else {
                return Step::Done(self.stopped());
            };
            self.abort_attempts += 1;
            let intent = records::intent(
                &self.task,
                RequestKind::Abort,
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
                let aborted = AbortedChange {
                    change_order_id: self.id().clone(),
                    request_id: details.request_id.clone(),
                    rollback_change_order_id: rollback_change_order_id.clone(),
                    confirmed_by_status: false,
                    attempts: self.abort_attempts,
                };
                // The answer's details move into the record: nearly every change order
                // ends here.
                self.journal(
                    ResponseRecord::new_owned(
                        self.id(),
                        self.shared.now(),
                        RecordStatus::Aborted,
                        details,
                    )
                    .rollback(rollback_change_order_id)
                    .build(),
                );
                Step::Done(Ended::Aborted(aborted).into())
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
                self.journal(
                    self.response(RecordStatus::Failed, &details)
                        .message(message.clone())
                        .build(),
                );
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
                self.journal(
                    self.response(RecordStatus::Unknown, &details)
                        .message(message.clone())
                        .build(),
                );
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
                self.journal(self.response(RecordStatus::Failed, &details).build());
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
                self.journal(self.response(RecordStatus::Failed, &details).build());
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
                self.journal(self.response(RecordStatus::Failed, &details).build());
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
                self.journal(
                    self.response(RecordStatus::Aborted, &details)
                        .message(message)
                        .confirmed_by_status()
                        .status_seen(status)
                        .build(),
                );
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
                self.journal(
                    self.response(RecordStatus::Finished, &details)
                        .message(message.clone())
                        .status_seen(finished)
                        .build(),
                );
                Verified::Ended(Ended::Failed(self.failed(&details, message)).into())
            }
            other => {
                let message = format!("change order is in status {other}, which cannot be aborted");
                self.journal(
                    self.response(RecordStatus::Failed, &details)
                        .message(message.clone())
                        .build(),
                );
                Verified::Ended(Ended::Failed(self.failed(&details, message)).into())
            }
        }
    }

    /// Info could not be had: the abort may have happened. The record says so.
    fn unverified(&mut self, message: String) -> WorkerEnd {
        self.journal(
            self.response(RecordStatus::Unknown, &ResponseDetails::default())
                .message(message.clone())
                .build(),
        );
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
        let intent = records::intent(
            self.task,
            RequestKind::Verify,
            *self.info_attempts,
            self.shared.now(),
        );
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
