//! The apply sequence on any [`StateStore`], in one place for `apply`, `rehearse` and the
//! benchmarks: [`Run::start`] takes the lock for the whole run and loads the state (folding a
//! leftover journal first); the command then plans or checks its saved plan, renders it and
//! asks for approval; [`Run::execute`] begins the write-ahead journal, drives the engine over
//! the plan's aborts, waits for rollbacks when asked, folds the journal into the state once,
//! saves it (serial and lineage checked), finishes the journal and unlocks. It decides
//! nothing about change orders (the engine and the pure fold do) and prints nothing (events
//! go to the [`Reporter`]).

use super::adapters::RecordingJournal;
use super::engine::{
    AbortTask, RollbackTarget, WaitReport, observed_records, rfc3339, unfinished_rollbacks,
};
use super::{ApplyError, ApplyReport, CancelToken, Engine, EngineConfig, Reporter, SystemClock};
use super::{
    Transport,
    journal_writer::{Durability, WriterResult},
};
use crate::plan::Plan;
use crate::state::journal::{FoldError, JournalRecord, fold_owned};
use crate::state::store::{LoadedState, StateStore, StoreError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How `--wait` watches rollbacks.
#[derive(Clone, Copy, Debug)]
pub struct WaitSettings {
    pub poll_interval: Duration,
    pub timeout: Duration,
}

/// The engine's settings for one run, and whether to wait for rollbacks.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub engine: EngineConfig,
    pub wait: Option<WaitSettings>,
    /// Named in the journal's `begin` record (`apply`).
    pub operation: String,
    /// The endpoint the requests go to, recorded in the journal's `begin` record.
    pub endpoint: Option<String>,
    /// Counts the run's journal records as they are queued and made durable, for a reporter
    /// that writes a line only once what it reports is durable (the CLI's batched stdout).
    pub durability: Arc<Durability>,
}

/// Why the run's results did not reach the state; they are in the journal then, for the
/// next command to fold.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot fold the journal `{journal}`")]
    Fold {
        journal: String,
        #[source]
        source: FoldError,
    },
    #[error(
        "the journal writer was lost; the journal `{journal}` is left for the next command to fold"
    )]
    WriterLost { journal: String },
}

/// What a run did.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: ApplyReport,
    pub wait: Option<WaitReport>,
    /// A journal write that failed and stopped the run (nothing was sent without a durable
    /// intent).
    pub journal_error: Option<ApplyError>,
    /// Fdatasyncs (or commits) of the journal during the run.
    pub syncs: u64,
    pub journal_bytes: u64,
    /// The fold and save at the end.
    pub saved: Result<(), RunError>,
}

/// A run holding its store's lock, with the state loaded.
pub struct Run<'s, S: StateStore> {
    store: &'s S,
    lock: S::Lock,
    loaded: LoadedState,
}

impl<'s, S: StateStore> Run<'s, S> {
    /// Takes the lock (at once, or waiting up to `lock_timeout`) and loads the state; a
    /// leftover journal is folded and saved first.
    pub fn start(
        store: &'s S,
        operation: &str,
        lock_timeout: Duration,
        tool_version: &str,
    ) -> Result<Self, StoreError> {
        let lock = store.lock(operation, lock_timeout)?;
        let loaded = store.load_for_update(&lock, tool_version)?;
        Ok(Run {
            store,
            lock,
            loaded,
        })
    }

    pub fn loaded(&self) -> &LoadedState {
        &self.loaded
    }

    /// Carries out `plan`'s aborts through `transport`: journal, engine, optional wait, one
    /// fold and save, journal finished, lock released. `Err` only when the journal could not
    /// be begun (nothing was sent then).
    pub async fn execute<T: Transport, R: Reporter>(
        self,
        plan: &Plan,
        transport: T,
        reporter: &mut R,
        cancel: &CancelToken,
        settings: &RunSettings,
    ) -> Result<RunOutcome, StoreError> {
        let Run {
            store,
            lock,
            loaded,
        } = self;
        let tasks = AbortTask::from_plan(plan, &loaded.state);
        let begin = JournalRecord::Begin {
            lineage: loaded.state.lineage.clone(),
            serial: loaded.state.serial,
            at: rfc3339(SystemTime::now()),
            operation: settings.operation.clone(),
            endpoint: settings.endpoint.clone(),
        };
        let writer = store.begin_journal(&lock, &begin)?;
        let journal_location = crate::state::store::StoreJournal::location(&writer);
        let engine = Engine::start_counted(
            transport,
            RecordingJournal::new(writer, begin),
            SystemClock,
            settings.engine,
            Arc::clone(&settings.durability),
        );
        // What a refreshed plan saw and needs no request: recorded so the state converges.
        // A journal error here shows up as the writer's error at `finish`.
        let _ = engine.record(observed_records(
            plan,
            &loaded.state,
            &rfc3339(SystemTime::now()),
        ));
        // Only `--wait` needs these: not copied otherwise.
        let task_ids: Vec<_> = match settings.wait {
            Some(_) => tasks
                .iter()
                .map(|task| task.change_order_id.clone())
                .collect(),
            None => Vec::new(),
        };
        let app_ids: std::collections::HashMap<_, _> = match settings.wait {
            Some(_) => tasks
                .iter()
                .filter_map(|task| {
                    let app_id = task.app_id.clone()?;
                    Some((task.change_order_id.clone(), app_id))
                })
                .collect(),
            None => std::collections::HashMap::new(),
        };
        let mut report = engine.abort_all(tasks, reporter, cancel).await;
        let wait = match settings.wait {
            Some(wait) if !report.interrupted && report.fatal.is_none() => {
                // Aborts confirmed by status after a lost answer: their rollback change
                // order is looked up so it can be followed too (docs/APPLY.md).
                let not_followed = engine
                    .find_rollback_ids(&mut report.aborted, &app_ids, cancel)
                    .await;
                let mut targets = rollback_targets(&report);
                let without_rollback_id = report.aborted.len() - targets.len();
                // Rollbacks an earlier run never saw end: `apply --wait` resumes them.
                targets.extend(unfinished_rollbacks(&loaded.state, &task_ids));
                let mut watched = engine
                    .wait_for_rollbacks(targets, wait.poll_interval, wait.timeout, reporter, cancel)
                    .await;
                watched.without_rollback_id = without_rollback_id;
                watched.not_followed = not_followed;
                Some(watched)
            }
            _ => None,
        };
        let WriterResult {
            sink,
            error: journal_error,
            syncs,
        } = engine.finish().await;
        let mut journal_bytes = 0;
        let saved = match sink {
            Some(journal) => {
                journal_bytes = journal.bytes_written();
                save(store, &lock, &loaded, journal)
            }
            None => Err(RunError::WriterLost {
                journal: journal_location,
            }),
        };
        // The lock goes last, after the save; a failed unlock only leaves the lock to the
        // end of the process (its OS lock or database session).
        let _ = store.unlock(lock);
        Ok(RunOutcome {
            report,
            wait,
            journal_error,
            syncs,
            journal_bytes,
            saved,
        })
    }
}

/// Folds this run's journal into the state, saves it, then finishes (removes) the journal.
/// If saving fails the journal stays, and the next command folds it.
fn save<S: StateStore>(
    store: &S,
    lock: &S::Lock,
    loaded: &LoadedState,
    journal: RecordingJournal<S::Journal>,
) -> Result<(), RunError> {
    let (writer, records) = journal.into_parts();
    // The records and the folded state are needed no more: moved, not copied.
    let folded = fold_owned(loaded.state.clone(), records).map_err(|source| RunError::Fold {
        journal: crate::state::store::StoreJournal::location(&writer),
        source,
    })?;
    store.save_owned(lock, loaded, folded)?;
    store.finish_journal(lock, writer)?;
    Ok(())
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
