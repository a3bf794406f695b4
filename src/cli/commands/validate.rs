//! `validate`.

use crate::cli::args::GlobalArgs;

pub fn run(_global: &GlobalArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`validate` is not available in this build yet")
}
