//! Local locking: the lock file's OS lock and its JSON info, the journal's own lock, and
//! the checks that a held lock is still the one on disk.
#![allow(
    clippy::disallowed_methods,
    reason = "creates and removes the lock files it owns (docs/DECISIONS.md, Boundaries)"
)]

use super::StoreError;
use super::atomic::io_error;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// How often a waiting locker tries again.
pub(crate) const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Who holds a state lock; the JSON content of `<state>.lock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    pub who: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339.
    pub created: String,
}

impl LockInfo {
    /// The user taking a lock, for the holder's record: `$USER`, else `unknown`.
    #[allow(
        clippy::disallowed_methods,
        reason = "informational only (who holds the lock), read when the lock is taken; \
                  passing it down from cli/ through every store constructor would buy nothing \
                  (docs/DECISIONS.md, Boundaries)"
    )]
    pub(crate) fn current_user() -> String {
        std::env::var("USER")
            .ok()
            .filter(|user| !user.is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock `{}` (operation `{}`, who `{}`, host `{}`, pid {}, since {})",
            self.id, self.operation, self.who, self.host, self.pid, self.created
        )
    }
}

/// A held state lock. The OS lock is released when this is dropped (or the process dies).
#[derive(Debug)]
pub struct StateLock {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) state_path: PathBuf,
    pub(crate) info: LockInfo,
    /// Whether this lock's run has already written `<state>.backup`. Atomic so a lock can be
    /// shared (`Arc<StateLock>`) by the tasks of a run.
    pub(crate) backup_written: AtomicBool,
}

impl StateLock {
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Removed while still held, so nobody can lock the file we unlink; a locker that had
        // opened it before checks after locking that its file is still the one on disk.
        if same_file_as_path(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

/// One try at the state lock.
pub(crate) enum Attempt {
    Taken(StateLock),
    /// Another process holds the lock file; its info when readable.
    Held(Option<LockInfo>),
    /// The lock file was free but the journal is held by a live writer.
    JournalLive,
}

/// Whether a live process holds `path` (a journal) locked.
pub(crate) fn journal_is_live(path: &Path) -> Result<bool, StoreError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(io_error("open journal", path, source)),
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(source)) => Err(io_error("lock journal", path, source)),
    }
}

pub(crate) fn read_lock_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(unix)]
pub(crate) fn same_file_as_path(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(on_disk)) => open.dev() == on_disk.dev() && open.ino() == on_disk.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
pub(crate) fn same_file_as_path(_file: &File, path: &Path) -> bool {
    path.exists()
}
