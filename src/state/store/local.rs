//! The local file store: `<state>`, `<state>.journal`, `<state>.lock`, `<state>.backup`.
//!
//! It owns the durability rules of docs/state-store.md: a state file is replaced by temp file +
//! fsync + rename + directory fsync and is never rewritten when its content is unchanged; a save
//! only lands if the serial on disk is still the one loaded; `<state>.backup` keeps the version
//! before a run's first change; a newer or corrupt state file is refused and never overwritten;
//! `<state>.lock` is an OS lock held for the whole command; and a leftover journal is folded (by
//! the pure `journal::fold`) before anything else reads the state. This is the I/O edge: it reads
//! the clock only to stamp lock info, and makes the lineage UUID of a new state. It decides nothing
//! about change orders.
#![allow(
    clippy::disallowed_methods,
    reason = "the local store owns its state, backup, journal and lock files (docs/DECISIONS.md, Boundaries)"
)]

use super::atomic::{
    io_error, parent_dir, private, remove_and_sync_dir, sync_dir, write_atomically,
};
use super::lock::{
    Attempt, LOCK_POLL_INTERVAL, LockInfo, StateLock, journal_is_live, read_lock_info,
    same_file_as_path,
};
use super::{LoadedState, Recovery, SaveOutcome, StoreError};
use crate::ids::ChangeOrderId;
use crate::state::journal::{self, JournalRecord, ParsedJournal};
use crate::state::model::{RecordStatus, STATE_FORMAT_VERSION, State};
use std::borrow::Cow;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Appends records to `<state>.journal`. `append` buffers; `sync` makes everything appended
/// durable with one fdatasync (group commit).
#[derive(Debug)]
pub struct JournalWriter {
    writer: BufWriter<File>,
    path: PathBuf,
    bytes_written: u64,
    line: Vec<u8>,
}

impl JournalWriter {
    pub fn append(&mut self, record: &JournalRecord) -> Result<(), StoreError> {
        self.line.clear();
        record.write_json_line(&mut self.line);
        self.writer
            .write_all(&self.line)
            .map_err(|source| io_error("append to", &self.path, source))?;
        self.bytes_written += self.line.len() as u64;
        Ok(())
    }

    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.writer
            .flush()
            .map_err(|source| io_error("write", &self.path, source))?;
        self.writer
            .get_ref()
            .sync_data()
            .map_err(|source| io_error("sync", &self.path, source))
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Local files: `<state>`, `<state>.journal`, `<state>.lock`, `<state>.backup`.
#[derive(Clone, Debug)]
pub struct LocalStore {
    state_path: PathBuf,
}

impl LocalStore {
    /// The store for the state at `state_path`. A state path that is a symbolic link is
    /// followed to its target: the state's identity is the file it resolves to, so a link
    /// and its target share one lock and one journal, and a save replaces the target, never
    /// the link (docs/state-store.md, "One state, one writer").
    pub fn new(state_path: impl Into<PathBuf>) -> Self {
        Self {
            state_path: resolve_links(state_path.into()),
        }
    }

    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    pub fn journal_path(&self) -> PathBuf {
        sibling(&self.state_path, "journal")
    }

    pub fn lock_path(&self) -> PathBuf {
        sibling(&self.state_path, "lock")
    }

    pub fn backup_path(&self) -> PathBuf {
        sibling(&self.state_path, "backup")
    }

    /// The state on disk, as it is: no lock, no journal fold. `None` when there is no file.
    pub fn read(&self) -> Result<Option<State>, StoreError> {
        Ok(self.read_with_bytes()?.map(|(state, _)| state))
    }

    fn read_with_bytes(&self) -> Result<Option<(State, Vec<u8>)>, StoreError> {
        let bytes = match fs::read(&self.state_path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io_error("read state file", &self.state_path, source)),
        };
        let state = decode_state(&self.state_path, &bytes)?;
        Ok(Some((state, bytes)))
    }

    /// Reads `<state>.journal`, if there is one.
    pub fn read_journal(&self) -> Result<Option<ParsedJournal>, StoreError> {
        let path = self.journal_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io_error("read journal", &path, source)),
        };
        journal::parse_journal_bytes(&bytes)
            .map(Some)
            .map_err(|source| StoreError::JournalCorrupt { path, source })
    }

    /// Takes `<state>.lock` for `operation`: at once, or polling until `timeout` has passed.
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<StateLock, StoreError> {
        let started = Instant::now();
        loop {
            let refusal = match self.try_lock_once(operation)? {
                Attempt::Taken(lock) => return Ok(lock),
                Attempt::Held(info) => StoreError::Locked {
                    path: self.state_path.clone(),
                    info: info.map(Box::new),
                    waited: started.elapsed(),
                },
                Attempt::JournalLive => StoreError::JournalLive {
                    path: self.state_path.clone(),
                    journal: self.journal_path(),
                    waited: started.elapsed(),
                },
            };
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(refusal);
            }
            std::thread::sleep(LOCK_POLL_INTERVAL.min(timeout - waited));
        }
    }

    /// One attempt: the lock, or the current holder's info.
    fn try_lock_once(&self, operation: &str) -> Result<Attempt, StoreError> {
        let path = self.lock_path();
        let mut attempts_left = 16;
        let mut file = loop {
            let mut file = private(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false),
            )
            .open(&path)
            .map_err(|source| io_error("open lock file", &path, source))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Ok(Attempt::Held(read_lock_info(&mut file)));
                }
                Err(TryLockError::Error(source)) => {
                    return Err(io_error("lock", &path, source));
                }
            }
            if same_file_as_path(&file, &path) {
                break file;
            }
            // The holder removed the file as it released it, after we opened it: the lock
            // is free, but on a file nobody else will look at. Open the path again.
            attempts_left -= 1;
            if attempts_left == 0 {
                return Ok(Attempt::Held(None));
            }
        };
        // The lock file is ours, but it may be a new one made after the holder's was removed
        // (`git clean -fdX`): a journal still held by a live writer means the state is taken.
        if journal_is_live(&self.journal_path())? {
            return Ok(Attempt::JournalLive);
        }
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            who: LockInfo::current_user(),
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        };
        let mut text = serde_json::to_vec_pretty(&info).map_err(|source| StoreError::Encode {
            path: path.clone(),
            source,
        })?;
        text.push(b'\n');
        // A crashed holder's info is still there: replace it.
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&text))
            .and_then(|()| file.sync_data())
            .map_err(|source| io_error("write lock file", &path, source))?;
        Ok(Attempt::Taken(StateLock {
            file,
            path,
            state_path: self.state_path.clone(),
            info,
            backup_written: AtomicBool::new(false),
        }))
    }

    fn check_lock(&self, lock: &StateLock) -> Result<(), StoreError> {
        if lock.state_path != self.state_path {
            return Err(StoreError::WrongLock {
                path: self.state_path.clone(),
                lock: lock.state_path.clone(),
            });
        }
        Ok(())
    }

    /// [`Self::check_lock`], and the lock file on disk is still the one locked: checked before
    /// a journal is folded or begun, so a command whose lock file was removed or replaced
    /// under it starts nothing. (A save needs no such check: the journal's own lock keeps
    /// every other writer out while results are pending, and the serial check refuses a
    /// save over a state that moved.)
    fn check_lock_held(&self, lock: &StateLock) -> Result<(), StoreError> {
        self.check_lock(lock)?;
        if !same_file_as_path(&lock.file, &lock.path) {
            return Err(StoreError::LockLost {
                path: self.state_path.clone(),
                lock: lock.path.clone(),
            });
        }
        Ok(())
    }

    /// Loads the state for a command that will change it, holding `lock`. A leftover
    /// journal is folded in, the result saved, and the journal removed, before anything else.
    pub fn load_for_update(
        &self,
        lock: &StateLock,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError> {
        self.check_lock_held(lock)?;
        // Held until the fold is saved and the journal removed; refused when a live writer
        // holds it.
        let _journal_guard = self.lock_journal_for_fold()?;
        let on_disk = self.read()?;
        let existed = on_disk.is_some();
        let parsed = self.read_journal()?;
        let mut state = match on_disk {
            Some(mut state) => {
                state.tool_version = tool_version.to_string();
                state
            }
            None => {
                // A crash during the very first run leaves a journal but no state: the
                // journal's lineage is the one the unsaved state had. A state file deleted
                // during a later run leaves a journal begun at serial N: the recovery save
                // then writes N + 1, never a second, different serial N that a plan reviewed
                // against the deleted file would pass as current.
                let begin = parsed
                    .as_ref()
                    .and_then(|parsed| parsed.records.first())
                    .and_then(|record| match record {
                        JournalRecord::Begin {
                            lineage, serial, ..
                        } => Some((lineage.clone(), *serial)),
                        _ => None,
                    });
                match begin {
                    Some((lineage, serial)) => {
                        let mut state = State::new_empty(lineage, tool_version);
                        state.serial = serial;
                        state
                    }
                    None => State::new_empty(uuid::Uuid::new_v4().to_string(), tool_version),
                }
            }
        };
        let loaded = LoadedState {
            state: state.clone(),
            existed,
            recovered: None,
            live_journal: None,
        };
        let Some(parsed) = parsed else {
            return Ok(loaded);
        };
        let journal_path = self.journal_path();
        let folded = journal::fold(state.clone(), &parsed.records).map_err(|source| {
            StoreError::JournalFold {
                path: journal_path.clone(),
                state: self.state_path.clone(),
                source,
            }
        })?;
        let unanswered = journal::unanswered_aborts(&parsed.records);
        let unknown = unanswered
            .iter()
            .filter(|id| {
                folded
                    .change_orders
                    .get(*id)
                    .is_some_and(|record| record.status == RecordStatus::Unknown)
            })
            .count();
        let outcome = self.save(lock, &loaded, &folded)?;
        let mut existed = existed;
        if let SaveOutcome::Written { state: written } = outcome {
            state = written;
            existed = true;
        }
        remove_and_sync_dir(&journal_path)?;
        Ok(LoadedState {
            recovered: Some(Recovery {
                journal_path,
                records: parsed.records.len(),
                unknown,
                torn_last_line: parsed.torn_last_line.is_some(),
                serial: state.serial,
            }),
            state,
            existed,
            live_journal: None,
        })
    }

    /// Takes the journal's own lock before a fold: `None` when there is no journal; an error
    /// when a live writer holds it (it is never folded then).
    fn lock_journal_for_fold(&self) -> Result<Option<File>, StoreError> {
        let path = self.journal_path();
        let file = match OpenOptions::new().read(true).open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io_error("open journal", &path, source)),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Err(StoreError::JournalLive {
                path: self.state_path.clone(),
                journal: path,
                waited: Duration::ZERO,
            }),
            Err(TryLockError::Error(source)) => Err(io_error("lock journal", &path, source)),
        }
    }

    /// Loads the state for a read-only command. A leftover journal is folded first, under
    /// the lock taken briefly; if another command holds the lock, its journal is live, not
    /// leftover, and the state on disk is returned as it is with `live_journal` set.
    pub fn load_recovering(
        &self,
        operation: &str,
        lock_timeout: Duration,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError> {
        if self.journal_path().exists() {
            match self.lock(operation, lock_timeout) {
                Ok(lock) => return self.load_for_update(&lock, tool_version),
                Err(StoreError::Locked { info, .. }) => {
                    let mut loaded = self.load_without_journal(tool_version)?;
                    loaded.live_journal = info.map(|info| *info);
                    return Ok(loaded);
                }
                Err(error) => return Err(error),
            }
        }
        self.load_without_journal(tool_version)
    }

    /// Runs `work` on this thread while the state is loaded as [`LocalStore::load_recovering`]
    /// would, on a second thread when that load is only a read (no journal to fold). `work`'s
    /// error comes first, and the load is then not used; a journal (folding it takes the lock)
    /// means `work` runs first and the load follows only if it succeeded.
    pub fn load_recovering_alongside<T, E>(
        &self,
        work: impl FnOnce() -> Result<T, E>,
        operation: &str,
        lock_timeout: Duration,
        tool_version: &str,
    ) -> Result<(T, Result<LoadedState, StoreError>), E> {
        if self.journal_path().exists() {
            let done = work()?;
            return Ok((
                done,
                self.load_recovering(operation, lock_timeout, tool_version),
            ));
        }
        let (done, read) = std::thread::scope(|scope| {
            let reading = std::thread::Builder::new()
                .name("state-read".to_string())
                .spawn_scoped(scope, || self.read());
            let done = work();
            // No thread (or a panic in it) only means the state is read again below.
            let read = reading.ok().and_then(|reading| reading.join().ok());
            (done, read)
        });
        let done = done?;
        // A run that started meanwhile left a journal: load as `load_recovering` does.
        let loaded = match read {
            Some(read) if !self.journal_path().exists() => {
                read.map(|state| LoadedState::from_read(state, tool_version))
            }
            _ => self.load_recovering(operation, lock_timeout, tool_version),
        };
        Ok((done, loaded))
    }

    fn load_without_journal(&self, tool_version: &str) -> Result<LoadedState, StoreError> {
        Ok(LoadedState::from_read(self.read()?, tool_version))
    }

    /// Saves `new_state` over what was loaded, only if the file still holds the serial that
    /// was loaded. The serial goes up by one when the content differs; otherwise nothing is
    /// written. The first write through a lock first copies the previous file to the backup.
    pub fn save(
        &self,
        lock: &StateLock,
        loaded: &LoadedState,
        new_state: &State,
    ) -> Result<SaveOutcome, StoreError> {
        self.save_with(lock, loaded, Cow::Borrowed(new_state), false)
    }

    /// [`Self::save`], taking the new state: the state written is `new_state` itself, not a
    /// copy (the end of an apply run, whose folded state is needed no more).
    pub fn save_owned(
        &self,
        lock: &StateLock,
        loaded: &LoadedState,
        new_state: State,
    ) -> Result<SaveOutcome, StoreError> {
        self.save_with(lock, loaded, Cow::Owned(new_state), false)
    }

    /// [`Self::save`], keeping `state`'s own serial (`state migrate`, `state push`).
    pub fn save_exact(
        &self,
        lock: &StateLock,
        loaded: &LoadedState,
        state: &State,
    ) -> Result<SaveOutcome, StoreError> {
        self.save_with(lock, loaded, Cow::Borrowed(state), true)
    }

    fn save_with(
        &self,
        lock: &StateLock,
        loaded: &LoadedState,
        new_state: Cow<'_, State>,
        exact: bool,
    ) -> Result<SaveOutcome, StoreError> {
        self.check_lock(lock)?;
        let on_disk = self.read_with_bytes()?;
        let describe = |state: Option<&State>| match state {
            Some(state) => format!("{} of lineage `{}`", state.serial, state.lineage),
            None => "none (no file)".to_string(),
        };
        let still_loaded = match (&on_disk, loaded.existed) {
            (Some((disk, _)), true) => {
                disk.serial == loaded.state.serial && disk.lineage == loaded.state.lineage
            }
            (None, false) => true,
            _ => false,
        };
        if !still_loaded {
            return Err(StoreError::SerialMoved {
                path: self.state_path.clone(),
                loaded: describe(loaded.existed.then_some(&loaded.state)),
                found: describe(on_disk.as_ref().map(|(state, _)| state)),
            });
        }
        let unchanged = !loaded.state.content_differs(&new_state)
            && (!exact || (loaded.existed && loaded.state.serial == new_state.serial));
        if unchanged {
            return Ok(SaveOutcome::Unchanged);
        }
        let mut written = new_state.into_owned();
        written.format_version = STATE_FORMAT_VERSION;
        if !exact {
            written.serial = loaded.state.serial + 1;
        }
        let mut bytes = super::encode::state_json(&written);
        bytes.push(b'\n');
        if let Some((_, previous)) = &on_disk
            && !lock.backup_written.load(Ordering::SeqCst)
        {
            write_atomically(&self.backup_path(), previous)?;
            lock.backup_written.store(true, Ordering::SeqCst);
        }
        write_atomically(&self.state_path, &bytes)?;
        Ok(SaveOutcome::Written { state: written })
    }

    /// `state rm`: removes change orders from the loaded state and saves it (serial +1,
    /// backup first). Every id must be in the state, or nothing is removed.
    pub fn remove(
        &self,
        lock: &StateLock,
        loaded: &LoadedState,
        ids: &[ChangeOrderId],
    ) -> Result<SaveOutcome, StoreError> {
        let new_state = loaded
            .state
            .without(ids)
            .map_err(|missing| StoreError::NotInState {
                path: self.state_path.clone(),
                ids: missing,
            })?;
        self.save(lock, loaded, &new_state)
    }

    /// Starts `<state>.journal` with its `begin` record, durable (with its directory entry)
    /// before this returns. Refuses when a journal exists: it must be folded first.
    pub fn begin_journal(
        &self,
        lock: &StateLock,
        begin: &JournalRecord,
    ) -> Result<JournalWriter, StoreError> {
        self.check_lock_held(lock)?;
        let path = self.journal_path();
        if !matches!(begin, JournalRecord::Begin { .. }) {
            return Err(StoreError::NotABegin { path });
        }
        let file = match private(OpenOptions::new().append(true).create_new(true)).open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StoreError::JournalExists { path });
            }
            Err(source) => return Err(io_error("create journal", &path, source)),
        };
        // The journal's own lock, held as long as this writer lives: whoever takes the state
        // lock checks it, so even a lock file removed under this run admits no second writer
        // and no fold of this live journal.
        file.try_lock().map_err(|error| match error {
            TryLockError::Error(source) => io_error("lock journal", &path, source),
            TryLockError::WouldBlock => io_error(
                "lock journal",
                &path,
                io::Error::new(io::ErrorKind::WouldBlock, "held by another process"),
            ),
        })?;
        let mut writer = JournalWriter {
            writer: BufWriter::with_capacity(64 * 1024, file),
            path,
            bytes_written: 0,
            line: Vec::with_capacity(512),
        };
        writer.append(begin)?;
        writer.sync()?;
        sync_dir(&writer.path)?;
        Ok(writer)
    }

    /// Removes the journal once its fold has been saved.
    pub fn finish_journal(
        &self,
        lock: &StateLock,
        writer: JournalWriter,
    ) -> Result<(), StoreError> {
        self.check_lock(lock)?;
        let path = writer.path.clone();
        // Removed while its lock is still held, so nobody folds it in between.
        let removed = remove_and_sync_dir(&path);
        drop(writer);
        removed
    }

    /// Removes `<state>.lock` when it holds lock `lock_id` and no live process holds it.
    pub fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StoreError> {
        let path = self.lock_path();
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NoLock { path });
            }
            Err(source) => return Err(io_error("open lock file", &path, source)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return match read_lock_info(&mut file) {
                    Some(info) if info.id != lock_id => Err(StoreError::LockIdMismatch {
                        path,
                        given: lock_id.to_string(),
                        actual: info.id,
                    }),
                    Some(info) => Err(StoreError::LockHeldByLiveProcess {
                        path,
                        info: Box::new(info),
                    }),
                    None => Err(StoreError::LockInfoUnreadable { path }),
                };
            }
            Err(TryLockError::Error(source)) => return Err(io_error("lock", &path, source)),
        }
        let info = read_lock_info(&mut file)
            .ok_or_else(|| StoreError::LockInfoUnreadable { path: path.clone() })?;
        if info.id != lock_id {
            return Err(StoreError::LockIdMismatch {
                path,
                given: lock_id.to_string(),
                actual: info.id,
            });
        }
        remove_and_sync_dir(&path)?;
        drop(file);
        Ok(info)
    }
}

/// Follows `path` while it is a symbolic link (a relative target is relative to the link's
/// directory), so the state's files are keyed on the file it names. Links in directories
/// need nothing: the sibling files land in the same directory either way. A loop, or more
/// than 40 links, leaves the path as it was and the open reports the error.
pub(crate) fn resolve_links(path: PathBuf) -> PathBuf {
    let mut current = path.clone();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {}
            _ => return current,
        }
        let Ok(target) = fs::read_link(&current) else {
            return current;
        };
        current = if target.is_absolute() {
            target
        } else {
            parent_dir(&current).join(target)
        };
    }
    path
}

/// `<path>.<suffix>`, e.g. `incident.state.json.lock`.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

pub(crate) fn decode_state(path: &Path, bytes: &[u8]) -> Result<State, StoreError> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let byte = error.valid_up_to();
        StoreError::NotUtf8 {
            path: path.to_path_buf(),
            line: bytes[..byte].iter().filter(|b| **b == b'\n').count() + 1,
            byte: byte + 1,
        }
    })?;
    let corrupt = |source: serde_json::Error| {
        // The detail (serde's message) follows as the cause; this names the kind of damage.
        let what = match source.classify() {
            serde_json::error::Category::Eof => "the file ends early (truncated?)",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "not a state of this shape",
            serde_json::error::Category::Io => "unreadable",
        }
        .to_string();
        StoreError::Corrupt {
            path: path.to_path_buf(),
            line: source.line(),
            column: source.column(),
            what,
            source,
        }
    };
    let newer = |found: u64| StoreError::NewerFormat {
        path: path.to_path_buf(),
        found: u32::try_from(found).unwrap_or(u32::MAX),
        supported: STATE_FORMAT_VERSION,
    };
    match serde_json::from_str::<State>(text) {
        Ok(state) if state.format_version > STATE_FORMAT_VERSION => {
            Err(newer(u64::from(state.format_version)))
        }
        Ok(state) => Ok(state),
        Err(error) => {
            // A newer format may have a shape this build does not know: say it is newer, not
            // that it is corrupt. Only this error path pays for the second parse.
            let version = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|value| value.get("format_version").and_then(|v| v.as_u64()));
            match version {
                Some(found) if found > u64::from(STATE_FORMAT_VERSION) => Err(newer(found)),
                _ => Err(corrupt(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn the_store_and_its_lock_can_be_shared_by_the_tasks_of_a_run() {
        // Compile-time: apply holds the lock in an `Arc` and moves the writer into a task.
        assert_send_sync::<LocalStore>();
        assert_send_sync::<StateLock>();
        assert_send::<JournalWriter>();
    }

    #[test]
    fn sibling_files_append_a_suffix_to_the_whole_name() {
        let store = LocalStore::new("runbooks/incident.state.json");
        assert_eq!(
            store.lock_path(),
            PathBuf::from("runbooks/incident.state.json.lock")
        );
        assert_eq!(
            store.journal_path(),
            PathBuf::from("runbooks/incident.state.json.journal")
        );
        assert_eq!(
            store.backup_path(),
            PathBuf::from("runbooks/incident.state.json.backup")
        );
        assert_eq!(parent_dir(Path::new("s.json")), Path::new("."));
    }

    #[test]
    fn a_truncated_state_names_the_line_and_column_where_it_ends() {
        let text = b"{\n  \"format_version\": 1,\n  \"lineage\": \"x\",\n  \"ser";
        let error = decode_state(Path::new("s.json"), text).unwrap_err();
        let StoreError::Corrupt { line, .. } = &error else {
            panic!("expected Corrupt, got {error:?}");
        };
        assert_eq!(*line, 4);
        assert_eq!(
            error.to_string(),
            "state file `s.json` is corrupt at line 4, column 6: the file ends early (truncated?)"
        );
    }

    #[test]
    fn a_newer_format_wins_over_an_unknown_shape() {
        let error = decode_state(
            Path::new("s.json"),
            br#"{"format_version": 7, "something": "new"}"#,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "state file `s.json` has format version 7, newer than the 1 this edas-rollback \
             understands; it was left untouched"
        );
    }

    #[test]
    fn a_lock_holders_info_is_shown_in_full() {
        let error = StoreError::Locked {
            path: PathBuf::from("s.json"),
            info: Some(Box::new(LockInfo {
                id: "0f1e".into(),
                operation: "apply".into(),
                who: "alice".into(),
                pid: 42,
                host: "bastion-1".into(),
                created: "2026-11-27T10:00:00Z".into(),
            })),
            waited: Duration::ZERO,
        };
        assert_eq!(
            error.to_string(),
            "state `s.json` is locked by lock `0f1e` (operation `apply`, who `alice`, host \
             `bastion-1`, pid 42, since 2026-11-27T10:00:00Z)"
        );
        assert_eq!(
            error.hint().as_deref(),
            Some(
                "wait for it with `--lock-timeout 5m`, or if that process is gone (and on \
                 another machine), run `edas-rollback force-unlock 0f1e`"
            )
        );
    }
}
