//! `plan [--out FILE] [--format text|json|markdown] [--detailed-exitcode]`: load the config
//! and the state (folding a leftover journal first; the state is read on a second thread
//! while the YAML parses, see docs/BENCHMARKS.md), call the pure planner, save the plan file
//! when asked, render. Decides nothing itself; the clock is read here, at the edge.

use super::state::{announce, print_stdout};
use crate::cli::args::{GlobalArgs, OutputFormat, PlanArgs};
use crate::cli::exit;
use crate::cli::render::plan as render;
use crate::cli::render::{Hinted, WARNING};
use crate::cli::settings::{LoadedConfig, read_config};
use crate::edas::endpoint::resolve_endpoint;
use crate::plan::{PlanInputs, plan, plan_encoded};
use crate::state::store::{LocalStore, PrefetchedState};
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
    let (config, prefetched) = load_config_reading_state(global)?;
    let state_path = config.state_path(global.state.as_deref());
    let store = LocalStore::new(&state_path);
    let loaded = store
        .load_recovering_prefetched(
            prefetched,
            "plan",
            args.lock_timeout,
            env!("CARGO_PKG_VERSION"),
        )
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
    // The JSON output is the plan file's encoding: encode once (checksum included) when
    // either is wanted.
    let (plan, encoded) = if args.out.is_some() || args.format == OutputFormat::Json {
        let (plan, encoded) = plan_encoded(&config.desired, state, &inputs);
        (plan, Some(encoded))
    } else {
        (plan(&config.desired, state, &inputs), None)
    };
    std::thread::scope(|scope| {
        // Freeing the config and state (hundreds of thousands of strings for a large
        // runbook) takes tens of milliseconds; do it while the plan is written out. Without
        // a thread, they are freed here instead.
        let _ = std::thread::Builder::new().spawn_scoped(scope, move || drop((config, loaded)));
        if let (Some(out), Some(encoded)) = (&args.out, &encoded) {
            write_plan_file(out, encoded)?;
        }
        let saved_as = args.out.as_deref();
        match (args.format, &encoded) {
            // JSON escapes every control character, so there is nothing for the
            // colour-stripping stream to strip; writing past it saves scanning a plan of tens
            // of megabytes.
            (OutputFormat::Json, Some(encoded)) => print_plain_stdout(encoded),
            (OutputFormat::Json, None) => print_plain_stdout(&render::json(&plan)),
            (OutputFormat::Text, _) => print_stdout(&render::text(&plan, saved_as)),
            (OutputFormat::Markdown, _) => print_stdout(&render::markdown(&plan, saved_as)),
        }
    })?;
    Ok(if args.detailed_exitcode && plan.will_send() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

/// Reads the config and, while its YAML parses (most of the time on a large runbook), reads
/// the state file it most likely names on a second thread. The config is still checked
/// first: a config error is reported whatever the state file holds, and the state read is
/// used only if the parsed config names that same file (else the load reads it again).
fn load_config_reading_state(
    global: &GlobalArgs,
) -> anyhow::Result<(LoadedConfig, Option<PrefetchedState>)> {
    let file = read_config(&global.config)?;
    let likely = LocalStore::new(file.likely_state_path(global.state.as_deref()));
    std::thread::scope(|scope| {
        let reading = std::thread::Builder::new()
            .name("state-prefetch".to_string())
            .spawn_scoped(scope, || likely.prefetch());
        let config = file.parse();
        // No thread (or a panic in it) only means the load reads the state itself.
        let prefetched = reading
            .ok()
            .and_then(|reading| reading.join().ok().flatten());
        Ok((config?, prefetched))
    })
}

/// Writes to stdout as is, for output that holds no terminal escapes (JSON); a closed pipe
/// (`| head`) is not an error.
fn print_plain_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(error).context("could not write to stdout"))
        }
        _ => Ok(()),
    }
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
