//! The real implementations of the engine's traits: the EDAS client as a [`Transport`], and
//! the store's journal file as a [`JournalSink`] that also keeps the records for the one fold
//! at the end of the run. Glue only: no decisions here.

use super::{ApplyError, JournalSink, Transport};
use crate::edas::client::EdasClient;
use crate::edas::outcome::{AbortOutcome, InfoOutcome};
use crate::edas::request::RollbackOperation;
use crate::ids::ChangeOrderId;
use crate::state::journal::JournalRecord;
use crate::state::store::{JournalWriter, StoreError, StoreJournal};
use std::future::Future;

impl Transport for EdasClient {
    fn abort(
        &self,
        id: &ChangeOrderId,
        operation: RollbackOperation,
    ) -> impl Future<Output = AbortOutcome> + Send {
        EdasClient::abort(self, id, operation)
    }

    fn info(&self, id: &ChangeOrderId) -> impl Future<Output = InfoOutcome> + Send {
        self.change_order_info(id)
    }

    fn list(&self, app_id: &str) -> impl Future<Output = crate::edas::outcome::ListOutcome> + Send {
        self.list_recent_change_orders(app_id)
    }
}

/// The store's journal (a file, or rows in PostgreSQL), plus every record appended, in order
/// (the `begin` record first), so that the end of the run folds them without reading back.
#[derive(Debug)]
pub(crate) struct RecordingJournal<J: StoreJournal = JournalWriter> {
    writer: J,
    records: Vec<JournalRecord>,
}

impl<J: StoreJournal> RecordingJournal<J> {
    /// `begin` is the record the store's `begin_journal` already wrote.
    pub(crate) fn new(writer: J, begin: JournalRecord) -> Self {
        Self {
            writer,
            records: vec![begin],
        }
    }

    pub(crate) fn bytes_written(&self) -> u64 {
        self.writer.bytes_written()
    }

    pub(crate) fn into_parts(self) -> (J, Vec<JournalRecord>) {
        (self.writer, self.records)
    }
}

fn journal_error<J: StoreJournal>(writer: &J, error: StoreError) -> ApplyError {
    ApplyError::Journal {
        path: writer.location(),
        source: Box::new(error),
    }
}

impl<J: StoreJournal> JournalSink for RecordingJournal<J> {
    fn append(&mut self, record: JournalRecord) -> Result<(), ApplyError> {
        self.writer
            .append(&record)
            .map_err(|error| journal_error(&self.writer, error))?;
        self.records.push(record);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), ApplyError> {
        self.writer
            .sync()
            .map_err(|error| journal_error(&self.writer, error))
    }
}
