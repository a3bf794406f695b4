//! `state list`, `state show ID`, `state rm ID…`, `state pull`, `state push FILE`, `state
//! migrate --to`: inspect, edit and move the state through its [`StateStore`] (which alone
//! writes: lock, backup, atomic save, serial bump; a file or PostgreSQL). Also the
//! small pieces `plan` and `show` share: loading for reading and printing to stdout.

use crate::cli::args::{GlobalArgs, StateCommand};
use crate::cli::exit;
use crate::cli::render::state as render;
use crate::cli::render::store_error_to_anyhow;
use crate::cli::render::{Hinted, WARNING};
use crate::cli::settings::{open_store, open_store_at};
use crate::ids::ChangeOrderId;
use crate::state::store::{LoadedState, LocalStore, SaveOutcome, StateStore};
use std::io::{self, Write};
use std::time::Duration;

const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) fn run(global: &GlobalArgs, command: &StateCommand) -> anyhow::Result<u8> {
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
        StateCommand::Pull { lock_timeout } => pull(global, *lock_timeout),
        StateCommand::Push {
            file,
            force,
            lock_timeout,
        } => push(global, file, *force, *lock_timeout),
        StateCommand::Migrate { to, lock_timeout } => migrate(global, to, *lock_timeout),
    }
}

/// The state as the local file's JSON, whatever the backend (a leftover journal folded
/// first, under the lock).
fn pull(global: &GlobalArgs, lock_timeout: Duration) -> anyhow::Result<u8> {
    let store = open_store(global)?;
    let loaded = store
        .load_recovering("state pull", lock_timeout, TOOL_VERSION)
        .map_err(store_error_to_anyhow)?;
    announce(&loaded);
    if !loaded.existed {
        return Err(Hinted::new(
            anyhow::anyhow!("there is no state at `{}`", store.location()),
            "check `--state`, `--state-name` or `-c`",
        )
        .into());
    }
    let mut text = serde_json::to_string_pretty(&loaded.state)?;
    text.push('\n');
    print_stdout(&text)?;
    Ok(exit::OK)
}

/// Replaces the state with a state file, with Terraform's checks: same lineage, and a newer
/// serial (or the same serial and content) unless `--force`. The pushed state keeps its
/// serial when it is newer; otherwise (forced) it is saved as the next serial.
fn push(
    global: &GlobalArgs,
    file: &std::path::Path,
    force: bool,
    lock_timeout: Duration,
) -> anyhow::Result<u8> {
    let Some(mut pushed) = LocalStore::new(file)
        .read()
        .map_err(store_error_to_anyhow)?
    else {
        anyhow::bail!(
            "state file `{}` not found; nothing was pushed",
            file.display()
        );
    };
    let store = open_store(global)?;
    let lock = store
        .lock("state push", lock_timeout)
        .map_err(store_error_to_anyhow)?;
    let loaded = store
        .load_for_update(&lock, TOOL_VERSION)
        .map_err(store_error_to_anyhow)?;
    announce(&loaded);
    let current = &loaded.state;
    if loaded.existed && !force {
        let refusal = if pushed.lineage != current.lineage {
            Some(format!(
                "`{}` has lineage `{}`, but the state has lineage `{}`",
                file.display(),
                pushed.lineage,
                current.lineage
            ))
        } else if pushed.serial < current.serial {
            Some(format!(
                "`{}` has serial {}, older than the state's {}",
                file.display(),
                pushed.serial,
                current.serial
            ))
        } else if pushed.serial == current.serial && current.content_differs(&pushed) {
            Some(format!(
                "`{}` has the state's serial {} but other content",
                file.display(),
                pushed.serial
            ))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            return Err(Hinted::new(
                anyhow::anyhow!("{refusal}; nothing was pushed"),
                "`state pull` shows the current state; `--force` replaces it anyway",
            )
            .into());
        }
    }
    if loaded.existed && pushed.serial <= current.serial && current.content_differs(&pushed) {
        pushed.serial = current.serial + 1;
    }
    let outcome = store
        .save_exact(&lock, &loaded, &pushed)
        .map_err(store_error_to_anyhow)?;
    match outcome {
        SaveOutcome::Written { state } => anstream::println!(
            "Pushed `{}` to `{}`: lineage `{}`, serial {}, {} change order(s).",
            file.display(),
            store.location(),
            state.lineage,
            state.serial,
            state.change_orders.len()
        ),
        SaveOutcome::Unchanged => {
            anstream::println!("`{}` already holds this state.", store.location())
        }
    }
    Ok(exit::OK)
}

/// Copies the state (lineage, serial, every record) to another backend, holding both locks.
fn migrate(
    global: &GlobalArgs,
    to: &std::path::Path,
    lock_timeout: Duration,
) -> anyhow::Result<u8> {
    let source = open_store(global)?;
    let target = open_store_at(global, Some(to))?;
    if source.location() == target.location() {
        anyhow::bail!("`--to` names the state itself (`{}`)", source.location());
    }
    let source_lock = source
        .lock("state migrate", lock_timeout)
        .map_err(store_error_to_anyhow)?;
    let loaded = source
        .load_for_update(&source_lock, TOOL_VERSION)
        .map_err(store_error_to_anyhow)?;
    announce(&loaded);
    if !loaded.existed {
        return Err(Hinted::new(
            anyhow::anyhow!("there is no state at `{}` to migrate", source.location()),
            "check `--state`, `--state-name` or `-c`",
        )
        .into());
    }
    let target_lock = target
        .lock("state migrate", lock_timeout)
        .map_err(store_error_to_anyhow)?;
    let existing = target
        .load_for_update(&target_lock, TOOL_VERSION)
        .map_err(store_error_to_anyhow)?;
    announce(&existing);
    let state = &loaded.state;
    if existing.existed {
        if existing.state.lineage != state.lineage {
            return Err(Hinted::new(
                anyhow::anyhow!(
                    "`{}` already holds a state of lineage `{}`, not `{}`; nothing was copied",
                    target.location(),
                    existing.state.lineage,
                    state.lineage
                ),
                "migrate to an empty location, or remove that state first if it is unwanted",
            )
            .into());
        }
        if existing.state.serial > state.serial {
            anyhow::bail!(
                "`{}` holds serial {} of this lineage, newer than the {} being copied; nothing \
                 was copied",
                target.location(),
                existing.state.serial,
                state.serial
            );
        }
    }
    target
        .save_exact(&target_lock, &existing, state)
        .map_err(store_error_to_anyhow)?;
    anstream::println!(
        "Copied state `{}` to `{}`: lineage `{}`, serial {}, {} change order(s). Point \
         `state:` (or `--state`) at the new location; the old one is left as it was.",
        source.location(),
        target.location(),
        state.lineage,
        state.serial,
        state.change_orders.len()
    );
    target.unlock(target_lock).map_err(store_error_to_anyhow)?;
    source.unlock(source_lock).map_err(store_error_to_anyhow)?;
    Ok(exit::OK)
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
/// A closed pipe (`| head`) is not an error. The text is styled (or stripped) into memory
/// first and written with one call: stripping writes each piece between two styles
/// separately, which was one `write` per line of a 10,000-line plan.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut styled = anstream::AutoStream::new(
        Vec::with_capacity(text.len()),
        anstream::stdout().current_choice(),
    );
    // Writing to a Vec cannot fail.
    let _ = styled.write_all(text.as_bytes());
    let bytes = styled.into_inner();
    let mut stdout = io::stdout().lock();
    match stdout.write_all(&bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(error).context("could not write to stdout"))
        }
        _ => Ok(()),
    }
}
