//! One thin file per verb. Each `run` returns the exit code, or an error that
//! `cli::render::print_error` prints once.

pub(crate) mod apply;
pub(crate) mod completions;
pub(crate) mod credentials;
pub(crate) mod force_unlock;
pub(crate) mod man;
pub(crate) mod plan;
pub(crate) mod rehearse;
pub(crate) mod show;
pub(crate) mod sign_debug;
pub(crate) mod simulate;
pub(crate) mod state;
pub(crate) mod validate;
