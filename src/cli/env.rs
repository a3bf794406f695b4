//! The only place that reads the process environment (docs/DECISIONS.md, "Boundaries"):
//! everything else gets the values from here, as arguments. `clippy.toml` disallows
//! `std::env::var` and friends everywhere in the library; this module is the one exception,
//! so a reader looking for which variable changes what finds every read by searching for
//! `cli::env`.
#![allow(
    clippy::disallowed_methods,
    reason = "the one module that reads the environment (docs/DECISIONS.md, Boundaries)"
)]

use crate::edas::credentials::ChainEnvironment;
use std::ffi::OsString;
use std::path::PathBuf;

/// A variable's value; `None` when unset or not UTF-8 (as `std::env::var(..).ok()`).
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A variable's value as the OS gave it (paths need not be UTF-8).
pub(crate) fn var_os(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// The home directory: `HOME`, else `USERPROFILE` (Windows).
pub(crate) fn home() -> Option<PathBuf> {
    var_os("HOME")
        .or_else(|| var_os("USERPROFILE"))
        .map(PathBuf::from)
}

/// What the credentials chain reads (`ALIBABA_CLOUD_*` and the rest of its variables, and
/// the home directory), captured now. Variables whose name or value is not UTF-8 are left
/// out, so they read as unset, as `std::env::var` would have them.
pub(crate) fn credentials_environment() -> ChainEnvironment {
    ChainEnvironment {
        vars: std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect(),
        home: home(),
    }
}
