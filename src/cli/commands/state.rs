//! `state list`, `state show ID`, `state rm ID…`: inspect and edit the state through
//! `LocalStore` (which alone writes files: lock, backup, atomic save, serial bump). Also the
//! small pieces `plan` and `show` share: loading for reading and printing to stdout.

use crate::cli::args::{GlobalArgs, StateCommand};
use crate::cli::exit;
use crate::cli::render::state as render;
use crate::cli::render::store_error_to_anyhow;
use crate::cli::render::{Hinted, WARNING};
use crate::cli::settings::open_store;
use crate::ids::ChangeOrderId;
use crate::state::store::{LoadedState, SaveOutcome, StateStore};
use std::io::{self, Write};
use std::time::Duration;

const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn run(global: &GlobalArgs, command: &StateCommand) -> anyhow::Result<u8> {
    match command {
        StateCommand::List => {
            let (path, loaded) = load_for_reading(global, "state list")?;
            if !loaded.existed || loaded.state.change_orders.is_empty() {
                anstream::eprintln!("No change orders in state `{}`.", path);
                return Ok(exit::OK);
            }
            print_stdout(&render::list(&loaded.state))?;
            Ok(exit::OK)
        }
        StateCommand::Show { id } => {
            let (path, loaded) = load_for_reading(global, "state show")?;
            let id = ChangeOrderId::new(id.as_str());
            let record = loaded
                .existed
                .then(|| loaded.state.change_orders.get(&id))
                .flatten();
            let Some(record) = record else {
                return Err(Hinted::new(
                    anyhow::anyhow!("change order `{id}` is not in state `{}`", path),
                    "`edas-rollback state list` shows the change orders in the state",
                )
                .into());
            };
            print_stdout(&render::record(&id, record))?;
            Ok(exit::OK)
        }
        StateCommand::Rm { ids, lock_timeout } => remove(global, ids, *lock_timeout),
    }
}

fn remove(global: &GlobalArgs, ids: &[String], lock_timeout: Duration) -> anyhow::Result<u8> {
    let store = open_store(global)?;
    let path = store.location();
    let lock = store
        .lock("state rm", lock_timeout)
        .map_err(store_error_to_anyhow)?;
    let loaded = store
        .load_for_update(&lock, TOOL_VERSION)
        .map_err(store_error_to_anyhow)?;
    announce(&loaded);
    if !loaded.existed {
        return Err(Hinted::new(
            anyhow::anyhow!("there is no state file `{}`; nothing was removed", path),
            "check `--state` or `-c`",
        )
        .into());
    }
    let mut unique: Vec<ChangeOrderId> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = ChangeOrderId::new(id.as_str());
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    let outcome = store
        .remove(&lock, &loaded, &unique)
        .map_err(store_error_to_anyhow)?;
    match outcome {
        SaveOutcome::Written { state } => {
            print_stdout(&render::diff(&loaded.state, &state))?;
            let backup = match store.backup_location() {
                Some(backup) => format!(" The previous state is in `{backup}`."),
                None => String::new(),
            };
            anstream::println!(
                "Removed {} change order{} from `{}`: serial {} → {}.{backup}",
                unique.len(),
                if unique.len() == 1 { "" } else { "s" },
                path,
                loaded.state.serial,
                state.serial,
            );
        }
        // Every id was found, so something was removed; kept for completeness.
        SaveOutcome::Unchanged => {
            anstream::println!("Nothing changed in `{}`.", path);
        }
    }
    Ok(exit::OK)
}

/// The state for a read-only command: the path from `--state` or the config, and the state
/// with any leftover journal folded in (announced on stderr).
pub(crate) fn load_for_reading(
    global: &GlobalArgs,
    operation: &str,
) -> anyhow::Result<(String, LoadedState)> {
    let store = open_store(global)?;
    let loaded = store
        .load_recovering(operation, Duration::ZERO, TOOL_VERSION)
        .map_err(store_error_to_anyhow)?;
    announce(&loaded);
    Ok((store.location(), loaded))
}

/// One line on stderr when loading folded a leftover journal, or found a live one.
pub(crate) fn announce(loaded: &LoadedState) {
    if let Some(recovery) = &loaded.recovered {
        anstream::eprintln!("{WARNING}note:{WARNING:#} {recovery}");
    }
    if let Some(holder) = &loaded.live_journal {
        anstream::eprintln!(
            "{WARNING}warning:{WARNING:#} another command is applying to this state ({holder}); showing the state as last saved, without its journal"
        );
    }
}

/// Writes to stdout through anstream (styles dropped for NO_COLOR, --no-color or a pipe).
/// A closed pipe (`| head`) is not an error.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = anstream::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(error).context("could not write to stdout"))
        }
        _ => Ok(()),
    }
}
