//! `apply`.

use crate::cli::args::{ApplyArgs, GlobalArgs};

pub fn run(_global: &GlobalArgs, _args: &ApplyArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`apply` is not available in this build yet")
}
