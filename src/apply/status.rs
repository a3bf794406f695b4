//! The one path that asks `GetChangeOrderInfo` about a change order (issue 11): apply's
//! verification, `--wait` and `plan --refresh` all ask through [`StatusAsker::ask`]. It waits
//! for a start slot on the shared [`Pacer`] (and, when given, an in-flight permit), classifies
//! the answer with the one outcome policy, slows the whole run down when throttled, and asks
//! again after the run-wide backoff when the answer said nothing. The callers decide what a
//! status means; they differ only in what they record (an [`AskObserver`]) and in how long they
//! may keep asking (attempts, or a deadline).

use super::pacing::{Pacer, RateChange};
use super::{CancelToken, FatalError, RetryPolicy, Transport};
use crate::edas::outcome::{Outcome, ResponseDetails};
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How asking about one change order ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asked {
    /// The service answered with the change order's status.
    Status {
        status: ChangeOrderStatus,
        details: ResponseDetails,
    },
    /// The service refused the question for this change order (e.g. it does not exist).
    Refused { details: ResponseDetails },
    /// Credentials, permission, signature, clock or endpoint: nothing else will be answered.
    Fatal(FatalError),
    /// No usable answer within the attempts or the deadline allowed.
    Unanswered { attempts: u32, reason: String },
    /// The run stopped (Ctrl-C, another change order's fatal error) before an answer.
    Stopped,
}

/// What a caller records while asking. Every method has a do-nothing default.
pub trait AskObserver {
    /// Before attempt `attempt` (1-based) leaves; `false` stops asking (the journal could not
    /// take the intent).
    fn before_attempt(&mut self, _attempt: u32) -> bool {
        true
    }
    /// An attempt said nothing usable; the next one leaves after `wait`.
    fn retrying(&mut self, _attempt: u32, _wait: Duration, _throttled: bool, _reason: &str) {}
    /// The shared pace changed.
    fn rate_changed(&mut self, _change: RateChange) {}
}

/// An observer that records nothing (`plan --refresh`, `--wait`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Quietly;

impl AskObserver for Quietly {}

/// The shared parts every question needs.
pub struct StatusAsker<'a, T> {
    pub transport: &'a T,
    pub pacer: &'a Pacer,
    pub retry: RetryPolicy,
    pub stop: &'a CancelToken,
    /// Held while a request is in flight, when the caller bounds parallelism this way
    /// (`--wait`, `plan --refresh`); apply's aborts are bounded by their coordinator instead.
    pub in_flight: Option<&'a Arc<Semaphore>>,
    /// Stop asking at this instant; without one, `retry.max_attempts` bounds the attempts.
    pub deadline: Option<Instant>,
}

impl<T: Transport> StatusAsker<'_, T> {
    /// Asks until the service gives a status or refuses, the attempts or the deadline run out,
    /// or the run stops. `rng` jitters the backoff.
    pub async fn ask<O: AskObserver>(
        &self,
        id: &ChangeOrderId,
        rng: &mut fastrand::Rng,
        observer: &mut O,
    ) -> Asked {
        let mut attempts = 0;
        loop {
            if self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                return Asked::Unanswered {
                    attempts,
                    reason: "the deadline passed".to_string(),
                };
            }
            let permit = match self.in_flight {
                Some(semaphore) => tokio::select! {
                    biased;
                    () = self.stop.cancelled() => return Asked::Stopped,
                    permit = Arc::clone(semaphore).acquire_owned() => match permit {
                        Ok(permit) => Some(permit),
                        Err(_) => return Asked::Stopped,
                    },
                },
                None => None,
            };
            if self.stop.is_cancelled() {
                return Asked::Stopped;
            }
            let started = tokio::select! {
                biased;
                () = self.stop.cancelled() => return Asked::Stopped,
                started = self.pacer.acquire() => started,
            };
            if self.stop.is_cancelled() {
                return Asked::Stopped;
            }
            attempts += 1;
            if !observer.before_attempt(attempts) {
                return Asked::Stopped;
            }
            let answer = self.transport.info(id).await;
            drop(permit);
            let (after, throttled, reason) = match answer {
                Outcome::Done { answer, details } => {
                    self.rate_changed(self.pacer.on_success(), observer);
                    return Asked::Status {
                        status: answer,
                        details,
                    };
                }
                Outcome::Failed { details } => {
                    self.rate_changed(self.pacer.on_success(), observer);
                    return Asked::Refused { details };
                }
                Outcome::Fatal {
                    details,
                    kind,
                    server_string_to_sign,
                } => {
                    // At once, before anyone else starts a request that would fail the same way.
                    self.stop.cancel();
                    return Asked::Fatal(FatalError {
                        change_order_id: id.clone(),
                        kind,
                        details,
                        server_string_to_sign,
                    });
                }
                Outcome::Retry {
                    after,
                    throttled,
                    reason,
                    ..
                } => {
                    if throttled {
                        self.rate_changed(self.pacer.on_throttled(started, after), observer);
                    }
                    (after, throttled, reason)
                }
                // Read only: an answer that says nothing is asked again.
                Outcome::Verify { reason, .. } => (None, false, reason),
            };
            if self.deadline.is_none() && self.retry.exhausted(attempts) {
                return Asked::Unanswered { attempts, reason };
            }
            let wait = self.retry.backoff(attempts, rng.f64(), after);
            observer.retrying(attempts, wait, throttled, &reason);
            let until = Instant::now() + wait;
            let until = self.deadline.map_or(until, |deadline| until.min(deadline));
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Asked::Stopped,
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    fn rate_changed<O: AskObserver>(&self, change: Option<RateChange>, observer: &mut O) {
        if let Some(change) = change {
            observer.rate_changed(change);
        }
    }
}
