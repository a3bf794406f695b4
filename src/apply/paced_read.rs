//! One read-only call asked until it answers, through the run's pacing: the listings
//! (ListRecentChangeOrder, ListApplication) that apply's rollback-id search
//! ([`super::rollback_id::list_app`]) and plan's selectors (`src/cli/commands/plan.rs`) make.
//! Every attempt waits for a start slot on the shared [`Pacer`] (and, when given, an in-flight
//! permit), a throttled answer slows the whole run down, and an answer that says nothing is
//! asked again after the run-wide backoff of [`RetryPolicy`]. `GetChangeOrderInfo` has its own
//! path with observers and deadlines ([`super::StatusAsker`]); the policy is the same.

use super::pacing::Pacer;
use super::{CancelToken, RetryPolicy};
use crate::edas::outcome::{FatalKind, Outcome, ResponseDetails};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// How a paced read ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Read<T> {
    /// The service answered.
    Answer { answer: T, details: ResponseDetails },
    /// The service refused the call (a business error): asking again would not help.
    Refused { details: ResponseDetails },
    /// No usable answer within the attempts: the last attempt's reason and details.
    Unanswered {
        attempts: u32,
        reason: String,
        details: ResponseDetails,
    },
    /// Credentials, permission, signature, clock or endpoint; the run was stopped.
    Fatal {
        details: ResponseDetails,
        kind: FatalKind,
        server_string_to_sign: Option<String>,
    },
    /// The run stopped before an answer.
    Stopped,
}

/// The shared parts every paced read needs.
#[derive(Clone, Copy)]
pub(crate) struct PacedReader<'a> {
    pub pacer: &'a Pacer,
    pub retry: RetryPolicy,
    pub stop: &'a CancelToken,
    /// Held while a request is in flight, when the caller bounds parallelism this way.
    pub in_flight: Option<&'a Arc<Semaphore>>,
}

impl PacedReader<'_> {
    /// Calls `call` (one attempt each time) until it answers, is refused, the attempts run
    /// out or the run stops. A fatal answer stops the run at once (`stop`), before anyone
    /// else starts a request that would fail the same way. `rng` jitters the backoff.
    pub(crate) async fn read<T, F, Fut>(&self, rng: &mut fastrand::Rng, mut call: F) -> Read<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Outcome<T>>,
    {
        let mut attempts = 0;
        loop {
            let permit = match self.in_flight {
                Some(semaphore) => tokio::select! {
                    biased;
                    () = self.stop.cancelled() => return Read::Stopped,
                    permit = Arc::clone(semaphore).acquire_owned() => match permit {
                        Ok(permit) => Some(permit),
                        Err(_) => return Read::Stopped,
                    },
                },
                None => None,
            };
            let started = tokio::select! {
                biased;
                () = self.stop.cancelled() => return Read::Stopped,
                started = self.pacer.acquire() => started,
            };
            if self.stop.is_cancelled() {
                return Read::Stopped;
            }
            attempts += 1;
            let answer = call().await;
            drop(permit);
            let (after, reason, details) = match answer {
                Outcome::Done { answer, details } => {
                    self.pacer.on_success();
                    return Read::Answer { answer, details };
                }
                Outcome::Failed { details } => {
                    self.pacer.on_success();
                    return Read::Refused { details };
                }
                Outcome::Fatal {
                    details,
                    kind,
                    server_string_to_sign,
                } => {
                    self.stop.cancel();
                    return Read::Fatal {
                        details,
                        kind,
                        server_string_to_sign,
                    };
                }
                Outcome::Retry {
                    details,
                    after,
                    throttled,
                    reason,
                } => {
                    if throttled {
                        self.pacer.on_throttled(started, after);
                    }
                    (after, reason, details)
                }
                // Read only: an answer that says nothing is asked again.
                Outcome::Verify { details, reason } => (None, reason, details),
            };
            if self.retry.exhausted(attempts) {
                return Read::Unanswered {
                    attempts,
                    reason,
                    details,
                };
            }
            let wait = self.retry.backoff(attempts, rng.f64(), after);
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Read::Stopped,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::time::Duration;

    fn throttled() -> Outcome<u32> {
        Outcome::Retry {
            details: ResponseDetails::default(),
            after: Some(Duration::from_millis(200)),
            throttled: true,
            reason: "`Throttling.User`".to_string(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_read_is_asked_again_and_slows_the_shared_pace() {
        let pacer = Pacer::new(10);
        let stop = CancelToken::new();
        let reader = PacedReader {
            pacer: &pacer,
            retry: RetryPolicy::default(),
            stop: &stop,
            in_flight: None,
        };
        let calls = Cell::new(0);
        let read = reader
            .read(&mut fastrand::Rng::with_seed(1), || {
                calls.set(calls.get() + 1);
                let answer = if calls.get() < 3 {
                    throttled()
                } else {
                    Outcome::Done {
                        answer: 7,
                        details: ResponseDetails::default(),
                    }
                };
                async move { answer }
            })
            .await;
        assert!(matches!(read, Read::Answer { answer: 7, .. }), "{read:?}");
        assert_eq!(calls.get(), 3);
        assert!(pacer.rate() < 10.0, "{}", pacer.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_never_answers_gives_up_after_the_policys_attempts() {
        let pacer = Pacer::new(100);
        let stop = CancelToken::new();
        let reader = PacedReader {
            pacer: &pacer,
            retry: RetryPolicy::default(),
            stop: &stop,
            in_flight: None,
        };
        let read = reader
            .read(&mut fastrand::Rng::with_seed(1), || async {
                Outcome::<u32>::Verify {
                    details: ResponseDetails {
                        http_status: Some(503),
                        ..ResponseDetails::default()
                    },
                    reason: "HTTP 503".to_string(),
                }
            })
            .await;
        match read {
            Read::Unanswered {
                attempts,
                reason,
                details,
            } => {
                assert_eq!(attempts, RetryPolicy::default().max_attempts);
                assert_eq!(reason, "HTTP 503");
                assert_eq!(details.http_status, Some(503));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_answer_stops_the_run() {
        let pacer = Pacer::new(100);
        let stop = CancelToken::new();
        let reader = PacedReader {
            pacer: &pacer,
            retry: RetryPolicy::default(),
            stop: &stop,
            in_flight: None,
        };
        let read = reader
            .read(&mut fastrand::Rng::with_seed(1), || async {
                Outcome::<u32>::Fatal {
                    details: ResponseDetails::default(),
                    kind: FatalKind::AccessKey,
                    server_string_to_sign: None,
                }
            })
            .await;
        assert!(matches!(read, Read::Fatal { .. }));
        assert!(stop.is_cancelled());
        let after = reader
            .read(&mut fastrand::Rng::with_seed(1), || async {
                Outcome::<u32>::Done {
                    answer: 1,
                    details: ResponseDetails::default(),
                }
            })
            .await;
        assert_eq!(after, Read::Stopped);
    }
}
