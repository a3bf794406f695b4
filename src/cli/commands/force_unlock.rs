//! `force-unlock`.

use crate::cli::args::{ForceUnlockArgs, GlobalArgs};

pub fn run(_global: &GlobalArgs, _args: &ForceUnlockArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`force-unlock` is not available in this build yet")
}
