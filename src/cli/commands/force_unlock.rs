//! `force-unlock LOCK_ID`: removes a stale `<state>.lock` whose id matches. Finding the state
//! path is the only thing it does besides calling `LocalStore::force_unlock`; it never reads
//! or writes the state itself.

use crate::cli::args::{ForceUnlockArgs, GlobalArgs};
use crate::cli::exit;
use crate::cli::render::store_error_to_anyhow;
use crate::cli::settings::state_path_for;
use crate::state::store::LocalStore;

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
