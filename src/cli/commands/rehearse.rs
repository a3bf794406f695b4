//! `rehearse`.

use crate::cli::args::{GlobalArgs, RehearseArgs};

pub fn run(_global: &GlobalArgs, _args: &RehearseArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`rehearse` is not available in this build yet")
}
