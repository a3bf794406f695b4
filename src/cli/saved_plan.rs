//! A saved plan on its way into `apply PLAN`: read it, then check that this run would carry it out
//! as it was reviewed (docs/APPLY.md, "A saved plan is carried out as reviewed") — same endpoint,
//! same region, same signature algorithm, same config file and content — before the lock is taken
//! or anything is sent. The comparison itself is the pure [`check_pinned`]; this module resolves
//! what the run would use and where each value came from (flags, environment, config), which only
//! the CLI knows.

use crate::cli::args::GlobalArgs;
use crate::cli::limits::{MAX_PLAN_BYTES, read_bounded_text};
use crate::cli::render::Hinted;
use crate::cli::settings::LoadedConfig;
use crate::edas::endpoint::Endpoint;
use crate::plan::Plan;
use crate::plan::file::{PinnedProvider, PlanMismatch, RunSettings, check_pinned, decode};
use anyhow::Context;
use std::path::Path;

/// Reads the plan file at `path` and refuses it unless this run's endpoint, region and config
/// are the ones it pins.
pub(crate) fn load_reviewed(
    path: &Path,
    global: &GlobalArgs,
    config: &LoadedConfig,
) -> anyhow::Result<Plan> {
    let text = read_plan_text(path)?;
    let plan = decode(path, &text)?;
    let run = run_settings(&plan, global, config)?;
    check_pinned(&plan, &run).map_err(|mismatch| refusal(path, global, mismatch))?;
    Ok(plan)
}

/// A plan file's text, at most [`MAX_PLAN_BYTES`].
pub(crate) fn read_plan_text(path: &Path) -> anyhow::Result<String> {
    read_bounded_text(path, MAX_PLAN_BYTES, "plan file").map_err(|error| {
        Hinted::new(
            error,
            "pass the file written by `edas-rollback plan --out FILE`",
        )
        .into()
    })
}

/// The endpoint and region the plan pins, which apply sends with.
pub(crate) fn pinned_endpoint(plan: &Plan) -> anyhow::Result<(Endpoint, String)> {
    let pinned = PinnedProvider::of(plan);
    let endpoint = Endpoint::parse(&pinned.endpoint)
        .context("the plan file's endpoint is not a valid endpoint")?;
    Ok((endpoint, pinned.region))
}

fn run_settings(
    plan: &Plan,
    global: &GlobalArgs,
    config: &LoadedConfig,
) -> anyhow::Result<RunSettings> {
    let provider = &config.desired.provider;
    let endpoint = crate::cli::settings::endpoint(global, &config.desired)?;
    let config_path = config.path.display().to_string();
    Ok(RunSettings {
        provider: PinnedProvider {
            endpoint: endpoint.to_string(),
            region: provider.region.clone(),
            signature_algorithm: provider.signature_algorithm,
        },
        endpoint_source: endpoint_source(global, config),
        same_config_file: same_file(&plan.config.path, &config.path),
        config_path,
        config_sha256: config.sha256.clone(),
    })
}

/// Where the endpoint this run would use came from, named as the user set it.
fn endpoint_source(global: &GlobalArgs, config: &LoadedConfig) -> String {
    let flag_or_env = global
        .endpoint
        .as_deref()
        .filter(|value| !value.trim().is_empty());
    if let Some(value) = flag_or_env {
        // clap merges the flag and the variable; the variable is the one a leftover shell
        // carries, so name it when it holds this very value.
        let from_env = crate::cli::env::var("EDAS_ENDPOINT").is_some_and(|env| env == value);
        return if from_env {
            "`EDAS_ENDPOINT`".to_string()
        } else {
            "`--endpoint`".to_string()
        };
    }
    let shown = config.path.display();
    match &config.desired.provider.endpoint {
        Some(_) => format!("`provider.endpoint` in `{shown}`"),
        None => format!("the region's endpoint (`provider.region` in `{shown}`)"),
    }
}

/// True when `planned` (the path recorded in the plan, as typed then) and `current` name the
/// same file: the same text, or the same file once both are resolved on disk (`./a.yaml` and
/// `a.yaml`, or a path through a symlink). A config that only looks the same elsewhere is a
/// different config: its state file is another one.
fn same_file(planned: &str, current: &Path) -> bool {
    if Path::new(planned) == current {
        return true;
    }
    match (
        std::fs::canonicalize(planned),
        std::fs::canonicalize(current),
    ) {
        (Ok(planned), Ok(current)) => planned == current,
        _ => false,
    }
}

fn refusal(path: &Path, global: &GlobalArgs, mismatch: PlanMismatch) -> anyhow::Error {
    let plan = path.display();
    let hint = match &mismatch {
        PlanMismatch::Endpoint { planned, .. } => format!(
            "apply sends only where the plan was reviewed: run it with `--endpoint {planned}` \
             (and check `EDAS_ENDPOINT` in this shell), or make and review a new plan for this \
             endpoint"
        ),
        PlanMismatch::Region { .. }
        | PlanMismatch::SignatureAlgorithm { .. }
        | PlanMismatch::ConfigChanged { .. } => format!(
            "make and review a new plan: `edas-rollback {}plan --out {plan}`",
            crate::cli::hints::location_flags(global)
        ),
        PlanMismatch::ConfigPath { planned, .. } => format!(
            "run `apply` with `-c {planned}` from the directory the plan was made in, or make \
             and review a new plan for this config"
        ),
    };
    Hinted::new(
        anyhow::Error::new(mismatch).context(format!("refusing to apply plan `{plan}`")),
        hint,
    )
    .into()
}
