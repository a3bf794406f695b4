//! The commands a hint tells the user to run next repeat the `-c` and `--state` this run was
//! given, so a copied command acts on the same config and state.

use crate::cli::args::GlobalArgs;
use std::sync::OnceLock;

/// This run's location flags, remembered once at start (`cli::run`), for renderers that
/// print a command to run next without being handed the arguments.
static REMEMBERED: OnceLock<String> = OnceLock::new();

/// Remembers `global`'s location flags for [`command`].
pub(crate) fn remember(global: &GlobalArgs) {
    let _ = REMEMBERED.set(location_flags(global));
}

/// `edas-rollback <flags>REST`: a command to run next, with the `-c`, `--state`,
/// `--state-name` and `--endpoint` flags this run was given.
pub(crate) fn command(rest: &str) -> String {
    let flags = REMEMBERED.get().map(String::as_str).unwrap_or_default();
    format!("edas-rollback {flags}{rest}")
}

/// `-c FILE --state FILE --state-name NAME --endpoint URL ` as given to this run (with a
/// trailing space), or nothing for the defaults. `--endpoint` is repeated only when it was
/// given as a flag (not through `EDAS_ENDPOINT`): `apply PLAN` refuses an endpoint other
/// than the plan's, so the copied command must name the same one. Values that need it are
/// quoted for a POSIX shell.
pub(crate) fn location_flags(global: &GlobalArgs) -> String {
    let mut flags = String::new();
    if global.config.as_os_str() != crate::config::DEFAULT_CONFIG_FILE {
        flags.push_str(&format!(
            "-c {} ",
            shell_quoted(&global.config.display().to_string())
        ));
    }
    if let Some(state) = &global.state {
        flags.push_str(&format!(
            "--state {} ",
            shell_quoted(&state.display().to_string())
        ));
    }
    if let Some(name) = &global.state_name {
        flags.push_str(&format!("--state-name {} ", shell_quoted(name)));
    }
    if let Some(endpoint) = &global.endpoint {
        let from_env = crate::cli::env::var("EDAS_ENDPOINT").is_some_and(|env| env == *endpoint);
        if !from_env && !endpoint.trim().is_empty() {
            flags.push_str(&format!("--endpoint {} ", shell_quoted(endpoint)));
        }
    }
    flags
}

/// `text` as one POSIX shell word: bare when it holds only safe characters, else in single
/// quotes.
pub(crate) fn shell_quoted(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_stay_bare_and_others_are_single_quoted() {
        assert_eq!(shell_quoted("runbooks/a.yaml"), "runbooks/a.yaml");
        assert_eq!(shell_quoted("my runbook.yaml"), "'my runbook.yaml'");
        assert_eq!(shell_quoted("it's.yaml"), r"'it'\''s.yaml'");
    }
}
