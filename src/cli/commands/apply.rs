//! `apply [PLAN_FILE]`: verify or make the plan, take the lock for the whole run, journal
//! every request through the engine, fold the journal into the state once at the end, and
//! exit 0 (all aborted), 1 (anything else) or 130 (interrupted). Thin: the engine decides.

use crate::apply::engine::{
    AbortTask, SettlePolicy, WaitReport, observed_records, unfinished_rollbacks,
};
use crate::apply::event::ApplyEvent;
use crate::apply::event::Reporter;
use crate::apply::journal_writer::Durability;
use crate::apply::run::{Run, RunError, RunOutcome, RunSettings, WaitSettings};
use crate::apply::{ApplyReport, CancelToken, EngineConfig, RetryPolicy};
use crate::cli::args::{ApplyArgs, GlobalArgs};
use crate::cli::batched_stdout::ApplyStdout;
use crate::cli::commands::state::{announce, print_stdout};
use crate::cli::exit;
use crate::cli::render::apply::{
    JsonLines, PlainLines, ProgressReporter, fatal_error, summary, wait_summary,
};
use crate::cli::render::plan as render_plan;
use crate::cli::render::store_error_to_anyhow;
use crate::cli::render::{Hinted, print_error};
use crate::cli::saved_plan;
use crate::cli::settings::{RunTuning, load_config, open_store_with};
use crate::edas::client::EdasClient;
use crate::edas::credentials::{Credentials, CredentialsProvider, load_provider};
use crate::plan::file::check_applicable;
use crate::plan::{Action, Plan, PlanInputs, plan};
use crate::state::State;
use anyhow::{Context, anyhow};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How often `--wait` asks about each rollback change order.
const WAIT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The question a person must answer `yes` to (docs/CONTRACT.md, "Semantics").
pub(crate) const APPROVAL_PROMPT: &str =
    "Do you want to abort these change orders? Only 'yes' will be accepted:";

pub(crate) fn run(global: &GlobalArgs, args: &ApplyArgs) -> anyhow::Result<u8> {
    // One thread drives every request: the work is waiting, not computing, and a
    // multi-threaded runtime costs ~40% more CPU per change order in wake-ups between its
    // threads (`cargo bench --bench apply -- engine-http`, EDAS_BENCH_RUNTIME=multi to
    // compare). Journal syncs run on tokio's blocking pool either way.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The run is a spawned task rather than the future `block_on` polls: tokio wakes that
    // future by writing to its I/O driver's eventfd every time (a system call for each event
    // or finished task the coordinator hears of, ~1.5 per change order), and a task by
    // queueing it on this thread.
    let (global, args) = (global.clone(), args.clone());
    runtime.block_on(async move {
        match tokio::spawn(async move { execute(&global, &args, None).await }).await {
            Ok(result) => result,
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(error) => Err(anyhow!("the apply task ended early: {error}")),
            },
        }
    })
}

/// What `rehearse` hands to apply: the embedded simulator's credentials instead of the chain
/// of docs/credentials.md, and what the config's selectors found in the simulator (combined
/// with the explicit change orders exactly as `plan` freezes them).
pub(crate) struct Rehearsal<'a> {
    pub credentials: Credentials,
    pub selected: Option<&'a [crate::plan::select::Selected]>,
}

/// The whole of `apply`, inside a tokio runtime. Without a rehearsal, a config with selectors
/// needs a saved plan and credentials come from the chain.
pub(crate) async fn execute(
    global: &GlobalArgs,
    args: &ApplyArgs,
    rehearsal: Option<Rehearsal<'_>>,
) -> anyhow::Result<u8> {
    let rehearsing = rehearsal.is_some();
    let (credentials, selected) = match rehearsal {
        Some(rehearsal) => (Some(rehearsal.credentials), rehearsal.selected),
        None => (None, None),
    };
    let mut config = load_config(&global.config)?;
    if rehearsing {
        // A rehearsal plans against the embedded simulator the instant before it sends, so no
        // status it acts on can be stale: `apply.require_refresh` guards real runs only.
        config.desired.apply.require_refresh = false;
    }
    if let Some(selected) = selected {
        config.desired.change_orders =
            crate::plan::select::combine(&config.desired.change_orders, selected);
    }
    let config = config;
    let desired = &config.desired;
    // A saved plan is checked against this run's endpoint, region and config before the
    // lock is taken or anything is sent: it is carried out as reviewed, or not at all.
    let saved = match &args.plan_file {
        Some(path) => Some(saved_plan::load_reviewed(path, global, &config)?),
        None => None,
    };
    if saved.is_none() && selected.is_none() && !desired.selectors.is_empty() {
        // A selector's result must be reviewed before it runs: it is frozen into a saved
        // plan, which apply carries out exactly (docs/CONFIG.md, "Selectors").
        anyhow::bail!(Hinted::new(
            anyhow!(
                "the config has `select:` selectors, and `apply` without a plan file would act on change orders nobody reviewed; nothing was sent"
            ),
            "run `edas-rollback plan --out FILE`, review the change orders it found, and run `edas-rollback apply FILE`",
        ));
    }
    let store = open_store_with(global, global.state.as_deref(), config.state_keys())?;
    // The lock is held for the whole run: until the run ends (or this function returns).
    let run = Run::start(&store, "apply", args.lock_timeout, TOOL_VERSION)
        .map_err(store_error_to_anyhow)?;
    let loaded = run.loaded();
    announce(loaded);
    let (endpoint, region) = match &saved {
        Some(plan) => saved_plan::pinned_endpoint(plan)?,
        None => (
            crate::cli::settings::endpoint(global, desired)?,
            desired.provider.region.clone(),
        ),
    };
    // Lines reach stdout in batches, each once the journal records it reports are durable
    // (cli::batched_stdout), unless stdout is a terminal.
    let durability = Arc::new(Durability::default());
    let stdout = ApplyStdout::new(&durability);
    let mut json = args.run.json.then(|| JsonLines::new(stdout.clone()));
    if let Some(json) = &mut json {
        json.version();
    }

    let state = loaded.existed.then_some(&loaded.state);
    let from_file = saved.is_some();
    let plan = match saved {
        Some(plan) => not_stale(plan, state)?,
        None => plan(
            desired,
            state,
            &PlanInputs {
                created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
                config_path: config.path.display().to_string(),
                config_sha256: config.sha256.clone(),
                endpoint: endpoint.to_string(),
                tool_version: TOOL_VERSION.to_string(),
            },
        ),
    };
    // Checked again at apply, whichever way the plan came: saved and reviewed, or made here.
    crate::plan::guards::check_for_apply(&plan, from_file, &desired.apply)
        .map_err(|guard| Hinted::new(anyhow::Error::new(guard.clone()), guard.hint()))?;
    let tasks = AbortTask::from_plan(&plan, &loaded.state);
    if let Some(json) = &mut json {
        for action in plan
            .actions
            .iter()
            .filter(|action| action.action == Action::Abort)
        {
            json.planned_change(action);
        }
    }
    // Nothing to send, but a refreshed plan's final statuses to record, or (`--wait`)
    // rollbacks an earlier run never saw end: the run goes on without asking, since it
    // changes nothing at EDAS.
    let bookkeeping_only = tasks.is_empty()
        && (!observed_records(&plan, &loaded.state, "").is_empty()
            || (args.run.wait && !unfinished_rollbacks(&loaded.state, &[]).is_empty()));
    if tasks.is_empty() && !bookkeeping_only {
        match &mut json {
            Some(json) => json.on_event(&ApplyEvent::Summary {
                aborted: 0,
                failed: 0,
                unknown: 0,
                not_started: 0,
                elapsed: Duration::ZERO,
            }),
            None if plan.summary.already_stopped + plan.summary.cannot_abort > 0 => {
                print_stdout(&format!(
                    "No changes: nothing to send. By the plan's live statuses, {} already stopped \
                     and {} cannot be aborted; the rest are already aborted.\n",
                    plan.summary.already_stopped, plan.summary.cannot_abort
                ))?
            }
            None => print_stdout(
                "No changes. Every declared change order is already aborted; nothing to do.\n",
            )?,
        }
        return Ok(exit::OK);
    }
    if !args.run.json && !bookkeeping_only {
        let shown = match args.plan_file.as_deref() {
            Some(path) => render_plan::text_while_applying(&plan, path),
            None => render_plan::text(&plan, None),
        };
        print_stdout(&shown)?;
    }
    if args.plan_file.is_none() && !bookkeeping_only && !approved(args.auto_approve)? {
        print_stdout("Apply cancelled: nothing was sent.\n")?;
        return Ok(exit::ERROR);
    }

    let tuning = RunTuning::resolve(Some(&args.run), desired);
    crate::cli::limits::ensure_open_files(tuning.parallelism)?;
    let credentials: CredentialsProvider = match credentials {
        Some(credentials) => credentials.into(),
        None => {
            load_provider(
                desired.provider.profile.as_deref(),
                &crate::cli::env::credentials_environment()?,
            )
            .await?
        }
    };
    let endpoint_used = endpoint.to_string();
    // A saved plan's own algorithm (checked equal to the config's by `load_reviewed`).
    let client = EdasClient::new(tuning.client_settings(
        endpoint,
        region,
        credentials,
        plan.signature_algorithm,
    )?)?;

    let cancel = CancelToken::new();
    crate::cli::signals::install_stop_handler(cancel.clone());
    let mut reporter: Box<dyn Reporter + Send> = match json.take() {
        Some(json) => Box::new(json),
        None if bookkeeping_only => Box::new(WithoutRunLines(PlainLines::new(
            stdout.clone(),
            std::io::stderr(),
        ))),
        None => reporter(tasks.len(), stdout),
    };
    if bookkeeping_only && !args.run.json {
        print_stdout(&format!(
            "No changes: nothing to send. By the plan's live statuses, {} already stopped and {} \
             cannot be aborted; recording them in the state.{}\n",
            plan.summary.already_stopped,
            plan.summary.cannot_abort,
            if args.run.wait {
                " Watching the rollbacks an earlier run did not see end."
            } else {
                ""
            }
        ))?;
    }
    let settings = RunSettings {
        engine: EngineConfig {
            halt_after_failures: desired
                .apply
                .halt_after_failures
                .map(|threshold| threshold.failures_for(tasks.len())),
            ..engine_config(&tuning)
        },
        wait: args.run.wait.then_some(WaitSettings {
            poll_interval: WAIT_POLL_INTERVAL,
            timeout: args.run.wait_timeout,
        }),
        operation: "apply".to_string(),
        endpoint: Some(endpoint_used),
        durability,
    };
    let outcome = run
        .execute(&plan, client, &mut reporter, &cancel, &settings)
        .await
        .map_err(store_error_to_anyhow)?;
    drop(reporter);
    let RunOutcome {
        report,
        wait,
        journal_error,
        saved,
        ..
    } = outcome;
    if !args.run.json {
        if !bookkeeping_only {
            print_stdout(&summary(&report))?;
        }
        if let Some(wait) = &wait {
            print_stdout(&wait_summary(wait))?;
        }
        if saved.is_err() {
            // The summary counts what EDAS answered; it must not read as a finished run when
            // those answers only reached the journal.
            print_stdout(&format!(
                "The state file was NOT updated: these results are kept in the journal `{}` \
                 and the next command folds them in (see the error below).\n",
                store.journal_location()
            ))?;
        }
    }
    if let Some(fatal) = &report.fatal {
        let error = anyhow!(fatal_error(fatal));
        print_error(&Hinted::new(error, fatal.hint()).into());
    }
    if let Some(error) = journal_error {
        print_error(&anyhow::Error::new(error).context(
            "the journal could not be written; the run stopped, and nothing was sent without a \
             durable intent",
        ));
    }
    saved.map_err(|error| match error {
        RunError::Store(error) => store_error_to_anyhow(error),
        other => anyhow::Error::new(other),
    })?;
    Ok(exit_code(&report, wait.as_ref()))
}

/// Refuses a saved plan unless it was made against exactly this state.
fn not_stale(plan: Plan, state: Option<&State>) -> anyhow::Result<Plan> {
    check_applicable(&plan, state).map_err(|stale| {
        Hinted::new(
            stale,
            "nothing was sent; run `plan --out FILE` again, review it, and apply the new file",
        )
    })?;
    Ok(plan)
}

/// Asks for approval on a terminal. Without one, only `--auto-approve` proceeds.
fn approved(auto_approve: bool) -> anyhow::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(crate::cli::render::Hinted::new(
            anyhow::anyhow!("`apply` needs approval and there is no terminal to ask on"),
            "review the plan and run `apply --auto-approve`, or save it with `plan --out FILE` \
             and run `apply FILE`"
        ));
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "\n{APPROVAL_PROMPT} ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Plain lines without the "Aborting 0 change orders" start and summary of a run that sends
/// no abort (it only records a refreshed plan's statuses or watches earlier rollbacks).
struct WithoutRunLines<R>(R);

impl<R: Reporter> Reporter for WithoutRunLines<R> {
    fn on_event(&mut self, event: &ApplyEvent) {
        if !matches!(
            event,
            ApplyEvent::RunStarted { .. } | ApplyEvent::Summary { .. }
        ) {
            self.0.on_event(event);
        }
    }
}

fn reporter(total: usize, stdout: ApplyStdout) -> Box<dyn Reporter + Send> {
    if std::io::stderr().is_terminal() {
        Box::new(ProgressReporter::new(total as u64))
    } else {
        Box::new(PlainLines::new(stdout, std::io::stderr()))
    }
}

fn engine_config(tuning: &RunTuning) -> EngineConfig {
    let settle = SettlePolicy {
        window: tuning.verify_window,
        ..SettlePolicy::default()
    };
    EngineConfig {
        parallelism: tuning.parallelism,
        requests_per_second: tuning.requests_per_second,
        retry: RetryPolicy::default(),
        settle,
        seed: fastrand::u64(..),
        halt_after_failures: None,
    }
}

fn exit_code(report: &ApplyReport, wait: Option<&WaitReport>) -> u8 {
    if report.interrupted || wait.is_some_and(|wait| wait.interrupted) {
        exit::INTERRUPTED
    } else if report.all_aborted() && wait.is_none_or(WaitReport::all_succeeded) {
        exit::OK
    } else {
        exit::ERROR
    }
}
