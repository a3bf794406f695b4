//! `apply [PLAN_FILE]`: verify or make the plan, take the lock for the whole run, journal
//! every request through the engine, fold the journal into the state once at the end, and
//! exit 0 (all aborted), 1 (anything else) or 130 (interrupted). Thin: the engine decides.

use crate::apply::adapters::RecordingJournal;
use crate::apply::engine::{AbortTask, RollbackTarget, SettlePolicy, WaitReport, rfc3339};
use crate::apply::event::ApplyEvent;
use crate::apply::event::Reporter;
use crate::apply::{
    ApplyReport, CancelToken, DEFAULT_PARALLELISM, DEFAULT_REQUESTS_PER_SECOND, Engine,
    EngineConfig, RetryPolicy, SystemClock,
};
use crate::cli::args::{ApplyArgs, GlobalArgs};
use crate::cli::commands::state::{announce, print_stdout};
use crate::cli::exit;
use crate::cli::render::apply::{
    JsonLines, PlainLines, ProgressReporter, fatal_error, summary, wait_summary,
};
use crate::cli::render::plan as render_plan;
use crate::cli::render::store_error_to_anyhow;
use crate::cli::render::{Hinted, print_error};
use crate::cli::settings::load_config;
use crate::edas::client::{ClientSettings, EdasClient};
use crate::edas::credentials::{Credentials, load_credentials};
use crate::edas::endpoint::resolve_endpoint;
use crate::plan::file::{check_applicable, decode};
use crate::plan::{Action, Plan, PlanInputs, plan};
use crate::state::State;
use crate::state::journal::{JournalRecord, fold};
use crate::state::store::{LoadedState, LocalStore, StateLock};
use anyhow::{Context, anyhow};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How often `--wait` asks about each rollback change order.
const WAIT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The question a person must answer `yes` to (issue 5).
pub const APPROVAL_PROMPT: &str =
    "Do you want to abort these change orders? Only 'yes' will be accepted:";

pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> anyhow::Result<u8> {
    // One thread drives every request: the work is waiting, not computing, and a
    // multi-threaded runtime costs ~40% more CPU per change order in wake-ups between its
    // threads (`cargo bench --bench apply -- engine-http`, EDAS_BENCH_RUNTIME=multi to
    // compare). Journal syncs run on tokio's blocking pool either way.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(execute(global, args, None))
}

/// The whole of `apply`, inside a tokio runtime. `credentials` replaces the credentials chain
/// (`rehearse` passes the embedded simulator's); `None` reads the chain of DESIGN 5.
pub async fn execute(
    global: &GlobalArgs,
    args: &ApplyArgs,
    credentials: Option<Credentials>,
) -> anyhow::Result<u8> {
    let config = load_config(&global.config)?;
    let desired = &config.desired;
    let store = LocalStore::new(config.state_path(global.state.as_deref()));
    // The lock is held for the whole run: until `lock` is dropped at the end of this function.
    let lock = store
        .lock("apply", args.lock_timeout)
        .map_err(store_error_to_anyhow)?;
    let loaded = store
        .load_for_update(&lock, TOOL_VERSION)
        .map_err(store_error_to_anyhow)?;
    announce(&loaded);
    let endpoint = resolve_endpoint(
        global.endpoint.as_deref(),
        desired.provider.endpoint.as_deref(),
        &desired.provider.region,
    )?;
    let mut json = args.run.json.then(|| JsonLines::new(std::io::stdout()));
    if let Some(json) = &mut json {
        json.version();
    }

    let state = loaded.existed.then_some(&loaded.state);
    let plan = match &args.plan_file {
        Some(path) => saved_plan(path, state)?,
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
    if tasks.is_empty() {
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
    if !args.run.json {
        print_stdout(&render_plan::text(&plan, args.plan_file.as_deref()))?;
    }
    if args.plan_file.is_none() && !approved(args.auto_approve)? {
        print_stdout("Apply cancelled: nothing was sent.\n")?;
        return Ok(exit::ERROR);
    }

    let parallelism = args
        .run
        .parallelism
        .or(desired.apply.parallelism)
        .unwrap_or(DEFAULT_PARALLELISM);
    let requests_per_second = args
        .run
        .requests_per_second
        .or(desired.apply.requests_per_second)
        .unwrap_or(DEFAULT_REQUESTS_PER_SECOND);
    let credentials = match credentials {
        Some(credentials) => credentials,
        None => load_credentials(desired.provider.profile.as_deref())?,
    };
    let mut client_settings = ClientSettings::new(
        endpoint,
        desired.provider.region.clone(),
        credentials,
        parallelism as usize,
    );
    if let Some(timeout) = desired.apply.request_timeout {
        client_settings.read_timeout = timeout;
    }
    let client = EdasClient::new(client_settings)?;

    let begin = JournalRecord::Begin {
        lineage: loaded.state.lineage.clone(),
        serial: loaded.state.serial,
        at: rfc3339(SystemTime::now()),
        operation: "apply".to_string(),
    };
    let writer = store
        .begin_journal(&lock, &begin)
        .map_err(store_error_to_anyhow)?;
    let journal = RecordingJournal::new(writer, begin);
    let engine = Engine::start(
        client,
        journal,
        SystemClock,
        engine_config(
            parallelism,
            requests_per_second,
            desired.apply.verify_window,
        ),
    );
    let cancel = CancelToken::new();
    install_interrupt_handler(cancel.clone());
    let mut reporter: Box<dyn Reporter> = match json.take() {
        Some(json) => Box::new(json),
        None => reporter(tasks.len()),
    };
    let report = engine.abort_all(tasks, &mut reporter, &cancel).await;
    let wait = if args.run.wait && !report.interrupted && report.fatal.is_none() {
        let targets = rollback_targets(&report);
        let without_rollback_id = report.aborted.len() - targets.len();
        let mut wait = engine
            .wait_for_rollbacks(
                targets,
                WAIT_POLL_INTERVAL,
                args.run.wait_timeout,
                &mut reporter,
                &cancel,
            )
            .await;
        wait.without_rollback_id = without_rollback_id;
        Some(wait)
    } else {
        None
    };
    drop(reporter);

    let finished = engine.finish().await;
    let saved = match finished.sink {
        Some(journal) => save(&store, &lock, &loaded, journal),
        None => Err(anyhow!(
            "the journal writer was lost; the journal `{}` is left for the next command to fold",
            store.journal_path().display()
        )),
    };
    if !args.run.json {
        print_stdout(&summary(&report))?;
        if let Some(wait) = &wait {
            print_stdout(&wait_summary(wait))?;
        }
        if saved.is_err() {
            // The summary counts what EDAS answered; it must not read as a finished run when
            // those answers only reached the journal.
            print_stdout(&format!(
                "The state file was NOT updated: these results are kept in the journal `{}` \
                 and the next command folds them in (see the error below).\n",
                store.journal_path().display()
            ))?;
        }
    }
    if let Some(fatal) = &report.fatal {
        let error = anyhow!(fatal_error(fatal));
        print_error(&Hinted::new(error, fatal.hint()).into());
    }
    if let Some(error) = finished.error {
        print_error(&anyhow::Error::new(error).context(
            "the journal could not be written; the run stopped, and nothing was sent without a \
             durable intent",
        ));
    }
    saved?;
    Ok(exit_code(&report, wait.as_ref()))
}

/// Folds this run's journal into the state, saves it with one atomic replace, then removes
/// the journal. If saving fails the journal stays, and the next command folds it.
fn save(
    store: &LocalStore,
    lock: &StateLock,
    loaded: &LoadedState,
    journal: RecordingJournal,
) -> anyhow::Result<()> {
    let (writer, records) = journal.into_parts();
    let folded = fold(loaded.state.clone(), &records)
        .with_context(|| format!("cannot fold the journal `{}`", writer.path().display()))?;
    store
        .save(lock, loaded, &folded)
        .map_err(store_error_to_anyhow)?;
    store
        .finish_journal(lock, writer)
        .map_err(store_error_to_anyhow)?;
    Ok(())
}

/// Reads a saved plan and refuses it unless it was made against exactly this state.
fn saved_plan(path: &Path, state: Option<&State>) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read plan file `{}`", path.display()))?;
    let plan = decode(path, &text)?;
    check_applicable(&plan, state).map_err(|stale| {
        Hinted::new(
            stale,
            "nothing was sent; run `plan --out FILE` again, review it, and apply the new file",
        )
    })?;
    Ok(plan)
}

/// First Ctrl-C: start nothing new, let the run finish what is in flight. Second: exit at
/// once with 130; the journal already holds every intent that was sent.
fn install_interrupt_handler(cancel: CancelToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    });
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

fn reporter(total: usize) -> Box<dyn Reporter> {
    if std::io::stderr().is_terminal() {
        Box::new(ProgressReporter::new(total as u64))
    } else {
        Box::new(PlainLines::new(std::io::stdout(), std::io::stderr()))
    }
}

fn engine_config(
    parallelism: u32,
    requests_per_second: u32,
    verify_window: Option<Duration>,
) -> EngineConfig {
    let mut settle = SettlePolicy::default();
    if let Some(window) = verify_window {
        settle.window = window;
    }
    EngineConfig {
        parallelism,
        requests_per_second,
        retry: RetryPolicy::default(),
        settle,
        seed: fastrand::u64(..),
    }
}

fn rollback_targets(report: &ApplyReport) -> Vec<RollbackTarget> {
    report
        .aborted
        .iter()
        .filter_map(|aborted| {
            Some(RollbackTarget {
                change_order_id: aborted.change_order_id.clone(),
                rollback_change_order_id: aborted.rollback_change_order_id.clone()?,
            })
        })
        .collect()
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
