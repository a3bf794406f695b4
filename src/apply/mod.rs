//! Carries out a [`crate::plan::Plan`]: parallel, rate-limited, journaled, crash-safe and
//! interruptible (docs/CONTRACT.md, "Semantics"; docs/APPLY.md). Decides nothing the plan did not.
//!
//! The engine talks to the world through four small traits so that its scheduling logic is
//! exact under test: [`Transport`] (the EDAS client), [`JournalSink`] (the store's journal
//! file), [`Clock`] (wall time for journal timestamps; pacing uses tokio's clock so tests can
//! pause it) and [`Reporter`] (the core never prints: the CLI renders [`ApplyEvent`]s).
//! It must not read or write state files itself, parse plans, or print.

pub(crate) mod adapters;
pub mod engine;
pub mod event;
pub(crate) mod journal_writer;
pub(crate) mod paced_read;
pub(crate) mod pacing;
pub(crate) mod retry;
pub(crate) mod rollback_id;
pub mod run;
pub(crate) mod status;

pub use engine::{AbortTask, Engine, EngineConfig};
pub use event::{ApplyEvent, Reporter};
pub use retry::RetryPolicy;
pub use status::{Asked, StatusAsker};

use crate::edas::outcome::{
    AbortOutcome, FatalKind, InfoOutcome, ListOutcome, Outcome, ResponseDetails,
};
use crate::edas::request::RollbackOperation;
use crate::ids::ChangeOrderId;
use crate::state::journal::JournalRecord;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// The default number of requests in flight at once: the one table's
/// ([`crate::config::DEFAULTS`]), named here for the engine's own defaults.
pub const DEFAULT_PARALLELISM: u32 = crate::config::DEFAULTS.parallelism;
/// The default number of requests started per second, from the same table.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = crate::config::DEFAULTS.requests_per_second;

/// What the engine needs from the EDAS client: one attempt per call, signed anew each time,
/// classified by the one policy of [`crate::edas::outcome`].
pub trait Transport: Send + Sync + 'static {
    /// One attempt of the call that rolls the change order back: `AbortAndRollbackChangeOrder`
    /// (ACK) or `RollbackChangeOrder` (ECS), as the plan says.
    fn abort(
        &self,
        id: &ChangeOrderId,
        operation: RollbackOperation,
    ) -> impl Future<Output = AbortOutcome> + Send;
    /// One `GetChangeOrderInfo` attempt. Read only: a `Verify` answer is simply asked again.
    fn info(&self, id: &ChangeOrderId) -> impl Future<Output = InfoOutcome> + Send;
    /// One `ListRecentChangeOrder` attempt for an application (finding a rollback change
    /// order, [`rollback_id`]). A transport that cannot list refuses.
    fn list(&self, _app_id: &str) -> impl Future<Output = ListOutcome> + Send {
        async {
            Outcome::Failed {
                details: ResponseDetails {
                    message: Some("this transport cannot list change orders".to_string()),
                    ..ResponseDetails::default()
                },
            }
        }
    }
}

/// Where journal records go: the store's journal file in production. `append` may buffer;
/// `sync` makes everything appended so far durable (flush + fdatasync). `append` takes the
/// record, so a sink that keeps it (for the fold at the end of the run) keeps it without a
/// copy.
pub trait JournalSink: Send + 'static {
    fn append(&mut self, record: JournalRecord) -> Result<(), ApplyError>;
    fn sync(&mut self) -> Result<(), ApplyError>;
}

/// Wall-clock time for the journal's `at` fields. Pacing and backoff use `tokio::time` so that
/// tests can run on a paused clock.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A one-way "stop starting new requests" signal, shared by the CLI (Ctrl-C) and the engine
/// (fatal errors). Cloning shares the signal. Built on `tokio::sync::watch` so that it needs
/// no extra crate.
#[derive(Clone, Debug)]
pub struct CancelToken {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    pub fn new() -> Self {
        Self {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Idempotent: the first call wins, later calls change nothing.
    pub fn cancel(&self) {
        self.sender
            .send_if_modified(|cancelled| !std::mem::replace(cancelled, true));
    }

    pub fn is_cancelled(&self) -> bool {
        *self.sender.borrow()
    }

    /// Completes once `cancel` has been called (at once if it already was).
    pub async fn cancelled(&self) {
        let mut receiver = self.sender.subscribe();
        // `wait_for` only fails when the sender is gone, and `self` holds it.
        let _ = receiver.wait_for(|cancelled| *cancelled).await;
    }
}

/// Errors of the apply engine itself (not of one change order: those are in [`ApplyReport`]).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("could not write the journal `{path}`")]
    Journal {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the journal writer stopped before every record was written")]
    JournalClosed,
}

/// A change order the service confirmed as aborted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbortedChange {
    pub change_order_id: ChangeOrderId,
    pub request_id: Option<String>,
    pub rollback_change_order_id: Option<String>,
    /// True when `GetChangeOrderInfo` showed status 6 rather than the abort's own response.
    pub confirmed_by_status: bool,
    pub attempts: u32,
}

/// A change order that ended `failed`: the service refused, or retries ran out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedChange {
    pub change_order_id: ChangeOrderId,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
    pub http_status: Option<u16>,
}

/// A change order whose abort may have been carried out, but no answer said so either way.
/// The next plan asks `GetChangeOrderInfo` before sending anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownChange {
    pub change_order_id: ChangeOrderId,
    pub message: String,
}

/// A credentials, signature or permission error that stopped the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FatalError {
    pub change_order_id: ChangeOrderId,
    pub kind: FatalKind,
    pub details: ResponseDetails,
    pub server_string_to_sign: Option<String>,
}

impl FatalError {
    /// What to fix, for the person reading the error.
    pub fn hint(&self) -> &'static str {
        self.kind.hint()
    }
}

/// How a run ended. Every change order of the run is in exactly one of `aborted`, `failed`,
/// `unknown` and `not_started`.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub aborted: Vec<AbortedChange>,
    pub failed: Vec<FailedChange>,
    pub unknown: Vec<UnknownChange>,
    /// Not finished because the run stopped (Ctrl-C, a fatal error, a journal error) before
    /// their turn; their records are as they were, or as the journal last says.
    pub not_started: Vec<ChangeOrderId>,
    /// The first Ctrl-C stopped the run.
    pub interrupted: bool,
    pub fatal: Option<FatalError>,
    /// The journal could not be written; the writer's result (`Engine::finish`) holds the
    /// typed error.
    pub journal_error: Option<String>,
    /// The circuit breaker (`apply.halt_after_failures`) stopped the run after this many
    /// failures; what had not started is in `not_started`.
    pub halted_after_failures: Option<usize>,
    pub elapsed: Duration,
}

impl ApplyReport {
    pub fn total(&self) -> usize {
        self.aborted.len() + self.failed.len() + self.unknown.len() + self.not_started.len()
    }

    /// True when every change order of the run ended aborted and nothing stopped the run.
    pub fn all_aborted(&self) -> bool {
        self.failed.is_empty()
            && self.unknown.is_empty()
            && self.not_started.is_empty()
            && self.fatal.is_none()
            && self.journal_error.is_none()
            && !self.interrupted
    }
}

#[cfg(test)]
mod tests;
