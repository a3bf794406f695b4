//! Rendering shared by every command: errors (`error:`, `caused by:`, `hint:`) and colour.
//! Each output has its own file: `plan` (plans as text, JSON, markdown) and `state`.

pub(crate) mod plan;
pub(crate) mod state;

pub(crate) mod apply;
pub(crate) mod json_events;
// Only the tests generate and check the schemas; nothing at run time needs them.
#[cfg(test)]
mod schemas;

use anstream::eprintln;
use anstyle::{AnsiColor, Style};

pub(crate) const ERROR: Style = AnsiColor::Red.on_default().bold();
pub(crate) const WARNING: Style = AnsiColor::Yellow.on_default().bold();
pub(crate) const HINT: Style = AnsiColor::Cyan.on_default().bold();

/// An error with a hint for the person reading it: `Err(Hinted::new(error, "check the clock"))`.
/// The hint is printed once, after the error and its causes.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub(crate) struct Hinted {
    #[source]
    pub source: anyhow::Error,
    pub hint: String,
}

impl Hinted {
    pub(crate) fn new(source: impl Into<anyhow::Error>, hint: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            hint: hint.into(),
        }
    }
}

/// Prints an error and its causes to stderr, once, in one format.
pub(crate) fn print_error(error: &anyhow::Error) {
    let mut hint = None;
    let mut printed_first = false;
    for cause in error.chain() {
        if let Some(hinted) = cause.downcast_ref::<Hinted>() {
            hint.get_or_insert_with(|| hinted.hint.clone());
            continue;
        }
        if printed_first {
            eprintln!("  {ERROR}caused by:{ERROR:#} {cause}");
        } else {
            eprintln!("{ERROR}error:{ERROR:#} {cause}");
            printed_first = true;
        }
    }
    if let Some(hint) = hint {
        eprintln!("{HINT}hint:{HINT:#} {hint}");
    }
}

/// A store error for the CLI's renderer, with its hint when it has one.
pub(crate) fn store_error_to_anyhow(error: crate::state::store::StoreError) -> anyhow::Error {
    match error.hint() {
        Some(hint) => Hinted::new(error, hint).into(),
        None => error.into(),
    }
}
