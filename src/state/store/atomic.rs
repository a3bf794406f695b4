//! Files that are always whole: temp file + fsync + rename + directory fsync, removals made
//! durable, and files created private (0600).
#![allow(
    clippy::disallowed_methods,
    reason = "writes state files atomically: temp file, fsync, rename (docs/DECISIONS.md, Boundaries)"
)]

use super::StoreError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates files readable by the owner only, like state and plan files.
pub(crate) fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

pub(crate) fn io_error(action: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Makes a rename, creation or removal in `path`'s directory durable.
pub(crate) fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| io_error("sync directory", dir, source))
}

pub(crate) fn remove_and_sync_dir(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(io_error("remove", path, source)),
    }
    sync_dir(path)
}

/// Temp file in the same directory + write + fsync + rename + directory fsync: the path
/// always holds either the old or the new content, whole.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    let mut temp = tempfile::Builder::new()
        .prefix(".edas-rollback-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|source| io_error("create a temporary file in", dir, source))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|source| io_error("write temporary file for", path, source))?;
    temp.persist(path)
        .map_err(|error| io_error("replace", path, error.error))?;
    sync_dir(path)
}
