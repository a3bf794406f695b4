//! The commands a hint tells the user to run next repeat the `-c` and `--state` this run was
//! given, so a copied command acts on the same config and state.

use crate::cli::args::GlobalArgs;

/// `-c FILE --state FILE ` as given to this run (with a trailing space), or nothing for the
/// defaults. Paths that need it are quoted for a POSIX shell.
pub fn location_flags(global: &GlobalArgs) -> String {
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
    flags
}

/// `text` as one POSIX shell word: bare when it holds only safe characters, else in single
/// quotes.
pub fn shell_quoted(text: &str) -> String {
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
