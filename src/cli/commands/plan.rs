//! `plan [--out FILE] [--format text|json|markdown] [--detailed-exitcode]`: load the config
//! and the state (folding a leftover journal first), call the pure planner, save the plan
//! file when asked, render. Decides nothing itself; the clock is read here, at the edge.

use super::state::{announce, print_stdout};
use crate::cli::args::{GlobalArgs, OutputFormat, PlanArgs};
use crate::cli::exit;
use crate::cli::render::plan as render;
use crate::cli::render::{Hinted, WARNING};
use crate::cli::settings::load_config;
use crate::edas::endpoint::resolve_endpoint;
use crate::plan::{PlanInputs, file, plan};
use crate::state::store::LocalStore;
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<u8> {
    if args.refresh {
        // `--refresh` is issue 6's; until it lands the plan is still correct, only without
        // live statuses, so say so rather than fail a pipeline that passes the flag.
        anstream::eprintln!(
            "{WARNING}warning:{WARNING:#} `--refresh` is not available in this build yet; the plan uses the recorded state only"
        );
    }
    let config = load_config(&global.config)?;
    let state_path = config.state_path(global.state.as_deref());
    let store = LocalStore::new(&state_path);
    let loaded = store
        .load_recovering("plan", args.lock_timeout, env!("CARGO_PKG_VERSION"))
        .map_err(super::force_unlock::store_error_to_anyhow)?;
    announce(&loaded);
    let endpoint = resolve_endpoint(
        global.endpoint.as_deref(),
        config.desired.provider.endpoint.as_deref(),
        &config.desired.provider.region,
    )?;
    let inputs = PlanInputs {
        created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        config_path: config.path.display().to_string(),
        config_sha256: config.sha256.clone(),
        endpoint: endpoint.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let state = loaded.existed.then_some(&loaded.state);
    let plan = plan(&config.desired, state, &inputs);

    // The JSON output is the plan file's encoding: encode once when both are wanted.
    let encoded =
        (args.out.is_some() || args.format == OutputFormat::Json).then(|| file::encode(&plan));
    if let (Some(out), Some(encoded)) = (&args.out, &encoded) {
        write_plan_file(out, encoded)?;
    }
    let saved_as = args.out.as_deref();
    let output = match (args.format, encoded) {
        (OutputFormat::Json, Some(encoded)) => encoded,
        (OutputFormat::Json, None) => render::json(&plan),
        (OutputFormat::Text, _) => render::text(&plan, saved_as),
        (OutputFormat::Markdown, _) => render::markdown(&plan, saved_as),
    };
    print_stdout(&output)?;
    Ok(if args.detailed_exitcode && plan.will_send() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

/// Writes the plan beside its final name and renames it into place, so a reader (or a CI
/// upload step) never sees half a plan.
fn write_plan_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let written = tempfile::NamedTempFile::new_in(directory).and_then(|mut temporary| {
        temporary.write_all(text.as_bytes())?;
        temporary.as_file().sync_all()?;
        temporary.persist(path).map_err(|error| error.error)?;
        Ok(())
    });
    written
        .map_err(|error| {
            Hinted::new(
                anyhow::Error::new(error)
                    .context(format!("could not write plan file `{}`", path.display())),
                "check that the directory exists and is writable, or pass another `--out FILE`",
            )
        })
        .context("the plan was not saved")?;
    Ok(())
}
