//! Limits the command line enforces before any work starts, so a hostile or mistaken input
//! fails at once with a clear error instead of eating memory or file descriptors:
//! input files are read up to a size limit (`-c /dev/zero` and `apply /dev/zero` used to read
//! until memory ran out), and a run's parallelism must fit the process's open-file limit
//! (`--parallelism 100000` used to fail healthy requests with "too many open files").
//! The numbers and why they are what they are: docs/CONFIG.md ("Limits").

use crate::cli::render::Hinted;
use anyhow::{Context, anyhow};
use std::io::Read;
use std::path::Path;

/// The largest config file: 32 MiB. A runbook of 100,000 change orders with labels and
/// reasons is about 15 MiB (docs/BENCHMARKS.md plans that many).
pub(crate) const MAX_CONFIG_BYTES: u64 = 32 << 20;
/// The largest plan file: 128 MiB. A plan of 100,000 change orders is about 40 MiB.
pub(crate) const MAX_PLAN_BYTES: u64 = 128 << 20;
/// The largest rehearsal scenario: 16 MiB.
pub(crate) const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// File descriptors a run needs besides one connection per request in flight: stdio, the
/// state, journal, lock and backup files, the runtime's own, and headroom for DNS and TLS.
const RESERVED_FILES: u64 = 64;

/// Reads at most `limit` bytes of `path`; a longer file (or an endless one such as
/// `/dev/zero`) is refused after reading `limit + 1` bytes. `what` names the file in errors
/// ("config file").
pub(crate) fn read_bounded(path: &Path, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).with_context(|| format!("could not read {what} `{shown}`"))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("could not read {what} `{shown}`"))?;
    if bytes.len() as u64 > limit {
        return Err(Hinted::new(
            anyhow!(
                "{what} `{shown}` is larger than the limit of {} MiB",
                limit >> 20
            ),
            format!("check that `{shown}` is the {what} you meant"),
        )
        .into());
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub(crate) fn read_bounded_text(path: &Path, limit: u64, what: &str) -> anyhow::Result<String> {
    let bytes = read_bounded(path, limit, what)?;
    String::from_utf8(bytes)
        .map_err(|error| anyhow!("{what} `{}` is not UTF-8: {error}", path.display()))
}

/// Makes sure `parallelism` connections fit the open-file limit: raises the soft limit
/// toward the hard one when needed (as servers do at start), and otherwise refuses with the
/// numbers and what to change.
pub(crate) fn ensure_open_files(parallelism: u32) -> anyhow::Result<()> {
    let needed = u64::from(parallelism) + RESERVED_FILES;
    let Some((soft, hard)) = open_file_limit() else {
        return Ok(());
    };
    if soft >= needed {
        return Ok(());
    }
    if hard >= needed && raise_open_file_limit(needed, hard) {
        return Ok(());
    }
    Err(Hinted::new(
        anyhow!(
            "parallelism {parallelism} needs about {needed} open files, but this process may \
             open only {soft} (hard limit {hard}); nothing was sent"
        ),
        format!(
            "lower `--parallelism` (or `apply.parallelism`) to at most {}, or raise the limit \
             with `ulimit -n {needed}`",
            soft.saturating_sub(RESERVED_FILES).max(1)
        ),
    )
    .into())
}

#[cfg(unix)]
fn open_file_limit() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    let result = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    // `rlim_t` is not `u64` on every platform.
    #[allow(clippy::unnecessary_cast)]
    let limits = (limit.rlim_cur as u64, limit.rlim_max as u64);
    (result == 0).then_some(limits)
}

#[cfg(unix)]
fn raise_open_file_limit(to: u64, hard: u64) -> bool {
    let limit = libc::rlimit {
        rlim_cur: to as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass; raising the soft limit up to the hard one
    // needs no privilege.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 }
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<(u64, u64)> {
    None
}

#[cfg(not(unix))]
fn raise_open_file_limit(_to: u64, _hard: u64) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_naming_it_and_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'a'; (1 << 20) + 1]).unwrap();
        let error = read_bounded(&path, 1 << 20, "config file").unwrap_err();
        let shown = format!("{error:#}");
        assert!(
            shown.contains("big.yaml") && shown.contains("1 MiB"),
            "{shown}"
        );
        assert_eq!(
            read_bounded(&path, 2 << 20, "config file").unwrap().len(),
            (1 << 20) + 1
        );
    }

    #[test]
    fn a_modest_parallelism_fits_any_default_limit() {
        assert!(ensure_open_files(10).is_ok());
    }
}
