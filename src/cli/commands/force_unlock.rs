//! `force-unlock LOCK_ID`: removes a stale `<state>.lock` whose id matches. Finding the state
//! path is the only thing it does besides calling `LocalStore::force_unlock`; it never reads
//! or writes the state itself.

use crate::cli::args::{ForceUnlockArgs, GlobalArgs};
use crate::cli::exit;
use crate::cli::render::Hinted;
use crate::cli::settings;
use crate::state::store::{LocalStore, StoreError};
use serde::Deserialize;
use std::path::PathBuf;

pub fn run(global: &GlobalArgs, args: &ForceUnlockArgs) -> anyhow::Result<u8> {
    let state_path = state_path_for(global)?;
    let store = LocalStore::new(&state_path);
    store
        .force_unlock(&args.lock_id)
        .map_err(store_error_to_anyhow)?;
    anstream::println!(
        "Lock {} removed from {}.",
        args.lock_id,
        state_path.display()
    );
    Ok(exit::OK)
}

/// Just the key this command needs; every other key is ignored here (the full config is
/// validated by commands that use it).
#[derive(Deserialize)]
struct StateKeyOnly {
    #[serde(default)]
    state: Option<PathBuf>,
}

/// The state path for `--state` / `-c`. A stale lock must be removable even when the config
/// is broken or half-written, so only its top-level `state:` is read, and an unreadable
/// config falls back to `<config stem>.state.json`. (When `cli::settings::load_config` is
/// merged this can use it, keeping the fallback.)
pub fn state_path_for(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    let configured = match &global.state {
        Some(_) => None,
        None => std::fs::read_to_string(&global.config)
            .ok()
            .and_then(|text| serde_saphyr::from_str::<StateKeyOnly>(&text).ok())
            .and_then(|config| config.state),
    };
    Ok(settings::state_path(
        &global.config,
        configured.as_deref(),
        global.state.as_deref(),
    ))
}

/// A store error for the CLI's renderer, with its hint when it has one.
pub fn store_error_to_anyhow(error: StoreError) -> anyhow::Error {
    match error.hint() {
        Some(hint) => Hinted::new(error, hint).into(),
        None => error.into(),
    }
}
