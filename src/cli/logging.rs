//! Verbose mode: `-v` (debug) and `-vv` (trace) for this crate's events, or `RUST_LOG` when no
//! `-v` is given. Logs go to stderr so stdout stays clean for `--json` and plan output. What is
//! logged never holds a secret: the client redacts the security token before logging.

use tracing_subscriber::EnvFilter;

/// The filter for a verbosity count; `rust_log` is the `RUST_LOG` value, used when no `-v`.
pub(crate) fn filter_directives(verbosity: u8, rust_log: Option<&str>) -> String {
    match (verbosity, rust_log) {
        (0, Some(directives)) if !directives.trim().is_empty() => directives.to_string(),
        (0, _) => "warn".to_string(),
        (1, _) => "warn,edas_rollback=debug".to_string(),
        _ => "info,edas_rollback=trace".to_string(),
    }
}

/// Installs the stderr logger once; a second call (tests, `rehearse`) is a no-op.
pub(crate) fn init_logging(verbosity: u8) {
    let rust_log = crate::cli::env::var("RUST_LOG");
    let filter = EnvFilter::try_new(filter_directives(verbosity, rust_log.as_deref()))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let colour = crate::cli::env::var_os("NO_COLOR").is_none()
        && anstream::ColorChoice::global() != anstream::ColorChoice::Never
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_picks_the_level_and_rust_log_applies_only_without_it() {
        assert_eq!(filter_directives(0, None), "warn");
        assert_eq!(
            filter_directives(0, Some("edas_rollback=trace")),
            "edas_rollback=trace"
        );
        assert_eq!(
            filter_directives(1, Some("off")),
            "warn,edas_rollback=debug"
        );
        assert_eq!(filter_directives(3, None), "info,edas_rollback=trace");
    }
}
