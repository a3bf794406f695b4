//! `state`.

use crate::cli::args::{GlobalArgs, StateCommand};

pub fn run(_global: &GlobalArgs, _args: &StateCommand) -> anyhow::Result<u8> {
    anyhow::bail!("`state` is not available in this build yet")
}
