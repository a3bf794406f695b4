//! Where `plan --out FILE` may write. The plan is written by temp file + rename, which
//! replaces whatever was at FILE; so FILE must not be the config, the state, or the state's
//! backup, journal or lock (`plan --out edas-rollback.state.json` used to replace the state),
//! and an existing FILE must be a plan file (a previous `plan --out`), never anything else.
//! Paths are compared as the files they name (symlinks followed, `./a` = `a`).

use crate::cli::limits::{MAX_PLAN_BYTES, read_bounded};
use crate::cli::render::Hinted;
use anyhow::{Context, anyhow};
use std::path::{Path, PathBuf};

/// Refuses `out` when it names one of `protected` (a description and a path each), or an
/// existing file that is not a plan.
pub(crate) fn check_plan_out(out: &Path, protected: &[(&str, &Path)]) -> anyhow::Result<()> {
    let target = identity(out);
    for (what, path) in protected {
        if identity(path) == target {
            return Err(refusal(
                anyhow!(
                    "refusing to write the plan to `{}`: it is the {what}",
                    out.display()
                ),
                "save the plan under another name, e.g. `--out plan.json`",
            ));
        }
    }
    let metadata = match std::fs::metadata(out) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(anyhow::Error::new(error)
                .context(format!("cannot check the plan file `{}`", out.display())));
        }
    };
    if !metadata.is_file() {
        return Err(refusal(
            anyhow!(
                "refusing to write the plan to `{}`: it exists and is not a regular file",
                out.display()
            ),
            "save the plan under another name, e.g. `--out plan.json`",
        ));
    }
    let looks_like_a_plan = metadata.len() <= MAX_PLAN_BYTES
        && read_bounded(out, MAX_PLAN_BYTES, "plan file")
            .ok()
            .is_some_and(|bytes| is_plan(&bytes));
    if !looks_like_a_plan {
        return Err(refusal(
            anyhow!(
                "refusing to write the plan over `{}`: it exists and is not a plan file",
                out.display()
            ),
            "only a file written by `plan --out` is replaced; remove the file yourself if it \
             is not needed, or save the plan under another name",
        ));
    }
    Ok(())
}

/// True when `bytes` hold a JSON object with a plan's header fields, of any format version
/// (a damaged or older plan is still a plan to replace).
fn is_plan(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Header {
        #[allow(dead_code)]
        format_version: u64,
        #[allow(dead_code)]
        checksum: String,
        #[allow(dead_code)]
        actions: serde::de::IgnoredAny,
    }
    serde_json::from_slice::<Header>(bytes).is_ok()
}

/// The file `path` names: resolved through symlinks when it exists, else its resolved
/// directory joined with its name, else the path made absolute.
fn identity(path: &Path) -> PathBuf {
    if let Ok(resolved) = std::fs::canonicalize(path) {
        return resolved;
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(directory), path.file_name()) {
        (Ok(directory), Some(name)) => directory.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

fn refusal(error: anyhow::Error, hint: &str) -> anyhow::Error {
    Hinted::new(error.context("the plan was not saved"), hint).into()
}

/// Writes the plan beside its final name and renames it into place, so a reader (or a CI
/// upload step) never sees half a plan; `write` writes the content (it gets large writes of
/// its own, so the file is not buffered). Returns the file (open for reading and writing), so
/// the plan can be printed from it (`--format json`) without holding it in memory, and
/// what `write` returned. The one file `cli/` writes (docs/DECISIONS.md, Boundaries);
/// [`check_plan_out`] decides first whether it may.
#[allow(
    clippy::disallowed_methods,
    reason = "the plan file is cli/'s own output, written only here"
)]
pub(crate) fn write_plan_file<T>(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<T>,
) -> anyhow::Result<(std::fs::File, T)> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let written = tempfile::NamedTempFile::new_in(directory).and_then(|mut temporary| {
        let written = write(temporary.as_file_mut())?;
        temporary.as_file().sync_all()?;
        let file = temporary.persist(path).map_err(|error| error.error)?;
        Ok((file, written))
    });
    written
        .map_err(|error| {
            Hinted::new(
                anyhow::Error::new(error)
                    .context(format!("could not write plan file `{}`", path.display())),
                "check that the directory exists and is writable, or pass another `--out FILE`",
            )
        })
        .context("the plan was not saved")
}
