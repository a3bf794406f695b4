//! `apply --wait`'s watch of one rollback change order: asks its status every poll interval
//! (on the run's pacer, at most `parallelism` at once) until a final status, the deadline,
//! a stop or a fatal error, and journals how it ended.

use super::records;
use super::{RollbackTarget, Shared};
use crate::apply::event::ApplyEvent;
use crate::apply::status::{Asked, Quietly, StatusAsker};
use crate::apply::{CancelToken, Clock, FatalError, Transport};
use crate::edas::wire::ChangeOrderStatus;
use crate::ids::ChangeOrderId;
use crate::state::RollbackStatus;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub(super) enum PollVerdict {
    Succeeded,
    /// Status 7: some batches rolled back, then the rollback ended.
    Partial,
    Failed(String),
    TimedOut,
    NotFinished,
}

pub(super) struct PollEnd {
    pub(super) target: RollbackTarget,
    pub(super) verdict: PollVerdict,
    pub(super) event: Option<ApplyEvent>,
    pub(super) fatal: Option<FatalError>,
}

pub(super) struct Poller<T, C> {
    pub(super) shared: Arc<Shared<T, C>>,
    pub(super) rng: fastrand::Rng,
    pub(super) target: RollbackTarget,
    pub(super) in_flight: Arc<Semaphore>,
    pub(super) stop: CancelToken,
    pub(super) poll_interval: Duration,
    pub(super) deadline: Instant,
}

impl<T: Transport, C: Clock> Poller<T, C> {
    pub(super) async fn run(mut self) -> PollEnd {
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
                    // Every final status ends the watch at once (docs/CONTRACT.md, "Change order
                    // statuses": 2, 3, 6, 7, 10).
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
            let _ = self.shared.journal.append(records::rollback_status(
                &self.target.change_order_id,
                status,
                self.shared.now(),
            ));
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
