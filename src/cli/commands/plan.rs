//! `plan [--out FILE] [--format text|json|markdown] [--detailed-exitcode] [--refresh]`: load
//! the config and the state (folding a leftover journal first; the state is read while the
//! config parses, [`load_inputs`]), call the pure planner, save the plan
//! file when asked, render. With `--refresh`, ask `GetChangeOrderInfo` about every change
//! order the plan would abort, paced by apply's [`Pacer`] and parallelism, and let the pure
//! [`refreshed`] fold the answers in. Decides nothing itself; the clock and the network are
//! here, at the edge.

use super::state::{announce, print_stdout};
use crate::apply::paced_read::{PacedReader, Read};
use crate::apply::pacing::Pacer;
use crate::apply::status::Quietly;
use crate::apply::{Asked, CancelToken, FatalError, RetryPolicy, StatusAsker, Transport};
use crate::cli::args::{GlobalArgs, OutputFormat, PlanArgs};
use crate::cli::exit;
use crate::cli::render::Hinted;
use crate::cli::render::apply::fatal_error;
use crate::cli::render::plan as render;
use crate::cli::settings::{LoadedConfig, RunTuning, read_config};
use crate::config::DesiredState;
use crate::edas::client::EdasClient;
use crate::edas::credentials::load_provider;
use crate::edas::endpoint::Endpoint;
use crate::edas::wire::ListedChangeOrder;
use crate::ids::ChangeOrderId;
use crate::plan::file::write_encoded;
use crate::plan::select;
use crate::plan::{
    Action, LiveStatus, Plan, PlanDraft, PlanInputs, PlanSummary, draft, plan, refreshed,
};
use crate::state::store::{AnyStore, StateStore};
use anyhow::Context;
use std::collections::HashMap;
use std::io::{Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub(crate) fn run(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<u8> {
    let (mut config, loaded) = load_inputs(global, args)?;
    announce(&loaded);
    let endpoint = crate::cli::settings::endpoint(global, &config.desired)?;
    let plan_time = SystemTime::now();
    // One pace for every request this plan makes: the selectors' listings, then `--refresh`.
    let pacing = Pacing::configured(&config.desired);
    if !config.desired.selectors.is_empty() {
        // Selectors become concrete change orders here, once; the plan pins them, and
        // `apply PLAN` never asks again (docs/CONFIG.md, "Selectors").
        let selected = resolve_selectors(&config.desired, &endpoint, plan_time, &pacing)?;
        config.desired.change_orders = select::combine(&config.desired.change_orders, &selected);
    }
    let inputs = PlanInputs {
        created_at: humantime::format_rfc3339_seconds(plan_time).to_string(),
        config_path: config.path.display().to_string(),
        config_sha256: config.sha256.clone(),
        endpoint: endpoint.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let state = loaded.existed.then_some(&loaded.state);
    let will_send = if args.refresh {
        let planned = plan(&config.desired, state, &inputs);
        let plan = refresh(&config.desired, &endpoint, planned, &pacing)?;
        check_guards(&plan.summary, &config.desired, args)?;
        write_plan(args, &plan)?;
        plan.will_send()
    } else {
        // The plan file and the JSON output are streamed from the planner's decisions; a
        // `Plan` (copies of every string) is built only for the text and markdown renderers.
        let draft = draft(&config.desired, state, &inputs);
        check_guards(draft.summary(), &config.desired, args)?;
        let will_send = draft.will_send();
        write_draft(args, draft)?;
        will_send
    };
    // The process ends right after this command. Freeing the config and the state (hundreds
    // of thousands of strings for a large runbook: tens of milliseconds) would only delay the
    // exit, whose unmapping of the memory is needed anyway; they hold no file, lock or
    // connection to release.
    std::mem::forget((config, loaded));
    Ok(if args.detailed_exitcode && will_send {
        exit::CHANGES
    } else {
        exit::OK
    })
}

/// The guards judge the plan before anyone reviews or saves it.
fn check_guards(
    summary: &PlanSummary,
    desired: &DesiredState,
    args: &PlanArgs,
) -> anyhow::Result<()> {
    crate::plan::guards::check_size(summary, &desired.apply)
        .map_err(|guard| Hinted::new(anyhow::Error::new(guard.clone()), guard.hint()))?;
    if desired.apply.require_refresh && !args.refresh && args.out.is_some() {
        eprintln!(
            "Warning: the config sets `apply.require_refresh: true`: `apply` will refuse this \
             plan; make it with `plan --refresh --out FILE`."
        );
    }
    Ok(())
}

/// Saves (`--out`) and prints a plan not built yet: the file and the JSON output are
/// encoded from the decisions as they are written, with the checksum computed on the way.
fn write_draft(args: &PlanArgs, draft: PlanDraft<'_>) -> anyhow::Result<()> {
    let saved_as = args.out.as_deref();
    match (&args.out, args.format) {
        (Some(out), OutputFormat::Json) => {
            let (file, _) =
                crate::cli::out_file::write_plan_file(out, |file| draft.write_sealed(file))?;
            print_file(file)
        }
        (Some(out), format) => {
            let (_, checksum) =
                crate::cli::out_file::write_plan_file(out, |file| draft.write_sealed(file))?;
            print_rendered(format, &draft.into_plan(checksum), saved_as)
        }
        (None, OutputFormat::Json) => {
            let mut stdout = std::io::stdout().lock();
            stdout_result(draft.write_sealed(&mut stdout).map(drop))
        }
        (None, format) => print_rendered(format, &draft.seal(), saved_as),
    }
}

/// Saves (`--out`) and prints a plan (a refreshed one).
fn write_plan(args: &PlanArgs, plan: &Plan) -> anyhow::Result<()> {
    let saved_as = args.out.as_deref();
    match (&args.out, args.format) {
        (Some(out), OutputFormat::Json) => {
            let (file, ()) =
                crate::cli::out_file::write_plan_file(out, |file| write_encoded(file, plan))?;
            print_file(file)
        }
        (Some(out), format) => {
            crate::cli::out_file::write_plan_file(out, |file| write_encoded(file, plan))?;
            print_rendered(format, plan, saved_as)
        }
        (None, OutputFormat::Json) => {
            let mut stdout = std::io::stdout().lock();
            stdout_result(write_encoded(&mut stdout, plan))
        }
        (None, format) => print_rendered(format, plan, saved_as),
    }
}

/// The text or markdown rendering of `plan` to stdout, through the colour-stripping stream.
fn print_rendered(
    format: OutputFormat,
    plan: &Plan,
    saved_as: Option<&Path>,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Markdown => print_stdout(&render::markdown(plan, saved_as)),
        // JSON never reaches here; rendered as text should it ever.
        OutputFormat::Text | OutputFormat::Json => print_stdout(&render::text(plan, saved_as)),
    }
}

/// Prints the plan file just written, as is (JSON holds no terminal escapes, so there is
/// nothing for the colour-stripping stream to strip): `io::copy` from a file lets the kernel
/// move the bytes (splice to a pipe, copy_file_range to a file) without a copy through this
/// process.
fn print_file(mut file: std::fs::File) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout_result(
        file.seek(std::io::SeekFrom::Start(0))
            .and_then(|_| std::io::copy(&mut file, &mut stdout))
            .and_then(|_| stdout.flush()),
    )
}

/// A write to stdout's result: a closed pipe (`| head`) is not an error.
fn stdout_result<T>(written: std::io::Result<T>) -> anyhow::Result<()> {
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(error).context("could not write to stdout"))
        }
        _ => Ok(()),
    }
}

/// `plan --out FILE` must not replace the config or a local state's files
/// ([`crate::cli::out_file`]).
fn refuse_overwriting(out: &Path, config: &Path, store: &AnyStore) -> anyhow::Result<()> {
    let mut protected = vec![("config", config.to_path_buf())];
    if let AnyStore::Local(store) = store {
        protected.extend([
            ("state", store.state_path().to_path_buf()),
            ("state's backup", store.backup_path()),
            ("state's journal", store.journal_path()),
            ("state's lock file", store.lock_path()),
        ]);
    }
    let protected: Vec<(&str, &Path)> = protected
        .iter()
        .map(|(what, path)| (*what, path.as_path()))
        .collect();
    crate::cli::out_file::check_plan_out(out, &protected)
}

/// The config and the state, checked and loaded: the store is opened (it names its files
/// from the flags and the config's `state:`), `--out` is refused if it would overwrite one of
/// them, and the config parses while the state loads (on a second thread when that is only a
/// read, `AnyStore::load_recovering_alongside`); a config error is reported first.
///
/// The store must be known before the parse for the two to overlap. It is opened from
/// [`crate::cli::settings::ConfigFile::state_keys_guess`] (the file's unindented lines: milliseconds) when that
/// names a local state, and the guess is then confirmed against the parsed config; when it
/// is wrong, or the parse fails, the store is opened from [`crate::cli::settings::ConfigFile::state_keys`] as if no
/// guess had been made, so every outcome and every error (and their order) is the one that
/// reading the keys first gives. Only when nothing can be guessed are the keys read first
/// (a second pass of the YAML fast path over the whole file).
fn load_inputs(
    global: &GlobalArgs,
    args: &PlanArgs,
) -> anyhow::Result<(LoadedConfig, crate::state::store::LoadedState)> {
    let file = read_config(&global.config)?;
    let open = |keys: crate::config::StateKeys| -> anyhow::Result<AnyStore> {
        let store = crate::cli::settings::open_store_with(global, global.state.as_deref(), keys)?;
        if let Some(out) = &args.out {
            refuse_overwriting(out, &global.config, &store)?;
        }
        Ok(store)
    };
    let (operation, version) = ("plan", env!("CARGO_PKG_VERSION"));
    let guessed = file.state_keys_guess().and_then(|guess| {
        // A guess that fails to open is not reported: the keys read in full decide.
        let store = open(guess.clone()).ok()?;
        matches!(store, AnyStore::Local(_)).then_some((guess, store))
    });
    let Some((guess, store)) = guessed else {
        let store = open(file.state_keys())?;
        let (config, loaded) = store.load_recovering_alongside(
            || file.parse(),
            operation,
            args.lock_timeout,
            version,
        )?;
        return Ok((
            config,
            loaded.map_err(crate::cli::render::store_error_to_anyhow)?,
        ));
    };
    let confirmed = store.load_recovering_alongside(
        || match file.parse() {
            Ok(config) if config.state_keys() == guess => Ok(config),
            Ok(config) => Err(Unconfirmed::OtherStore(Box::new(config))),
            Err(error) => Err(Unconfirmed::Failed(error)),
        },
        operation,
        args.lock_timeout,
        version,
    );
    match confirmed {
        Ok((config, loaded)) => Ok((
            config,
            loaded.map_err(crate::cli::render::store_error_to_anyhow)?,
        )),
        // Nothing was loaded from the guessed store: a journal is folded only after the
        // parse succeeded, and a read on the side is only a read.
        Err(Unconfirmed::OtherStore(config)) => {
            let store = open(file.state_keys())?;
            let loaded = store
                .load_recovering(operation, args.lock_timeout, version)
                .map_err(crate::cli::render::store_error_to_anyhow)?;
            Ok((*config, loaded))
        }
        // As without a guess: a failure to open the store, or a refused `--out`, first.
        Err(Unconfirmed::Failed(error)) => {
            open(file.state_keys())?;
            Err(error)
        }
    }
}

/// Why [`load_inputs`]'s parse did not confirm the store it loads from.
enum Unconfirmed {
    /// The config parsed, and names another state than the guess.
    OtherStore(Box<LoadedConfig>),
    /// The config did not parse.
    Failed(anyhow::Error),
}

/// `CreateTime` has no zone; EDAS consoles show China Standard Time (UTC+8), which is how
/// it is read (docs/CONFIG.md, "Selectors").
const SERVICE_UTC_OFFSET: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

/// The pace of every request `plan` makes (the selectors' listings and `--refresh`'s
/// questions), as apply paces its own: one [`Pacer`] at the run's `requests_per_second`
/// (slowed down for everyone when the service throttles), at most `parallelism` requests in
/// flight, apply's [`RetryPolicy`]; the values come from [`RunTuning`].
pub(crate) struct Pacing {
    pacer: Arc<Pacer>,
    in_flight: Arc<Semaphore>,
    tuning: RunTuning,
    retry: RetryPolicy,
}

impl Pacing {
    pub(crate) fn new(tuning: RunTuning, retry: RetryPolicy) -> Self {
        Self {
            pacer: Arc::new(Pacer::new(tuning.requests_per_second)),
            in_flight: Arc::new(Semaphore::new(tuning.parallelism.max(1) as usize)),
            tuning,
            retry,
        }
    }

    /// `plan`'s pace: the config's `apply:` values, else the defaults (it has no flags).
    pub(crate) fn configured(desired: &DesiredState) -> Self {
        Self::new(RunTuning::resolve(None, desired), RetryPolicy::default())
    }

    fn reader<'a>(&'a self, stop: &'a CancelToken) -> PacedReader<'a> {
        PacedReader {
            pacer: &self.pacer,
            retry: self.retry,
            stop,
            in_flight: Some(&self.in_flight),
        }
    }

    /// The client for these requests, with room for `parallelism` connections; built inside
    /// the runtime it runs on (its connections are tokio sockets).
    fn client(
        &self,
        desired: &DesiredState,
        endpoint: &Endpoint,
        credentials: crate::edas::credentials::CredentialsProvider,
    ) -> anyhow::Result<EdasClient> {
        Ok(EdasClient::new(self.tuning.client_settings(
            endpoint.clone(),
            desired.provider.region.clone(),
            credentials,
            desired.provider.signature_algorithm,
        )?)?)
    }
}

/// Asks ListRecentChangeOrder for each selector's application through the plan's
/// [`Pacing`], and resolves each listing with the pure [`select::resolve`].
fn resolve_selectors(
    desired: &DesiredState,
    endpoint: &Endpoint,
    plan_time: SystemTime,
    pacing: &Pacing,
) -> anyhow::Result<Vec<select::Selected>> {
    crate::cli::limits::ensure_open_files(pacing.tuning.parallelism)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(resolve_selectors_with(
        desired, endpoint, plan_time, None, pacing,
    ))
}

/// [`resolve_selectors`] inside a runtime; `credentials` replaces the credentials chain
/// (`rehearse` passes the embedded simulator's, docs/SIMULATOR.md). One ListApplication when a
/// selector gives `app_name`, then one ListRecentChangeOrder per distinct application, up to
/// `parallelism` at once, every attempt on the shared pacer; the results are resolved in
/// selector order, so the plan does not depend on which answer came first.
pub(crate) async fn resolve_selectors_with(
    desired: &DesiredState,
    endpoint: &Endpoint,
    plan_time: SystemTime,
    credentials: Option<crate::edas::credentials::Credentials>,
    pacing: &Pacing,
) -> anyhow::Result<Vec<select::Selected>> {
    let credentials: crate::edas::credentials::CredentialsProvider = match credentials {
        Some(credentials) => credentials.into(),
        None => load_provider(
            desired.provider.profile.as_deref(),
            &crate::cli::env::credentials_environment()?,
        )
        .await
        .map_err(|error| {
            Hinted::new(
                anyhow::Error::new(error).context(
                    "the config has `select:` selectors, and selectors need EDAS read access \
                         at plan time (ListRecentChangeOrder), but no credentials were found",
                ),
                "set credentials with read access (RAM action edas:ReadApplication), or list \
                     the change orders under `change_orders:` instead of selecting them",
            )
        })?,
    };
    let client = Arc::new(pacing.client(desired, endpoint, credentials)?);
    let stop = CancelToken::new();
    let mut rng = fastrand::Rng::new();
    // One ListApplication for every selector given by name: the whole region's list,
    // asked only when a selector needs it.
    let applications = if desired
        .selectors
        .iter()
        .any(|selector| selector.app_name.is_some())
    {
        let region = &desired.provider.region;
        answered(
            pacing
                .reader(&stop)
                .read(&mut rng, || client.list_applications())
                .await,
            &format!("ListApplication in region `{region}` (to find selectors' `app_name`)"),
            "check that the credentials may list applications (RAM action \
             edas:ReadApplication on all resources, `\"Resource\": \"*\"`, docs/CI.md), or \
             give the selectors `app_id:`; nothing was planned",
        )?
    } else {
        Vec::new()
    };
    let mut selectors = Vec::with_capacity(desired.selectors.len());
    for (index, selector) in desired.selectors.iter().enumerate() {
        let mut selector = selector.clone();
        if let Some(name) = &selector.app_name {
            selector.app_id =
                select::resolve_app_name(index, name, &applications).map_err(anyhow::Error::new)?;
            // Plans label the rows with the name the runbook used.
            selector.app.get_or_insert_with(|| name.clone());
        }
        selectors.push(selector);
    }
    // Each application is listed once, however many selectors name it.
    let mut app_ids: Vec<String> = Vec::new();
    for selector in &selectors {
        if !app_ids.contains(&selector.app_id) {
            app_ids.push(selector.app_id.clone());
        }
    }
    let mut running = JoinSet::new();
    for (position, app_id) in app_ids.iter().enumerate() {
        let (client, pacer, in_flight, stop, app_id) = (
            Arc::clone(&client),
            Arc::clone(&pacing.pacer),
            Arc::clone(&pacing.in_flight),
            stop.clone(),
            app_id.clone(),
        );
        let retry = pacing.retry;
        let mut rng = fastrand::Rng::with_seed(rng.u64(..));
        running.spawn(async move {
            let reader = PacedReader {
                pacer: &pacer,
                retry,
                stop: &stop,
                in_flight: Some(&in_flight),
            };
            let read = reader
                .read(&mut rng, || client.list_recent_change_orders(&app_id))
                .await;
            if !matches!(read, Read::Answer { .. }) {
                // The plan fails on the first application that cannot be listed; the others
                // need not be asked.
                stop.cancel();
            }
            (position, read)
        });
    }
    let mut reads: Vec<Option<Read<Vec<ListedChangeOrder>>>> =
        app_ids.iter().map(|_| None).collect();
    while let Some(joined) = running.join_next().await {
        // Only a bug panics a task; its application is reported as not answered below.
        if let Ok((position, read)) = joined {
            reads[position] = Some(read);
        }
    }
    // The first failure in selector order is reported; the listings it stopped are not.
    let mut listings: HashMap<String, Vec<ListedChangeOrder>> = HashMap::new();
    let mut failure = None;
    let mut not_answered = None;
    for (app_id, read) in app_ids.iter().zip(reads) {
        match read {
            Some(Read::Answer { answer, .. }) => {
                listings.insert(app_id.clone(), answer);
            }
            Some(Read::Stopped) | None => {
                not_answered.get_or_insert(app_id);
            }
            Some(read) => {
                failure.get_or_insert((app_id, read));
            }
        }
    }
    if let Some((app_id, read)) = failure
        && let Err(error) = answered(
            read,
            &format!("ListRecentChangeOrder for application `{app_id}`"),
            "check the application id and that the credentials may read it (RAM action \
             edas:ReadApplication); nothing was planned",
        )
    {
        return Err(error);
    }
    if let Some(app_id) = not_answered {
        anyhow::bail!(
            "ListRecentChangeOrder for application `{app_id}` was not answered; nothing was planned"
        );
    }
    let mut selected = Vec::new();
    for (index, selector) in selectors.iter().enumerate() {
        let listing = listings
            .get(&selector.app_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let found = select::resolve(index, selector, listing, plan_time, SERVICE_UTC_OFFSET)
            .map_err(anyhow::Error::new)?;
        if found.is_empty() {
            // At 3 a.m. an empty match is more often a wrong app id or window than a calm app:
            // say so instead of planning silently without it.
            eprintln!(
                "Warning: selector {} (app `{}`) matched no change order: EDAS listed {} for \
                 this application, none in the selected statuses and window.",
                index + 1,
                selector.app.as_deref().unwrap_or(&selector.app_id),
                listing.len()
            );
        }
        selected.extend(found);
    }
    Ok(selected)
}

/// A listing's answer, or the error that stops the plan: `what` was refused (with `hint`),
/// or gave no answer after every retry.
fn answered<T>(read: Read<T>, what: &str, hint: &'static str) -> anyhow::Result<T> {
    let refused = |details: crate::edas::outcome::ResponseDetails| -> anyhow::Error {
        Hinted::new(
            anyhow::anyhow!(
                "{what} was refused: {}{}",
                details
                    .message
                    .as_deref()
                    .or(details.code.as_deref())
                    .unwrap_or("no message"),
                details
                    .request_id
                    .as_deref()
                    .map(|id| format!(" [RequestId {id}]"))
                    .unwrap_or_default()
            ),
            hint,
        )
        .into()
    };
    match read {
        Read::Answer { answer, .. } => Ok(answer),
        Read::Refused { details } | Read::Fatal { details, .. } => Err(refused(details)),
        Read::Unanswered {
            attempts,
            reason,
            details,
        } => Err(anyhow::anyhow!(
            "{what} did not answer after {attempts} attempts: {reason} (HTTP {}); nothing was \
             planned",
            details
                .http_status
                .map_or_else(|| "none".to_string(), |status| status.to_string())
        )),
        Read::Stopped => Err(anyhow::anyhow!(
            "{what} was not asked: the plan stopped; nothing was planned"
        )),
    }
}

/// `--refresh`: asks `GetChangeOrderInfo` about every change order `planned` would abort and
/// folds the answers in. Nothing to ask, nothing sent (and no credentials needed). A
/// credentials error, or a change order the service would not answer about after every
/// retry, fails the command: a plan that says it was refreshed must be, or the reviewer
/// would read a guess as a fact.
fn refresh(
    desired: &DesiredState,
    endpoint: &Endpoint,
    planned: Plan,
    pacing: &Pacing,
) -> anyhow::Result<Plan> {
    let pending: Vec<ChangeOrderId> = planned
        .actions
        .iter()
        .filter(|action| action.action == Action::Abort)
        .map(|action| action.change_order_id.clone())
        .collect();
    if pending.is_empty() {
        // Nothing to ask: the plan is as fresh as it can be, and says so.
        return Ok(refreshed(planned, &HashMap::new()));
    }
    crate::cli::limits::ensure_open_files(pacing.tuning.parallelism)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let live = runtime.block_on(async {
        let credentials = load_provider(
            desired.provider.profile.as_deref(),
            &crate::cli::env::credentials_environment()?,
        )
        .await?;
        let client = pacing.client(desired, endpoint, credentials)?;
        let progress = refresh_progress(pending.len());
        let live = live_statuses(Arc::new(client), pending, pacing, &progress).await;
        progress.finish_and_clear();
        live.map_err(refresh_error)
    })?;
    Ok(refreshed(planned, &live))
}

/// A progress bar on stderr while `--refresh` asks (a large plan takes seconds at the rate
/// limit); hidden when stderr is not a terminal, so pipes and CI logs stay clean.
fn refresh_progress(total: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "Asking GetChangeOrderInfo {bar:30} {pos}/{len} ({elapsed})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Why `--refresh` could not be completed.
enum RefreshFailure {
    Fatal(FatalError),
    Unanswered {
        change_order_id: ChangeOrderId,
        attempts: u32,
        reason: String,
    },
}

fn refresh_error(failure: RefreshFailure) -> anyhow::Error {
    let retry_hint = "the plan was not made; run `plan --refresh` again once the service answers, \
         or plan without `--refresh` (apply itself asks `GetChangeOrderInfo` whenever an earlier \
         outcome is unknown)";
    match failure {
        RefreshFailure::Fatal(fatal) => {
            let hint = fatal.hint();
            Hinted::new(
                anyhow::anyhow!(fatal_error(&fatal)).context("`plan --refresh` failed"),
                hint,
            )
            .into()
        }
        RefreshFailure::Unanswered {
            change_order_id,
            attempts,
            reason,
        } => Hinted::new(
            anyhow::anyhow!(
                "could not ask `GetChangeOrderInfo` about `{change_order_id}` after {attempts} attempts: {}",
                crate::cli::render::apply::safe(&reason)
            ),
            retry_hint,
        )
        .into(),
    }
}

/// Asks about each of `ids` through apply's one status-asking path ([`StatusAsker`]) at the
/// plan's [`Pacing`]: at most `parallelism` requests in flight, every start on the shared
/// [`Pacer`] (slowed down for everyone when the service throttles), retrying what can be
/// retried with apply's [`RetryPolicy`]. The first fatal answer or exhausted change order
/// stops new requests and is returned.
async fn live_statuses<T: Transport>(
    transport: Arc<T>,
    ids: Vec<ChangeOrderId>,
    pacing: &Pacing,
    progress: &indicatif::ProgressBar,
) -> Result<HashMap<ChangeOrderId, LiveStatus>, RefreshFailure> {
    let (pacer, in_flight, retry) = (&pacing.pacer, &pacing.in_flight, pacing.retry);
    let stop = CancelToken::new();
    let mut running = JoinSet::new();
    for (index, id) in ids.into_iter().enumerate() {
        let (transport, pacer, in_flight, stop) = (
            Arc::clone(&transport),
            Arc::clone(pacer),
            Arc::clone(in_flight),
            stop.clone(),
        );
        let mut rng = fastrand::Rng::with_seed(fastrand::u64(..) ^ index as u64);
        running.spawn(async move {
            let asker = StatusAsker {
                transport: transport.as_ref(),
                pacer: &pacer,
                retry,
                stop: &stop,
                in_flight: Some(&in_flight),
                deadline: None,
            };
            let asked = asker.ask(&id, &mut rng, &mut Quietly).await;
            let checked_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
            let answer = match asked {
                Asked::Status { status, details } => Some(Ok(LiveStatus {
                    status: Some(status),
                    checked_at,
                    message: None,
                    request_id: details.request_id,
                })),
                Asked::Refused { details } => Some(Ok(LiveStatus {
                    status: None,
                    checked_at,
                    message: Some(
                        details
                            .message
                            .or(details.code)
                            .unwrap_or_else(|| "no message".to_string()),
                    ),
                    request_id: details.request_id,
                })),
                Asked::Fatal(fatal) => Some(Err(RefreshFailure::Fatal(fatal))),
                Asked::Unanswered { attempts, reason } => {
                    stop.cancel();
                    Some(Err(RefreshFailure::Unanswered {
                        change_order_id: id.clone(),
                        attempts,
                        reason,
                    }))
                }
                Asked::Stopped => None,
            };
            (id, answer)
        });
    }
    let mut live = HashMap::new();
    let mut failure = None;
    while let Some(joined) = running.join_next().await {
        // Only a bug panics a task; the JoinSet is drained either way.
        let Ok((id, answer)) = joined else { continue };
        progress.inc(1);
        match answer {
            Some(Ok(status)) => {
                live.insert(id, status);
            }
            Some(Err(error)) => {
                stop.cancel();
                failure.get_or_insert(error);
            }
            None => {}
        }
    }
    match failure {
        Some(failure) => Err(failure),
        None => Ok(live),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edas::outcome::{AbortOutcome, FatalKind, InfoOutcome, Outcome, ResponseDetails};
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Answers `GetChangeOrderInfo` from a script per change order (the last answer
    /// repeats), after 100 ms, counting calls and the most ever in flight at once.
    #[derive(Default)]
    struct Scripted {
        answers: Mutex<HashMap<ChangeOrderId, VecDeque<InfoOutcome>>>,
        calls: AtomicUsize,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
    }

    impl Scripted {
        fn with<S: AsRef<str>>(answers: impl IntoIterator<Item = (S, Vec<InfoOutcome>)>) -> Self {
            Self {
                answers: Mutex::new(
                    answers
                        .into_iter()
                        .map(|(id, script)| (ChangeOrderId::new(id.as_ref()), script.into()))
                        .collect(),
                ),
                ..Self::default()
            }
        }
    }

    impl Transport for Scripted {
        async fn abort(
            &self,
            _id: &ChangeOrderId,
            _operation: crate::edas::request::RollbackOperation,
        ) -> AbortOutcome {
            panic!("planning must never send an abort")
        }

        async fn info(&self, id: &ChangeOrderId) -> InfoOutcome {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let mut answers = self.answers.lock().unwrap();
            let script = answers.get_mut(id).unwrap();
            if script.len() > 1 {
                script.pop_front().unwrap()
            } else {
                script.front().unwrap().clone()
            }
        }
    }

    fn status(status: i32) -> InfoOutcome {
        Outcome::Done {
            answer: status.into(),
            details: ResponseDetails::default(),
        }
    }

    fn throttled() -> InfoOutcome {
        Outcome::Retry {
            details: ResponseDetails::default(),
            after: Some(Duration::from_millis(500)),
            throttled: true,
            reason: "`Throttling.User`".to_string(),
        }
    }

    fn unavailable() -> InfoOutcome {
        Outcome::Retry {
            details: ResponseDetails::default(),
            after: None,
            throttled: false,
            reason: "HTTP 503".to_string(),
        }
    }

    fn ids(names: &[&str]) -> Vec<ChangeOrderId> {
        names.iter().map(|name| ChangeOrderId::new(*name)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_questions_are_asked_again_until_each_change_order_has_its_status() {
        let transport = Arc::new(Scripted::with([
            ("a", vec![throttled(), throttled(), status(1)]),
            ("b", vec![status(6)]),
        ]));
        let live = live_statuses(
            Arc::clone(&transport),
            ids(&["a", "b"]),
            &paced(10, 20),
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap_or_else(|_| panic!("the refresh failed"));
        assert_eq!(live[&ChangeOrderId::new("a")].status, Some(1.into()));
        assert_eq!(live[&ChangeOrderId::new("b")].status, Some(6.into()));
        assert_eq!(transport.calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_parallelism_questions_are_in_flight() {
        let names: Vec<String> = (0..12).map(|index| format!("co-{index}")).collect();
        let transport = Arc::new(Scripted::with(
            names.iter().map(|name| (name.as_str(), vec![status(1)])),
        ));
        let started = tokio::time::Instant::now();
        let live = live_statuses(
            Arc::clone(&transport),
            names.iter().map(ChangeOrderId::new).collect(),
            &paced(3, 1_000),
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap_or_else(|_| panic!("the refresh failed"));
        assert_eq!(live.len(), 12);
        assert_eq!(transport.most_in_flight.load(Ordering::SeqCst), 3);
        // Four rounds of three, 100 ms each.
        assert!(started.elapsed() >= Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_spaces_the_questions_like_apply() {
        let transport = Arc::new(Scripted::with([
            ("a", vec![status(1)]),
            ("b", vec![status(1)]),
            ("c", vec![status(1)]),
            ("d", vec![status(1)]),
            ("e", vec![status(1)]),
        ]));
        let started = tokio::time::Instant::now();
        live_statuses(
            Arc::clone(&transport),
            ids(&["a", "b", "c", "d", "e"]),
            &paced(10, 2),
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap_or_else(|_| panic!("the refresh failed"));
        // Starts at 0, 0.5, 1, 1.5 and 2 s, the last answered 100 ms later.
        assert_eq!(started.elapsed(), Duration::from_millis(2_100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_order_the_service_never_answers_about_fails_the_refresh_naming_it() {
        let transport = Arc::new(Scripted::with([
            ("ok", vec![status(1)]),
            ("down", vec![unavailable()]),
        ]));
        let failure = live_statuses(
            Arc::clone(&transport),
            ids(&["ok", "down"]),
            &paced(10, 20),
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .err()
        .unwrap();
        match failure {
            RefreshFailure::Unanswered {
                change_order_id,
                attempts,
                reason,
            } => {
                assert_eq!(change_order_id.as_str(), "down");
                assert_eq!(attempts, RetryPolicy::default().max_attempts);
                assert_eq!(reason, "HTTP 503");
            }
            RefreshFailure::Fatal(_) => panic!("not a credentials error"),
        }
        let message = format!(
            "{:#}",
            refresh_error(RefreshFailure::Unanswered {
                change_order_id: ChangeOrderId::new("down"),
                attempts: 8,
                reason: "HTTP 503".to_string(),
            })
        );
        assert!(
            message.contains("`down` after 8 attempts: HTTP 503"),
            "{message}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_credentials_error_stops_every_question_not_yet_asked() {
        let fatal = Outcome::Fatal {
            details: ResponseDetails {
                code: Some("InvalidAccessKeyId.NotFound".to_string()),
                ..ResponseDetails::default()
            },
            kind: FatalKind::AccessKey,
            server_string_to_sign: None,
        };
        let names: Vec<&'static str> = vec!["a", "b", "c", "d", "e", "f", "g", "h"];
        let transport = Arc::new(Scripted::with(
            names.iter().map(|name| (*name, vec![fatal.clone()])),
        ));
        let failure = live_statuses(
            Arc::clone(&transport),
            ids(&names),
            &paced(1, 20),
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .err()
        .unwrap();
        assert!(matches!(failure, RefreshFailure::Fatal(_)));
        assert_eq!(transport.calls.load(Ordering::SeqCst), 1);
    }

    /// A simulator holding `apps` applications (`app-0`, …), each with one running change
    /// order, behind a token bucket of `quota` requests a second.
    async fn simulator_with_apps(apps: usize, quota: u32) -> crate::sim::Simulator {
        use crate::sim::{Faults, SimAppChangeOrder, SimApplication, SimConfig};
        let config = SimConfig {
            applications: (0..apps)
                .map(|index| SimApplication {
                    app_id: format!("app-{index}"),
                    name: format!("name-{index}"),
                    change_orders: vec![SimAppChangeOrder {
                        id: ChangeOrderId::new(format!("co-{index}")),
                        status: 1,
                        create_time: "2026-11-30 19:00:00".to_string(),
                    }],
                })
                .collect(),
            faults: Faults {
                requests_per_second: Some(quota),
                retry_after: Some(Duration::from_millis(100)),
                ..Faults::default()
            },
            ..SimConfig::default()
        };
        crate::sim::Simulator::start(([127, 0, 0, 1], 0).into(), config)
            .await
            .unwrap()
    }

    fn selector(app_id: &str, app_name: Option<&str>) -> select::SelectorSpec {
        select::SelectorSpec {
            app_id: app_id.to_string(),
            app_name: app_name.map(str::to_string),
            app: None,
            statuses: None,
            created_within: None,
            operation: Default::default(),
        }
    }

    /// The plan's pace with these two values and the defaults for the rest.
    fn paced(parallelism: u32, requests_per_second: u32) -> Pacing {
        Pacing::new(
            RunTuning {
                parallelism,
                requests_per_second,
                ..RunTuning::resolve(None, &desired_with(Vec::new()))
            },
            RetryPolicy::default(),
        )
    }

    fn desired_with(selectors: Vec<select::SelectorSpec>) -> DesiredState {
        DesiredState {
            version: 1,
            provider: crate::config::Provider {
                region: "cn-hangzhou".to_string(),
                endpoint: None,
                profile: None,
                signature_algorithm: Default::default(),
                endpoint_type: Default::default(),
            },
            apply: crate::config::ApplySettings::default(),
            state: None,
            state_name: None,
            change_orders: Vec::new(),
            selectors,
        }
    }

    async fn resolve_against(
        simulator: &crate::sim::Simulator,
        desired: &DesiredState,
        pacing: &Pacing,
    ) -> anyhow::Result<Vec<select::Selected>> {
        let endpoint = crate::edas::endpoint::resolve_endpoint(
            Some(&simulator.endpoint()),
            None,
            "cn-hangzhou",
            Default::default(),
        )
        .unwrap();
        resolve_selectors_with(
            desired,
            &endpoint,
            SystemTime::now(),
            Some(crate::sim::SimConfig::default().credentials()),
            pacing,
        )
        .await
    }

    #[tokio::test]
    async fn selector_listings_start_at_the_configured_rate_so_a_quota_that_allows_it_never_throttles()
     {
        // 12 applications against a service quota of 10 a second (a burst of 10 allowed):
        // unpaced, the last listings would be throttled; at 10 a second none is.
        let simulator = simulator_with_apps(12, 10).await;
        let mut selectors: Vec<_> = (0..12)
            .map(|index| selector(&format!("app-{index}"), None))
            .collect();
        // A second selector over app-3 is answered from the same listing.
        selectors.push(selector("app-3", None));
        let selected = resolve_against(&simulator, &desired_with(selectors), &paced(4, 10))
            .await
            .unwrap();
        let found: Vec<&str> = selected
            .iter()
            .map(|found| found.change_order_id.as_str())
            .collect();
        let mut expected: Vec<String> = (0..12).map(|index| format!("co-{index}")).collect();
        expected.push("co-3".to_string());
        assert_eq!(found, expected, "selector order, whatever answered first");
        let totals = simulator.shutdown_with_stats().await.totals;
        assert_eq!(totals.list_requests, 12, "one listing per application");
        assert_eq!(totals.throttled, 0, "{totals:?}");
    }

    #[tokio::test]
    async fn throttled_listings_slow_the_pace_and_are_asked_again_until_every_application_answers()
    {
        // Configured far above the service's quota of 3 a second: the listings are
        // throttled, the shared pace drops, and each throttled one is asked again.
        let simulator = simulator_with_apps(6, 3).await;
        let mut selectors: Vec<_> = (0..6)
            .map(|index| selector(&format!("app-{index}"), None))
            .collect();
        selectors.push(selector("", Some("name-5")));
        let pacing = paced(6, 100);
        let selected = resolve_against(&simulator, &desired_with(selectors), &pacing)
            .await
            .unwrap();
        assert_eq!(selected.len(), 7);
        assert_eq!(selected[6].app_id, "app-5");
        assert!(pacing.pacer.rate() < 100.0, "{}", pacing.pacer.rate());
        let totals = simulator.shutdown_with_stats().await.totals;
        assert!(totals.throttled > 0, "{totals:?}");
        assert_eq!(
            totals.application_list_requests + totals.list_requests,
            totals.requests
        );
        // Every request that was not throttled answered one application (or the one
        // ListApplication): nothing was asked twice once answered.
        assert_eq!(totals.requests - totals.throttled, 6 + 1, "{totals:?}");
    }

    #[tokio::test]
    async fn a_listing_refused_for_permission_fails_the_plan_naming_the_application() {
        let simulator = crate::sim::Simulator::start(
            ([127, 0, 0, 1], 0).into(),
            crate::sim::SimConfig {
                denied: Some(401),
                ..crate::sim::SimConfig::default()
            },
        )
        .await
        .unwrap();
        let error = resolve_against(
            &simulator,
            &desired_with(vec![selector("app-0", None)]),
            &paced(4, 10),
        )
        .await
        .unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("ListRecentChangeOrder for application `app-0` was refused"),
            "{message}"
        );
        simulator.shutdown().await;
    }
}
