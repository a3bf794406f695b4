//! One thin file per verb. Each `run` returns the exit code, or an error that
//! `cli::render::print_error` prints once.

pub mod apply;
pub mod completions;
pub mod credentials;
pub mod force_unlock;
pub mod man;
pub mod plan;
pub mod rehearse;
pub mod show;
pub mod sign_debug;
pub mod simulate;
pub mod state;
pub mod validate;
