//! The store's errors, each naming the state (a file or a database state) and, through
//! `hint`, what the reader can do about it.

use super::local::sibling;
use super::lock::LockInfo;
use crate::ids::ChangeOrderId;
use crate::state::journal::{FoldError, JournalParseError};
use std::io;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "state file `{path}` has format version {found}, newer than the {supported} this \
         edas-rollback understands; it was left untouched"
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("state file `{path}` is corrupt at line {line}, column {column}: {what}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("state file `{path}` is not UTF-8 (line {line}, byte {byte} of the file)")]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        byte: usize,
    },
    #[error("state `{path}` is locked{}", match info { Some(info) => format!(" by {info}"), None => " (the holder has not written its lock info yet)".to_string() })]
    Locked {
        path: PathBuf,
        info: Option<Box<LockInfo>>,
        waited: Duration,
    },
    #[error(
        "state file `{path}` changed since it was loaded (serial {loaded} was loaded, the file \
         now has {found}); nothing was saved"
    )]
    SerialMoved {
        path: PathBuf,
        loaded: String,
        found: String,
    },
    #[error("the lock given is for `{lock}`, not for `{path}`")]
    WrongLock { path: PathBuf, lock: PathBuf },
    #[error("journal `{path}` cannot be read at line {}", source.line())]
    JournalCorrupt {
        path: PathBuf,
        #[source]
        source: JournalParseError,
    },
    #[error("journal `{path}` cannot be folded into state `{state}`")]
    JournalFold {
        path: PathBuf,
        state: PathBuf,
        #[source]
        source: FoldError,
    },
    #[error("a journal must start with a `begin` record; `{path}` was not created")]
    NotABegin { path: PathBuf },
    #[error("journal `{path}` already exists; it must be folded before a new run starts")]
    JournalExists { path: PathBuf },
    #[error("could not encode JSON for `{path}`")]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("state `{path}` has no change order {}; nothing was removed", ids.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", "))]
    NotInState {
        path: PathBuf,
        ids: Vec<ChangeOrderId>,
    },
    #[error(
        "state `{path}` is being written by another command: its journal `{journal}` is held by \
         a live process (was the lock file removed while that command ran?)"
    )]
    JournalLive {
        path: PathBuf,
        journal: PathBuf,
        waited: Duration,
    },
    #[error(
        "the lock file `{lock}` was removed or replaced while this command held it; nothing \
         was sent"
    )]
    LockLost { path: PathBuf, lock: PathBuf },
    #[error("could not {action} PostgreSQL state {state}")]
    Postgres {
        state: String,
        action: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "the connection to PostgreSQL for state {state} was lost, and with it the state lock; \
         nothing more was started"
    )]
    ConnectionLost { state: String },
    #[error("state URL `{url}` cannot be used: {reason}")]
    PgLocation { url: String, reason: String },
    #[error("PostgreSQL state {state} has a {what} that cannot be read")]
    PgRowCorrupt {
        state: String,
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "schema `{schema}` has version {found}, newer than the {supported} this edas-rollback \
         understands; it was left untouched"
    )]
    PgSchemaNewer {
        schema: String,
        found: i32,
        supported: i32,
    },
    #[error("PostgreSQL state {state} is not locked; nothing was removed")]
    NotLocked { state: String },
    #[error("there is no lock file `{path}`")]
    NoLock { path: PathBuf },
    #[error("lock file `{path}` holds lock `{actual}`, not `{given}`; nothing was removed")]
    LockIdMismatch {
        path: PathBuf,
        given: String,
        actual: String,
    },
    #[error("lock file `{path}` has no readable lock info; nothing was removed")]
    LockInfoUnreadable { path: PathBuf },
    #[error("`{path}` is held by a running process: {info}; nothing was removed")]
    LockHeldByLiveProcess { path: PathBuf, info: Box<LockInfo> },
}

impl StoreError {
    /// What the person reading the error can do about it, when there is something.
    pub fn hint(&self) -> Option<String> {
        match self {
            StoreError::NewerFormat { .. } => {
                Some("upgrade edas-rollback to a version that understands this state format".into())
            }
            StoreError::Corrupt { path, .. } | StoreError::NotUtf8 { path, .. } => Some(format!(
                "the file was not changed; restore it from `{}` or version control, or move it \
                 away to start a new state",
                sibling(path, "backup").display()
            )),
            StoreError::Locked { info, .. } => {
                let unlock = match info {
                    Some(info) => format!(
                        "if that process is gone (and on another machine), run `edas-rollback \
                         force-unlock {}`",
                        info.id
                    ),
                    None => "if its holder is gone, run `edas-rollback force-unlock LOCK_ID`"
                        .to_string(),
                };
                Some(format!("wait for it with `--lock-timeout 5m`, or {unlock}"))
            }
            StoreError::JournalLive { .. } => Some(
                "wait for that command to finish (`--lock-timeout 5m` waits for it); its journal \
                 is folded by the next command"
                    .into(),
            ),
            StoreError::LockLost { .. } => Some(
                "another command may have taken the state meanwhile; keep the lock file out of \
                 `git clean` and run the command again"
                    .into(),
            ),
            StoreError::ConnectionLost { .. } => Some(
                "what was committed is kept; run the command again once the database is back: \
                 it folds the recorded rows first"
                    .into(),
            ),
            StoreError::PgSchemaNewer { .. } => {
                Some("upgrade edas-rollback to a version that understands this schema".into())
            }
            StoreError::SerialMoved { .. } => {
                Some("another process changed the state; run the command again".into())
            }
            StoreError::JournalCorrupt { path, .. } | StoreError::JournalFold { path, .. } => {
                Some(format!(
                    "the state was not changed; inspect `{}` and move it away only once you \
                     know which change orders it names",
                    path.display()
                ))
            }
            StoreError::LockIdMismatch { actual, .. } => {
                Some(format!("the current lock id is `{actual}`"))
            }
            StoreError::NotInState { .. } => {
                Some("`edas-rollback state list` shows the change orders in the state".into())
            }
            StoreError::NoLock { .. } | StoreError::NotLocked { .. } => Some(
                "nothing to unlock; check `--state` or `-c` if you expected a lock here".into(),
            ),
            StoreError::LockInfoUnreadable { .. } => Some(
                "no process holds the lock: the next command takes it without force-unlock".into(),
            ),
            StoreError::LockHeldByLiveProcess { .. } => {
                Some("wait for that command to finish, or stop it".into())
            }
            _ => None,
        }
    }
}
