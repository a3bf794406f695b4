//! The PostgreSQL state store (docs/state-store.md): one database holds any number of named
//! states in its own schema, created on first use with versioned migrations; a state's
//! lineage and serial are a row, its records one row per change order, its write-ahead
//! journal one row per record.
//!
//! One dedicated connection per command, on its own thread and runtime (so the synchronous
//! [`StateStore`] calls work from inside apply's runtime), holds the lock for the whole
//! command: a session advisory lock keyed by schema and state name (no global lock), plus a
//! row naming the holder for refusals and `force-unlock`. The connection lost means the lock
//! lost: every later call fails, so a run starts nothing new (every intent must be committed
//! before its request leaves). Folding a leftover journal, saving it and deleting its rows is
//! one transaction.

pub mod location;

use crate::state::journal::{self, JournalRecord};
use crate::state::model::{ChangeOrderRecord, STATE_FORMAT_VERSION, State};
use crate::state::store::{
    LoadedState, LockInfo, Recovery, SaveOutcome, StateStore, StoreError, StoreJournal,
};
pub use location::{PgLocation, is_postgres_url};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio_postgres::Client;
use tokio_postgres::config::SslMode;

/// The newest schema version this build knows; a newer database schema is refused.
pub const SCHEMA_VERSION: i32 = 1;
const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The longest one statement (or transaction) may take before the connection counts as
/// lost. A save of 100,000 records takes seconds; a commit, milliseconds.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

type Job = Box<dyn FnOnce(Arc<Client>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The dedicated connection: a thread running a small runtime that owns the client and its
/// connection, taking one job at a time.
struct Db {
    jobs: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    lost: Arc<AtomicBool>,
    /// The lock this session holds, if any: advisory locks nest within a session, so a
    /// second `lock` through the same connection must be refused here, as the local store's
    /// OS lock refuses a second handle.
    held: std::sync::Mutex<Option<LockInfo>>,
    thread: Option<std::thread::JoinHandle<()>>,
    shown: String,
}

impl Db {
    fn connect(location: &PgLocation) -> Result<Db, StoreError> {
        let config = location.config.clone();
        let shown = location.shown.clone();
        let lost = Arc::new(AtomicBool::new(false));
        let (jobs, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (ready, connected) = std::sync::mpsc::sync_channel::<Result<(), StoreError>>(1);
        let lost_flag = lost.clone();
        let state = shown.clone();
        let thread = std::thread::Builder::new()
            .name("postgres".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(source) => {
                        let _ = ready.send(Err(StoreError::Io {
                            action: "start the runtime for",
                            path: PathBuf::from(state),
                            source,
                        }));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let client = match connect(&config).await {
                        Ok((client, connection)) => {
                            let lost = lost_flag.clone();
                            tokio::spawn(async move {
                                let _ = connection.await;
                                lost.store(true, Ordering::SeqCst);
                            });
                            client
                        }
                        Err(source) => {
                            let _ = ready.send(Err(StoreError::Postgres {
                                state,
                                action: "connect to",
                                source,
                            }));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    let client = Arc::new(client);
                    while let Some(job) = receiver.recv().await {
                        job(client.clone()).await;
                    }
                    // Dropping the client ends the session, and with it any advisory lock.
                });
            })
            .map_err(|source| StoreError::Io {
                action: "start the connection thread for",
                path: PathBuf::from(&shown),
                source,
            })?;
        match connected.recv() {
            Ok(Ok(())) => Ok(Db {
                jobs: Some(jobs),
                lost,
                held: std::sync::Mutex::new(None),
                thread: Some(thread),
                shown,
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => Err(StoreError::ConnectionLost { state: shown }),
        }
    }

    /// Runs `job` on the connection and waits for its result.
    fn call<T, F, Fut>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let lost = || StoreError::ConnectionLost {
            state: self.shown.clone(),
        };
        if self.lost.load(Ordering::SeqCst) {
            return Err(lost());
        }
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(lost)?;
        jobs.send(Box::new(move |client| {
            Box::pin(async move {
                let _ = sender.send(job(client).await);
            })
        }))
        .map_err(|_| lost())?;
        // A connection that hangs (a network partition without a reset) must not hang the
        // run: after CALL_TIMEOUT the connection counts as lost, and with it the lock.
        let result = match receiver.recv_timeout(CALL_TIMEOUT) {
            Ok(result) => result,
            Err(_) => {
                self.lost.store(true, Ordering::SeqCst);
                return Err(lost());
            }
        };
        match result {
            Err(StoreError::Postgres { source, .. })
                if source.is_closed() || self.lost.load(Ordering::SeqCst) =>
            {
                Err(lost())
            }
            other => other,
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Closing the job channel ends the thread, which closes the session.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn connect(
    config: &tokio_postgres::Config,
) -> Result<
    (
        Client,
        Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>,
    ),
    tokio_postgres::Error,
> {
    if config.get_ssl_mode() == SslMode::Disable {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        return Ok((client, Box::pin(connection)));
    }
    let (client, connection) = config.connect(tls()).await?;
    Ok((client, Box::pin(connection)))
}

/// rustls with the ring provider, verifying against the platform's roots (as the EDAS client
/// does). Used for TCP hosts when `sslmode` is not `disable`; sockets never use TLS.
fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()
        .and_then(|builder| {
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).ok()?;
            Some(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
                    .with_no_client_auth(),
            )
        })
        .unwrap_or_else(|| {
            // No platform roots: an empty store makes every TLS handshake fail (never
            // unverified), and `sslmode=prefer` falls back to plain as libpq does.
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    builder
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                })
                .unwrap_or_else(|_| {
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                })
        });
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

/// A named state in a PostgreSQL database. Opening it connects (one dedicated connection for
/// the whole command) and brings the schema up to date.
pub struct PgStore {
    db: Arc<Db>,
    schema: String,
    name: String,
    shown: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("state", &self.shown)
            .finish_non_exhaustive()
    }
}

/// A held PostgreSQL state lock: the session advisory lock plus the holder row. Dropping it
/// unlocks; a lost session has lost it already.
#[derive(Debug)]
pub struct PgLock {
    info: LockInfo,
    db: Arc<Db>,
    schema: String,
    name: String,
    released: AtomicBool,
}

impl Drop for PgLock {
    fn drop(&mut self) {
        if !self.released.swap(true, Ordering::SeqCst) {
            let _ = unlock_call(&self.db, &self.schema, &self.name, &self.info.id);
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("state", &self.shown)
            .finish_non_exhaustive()
    }
}

/// The journal of one run: rows in `<schema>.journal`. `append` buffers; `sync` inserts
/// everything buffered in one autocommitted statement (group commit).
#[derive(Debug)]
pub struct PgJournal {
    db: Arc<Db>,
    schema: String,
    name: String,
    pending: Vec<String>,
    bytes_written: u64,
    shown: String,
}

fn pg(state: &str, action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    let state = state.to_string();
    move |source| StoreError::Postgres {
        state,
        action,
        source,
    }
}

fn lock_info(operation: &str) -> LockInfo {
    LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        operation: operation.to_string(),
        who: LockInfo::current_user(),
        pid: std::process::id(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
    }
}

fn unlock_call(db: &Db, schema: &str, name: &str, id: &str) -> Result<(), StoreError> {
    if let Ok(mut held) = db.held.lock() {
        held.take();
    }
    let (schema, name, id, shown) = (
        schema.to_string(),
        name.to_string(),
        id.to_string(),
        db.shown.clone(),
    );
    db.call(move |client| async move {
        client
            .execute(
                &format!("DELETE FROM {schema}.locks WHERE state = $1 AND id = $2"),
                &[&name, &id],
            )
            .await
            .map_err(pg(&shown, "remove the lock row of"))?;
        client
            .execute(
                "SELECT pg_advisory_unlock(hashtext($1), hashtext($2))",
                &[&schema, &name],
            )
            .await
            .map_err(pg(&shown, "unlock"))?;
        Ok(())
    })
}

/// Versioned migrations, applied in order under a transaction-scoped advisory lock on the
/// schema (taken only when the schema is behind, so states never wait on each other).
fn migrations(schema: &str) -> Vec<(i32, String)> {
    vec![(
        1,
        format!(
            "CREATE TABLE {schema}.states (
                 name text PRIMARY KEY,
                 lineage text NOT NULL,
                 serial bigint NOT NULL,
                 format_version integer NOT NULL,
                 tool_version text NOT NULL,
                 updated_at timestamptz NOT NULL DEFAULT now());
             CREATE TABLE {schema}.records (
                 state text NOT NULL REFERENCES {schema}.states (name) ON DELETE CASCADE,
                 change_order_id text NOT NULL,
                 record text NOT NULL,
                 PRIMARY KEY (state, change_order_id));
             CREATE TABLE {schema}.journal (
                 state text NOT NULL,
                 seq bigserial NOT NULL,
                 record text NOT NULL,
                 PRIMARY KEY (state, seq));
             CREATE TABLE {schema}.locks (
                 state text PRIMARY KEY,
                 id text NOT NULL,
                 operation text NOT NULL,
                 who text NOT NULL,
                 host text NOT NULL,
                 pid bigint NOT NULL,
                 created text NOT NULL,
                 backend_pid integer NOT NULL);"
        ),
    )]
}

/// The holder row of the state's lock, for the "locked by" error and `force-unlock`.
async fn lock_holder(
    client: &Client,
    schema: &str,
    name: &str,
    shown: &str,
) -> Result<Option<LockInfo>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT id, operation, who, host, pid, created FROM {schema}.locks \
                 WHERE state = $1"
            ),
            &[&name],
        )
        .await
        .map_err(pg(shown, "read the lock row of"))?;
    Ok(row.map(|row| LockInfo {
        id: row.get(0),
        operation: row.get(1),
        who: row.get(2),
        host: row.get(3),
        pid: u32::try_from(row.get::<_, i64>(4)).unwrap_or_default(),
        created: row.get(5),
    }))
}

async fn migrate(client: &Client, schema: &str, shown: &str) -> Result<(), StoreError> {
    let current = client
        .query_opt(
            &format!("SELECT max(version) FROM {schema}.schema_migrations"),
            &[],
        )
        .await
        .ok()
        .flatten()
        .and_then(|row| row.get::<_, Option<i32>>(0));
    if current == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    if let Some(found) = current
        && found > SCHEMA_VERSION
    {
        return Err(StoreError::PgSchemaNewer {
            schema: schema.to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    client
        .batch_execute("BEGIN")
        .await
        .map_err(pg(shown, "begin the schema migration of"))?;
    let result = async {
        client
            .execute(
                "SELECT pg_advisory_xact_lock(hashtext('edas_rollback.migrate'), hashtext($1))",
                &[&schema],
            )
            .await?;
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                     version integer PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now());"
            ))
            .await?;
        let row = client
            .query_one(
                &format!("SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations"),
                &[],
            )
            .await?;
        let at: i32 = row.get(0);
        for (version, sql) in migrations(schema) {
            if version > at {
                client.batch_execute(&sql).await?;
                client
                    .execute(
                        &format!("INSERT INTO {schema}.schema_migrations (version) VALUES ($1)"),
                        &[&version],
                    )
                    .await?;
            }
        }
        client.batch_execute("COMMIT").await
    }
    .await;
    if let Err(source) = result {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(StoreError::Postgres {
            state: shown.to_string(),
            action: "create or migrate the schema of",
            source,
        });
    }
    Ok(())
}

/// The state row and its records, or `None` when the state has never been saved.
async fn read_state(
    client: &Client,
    schema: &str,
    name: &str,
    shown: &str,
    for_update: bool,
) -> Result<Option<State>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT lineage, serial, format_version, tool_version FROM {schema}.states \
                 WHERE name = $1{}",
                if for_update { " FOR UPDATE" } else { "" }
            ),
            &[&name],
        )
        .await
        .map_err(pg(shown, "read"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let format_version: i32 = row.get(2);
    if format_version > STATE_FORMAT_VERSION as i32 {
        return Err(StoreError::NewerFormat {
            path: PathBuf::from(shown),
            found: format_version as u32,
            supported: STATE_FORMAT_VERSION,
        });
    }
    let serial: i64 = row.get(1);
    let mut state = State::new_empty(row.get::<_, String>(0), row.get::<_, String>(3));
    state.serial = serial as u64;
    state.format_version = format_version as u32;
    let rows = client
        .query(
            &format!("SELECT change_order_id, record FROM {schema}.records WHERE state = $1"),
            &[&name],
        )
        .await
        .map_err(pg(shown, "read the records of"))?;
    for row in rows {
        let id: String = row.get(0);
        let text: String = row.get(1);
        let record: ChangeOrderRecord =
            serde_json::from_str(&text).map_err(|source| StoreError::PgRowCorrupt {
                state: shown.to_string(),
                what: format!("record of change order `{id}`"),
                source,
            })?;
        state
            .change_orders
            .insert(crate::ids::ChangeOrderId::new(id), record);
    }
    Ok(Some(state))
}

async fn read_journal(
    client: &Client,
    schema: &str,
    name: &str,
    shown: &str,
) -> Result<Vec<JournalRecord>, StoreError> {
    let rows = client
        .query(
            &format!("SELECT seq, record FROM {schema}.journal WHERE state = $1 ORDER BY seq"),
            &[&name],
        )
        .await
        .map_err(pg(shown, "read the journal of"))?;
    rows.iter()
        .map(|row| {
            let seq: i64 = row.get(0);
            let text: String = row.get(1);
            serde_json::from_str(&text).map_err(|source| StoreError::PgRowCorrupt {
                state: shown.to_string(),
                what: format!("journal row {seq}"),
                source,
            })
        })
        .collect()
}

/// The save inside an open transaction: the serial/lineage check, then only the records that
/// changed are written.
async fn save_in(
    client: &Client,
    schema: &str,
    name: &str,
    shown: &str,
    loaded: &LoadedState,
    new_state: &State,
    exact: bool,
) -> Result<SaveOutcome, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT lineage, serial FROM {schema}.states WHERE name = $1 FOR UPDATE"),
            &[&name],
        )
        .await
        .map_err(pg(shown, "read"))?;
    let on_disk: Option<(String, u64)> =
        row.map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1) as u64));
    let still_loaded = match (&on_disk, loaded.existed) {
        (Some((lineage, serial)), true) => {
            *serial == loaded.state.serial && *lineage == loaded.state.lineage
        }
        (None, false) => true,
        _ => false,
    };
    if !still_loaded {
        let describe = |found: Option<(&str, u64)>| match found {
            Some((lineage, serial)) => format!("{serial} of lineage `{lineage}`"),
            None => "none (no state)".to_string(),
        };
        return Err(StoreError::SerialMoved {
            path: PathBuf::from(shown),
            loaded: describe(
                loaded
                    .existed
                    .then_some((loaded.state.lineage.as_str(), loaded.state.serial)),
            ),
            found: describe(
                on_disk
                    .as_ref()
                    .map(|(lineage, serial)| (lineage.as_str(), *serial)),
            ),
        });
    }
    let unchanged = !loaded.state.content_differs(new_state)
        && (!exact || (loaded.existed && loaded.state.serial == new_state.serial));
    if unchanged {
        return Ok(SaveOutcome::Unchanged);
    }
    let mut written = new_state.clone();
    written.format_version = STATE_FORMAT_VERSION;
    if !exact {
        written.serial = loaded.state.serial + 1;
    }
    let serial = written.serial as i64;
    let format_version = written.format_version as i32;
    client
        .execute(
            &format!(
                "INSERT INTO {schema}.states (name, lineage, serial, format_version, tool_version) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET \
                 lineage = EXCLUDED.lineage, serial = EXCLUDED.serial, \
                 format_version = EXCLUDED.format_version, \
                 tool_version = EXCLUDED.tool_version, updated_at = now()"
            ),
            &[
                &name,
                &written.lineage,
                &serial,
                &format_version,
                &written.tool_version,
            ],
        )
        .await
        .map_err(pg(shown, "save"))?;
    let previous = if loaded.existed {
        &loaded.state.change_orders
    } else {
        &BTreeMap::new()
    };
    let mut ids = Vec::new();
    let mut records = Vec::new();
    for (id, record) in &written.change_orders {
        if previous.get(id) != Some(record) {
            ids.push(id.as_str().to_string());
            records.push(
                serde_json::to_string(record).map_err(|source| StoreError::Encode {
                    path: PathBuf::from(shown),
                    source,
                })?,
            );
        }
    }
    if !ids.is_empty() {
        client
            .execute(
                &format!(
                    "INSERT INTO {schema}.records (state, change_order_id, record) \
                     SELECT $1, id, record FROM unnest($2::text[], $3::text[]) AS t (id, record) \
                     ON CONFLICT (state, change_order_id) DO UPDATE SET record = EXCLUDED.record"
                ),
                &[&name, &ids, &records],
            )
            .await
            .map_err(pg(shown, "save the records of"))?;
    }
    let removed: Vec<String> = previous
        .keys()
        .filter(|id| !written.change_orders.contains_key(*id))
        .map(|id| id.as_str().to_string())
        .collect();
    if !removed.is_empty() {
        client
            .execute(
                &format!(
                    "DELETE FROM {schema}.records WHERE state = $1 AND change_order_id = ANY($2)"
                ),
                &[&name, &removed],
            )
            .await
            .map_err(pg(shown, "remove records of"))?;
    }
    Ok(SaveOutcome::Written { state: written })
}

/// Runs `body` in a transaction: committed when it returns `Ok`, rolled back otherwise.
async fn in_transaction<T, F>(client: &Client, shown: &str, body: F) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, StoreError>>,
{
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(pg(shown, "begin a transaction on"))?;
    match body.await {
        Ok(value) => {
            client
                .batch_execute("COMMIT")
                .await
                .map_err(pg(shown, "commit to"))?;
            Ok(value)
        }
        Err(error) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(error)
        }
    }
}

impl PgStore {
    /// Connects for this command and brings the schema up to date.
    pub fn open(location: &PgLocation) -> Result<PgStore, StoreError> {
        let db = Arc::new(Db::connect(location)?);
        let schema = location.schema.clone();
        let shown = location.shown.clone();
        {
            let (schema, shown) = (schema.clone(), shown.clone());
            db.call(move |client| async move { migrate(&client, &schema, &shown).await })?;
        }
        Ok(PgStore {
            db,
            schema,
            name: location.name.clone(),
            shown,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The state as saved, without folding anything and without the lock (`state pull`
    /// under a lock uses `load_for_update`).
    pub fn read(&self) -> Result<Option<State>, StoreError> {
        let (schema, name, shown) = self.parts();
        self.db.call(move |client| async move {
            in_transaction(&client, &shown, async {
                read_state(&client, &schema, &name, &shown, false).await
            })
            .await
        })
    }

    /// Rows in this state's journal (0 when no run is in progress and none was left).
    pub fn journal_rows(&self) -> Result<i64, StoreError> {
        let (schema, name, shown) = self.parts();
        self.db.call(move |client| async move {
            let row = client
                .query_one(
                    &format!("SELECT count(*) FROM {schema}.journal WHERE state = $1"),
                    &[&name],
                )
                .await
                .map_err(pg(&shown, "count the journal of"))?;
            Ok(row.get::<_, i64>(0))
        })
    }

    fn parts(&self) -> (String, String, String) {
        (self.schema.clone(), self.name.clone(), self.shown.clone())
    }

    fn check_lock(&self, lock: &PgLock) -> Result<(), StoreError> {
        if !Arc::ptr_eq(&lock.db, &self.db) || lock.name != self.name {
            return Err(StoreError::WrongLock {
                path: PathBuf::from(&self.shown),
                lock: PathBuf::from(&lock.name),
            });
        }
        if self.db.lost.load(Ordering::SeqCst) {
            return Err(StoreError::ConnectionLost {
                state: self.shown.clone(),
            });
        }
        Ok(())
    }

    fn try_lock_once(
        &self,
        operation: &str,
    ) -> Result<Result<PgLock, Option<LockInfo>>, StoreError> {
        if let Ok(held) = self.db.held.lock()
            && let Some(info) = held.as_ref()
        {
            return Ok(Err(Some(info.clone())));
        }
        let info = lock_info(operation);
        let (schema, name, shown) = self.parts();
        let row_info = info.clone();
        let taken = self.db.call(move |client| async move {
            let row = client
                .query_one(
                    "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))",
                    &[&schema, &name],
                )
                .await
                .map_err(pg(&shown, "lock"))?;
            if row.get::<_, bool>(0) {
                let info = &row_info;
                client
                    .execute(
                        &format!(
                            "INSERT INTO {schema}.locks \
                             (state, id, operation, who, host, pid, created, backend_pid) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, pg_backend_pid()) \
                             ON CONFLICT (state) DO UPDATE SET id = EXCLUDED.id, \
                             operation = EXCLUDED.operation, who = EXCLUDED.who, \
                             host = EXCLUDED.host, pid = EXCLUDED.pid, \
                             created = EXCLUDED.created, backend_pid = EXCLUDED.backend_pid"
                        ),
                        &[
                            &name,
                            &info.id,
                            &info.operation,
                            &info.who,
                            &info.host,
                            &i64::from(info.pid),
                            &info.created,
                        ],
                    )
                    .await
                    .map_err(pg(&shown, "write the lock row of"))?;
                return Ok(Ok(()));
            }
            let holder = lock_holder(&client, &schema, &name, &shown).await?;
            Ok(Err(holder))
        })?;
        if taken.is_ok()
            && let Ok(mut held) = self.db.held.lock()
        {
            *held = Some(info.clone());
        }
        Ok(taken.map(|()| PgLock {
            info,
            db: self.db.clone(),
            schema: self.schema.clone(),
            name: self.name.clone(),
            released: AtomicBool::new(false),
        }))
    }

    /// Loads with the journal folded, inside one transaction: fold, save, delete the rows.
    fn load_folding(&self, tool_version: &str) -> Result<LoadedState, StoreError> {
        let (schema, name, shown) = self.parts();
        let tool_version = tool_version.to_string();
        self.db.call(move |client| async move {
            in_transaction(&client, &shown.clone(), async {
                let on_disk = read_state(&client, &schema, &name, &shown, true).await?;
                let records = read_journal(&client, &schema, &name, &shown).await?;
                let existed = on_disk.is_some();
                let mut state = match on_disk {
                    Some(mut state) => {
                        state.tool_version = tool_version.clone();
                        state
                    }
                    // As the local store: a journal without a state carries the lineage and
                    // serial the unsaved state had.
                    None => match records.first() {
                        Some(JournalRecord::Begin {
                            lineage, serial, ..
                        }) => {
                            let mut state = State::new_empty(lineage.clone(), &tool_version);
                            state.serial = *serial;
                            state
                        }
                        _ => State::new_empty(uuid::Uuid::new_v4().to_string(), &tool_version),
                    },
                };
                let loaded = LoadedState {
                    state: state.clone(),
                    existed,
                    recovered: None,
                    live_journal: None,
                };
                if records.is_empty() {
                    return Ok(loaded);
                }
                let journal_path = PathBuf::from(format!("{shown} journal"));
                let folded = journal::fold(state.clone(), &records).map_err(|source| {
                    StoreError::JournalFold {
                        path: journal_path.clone(),
                        state: PathBuf::from(&shown),
                        source,
                    }
                })?;
                let unanswered = journal::unanswered_aborts(&records);
                let unknown = unanswered
                    .iter()
                    .filter(|id| {
                        folded.change_orders.get(*id).is_some_and(|record| {
                            record.status == crate::state::RecordStatus::Unknown
                        })
                    })
                    .count();
                let mut existed = existed;
                if let SaveOutcome::Written { state: written } =
                    save_in(&client, &schema, &name, &shown, &loaded, &folded, false).await?
                {
                    state = written;
                    existed = true;
                }
                client
                    .execute(
                        &format!("DELETE FROM {schema}.journal WHERE state = $1"),
                        &[&name],
                    )
                    .await
                    .map_err(pg(&shown, "delete the folded journal of"))?;
                Ok(LoadedState {
                    recovered: Some(Recovery {
                        journal_path,
                        records: records.len(),
                        unknown,
                        torn_last_line: false,
                        serial: state.serial,
                    }),
                    state,
                    existed,
                    live_journal: None,
                })
            })
            .await
        })
    }

    fn save_with(
        &self,
        lock: &PgLock,
        loaded: &LoadedState,
        new_state: &State,
        exact: bool,
    ) -> Result<SaveOutcome, StoreError> {
        self.check_lock(lock)?;

        let (schema, name, shown) = self.parts();
        let loaded = loaded.clone();
        let new_state = new_state.clone();
        self.db.call(move |client| async move {
            in_transaction(&client, &shown.clone(), async {
                save_in(&client, &schema, &name, &shown, &loaded, &new_state, exact).await
            })
            .await
        })
    }
}

impl StateStore for PgStore {
    type Lock = PgLock;
    type Journal = PgJournal;

    fn location(&self) -> String {
        self.shown.clone()
    }

    fn lock(&self, operation: &str, timeout: Duration) -> Result<PgLock, StoreError> {
        let started = Instant::now();
        loop {
            let holder = match self.try_lock_once(operation)? {
                Ok(lock) => return Ok(lock),
                Err(holder) => holder,
            };
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(StoreError::Locked {
                    path: PathBuf::from(&self.shown),
                    info: holder.map(Box::new),
                    waited,
                });
            }
            std::thread::sleep(LOCK_POLL_INTERVAL.min(timeout - waited));
        }
    }

    fn lock_info(lock: &PgLock) -> &LockInfo {
        &lock.info
    }

    fn load_for_update(
        &self,
        lock: &PgLock,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError> {
        self.check_lock(lock)?;
        self.load_folding(tool_version)
    }

    fn load_recovering(
        &self,
        operation: &str,
        lock_timeout: Duration,
        tool_version: &str,
    ) -> Result<LoadedState, StoreError> {
        if self.journal_rows()? > 0 {
            match self.lock(operation, lock_timeout) {
                Ok(lock) => {
                    let loaded = self.load_for_update(&lock, tool_version);
                    self.unlock(lock)?;
                    return loaded;
                }
                Err(StoreError::Locked { info, .. }) => {
                    let mut loaded = LoadedState::from_read(self.read()?, tool_version);
                    loaded.live_journal = info.map(|info| *info);
                    return Ok(loaded);
                }
                Err(error) => return Err(error),
            }
        }
        Ok(LoadedState::from_read(self.read()?, tool_version))
    }

    fn begin_journal(&self, lock: &PgLock, begin: &JournalRecord) -> Result<PgJournal, StoreError> {
        self.check_lock(lock)?;
        let journal_path = PathBuf::from(format!("{} journal", self.shown));
        if !matches!(begin, JournalRecord::Begin { .. }) {
            return Err(StoreError::NotABegin { path: journal_path });
        }
        let text = serde_json::to_string(begin).map_err(|source| StoreError::Encode {
            path: journal_path.clone(),
            source,
        })?;
        let bytes = text.len() as u64 + 1;
        let (schema, name, shown) = self.parts();
        let exists = self.db.call(move |client| async move {
            in_transaction(&client, &shown.clone(), async {
                let row = client
                    .query_one(
                        &format!("SELECT EXISTS (SELECT 1 FROM {schema}.journal WHERE state = $1)"),
                        &[&name],
                    )
                    .await
                    .map_err(pg(&shown, "read the journal of"))?;
                if row.get::<_, bool>(0) {
                    return Ok(true);
                }
                client
                    .execute(
                        &format!("INSERT INTO {schema}.journal (state, record) VALUES ($1, $2)"),
                        &[&name, &text],
                    )
                    .await
                    .map_err(pg(&shown, "begin the journal of"))?;
                Ok(false)
            })
            .await
        })?;
        if exists {
            return Err(StoreError::JournalExists { path: journal_path });
        }
        Ok(PgJournal {
            db: self.db.clone(),
            schema: self.schema.clone(),
            name: self.name.clone(),
            pending: Vec::new(),
            bytes_written: bytes,
            shown: self.shown.clone(),
        })
    }

    fn save(
        &self,
        lock: &PgLock,
        loaded: &LoadedState,
        new_state: &State,
    ) -> Result<SaveOutcome, StoreError> {
        self.save_with(lock, loaded, new_state, false)
    }

    fn save_exact(
        &self,
        lock: &PgLock,
        loaded: &LoadedState,
        state: &State,
    ) -> Result<SaveOutcome, StoreError> {
        self.save_with(lock, loaded, state, true)
    }

    fn finish_journal(&self, lock: &PgLock, journal: PgJournal) -> Result<(), StoreError> {
        self.check_lock(lock)?;
        drop(journal);
        let (schema, name, shown) = self.parts();
        self.db.call(move |client| async move {
            client
                .execute(
                    &format!("DELETE FROM {schema}.journal WHERE state = $1"),
                    &[&name],
                )
                .await
                .map_err(pg(&shown, "delete the journal of"))?;
            Ok(())
        })
    }

    fn unlock(&self, lock: PgLock) -> Result<(), StoreError> {
        if lock.released.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        unlock_call(&lock.db, &lock.schema, &lock.name, &lock.info.id)
    }

    fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StoreError> {
        let (schema, name, shown) = self.parts();
        let lock_id = lock_id.to_string();
        let path = PathBuf::from(&self.shown);
        self.db.call(move |client| async move {
            let holder = lock_holder(&client, &schema, &name, &shown).await?;
            let Some(info) = holder else {
                return Err(StoreError::NotLocked { state: shown });
            };
            if info.id != lock_id {
                return Err(StoreError::LockIdMismatch {
                    path,
                    given: lock_id,
                    actual: info.id,
                });
            }
            let free = client
                .query_one(
                    "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))",
                    &[&schema, &name],
                )
                .await
                .map_err(pg(&shown, "lock"))?
                .get::<_, bool>(0);
            if !free {
                // The holder's session is alive: its lock ends with it, never by a row delete.
                return Err(StoreError::LockHeldByLiveProcess {
                    path,
                    info: Box::new(info),
                });
            }
            client
                .execute(
                    &format!("DELETE FROM {schema}.locks WHERE state = $1 AND id = $2"),
                    &[&name, &lock_id],
                )
                .await
                .map_err(pg(&shown, "remove the lock row of"))?;
            client
                .execute(
                    "SELECT pg_advisory_unlock(hashtext($1), hashtext($2))",
                    &[&schema, &name],
                )
                .await
                .map_err(pg(&shown, "unlock"))?;
            Ok(info)
        })
    }
}

impl StoreJournal for PgJournal {
    fn append(&mut self, record: &JournalRecord) -> Result<(), StoreError> {
        let text = serde_json::to_string(record).map_err(|source| StoreError::Encode {
            path: PathBuf::from(format!("{} journal", self.shown)),
            source,
        })?;
        self.bytes_written += text.len() as u64 + 1;
        self.pending.push(text);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.pending);
        let (schema, name, shown) = (self.schema.clone(), self.name.clone(), self.shown.clone());
        // One autocommitted statement: every record of the group is durable at once, in
        // order (the sequence follows unnest's order).
        self.db.call(move |client| async move {
            client
                .execute(
                    &format!(
                        "INSERT INTO {schema}.journal (state, record) \
                         SELECT $1, record FROM unnest($2::text[]) WITH ORDINALITY AS t (record, n) \
                         ORDER BY n"
                    ),
                    &[&name, &records],
                )
                .await
                .map_err(pg(&shown, "write the journal of"))?;
            Ok(())
        })
    }

    fn location(&self) -> String {
        format!("{} journal", self.shown)
    }

    fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}
