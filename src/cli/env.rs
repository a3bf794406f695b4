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
use crate::transport::{ProxyEnvironment, ProxyError, ProxySettings};
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

/// What the credentials chain reads (`ALIBABA_CLOUD_*` and the rest of its variables, the
/// home directory and the proxy variables), captured now. Variables whose name or value is not
/// UTF-8 are left out, so they read as unset, as `std::env::var` would have them.
pub(crate) fn credentials_environment() -> Result<ChainEnvironment, ProxyError> {
    Ok(ChainEnvironment {
        vars: std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect(),
        home: home(),
        proxy: proxy_settings()?,
    })
}

/// The proxy variables (src/transport/proxy.rs has their rules): the uppercase name first,
/// then the lowercase one, as reqwest read them before this crate had its own client.
pub(crate) fn proxy_environment() -> ProxyEnvironment {
    let first = |names: [&str; 2]| names.into_iter().find_map(var);
    ProxyEnvironment {
        http_proxy: first(["HTTP_PROXY", "http_proxy"]),
        https_proxy: first(["HTTPS_PROXY", "https_proxy"]),
        all_proxy: first(["ALL_PROXY", "all_proxy"]),
        no_proxy: first(["NO_PROXY", "no_proxy"]),
        is_cgi: var_os("REQUEST_METHOD").is_some(),
    }
}

/// The parsed proxy settings for every HTTP client of the run (EDAS, STS, metadata service).
pub(crate) fn proxy_settings() -> Result<ProxySettings, ProxyError> {
    ProxySettings::from_environment(&proxy_environment())
}
