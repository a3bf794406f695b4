//! `force-unlock LOCK_ID`: clears a stale lock whose id matches: `<state>.lock` for a file
//! state, the holder row for a PostgreSQL state (whose session lock ended with its holder).
//! Finding the store is the only thing it does besides calling its `force_unlock`; it never
//! reads or writes the state itself.

use crate::cli::args::{ForceUnlockArgs, GlobalArgs};
use crate::cli::exit;
use crate::cli::render::store_error_to_anyhow;
use crate::cli::settings::open_store;
use crate::state::store::StateStore;

pub(crate) fn run(global: &GlobalArgs, args: &ForceUnlockArgs) -> anyhow::Result<u8> {
    let store = open_store(global)?;
    store
        .force_unlock(&args.lock_id)
        .map_err(store_error_to_anyhow)?;
    anstream::println!("Lock {} removed from {}.", args.lock_id, store.location());
    Ok(exit::OK)
}
