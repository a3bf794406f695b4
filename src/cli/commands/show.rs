//! `show`.

use crate::cli::args::{GlobalArgs, ShowArgs};

pub fn run(_global: &GlobalArgs, _args: &ShowArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`show` is not available in this build yet")
}
