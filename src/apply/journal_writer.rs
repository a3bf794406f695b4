//! Group commit for the write-ahead journal: one task owns the [`JournalSink`], takes every
//! record queued since its last sync, appends them all and makes them durable with one sync.
//! While a sync runs, new records queue up and form the next group, so the number of syncs
//! adapts to the load: one per record when requests are few, one per many when they are many.
//!
//! Appends only fill the sink's buffer and run on the writer task; syncs block (`fdatasync`)
//! and run on tokio's blocking pool, whose work tokio's paused test clock waits for.
//!
//! Intents wait for the sync that covers them (the request must not leave before its intent
//! is durable); responses do not wait, and a group of responses alone is not synced at once:
//! the next intent's sync covers it, or a sync 100 ms later if no intent comes, or the last
//! sync when the run ends. That halves the syncs of a busy run.
//!
//! Intents written ahead ([`JournalHandle::append_ahead`]) have no one waiting yet: they wait
//! up to 2 ms to share a sync with others, unless their task comes to wait on them first and
//! asks for the sync at once.
//!
//! [`Durability`] tells how far the journal is durable, counted in records: whoever reports
//! what the records say (the CLI's batched stdout) holds a line back until the records queued
//! before it are durable.

use super::{ApplyError, JournalSink};
use crate::state::journal::JournalRecord;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Records beyond this many wait for the next group, so one group's latency stays bounded.
const MAX_GROUP: usize = 4_096;
/// How long responses may stay unsynced when no intent comes to sync them. A crash in that
/// window loses only their responses: their intents are durable, so the next run asks
/// `GetChangeOrderInfo` before sending anything. Never a duplicate, at most a question.
const DEFERRED_SYNC: Duration = Duration::from_millis(100);
/// How long an intent written ahead may wait for a sync when nothing urgent comes: long
/// enough to gather the intents of several freed slots into one sync, short against the
/// time its task waits for a slot. A task that finds its intent not yet durable asks for the
/// sync at once.
const AHEAD_SYNC: Duration = Duration::from_millis(2);

type Durable = oneshot::Sender<Result<(), String>>;

struct Entry {
    /// `None` for a request to sync now.
    record: Option<JournalRecord>,
    durable: Option<Durable>,
    /// Someone waits for this sync now: it starts as soon as the writer is free.
    urgent: bool,
}

/// Queues records for the writer task. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct JournalHandle {
    sender: mpsc::UnboundedSender<Entry>,
    durability: Arc<Durability>,
}

/// How many records were queued, and how many of them are durable, in the order the writer
/// receives them: a reporter that notes [`Durability::queued`] when it reports a record's
/// outcome knows that record is durable once [`Durability::durable`] reaches that count.
#[derive(Debug)]
pub struct Durability {
    /// Records queued so far. Held while a record is sent, so that the count and the order
    /// of the channel agree on every runtime flavour.
    queued: Mutex<u64>,
    /// Records the writer has synced, published after each successful sync.
    durable: watch::Sender<u64>,
}

impl Default for Durability {
    fn default() -> Self {
        Self {
            queued: Mutex::new(0),
            durable: watch::Sender::new(0),
        }
    }
}

impl Durability {
    /// Records queued so far: every record queued before this call is among them.
    pub fn queued(&self) -> u64 {
        *self.queued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records made durable so far (the first `durable()` records queued).
    pub fn durable(&self) -> u64 {
        *self.durable.borrow()
    }

    /// Changes after each sync that made more records durable.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.durable.subscribe()
    }

    fn send(&self, sender: &mpsc::UnboundedSender<Entry>, entry: Entry) -> Result<(), NotDurable> {
        let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        sender.send(entry).map_err(|_| closed())?;
        *queued += 1;
        Ok(())
    }
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
pub(crate) struct NotDurable {
    pub message: String,
}

impl JournalHandle {
    /// Queues a record; it becomes durable with the next group.
    pub(crate) fn append(&self, record: JournalRecord) -> Result<(), NotDurable> {
        self.durability.send(
            &self.sender,
            Entry {
                record: Some(record),
                durable: None,
                urgent: false,
            },
        )
    }

    /// Queues a record and waits until a sync covers it.
    pub(crate) async fn append_durable(&self, record: JournalRecord) -> Result<(), NotDurable> {
        self.queue(record, true)?.wait().await
    }

    /// Queues a record now and gives a ticket to wait on later for the sync that covers it,
    /// so the sync runs while the caller does something else (intents written ahead). The
    /// sync comes within [`AHEAD_SYNC`], or at once when someone waits on the ticket.
    pub(crate) fn append_ahead(&self, record: JournalRecord) -> Result<DurableTicket, NotDurable> {
        self.queue(record, false)
    }

    fn queue(&self, record: JournalRecord, urgent: bool) -> Result<DurableTicket, NotDurable> {
        let (sender, receiver) = oneshot::channel();
        self.durability.send(
            &self.sender,
            Entry {
                record: Some(record),
                durable: Some(sender),
                urgent,
            },
        )?;
        Ok(DurableTicket { receiver })
    }
}

/// Resolves when the sync covering one record has run (see [`JournalHandle::append_ahead`]).
#[derive(Debug)]
pub(crate) struct DurableTicket {
    receiver: oneshot::Receiver<Result<(), String>>,
}

impl DurableTicket {
    /// Waits for the record's sync, asking the writer for it at once if it has not run yet;
    /// `Ok` only when the record is durable.
    pub(crate) async fn durable(mut self, journal: &JournalHandle) -> Result<(), NotDurable> {
        match self.receiver.try_recv() {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(message)) => return Err(NotDurable { message }),
            Err(oneshot::error::TryRecvError::Closed) => return Err(closed()),
            Err(oneshot::error::TryRecvError::Empty) => {
                // The channel is ordered: this reaches the writer after the record.
                let _ = journal.sender.send(Entry {
                    record: None,
                    durable: None,
                    urgent: true,
                });
            }
        }
        self.wait().await
    }

    async fn wait(self) -> Result<(), NotDurable> {
        match self.receiver.await {
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
/// syncing everything queued. `durability` counts this journal's records (see [`Durability`]).
pub(crate) fn spawn<S: JournalSink>(
    sink: S,
    durability: Arc<Durability>,
) -> (JournalHandle, JoinHandle<WriterResult<S>>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(sink, receiver, Arc::clone(&durability)));
    (JournalHandle { sender, durability }, task)
}

/// The sink, moved to the blocking pool for each group and back.
struct Writer<S> {
    sink: Option<S>,
    error: Option<ApplyError>,
    syncs: u64,
    /// Records appended to the sink; after a sync, all of them are durable.
    appended: u64,
    durability: Arc<Durability>,
}

impl<S: JournalSink> Writer<S> {
    /// Appends `records` and, when `sync`, makes everything appended so far durable.
    /// Appending only fills the sink's buffer, so it runs here; the sync blocks, so it runs on
    /// the blocking pool, with the sink moved there and back.
    async fn write(&mut self, records: Vec<JournalRecord>, sync: bool) -> Result<(), String> {
        if let Some(error) = &self.error {
            // Every later record hears of the first failure, not of its consequence.
            return Err(describe(error));
        }
        let result = match (self.sink.take(), &self.error) {
            (Some(mut sink), None) => {
                let count = records.len() as u64;
                match records
                    .into_iter()
                    .try_for_each(|record| sink.append(record))
                {
                    Err(error) => {
                        self.sink = Some(sink);
                        Err(error)
                    }
                    Ok(()) if !sync => {
                        self.sink = Some(sink);
                        self.appended += count;
                        Ok(())
                    }
                    Ok(()) => {
                        let synced = tokio::task::spawn_blocking(move || {
                            let result = sink.sync();
                            (sink, result)
                        })
                        .await;
                        match synced {
                            Ok((sink, result)) => {
                                self.sink = Some(sink);
                                self.syncs += 1;
                                self.appended += count;
                                if result.is_ok() {
                                    self.durability.durable.send_replace(self.appended);
                                }
                                result
                            }
                            Err(_) => Err(ApplyError::JournalClosed),
                        }
                    }
                }
            }
            (sink, _) => {
                self.sink = sink;
                Err(ApplyError::JournalClosed)
            }
        };
        result.map_err(|failure| {
            let message = describe(&failure);
            self.error.get_or_insert(failure);
            message
        })
    }
}

async fn run<S: JournalSink>(
    sink: S,
    mut receiver: mpsc::UnboundedReceiver<Entry>,
    durability: Arc<Durability>,
) -> WriterResult<S> {
    let mut writer = Writer {
        sink: Some(sink),
        error: None,
        syncs: 0,
        appended: 0,
        durability,
    };
    // Waiters of records appended but not yet synced, and when the sync covering them is
    // due: responses need no sync of their own (the next intent's sync covers them, or one
    // `DEFERRED_SYNC` later), intents written ahead get one within `AHEAD_SYNC`.
    let mut waiting: Vec<Durable> = Vec::new();
    let mut sync_by: Option<tokio::time::Instant> = None;
    let mut group = Vec::new();
    loop {
        let received = match sync_by {
            Some(deadline) => {
                match tokio::time::timeout_at(deadline, receiver.recv_many(&mut group, MAX_GROUP))
                    .await
                {
                    Ok(received) => received,
                    Err(_) => {
                        // A failure here is kept in `writer.error`, told to the waiters, and
                        // reported at the end.
                        let outcome = writer.write(Vec::new(), true).await;
                        tell(&mut waiting, &outcome);
                        sync_by = None;
                        continue;
                    }
                }
            }
            None => receiver.recv_many(&mut group, MAX_GROUP).await,
        };
        if received == 0 {
            break;
        }
        let mut records = Vec::with_capacity(group.len());
        let mut urgent = false;
        let mut ahead = false;
        for entry in group.drain(..) {
            records.extend(entry.record);
            urgent |= entry.urgent;
            if let Some(waiter) = entry.durable {
                ahead |= !entry.urgent;
                waiting.push(waiter);
            }
        }
        let outcome = writer.write(records, urgent).await;
        if urgent || outcome.is_err() {
            tell(&mut waiting, &outcome);
            sync_by = None;
        } else {
            let due = tokio::time::Instant::now()
                + if ahead || !waiting.is_empty() {
                    AHEAD_SYNC
                } else {
                    DEFERRED_SYNC
                };
            sync_by = Some(sync_by.map_or(due, |earlier| earlier.min(due)));
        }
    }
    if sync_by.is_some() {
        let outcome = writer.write(Vec::new(), true).await;
        tell(&mut waiting, &outcome);
    }
    WriterResult {
        sink: writer.sink,
        error: writer.error,
        syncs: writer.syncs,
    }
}

fn tell(waiting: &mut Vec<Durable>, outcome: &Result<(), String>) {
    for waiter in waiting.drain(..) {
        // The waiting task may have been stopped; nobody to tell then.
        let _ = waiter.send(outcome.clone());
    }
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
