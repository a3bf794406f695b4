//! `rehearse`: plan and apply against an embedded simulator seeded with the config's change
//! orders (status 1, or a `--scenario FILE` of statuses and faults), into a scratch state in a
//! temporary directory. It runs the same `apply` path production uses, with only the endpoint,
//! the credentials and the state path replaced, so a rehearsal exercises exactly what an
//! incident will: nothing leaves the machine and no real state is touched. A config's
//! selectors are resolved against the embedded simulator, seeded with the scenario's
//! `applications:` (docs/SIMULATOR.md), and frozen into the rehearsed plan as `plan` freezes
//! them.

use crate::cli::args::{ApplyArgs, GlobalArgs, RehearseArgs};
use crate::cli::commands::{apply, plan};
use crate::cli::limits::{MAX_SCENARIO_BYTES, read_bounded_text};
use crate::cli::settings::{load_config, state_path};
use crate::edas::request::RollbackOperation;
use crate::sim::scenario::Scenario;
use crate::sim::{SimConfig, SimStats, Simulator};
use anyhow::Context as _;
use std::net::{Ipv4Addr, SocketAddr};

pub(crate) fn run(global: &GlobalArgs, args: &RehearseArgs) -> anyhow::Result<u8> {
    // Two workers: the simulator and the client share the process, and neither should wait
    // for the other to yield a single thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(rehearse(global, args))
}

async fn rehearse(global: &GlobalArgs, args: &RehearseArgs) -> anyhow::Result<u8> {
    let config = load_config(&global.config)?;
    let scenario = match &args.scenario {
        Some(path) => {
            let text = read_bounded_text(path, MAX_SCENARIO_BYTES, "scenario")?;
            Scenario::parse(path, &text)?
        }
        None => Scenario::default(),
    };
    let mut declared: Vec<_> = config
        .desired
        .change_orders
        .iter()
        .map(|spec| spec.id.clone())
        .collect();
    let mut sim_config = SimConfig::default();
    scenario.configure(&mut sim_config, &declared);
    // A selector whose change orders are rolled back with RollbackChangeOrder puts its
    // application's change orders in ECS clusters, as for an explicit id.
    for selector in config
        .desired
        .selectors
        .iter()
        .filter(|selector| selector.operation == RollbackOperation::Rollback)
    {
        let ids: Vec<_> = sim_config
            .applications
            .iter()
            .filter(|application| match &selector.app_name {
                Some(name) => &application.name == name,
                None => application.app_id == selector.app_id,
            })
            .flat_map(|application| {
                application
                    .change_orders
                    .iter()
                    .map(|order| order.id.clone())
            })
            .collect();
        sim_config.ecs_change_orders.extend(ids);
    }
    // The embedded simulator puts each change order in the kind of cluster its `operation`
    // is for, so a rehearsal of a correct config succeeds.
    sim_config.ecs_change_orders.extend(
        config
            .desired
            .change_orders
            .iter()
            .filter(|spec| spec.operation == RollbackOperation::Rollback)
            .map(|spec| spec.id.clone()),
    );
    let credentials = sim_config.credentials();
    let simulator = Simulator::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), sim_config)
        .await
        .context("cannot start the embedded simulator")?;

    let scratch = tempfile::Builder::new()
        .prefix("edas-rollback-rehearsal-")
        .tempdir()
        .context("cannot create a scratch directory for the rehearsal state")?;
    // The scratch state is named as the real one would be, beside a config in the scratch
    // directory (a `state:` in the config is ignored: the real state is never touched).
    let config_name = config.path.file_name().unwrap_or("rehearsal.yaml".as_ref());
    let state_path = state_path(&scratch.path().join(config_name), None, None);
    eprintln!(
        "Rehearsing {} against the embedded simulator at {} with a scratch state in {}; \
         nothing leaves this machine.",
        config.path.display(),
        simulator.endpoint(),
        scratch.path().display(),
    );

    let rehearsal = GlobalArgs {
        config: global.config.clone(),
        state: Some(state_path),
        state_name: None,
        endpoint: Some(simulator.endpoint()),
        no_color: global.no_color,
        verbose: global.verbose,
    };
    let apply_args = ApplyArgs {
        plan_file: None,
        // A rehearsal changes nothing outside the scratch directory, so it is approved.
        auto_approve: true,
        run: args.run.clone(),
        lock_timeout: std::time::Duration::ZERO,
    };
    let selected = if config.desired.selectors.is_empty() {
        None
    } else {
        // As `plan` does, against the embedded simulator: what the selectors find is
        // combined with the explicit ids and applied (a rehearsal is its own review).
        let endpoint = crate::cli::settings::endpoint(&rehearsal, &config.desired)?;
        let found = plan::resolve_selectors_with(
            &config.desired,
            &endpoint,
            std::time::SystemTime::now(),
            Some(credentials.clone()),
            &plan::Pacing::new(
                crate::cli::settings::RunTuning::resolve(Some(&args.run), &config.desired),
                crate::apply::RetryPolicy::default(),
            ),
        )
        .await;
        match found {
            Ok(found) => Some(found),
            Err(error) => {
                simulator.shutdown().await;
                return Err(error.context("the rehearsal's selectors could not be resolved"));
            }
        }
    };
    if let Some(selected) = &selected {
        declared.extend(selected.iter().map(|found| found.change_order_id.clone()));
        eprintln!(
            "The selectors found {} change order(s) in the rehearsal scenario's applications: {}",
            selected.len(),
            selected
                .iter()
                .map(|found| found.change_order_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let result = apply::execute(
        &rehearsal,
        &apply_args,
        Some(apply::Rehearsal {
            credentials,
            selected: selected.as_deref(),
        }),
    )
    .await;
    let stats = simulator.stats();
    simulator.shutdown().await;
    if !args.run.json {
        eprint!("{}", received_summary(&stats, &declared));
    }
    result
}

/// What the simulator received: totals, and any change order aborted more than once or
/// declared but never aborted.
fn received_summary(stats: &SimStats, declared: &[crate::ids::ChangeOrderId]) -> String {
    let totals = &stats.totals;
    let mut text = format!(
        "\nThe simulator received {} requests: {} aborts committed, {} GetChangeOrderInfo, \
         {} throttled, {} answered 503, {} responses dropped, {} refused signatures.\n",
        totals.requests,
        totals.aborts_committed,
        totals.info_requests,
        totals.throttled,
        totals.unavailable,
        totals.dropped,
        totals.signature_failures,
    );
    let duplicates: Vec<&str> = stats
        .change_orders
        .iter()
        .filter(|(_, counters)| counters.aborts_committed > 1)
        .map(|(id, _)| id.as_str())
        .collect();
    let never_aborted: Vec<&str> = declared
        .iter()
        .filter(|id| {
            stats
                .change_orders
                .get(id.as_str())
                .is_none_or(|counters| counters.aborts_committed == 0)
        })
        .map(|id| id.as_str())
        .collect();
    if duplicates.is_empty() {
        text.push_str("No change order was aborted twice.\n");
    } else {
        text.push_str(&format!(
            "Aborted more than once: {}\n",
            duplicates.join(", ")
        ));
    }
    if !never_aborted.is_empty() {
        text.push_str(&format!(
            "Declared but not aborted by this rehearsal: {}\n",
            never_aborted.join(", ")
        ));
    }
    text
}
