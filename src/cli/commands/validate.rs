//! `validate`: parse and check the config; print `ok: N change orders` or every error.

use crate::cli::args::GlobalArgs;
use crate::cli::exit;
use crate::cli::settings::load_config;

pub(crate) fn run(global: &GlobalArgs) -> anyhow::Result<u8> {
    let loaded = load_config(&global.config)?;
    // The wording is a contract (docs/CONTRACT.md, "Commands"): scripts match `ok: N change
    // orders`.
    anstream::println!("ok: {} change orders", loaded.desired.change_orders.len());
    Ok(exit::OK)
}
