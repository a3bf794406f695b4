//! Group commit for the write-ahead journal: one task owns the [`JournalSink`], takes every
//! record queued since its last sync, appends them all and makes them durable with one sync.
//! While a sync runs, new records queue up and form the next group, so the number of syncs
//! adapts to the load: one per record when requests are few, one per many when they are many.
//!
//! Intents wait for the sync that covers them (the request must not leave before its intent
//! is durable); responses do not wait. The sink's calls run on tokio's blocking pool, because
//! `fdatasync` blocks; tokio's paused test clock does not advance while they run.

use super::{ApplyError, JournalSink};
use crate::state::journal::JournalRecord;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Records beyond this many wait for the next group, so one group's latency stays bounded.
const MAX_GROUP: usize = 4_096;

type Durable = oneshot::Sender<Result<(), String>>;

struct Entry {
    record: JournalRecord,
    durable: Option<Durable>,
}

/// Queues records for the writer task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct JournalHandle {
    sender: mpsc::UnboundedSender<Entry>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("record", &self.record)
            .field("durable", &self.durable.is_some())
            .finish()
    }
}

/// Why a record could not be made durable; the writer's final result holds the error itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotDurable {
    pub message: String,
}

impl JournalHandle {
    /// Queues a record; it becomes durable with the next group.
    pub fn append(&self, record: JournalRecord) -> Result<(), NotDurable> {
        self.sender
            .send(Entry {
                record,
                durable: None,
            })
            .map_err(|_| closed())
    }

    /// Queues a record and waits until a sync covers it.
    pub async fn append_durable(&self, record: JournalRecord) -> Result<(), NotDurable> {
        let (sender, receiver) = oneshot::channel();
        self.sender
            .send(Entry {
                record,
                durable: Some(sender),
            })
            .map_err(|_| closed())?;
        match receiver.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(NotDurable { message }),
            Err(_) => Err(closed()),
        }
    }
}

fn closed() -> NotDurable {
    NotDurable {
        message: ApplyError::JournalClosed.to_string(),
    }
}

/// The writer task's result: the sink back (to be finished by the store), or `None` when it
/// was lost to a panic, and the first error, if any.
pub struct WriterResult<S> {
    pub sink: Option<S>,
    pub error: Option<ApplyError>,
    /// Syncs made, for tests and benchmarks of the grouping.
    pub syncs: u64,
}

/// Starts the writer task. It ends when every [`JournalHandle`] is dropped, after writing and
/// syncing everything queued.
pub fn spawn<S: JournalSink>(sink: S) -> (JournalHandle, JoinHandle<WriterResult<S>>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(sink, receiver));
    (JournalHandle { sender }, task)
}

async fn run<S: JournalSink>(
    sink: S,
    mut receiver: mpsc::UnboundedReceiver<Entry>,
) -> WriterResult<S> {
    let mut sink = Some(sink);
    let mut error: Option<ApplyError> = None;
    let mut syncs = 0;
    let mut group = Vec::new();
    while receiver.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (records, waiters): (Vec<JournalRecord>, Vec<Option<Durable>>) = group
            .drain(..)
            .map(|entry| (entry.record, entry.durable))
            .unzip();
        let result = match (sink.take(), &error) {
            (Some(owned), None) => {
                let written = tokio::task::spawn_blocking(move || {
                    let mut owned = owned;
                    let result = write_group(&mut owned, &records);
                    (owned, result)
                })
                .await;
                match written {
                    Ok((owned, result)) => {
                        sink = Some(owned);
                        syncs += 1;
                        result
                    }
                    Err(_) => Err(ApplyError::JournalClosed),
                }
            }
            (owned, _) => {
                sink = owned;
                Err(ApplyError::JournalClosed)
            }
        };
        let outcome = match result {
            Ok(()) => Ok(()),
            Err(failure) => {
                let message = describe(&failure);
                error.get_or_insert(failure);
                Err(message)
            }
        };
        for waiter in waiters.into_iter().flatten() {
            // The waiting task may have been stopped; nobody to tell then.
            let _ = waiter.send(outcome.clone());
        }
    }
    WriterResult { sink, error, syncs }
}

fn write_group<S: JournalSink>(sink: &mut S, records: &[JournalRecord]) -> Result<(), ApplyError> {
    records
        .iter()
        .try_for_each(|record| sink.append(record))
        .and_then(|()| sink.sync())
}

/// The error and its causes on one line, for the tasks that were waiting on it.
fn describe(error: &ApplyError) -> String {
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}
