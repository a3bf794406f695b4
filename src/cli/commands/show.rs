//! `show [PLAN_FILE] [--format text|json|markdown]`: a saved plan (checksum verified), or
//! the state when no file is given. Reads only; a leftover journal is folded like any load.

use super::state::{load_for_reading, print_stdout};
use crate::cli::args::{GlobalArgs, OutputFormat, ShowArgs};
use crate::cli::exit;
use crate::cli::render::{plan as render_plan, state as render_state};
use crate::plan::file;

pub(crate) fn run(global: &GlobalArgs, args: &ShowArgs) -> anyhow::Result<u8> {
    let output = match &args.plan_file {
        Some(path) => {
            let text = crate::cli::saved_plan::read_plan_text(path)?;
            let plan = file::decode(path, &text)?;
            match args.format {
                OutputFormat::Text => render_plan::text(&plan, Some(path)),
                OutputFormat::Json => render_plan::json(&plan),
                OutputFormat::Markdown => render_plan::markdown(&plan, Some(path)),
            }
        }
        None => {
            let (path, loaded) = load_for_reading(global, "show")?;
            let state = loaded.existed.then_some(&loaded.state);
            match args.format {
                OutputFormat::Text => render_state::summary(std::path::Path::new(&path), state),
                OutputFormat::Json => render_state::json(state),
                OutputFormat::Markdown => {
                    render_state::markdown(std::path::Path::new(&path), state)
                }
            }
        }
    };
    print_stdout(&output)?;
    Ok(exit::OK)
}
