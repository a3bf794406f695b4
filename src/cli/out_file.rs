//! Where `plan --out FILE` may write. The plan is written by temp file + rename, which
//! replaces whatever was at FILE; so FILE must not be the config, the state, or the state's
//! backup, journal or lock (`plan --out edas-rollback.state.json` used to replace the state),
//! and an existing FILE must be a plan file (a previous `plan --out`), never anything else.
//! Paths are compared as the files they name (symlinks followed, `./a` = `a`).

use crate::cli::limits::{MAX_PLAN_BYTES, read_bounded};
use crate::cli::render::Hinted;
use anyhow::{Context, anyhow};
use std::io::Write;
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
        && (written_by_plan_out(out, metadata.len())
            || read_bounded(out, MAX_PLAN_BYTES, "plan file")
                .ok()
                .is_some_and(|bytes| is_plan(&bytes)));
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

/// The plan file being written: every [`WRITEBACK_STEP`] bytes, the disk is asked to start
/// writing what came before (Linux `sync_file_range`, which waits for nothing), so the
/// `fsync` that makes the plan durable before it is renamed into place finds most of a large
/// plan already on disk instead of all of it (tens of milliseconds of wall time for 34 MB).
/// Durability still rests on that `fsync` alone.
pub(crate) struct EarlyWriteback<'a> {
    file: &'a mut std::fs::File,
    written: u64,
    started: u64,
}

/// How much is written between two requests to start writeback.
const WRITEBACK_STEP: u64 = 4 << 20;

impl Write for EarlyWriteback<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let count = self.file.write(bytes)?;
        self.written += count as u64;
        if self.written - self.started >= WRITEBACK_STEP {
            start_writeback(self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(count)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Asks the kernel to start writing `len` bytes from `offset` to disk; only a hint, so its
/// result does not matter (the `fsync` after the last write reports any failure).
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (
        libc::off64_t::try_from(offset),
        libc::off64_t::try_from(len),
    ) else {
        return;
    };
    // SAFETY: sync_file_range reads no memory of ours; the descriptor is open for the call.
    let _ = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

/// True when the file of `len` bytes at `path` begins and ends as every file `plan --out`
/// writes does (`{` and `"format_version": ` on the next line; `"checksum": "`, 64 hex digits,
/// `"` and the closing brace): enough to know it is one without reading and parsing the
/// middle (tens of megabytes for a large plan). Any other file, a reformatted plan included,
/// is judged by [`is_plan`].
fn written_by_plan_out(path: &Path, len: u64) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    const HEAD: &[u8] = b"{\n  \"format_version\": ";
    const BEFORE_DIGEST: &[u8] = b"\n  \"checksum\": \"";
    const AFTER_DIGEST: &[u8] = b"\"\n}\n";
    const TAIL: usize = BEFORE_DIGEST.len() + 64 + AFTER_DIGEST.len();
    if len < (HEAD.len() + TAIL) as u64 {
        return false;
    }
    let mut head = [0; HEAD.len()];
    let mut tail = [0; TAIL];
    let read = std::fs::File::open(path).and_then(|mut file| {
        file.read_exact(&mut head)?;
        file.seek(SeekFrom::End(-(TAIL as i64)))?;
        file.read_exact(&mut tail)
    });
    let digest = &tail[BEFORE_DIGEST.len()..TAIL - AFTER_DIGEST.len()];
    read.is_ok()
        && head == HEAD
        && tail.starts_with(BEFORE_DIGEST)
        && tail.ends_with(AFTER_DIGEST)
        && digest
            .iter()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte))
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
    write: impl FnOnce(&mut EarlyWriteback<'_>) -> std::io::Result<T>,
) -> anyhow::Result<(std::fs::File, T)> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let written = tempfile::NamedTempFile::new_in(directory).and_then(|mut temporary| {
        let written = write(&mut EarlyWriteback {
            file: temporary.as_file_mut(),
            written: 0,
            started: 0,
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::file::encode;
    use crate::plan::{Plan, PlanInputs, plan};

    fn a_plan() -> Plan {
        let desired = crate::config::parse(
            Path::new("c.yaml"),
            "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  - id: a-1\n",
        )
        .unwrap();
        plan(
            &desired,
            None,
            &PlanInputs {
                created_at: "2026-12-01T00:00:00Z".to_string(),
                config_path: "c.yaml".to_string(),
                config_sha256: "0".repeat(64),
                endpoint: "https://edas.cn-hangzhou.aliyuncs.com".to_string(),
                tool_version: "0.1.0".to_string(),
            },
        )
    }

    #[test]
    fn a_file_written_by_plan_out_is_known_by_its_first_and_last_bytes_anything_else_by_parsing() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("plan.json");
        let encoded = encode(&a_plan());
        let len = |text: &str| text.len() as u64;
        std::fs::write(&path, &encoded).unwrap();
        assert!(written_by_plan_out(&path, len(&encoded)));
        assert!(check_plan_out(&path, &[]).is_ok());

        // Reformatted (`jq -c .`): not as written, but still a plan to replace.
        let value: serde_json::Value = serde_json::from_str(&encoded).unwrap();
        let compact = serde_json::to_string(&value).unwrap();
        std::fs::write(&path, &compact).unwrap();
        assert!(!written_by_plan_out(&path, len(&compact)));
        assert!(check_plan_out(&path, &[]).is_ok());

        // Cut short, or not a plan at all: refused.
        for text in [
            &encoded[..encoded.len() - 3],
            &encoded[..encoded.len() / 2],
            "my incident notes\n",
            "",
        ] {
            std::fs::write(&path, text).unwrap();
            assert!(!written_by_plan_out(&path, len(text)), "{text}");
            let refused = format!("{:#}", check_plan_out(&path, &[]).unwrap_err());
            assert!(refused.contains("is not a plan file"), "{refused}");
        }
        // A checksum that is not a lowercase hex digest is judged by parsing.
        let upper = encoded.replace(&a_plan().checksum, &a_plan().checksum.to_uppercase());
        std::fs::write(&path, &upper).unwrap();
        assert!(!written_by_plan_out(&path, len(&upper)));
        assert!(check_plan_out(&path, &[]).is_ok());
    }

    #[test]
    fn a_large_plan_file_is_written_whole_while_its_writeback_starts_early() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("plan.json");
        // Past two writeback steps, written in pieces that do not divide them.
        let content: Vec<u8> = (0..(9 << 20) + 7)
            .map(|index| (index % 251) as u8)
            .collect();
        let (mut file, written) = write_plan_file(&path, |out| {
            for piece in content.chunks(65_537) {
                out.write_all(piece)?;
            }
            Ok(out.written)
        })
        .unwrap();
        assert_eq!(written, content.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), content);
        // The returned file is the one renamed into place.
        let mut again = Vec::new();
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0)).unwrap();
        std::io::Read::read_to_end(&mut file, &mut again).unwrap();
        assert_eq!(again, content);
    }
}
