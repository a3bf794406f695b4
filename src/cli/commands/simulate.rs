//! `simulate`.

use crate::cli::args::{GlobalArgs, SimulateArgs};

pub fn run(_global: &GlobalArgs, _args: &SimulateArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`simulate` is not available in this build yet")
}
