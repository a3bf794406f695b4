//! `plan`.

use crate::cli::args::{GlobalArgs, PlanArgs};

pub fn run(_global: &GlobalArgs, _args: &PlanArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`plan` is not available in this build yet")
}
