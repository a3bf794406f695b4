//! The state store: the only code that writes state, journal and lock, in a file or a
//! database. [`StateStore`] is what the commands and apply need of a backend; [`LocalStore`]
//! (files beside the config) and [`crate::state::postgres::PgStore`] implement it, and
//! [`AnyStore`] is the one a command picked from `--state`/`state:`. Split by concern:
//! `error`, `lock` (local OS locks), `atomic` (whole files), `encode` (the state file's bytes),
//! `local` (the file store).

mod atomic;
mod encode;
mod error;
mod local;
mod lock;

pub use error::StoreError;
pub use local::{JournalWriter, LocalStore};
pub use lock::{LockInfo, StateLock};

use crate::state::journal;
use crate::state::model::State;
use std::fmt;
use std::path::PathBuf;

/// A state loaded for an update, or for reading.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedState {
    /// Serial 0 and a fresh lineage when there was no file.
    pub state: State,
    /// Whether a state file existed (after any recovery save).
    pub existed: bool,
    /// Set when a leftover journal was folded in.
    pub recovered: Option<Recovery>,
    /// Set by `load_recovering` when a journal exists because another command is running:
    /// that command's lock info. The state is the one on disk, without its journal.
    pub live_journal: Option<LockInfo>,
}

impl LoadedState {
    /// What every backend loads when no journal is to be folded: the stored state, or a new
    /// empty one (serial 0, fresh lineage) when there is none yet.
    pub fn from_read(on_disk: Option<State>, tool_version: &str) -> LoadedState {
        match on_disk {
            Some(state) => LoadedState {
                state,
                existed: true,
                recovered: None,
                live_journal: None,
            },
            None => LoadedState {
                state: State::new_empty(uuid::Uuid::new_v4().to_string(), tool_version),
                existed: false,
                recovered: None,
                live_journal: None,
            },
        }
    }
}

/// What folding a leftover journal did; enough for a one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    pub journal_path: PathBuf,
    /// Records folded, `begin` included.
    pub records: usize,
    /// Change orders whose abort intent had no response: now `unknown`.
    pub unknown: usize,
    /// Whether a torn last line (a crash mid-write) was dropped.
    pub torn_last_line: bool,
    /// The serial after the recovery save.
    pub serial: u64,
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recovered an interrupted run from `{}`: {} records folded, {} change order(s) left \
             unknown{} (state serial {})",
            self.journal_path.display(),
            self.records,
            self.unknown,
            if self.torn_last_line {
                ", a torn last line dropped"
            } else {
                ""
            },
            self.serial
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum SaveOutcome {
    /// Same content as loaded: the file was not rewritten.
    Unchanged,
    /// The state now on disk.
    Written { state: State },
}

impl SaveOutcome {
    /// The loaded state to save against next: after a write, the written state.
    pub fn into_loaded(self, previous: LoadedState) -> LoadedState {
        match self {
            SaveOutcome::Unchanged => previous,
            SaveOutcome::Written { state } => LoadedState {
                state,
                existed: true,
                recovered: previous.recovered,
                live_journal: None,
            },
        }
    }
}

/// What the commands and apply need of a state backend: one lock held for the whole
/// command (with who holds it), a load that folds a leftover journal first, the write-ahead
/// journal (`begin`, appends, group-commit syncs, `finish`), a save that lands only over the
/// serial and lineage that were loaded, unlock and force-unlock. Every implementation passes
/// `tests/it/state_store_conformance.rs`.
pub trait StateStore: Send + Sync {
    /// A held lock; dropping it releases the lock too.
    type Lock: Send + Sync + fmt::Debug;
    type Journal: StoreJournal;

    /// The state as a person names it in messages (a path, or a URL without its password
    /// plus the state's name).
    fn location(&self) -> String;
    /// Takes the lock for `operation`: at once, or polling until `timeout` has passed.
    fn lock(&self, operation: &str, timeout: std::time::Duration)
    -> Result<Self::Lock, StoreError>;
    /// Who holds `lock` (this process).
    fn lock_info(lock: &Self::Lock) -> &LockInfo;
    /// Loads the state for a command that will change it; a leftover journal is folded in
    /// and saved first.
    fn load_for_update(
        &self,
        lock: &Self::Lock,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError>;
    /// Loads the state for a read-only command: a leftover journal is folded under the lock
    /// taken briefly; a live one (its writer holds the lock) is left alone and named.
    fn load_recovering(
        &self,
        operation: &str,
        lock_timeout: std::time::Duration,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError>;
    /// Starts the journal with its durable `begin` record; refused when one exists.
    fn begin_journal(
        &self,
        lock: &Self::Lock,
        begin: &journal::JournalRecord,
    ) -> Result<Self::Journal, StoreError>;
    /// Saves `new_state` over `loaded` only if the store still holds the serial and lineage
    /// loaded; the serial goes up by one when the content differs.
    fn save(
        &self,
        lock: &Self::Lock,
        loaded: &LoadedState,
        new_state: &State,
    ) -> Result<SaveOutcome, StoreError>;
    /// [`Self::save`], taking the new state, so a backend that keeps it (the local file's
    /// [`SaveOutcome::Written`]) need not copy it.
    fn save_owned(
        &self,
        lock: &Self::Lock,
        loaded: &LoadedState,
        new_state: State,
    ) -> Result<SaveOutcome, StoreError> {
        self.save(lock, loaded, &new_state)
    }
    /// [`Self::save`], but `state` keeps its own serial (and lineage): `state migrate` and
    /// `state push`, which check the serials themselves.
    fn save_exact(
        &self,
        lock: &Self::Lock,
        loaded: &LoadedState,
        state: &State,
    ) -> Result<SaveOutcome, StoreError>;
    /// Removes the journal once its fold was saved.
    fn finish_journal(&self, lock: &Self::Lock, journal: Self::Journal) -> Result<(), StoreError>;
    /// Releases the lock.
    fn unlock(&self, lock: Self::Lock) -> Result<(), StoreError>;
    /// Clears a lock left by a holder that is gone, when its id is `lock_id`.
    fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StoreError>;

    /// `state rm`: every id must be in the state, or nothing is removed.
    fn remove(
        &self,
        lock: &Self::Lock,
        loaded: &LoadedState,
        ids: &[crate::ids::ChangeOrderId],
    ) -> Result<SaveOutcome, StoreError> {
        let new_state = loaded
            .state
            .without(ids)
            .map_err(|missing| StoreError::NotInState {
                path: PathBuf::from(self.location()),
                ids: missing,
            })?;
        self.save(lock, loaded, &new_state)
    }
}

/// The write-ahead journal of one run: `append` buffers, `sync` makes everything appended
/// durable at once (group commit).
pub trait StoreJournal: Send + fmt::Debug + 'static {
    fn append(&mut self, record: &journal::JournalRecord) -> Result<(), StoreError>;
    fn sync(&mut self) -> Result<(), StoreError>;
    /// Where the journal is, for messages.
    fn location(&self) -> String;
    fn bytes_written(&self) -> u64;
}

impl StoreJournal for JournalWriter {
    fn append(&mut self, record: &journal::JournalRecord) -> Result<(), StoreError> {
        JournalWriter::append(self, record)
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        JournalWriter::sync(self)
    }
    fn location(&self) -> String {
        self.path().display().to_string()
    }
    fn bytes_written(&self) -> u64 {
        JournalWriter::bytes_written(self)
    }
}

impl StateStore for LocalStore {
    type Lock = StateLock;
    type Journal = JournalWriter;

    fn location(&self) -> String {
        self.state_path().display().to_string()
    }
    fn lock(&self, operation: &str, timeout: std::time::Duration) -> Result<StateLock, StoreError> {
        LocalStore::lock(self, operation, timeout)
    }
    fn lock_info(lock: &StateLock) -> &LockInfo {
        lock.info()
    }
    fn load_for_update(
        &self,
        lock: &StateLock,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError> {
        LocalStore::load_for_update(self, lock, tool_version)
    }
    fn load_recovering(
        &self,
        operation: &str,
        lock_timeout: std::time::Duration,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError> {
        LocalStore::load_recovering(self, operation, lock_timeout, tool_version)
    }
    fn begin_journal(
        &self,
        lock: &StateLock,
        begin: &journal::JournalRecord,
    ) -> Result<JournalWriter, StoreError> {
        LocalStore::begin_journal(self, lock, begin)
    }
    fn save(
        &self,
        lock: &StateLock,
        loaded: &LoadedState,
        new_state: &State,
    ) -> Result<SaveOutcome, StoreError> {
        LocalStore::save(self, lock, loaded, new_state)
    }
    fn save_owned(
        &self,
        lock: &StateLock,
        loaded: &LoadedState,
        new_state: State,
    ) -> Result<SaveOutcome, StoreError> {
        LocalStore::save_owned(self, lock, loaded, new_state)
    }
    fn save_exact(
        &self,
        lock: &StateLock,
        loaded: &LoadedState,
        state: &State,
    ) -> Result<SaveOutcome, StoreError> {
        LocalStore::save_exact(self, lock, loaded, state)
    }
    fn finish_journal(&self, lock: &StateLock, journal: JournalWriter) -> Result<(), StoreError> {
        LocalStore::finish_journal(self, lock, journal)
    }
    fn unlock(&self, lock: StateLock) -> Result<(), StoreError> {
        drop(lock);
        Ok(())
    }
    fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StoreError> {
        LocalStore::force_unlock(self, lock_id)
    }
}

/// The backend a command picked from `--state`/`state:`: a file, or a PostgreSQL state.
#[derive(Debug)]
pub enum AnyStore {
    Local(LocalStore),
    Postgres(crate::state::postgres::PgStore),
}

/// A lock of either backend.
#[derive(Debug)]
pub enum AnyLock {
    Local(StateLock),
    Postgres(crate::state::postgres::PgLock),
}

/// A journal of either backend.
#[derive(Debug)]
pub enum AnyJournal {
    Local(JournalWriter),
    Postgres(crate::state::postgres::PgJournal),
}

impl AnyStore {
    /// Where the journal is, for messages that say what is kept for the next command.
    pub fn journal_location(&self) -> String {
        match self {
            AnyStore::Local(store) => store.journal_path().display().to_string(),
            AnyStore::Postgres(store) => format!("{} journal", store.location()),
        }
    }

    /// Where the previous version is kept after a change, when this backend keeps one.
    pub fn backup_location(&self) -> Option<String> {
        match self {
            AnyStore::Local(store) => Some(store.backup_path().display().to_string()),
            AnyStore::Postgres(_) => None,
        }
    }

    fn wrong_lock(&self) -> StoreError {
        StoreError::WrongLock {
            path: PathBuf::from(self.location()),
            lock: PathBuf::from("a lock of another backend"),
        }
    }
}

impl StoreJournal for AnyJournal {
    fn append(&mut self, record: &journal::JournalRecord) -> Result<(), StoreError> {
        match self {
            AnyJournal::Local(journal) => StoreJournal::append(journal, record),
            AnyJournal::Postgres(journal) => journal.append(record),
        }
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        match self {
            AnyJournal::Local(journal) => StoreJournal::sync(journal),
            AnyJournal::Postgres(journal) => journal.sync(),
        }
    }
    fn location(&self) -> String {
        match self {
            AnyJournal::Local(journal) => StoreJournal::location(journal),
            AnyJournal::Postgres(journal) => journal.location(),
        }
    }
    fn bytes_written(&self) -> u64 {
        match self {
            AnyJournal::Local(journal) => StoreJournal::bytes_written(journal),
            AnyJournal::Postgres(journal) => journal.bytes_written(),
        }
    }
}

impl AnyStore {
    /// Runs `work` (a command parsing its config) while the state loads as
    /// [`StateStore::load_recovering`] would: at the same time when the load is only a read
    /// of a local file ([`LocalStore::load_recovering_alongside`]), else after `work`
    /// succeeded. `work`'s error comes first.
    pub fn load_recovering_alongside<T, E>(
        &self,
        work: impl FnOnce() -> Result<T, E>,
        operation: &str,
        lock_timeout: std::time::Duration,
        tool_version: &str,
    ) -> Result<(T, Result<LoadedState, StoreError>), E> {
        match self {
            AnyStore::Local(store) => {
                store.load_recovering_alongside(work, operation, lock_timeout, tool_version)
            }
            store => {
                let done = work()?;
                Ok((
                    done,
                    store.load_recovering(operation, lock_timeout, tool_version),
                ))
            }
        }
    }
}

impl StateStore for AnyStore {
    type Lock = AnyLock;
    type Journal = AnyJournal;

    fn location(&self) -> String {
        match self {
            AnyStore::Local(store) => store.location(),
            AnyStore::Postgres(store) => store.location(),
        }
    }
    fn lock(&self, operation: &str, timeout: std::time::Duration) -> Result<AnyLock, StoreError> {
        Ok(match self {
            AnyStore::Local(store) => AnyLock::Local(StateStore::lock(store, operation, timeout)?),
            AnyStore::Postgres(store) => AnyLock::Postgres(store.lock(operation, timeout)?),
        })
    }
    fn lock_info(lock: &AnyLock) -> &LockInfo {
        match lock {
            AnyLock::Local(lock) => lock.info(),
            AnyLock::Postgres(lock) => crate::state::postgres::PgStore::lock_info(lock),
        }
    }
    fn load_for_update(
        &self,
        lock: &AnyLock,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError> {
        match (self, lock) {
            (AnyStore::Local(store), AnyLock::Local(lock)) => {
                store.load_for_update(lock, tool_version)
            }
            (AnyStore::Postgres(store), AnyLock::Postgres(lock)) => {
                store.load_for_update(lock, tool_version)
            }
            _ => Err(self.wrong_lock()),
        }
    }
    fn load_recovering(
        &self,
        operation: &str,
        lock_timeout: std::time::Duration,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError> {
        match self {
            AnyStore::Local(store) => store.load_recovering(operation, lock_timeout, tool_version),
            AnyStore::Postgres(store) => {
                store.load_recovering(operation, lock_timeout, tool_version)
            }
        }
    }
    fn begin_journal(
        &self,
        lock: &AnyLock,
        begin: &journal::JournalRecord,
    ) -> Result<AnyJournal, StoreError> {
        match (self, lock) {
            (AnyStore::Local(store), AnyLock::Local(lock)) => {
                Ok(AnyJournal::Local(store.begin_journal(lock, begin)?))
            }
            (AnyStore::Postgres(store), AnyLock::Postgres(lock)) => {
                Ok(AnyJournal::Postgres(store.begin_journal(lock, begin)?))
            }
            _ => Err(self.wrong_lock()),
        }
    }
    fn save(
        &self,
        lock: &AnyLock,
        loaded: &LoadedState,
        new_state: &State,
    ) -> Result<SaveOutcome, StoreError> {
        match (self, lock) {
            (AnyStore::Local(store), AnyLock::Local(lock)) => store.save(lock, loaded, new_state),
            (AnyStore::Postgres(store), AnyLock::Postgres(lock)) => {
                store.save(lock, loaded, new_state)
            }
            _ => Err(self.wrong_lock()),
        }
    }
    fn save_owned(
        &self,
        lock: &AnyLock,
        loaded: &LoadedState,
        new_state: State,
    ) -> Result<SaveOutcome, StoreError> {
        match (self, lock) {
            (AnyStore::Local(store), AnyLock::Local(lock)) => {
                store.save_owned(lock, loaded, new_state)
            }
            (AnyStore::Postgres(store), AnyLock::Postgres(lock)) => {
                store.save(lock, loaded, &new_state)
            }
            _ => Err(self.wrong_lock()),
        }
    }
    fn save_exact(
        &self,
        lock: &AnyLock,
        loaded: &LoadedState,
        state: &State,
    ) -> Result<SaveOutcome, StoreError> {
        match (self, lock) {
            (AnyStore::Local(store), AnyLock::Local(lock)) => store.save_exact(lock, loaded, state),
            (AnyStore::Postgres(store), AnyLock::Postgres(lock)) => {
                store.save_exact(lock, loaded, state)
            }
            _ => Err(self.wrong_lock()),
        }
    }
    fn finish_journal(&self, lock: &AnyLock, journal: AnyJournal) -> Result<(), StoreError> {
        match (self, lock, journal) {
            (AnyStore::Local(store), AnyLock::Local(lock), AnyJournal::Local(journal)) => {
                store.finish_journal(lock, journal)
            }
            (AnyStore::Postgres(store), AnyLock::Postgres(lock), AnyJournal::Postgres(journal)) => {
                store.finish_journal(lock, journal)
            }
            _ => Err(self.wrong_lock()),
        }
    }
    fn unlock(&self, lock: AnyLock) -> Result<(), StoreError> {
        match (self, lock) {
            (AnyStore::Local(store), AnyLock::Local(lock)) => StateStore::unlock(store, lock),
            (AnyStore::Postgres(store), AnyLock::Postgres(lock)) => store.unlock(lock),
            _ => Err(self.wrong_lock()),
        }
    }
    fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StoreError> {
        match self {
            AnyStore::Local(store) => store.force_unlock(lock_id),
            AnyStore::Postgres(store) => store.force_unlock(lock_id),
        }
    }
}
