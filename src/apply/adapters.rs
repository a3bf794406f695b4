//! The real implementations of the engine's traits: the EDAS client as a [`Transport`], and
//! the store's journal file as a [`JournalSink`] that also keeps the records for the one fold
//! at the end of the run. Glue only: no decisions here.

use super::{ApplyError, InfoResult, JournalSink, Transport};
use crate::edas::client::EdasClient;
use crate::edas::outcome::{InfoOutcome, Outcome};
use crate::ids::ChangeOrderId;
use crate::state::journal::JournalRecord;
use crate::state::store::{JournalWriter, StoreError, StoreJournal};
use std::future::Future;

impl Transport for EdasClient {
    fn abort(&self, id: &ChangeOrderId) -> impl Future<Output = Outcome> + Send {
        EdasClient::abort(self, id)
    }

    async fn info(&self, id: &ChangeOrderId) -> InfoResult {
        info_result(self.change_order_info(id).await)
    }
}

/// `GetChangeOrderInfo` is read only: an answer that says nothing is asked again, exactly like
/// a never-sent one.
pub fn info_result(outcome: InfoOutcome) -> InfoResult {
    match outcome {
        InfoOutcome::Status { status, details } => InfoResult::Status { status, details },
        InfoOutcome::Retry {
            details,
            after,
            throttled,
            reason,
        } => InfoResult::Retry {
            details,
            after,
            throttled,
            reason,
        },
        InfoOutcome::Unknown { details, reason } => InfoResult::Retry {
            details,
            after: None,
            throttled: false,
            reason,
        },
        InfoOutcome::Failed { details } => InfoResult::Failed { details },
        InfoOutcome::Fatal {
            details,
            server_string_to_sign,
        } => InfoResult::Fatal {
            details,
            server_string_to_sign,
        },
    }
}

/// The store's journal (a file, or rows in PostgreSQL), plus every record appended, in order
/// (the `begin` record first), so that the end of the run folds them without reading back.
#[derive(Debug)]
pub struct RecordingJournal<J: StoreJournal = JournalWriter> {
    writer: J,
    records: Vec<JournalRecord>,
}

impl<J: StoreJournal> RecordingJournal<J> {
    /// `begin` is the record the store's `begin_journal` already wrote.
    pub fn new(writer: J, begin: JournalRecord) -> Self {
        Self {
            writer,
            records: vec![begin],
        }
    }

    pub fn records(&self) -> &[JournalRecord] {
        &self.records
    }

    pub fn bytes_written(&self) -> u64 {
        self.writer.bytes_written()
    }

    pub fn into_parts(self) -> (J, Vec<JournalRecord>) {
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
    fn append(&mut self, record: &JournalRecord) -> Result<(), ApplyError> {
        self.writer
            .append(record)
            .map_err(|error| journal_error(&self.writer, error))?;
        self.records.push(record.clone());
        Ok(())
    }

    fn sync(&mut self) -> Result<(), ApplyError> {
        self.writer
            .sync()
            .map_err(|error| journal_error(&self.writer, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edas::outcome::ResponseDetails;

    #[test]
    fn an_info_answer_that_says_nothing_is_asked_again_never_taken_as_a_status() {
        let mapped = info_result(InfoOutcome::Unknown {
            details: ResponseDetails::default(),
            reason: "HTTP 503".into(),
        });
        assert!(matches!(
            mapped,
            InfoResult::Retry {
                throttled: false,
                after: None,
                ..
            }
        ));
        let status = info_result(InfoOutcome::Status {
            status: 6.into(),
            details: ResponseDetails::default(),
        });
        assert!(matches!(
            status,
            InfoResult::Status {
                status: crate::edas::wire::ChangeOrderStatus::Stopped,
                ..
            }
        ));
    }
}
