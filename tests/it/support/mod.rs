//! The harness of the integration tests (one test binary, `tests/it`): the simulator on its
//! own runtime (so a test can block on child processes, and stop and restart it on the same
//! port), a temp workspace holding a config, and the real binary run in it with a clean
//! environment. Its modules: [`fake_sts`] (loopback STS, metadata service and credentials
//! URI), [`pg_cluster`] (a throwaway PostgreSQL cluster) and [`docs`] (commands and JSON
//! paths read out of the docs).

pub(crate) mod docs;
pub(crate) mod fake_sts;
pub(crate) mod pg_cluster;

use edas_rollback::sim::{Faults, Latency, SimConfig, SimStats, Simulator};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_edas-rollback");

/// The simulator on its own runtime. `stop` and `restart` let a test take the service away
/// mid-run; `history` keeps the counters of every stopped instance so nothing is forgotten.
pub(crate) struct Sim {
    runtime: tokio::runtime::Runtime,
    simulator: Option<Simulator>,
    addr: SocketAddr,
    config: SimConfig,
    /// Counters of the instances stopped so far.
    history: Vec<SimStats>,
}

impl Sim {
    pub(crate) fn start(config: SimConfig) -> Sim {
        Sim::start_on("127.0.0.1:0".parse().unwrap(), config)
    }

    fn start_on(listen: SocketAddr, config: SimConfig) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let simulator = runtime
            .block_on(Simulator::start(listen, config.clone()))
            .unwrap();
        Sim {
            addr: simulator.local_addr(),
            runtime,
            simulator: Some(simulator),
            config,
            history: Vec::new(),
        }
    }

    pub(crate) fn any_id(faults: Faults, seed: u64) -> Sim {
        Sim::start(SimConfig {
            any_id: true,
            faults,
            seed,
            ..SimConfig::default()
        })
    }

    /// Any id exists, and every answer takes `latency`: a run slow enough to interrupt.
    pub(crate) fn slow(latency: Duration, seed: u64) -> Sim {
        Sim::any_id(
            Faults {
                latency: Latency::Fixed(latency),
                ..Faults::default()
            },
            seed,
        )
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The live instance's counters (empty when stopped).
    pub(crate) fn stats(&self) -> SimStats {
        self.simulator
            .as_ref()
            .map(Simulator::stats)
            .unwrap_or_default()
    }

    /// Stops answering: in-flight requests finish, then the port is closed.
    pub(crate) fn stop(&mut self) {
        if let Some(simulator) = self.simulator.take() {
            let stats = self.runtime.block_on(simulator.shutdown_with_stats());
            self.history.push(stats);
        }
    }

    /// A new instance on the same port, carrying over every change order's status, so an
    /// aborted one (status 6) stays stopped as it would on the real service.
    pub(crate) fn restart(&mut self, faults: Faults) {
        self.stop();
        let carried: Vec<_> = self
            .all_change_orders()
            .into_iter()
            .map(|(id, status)| (edas_rollback::ids::ChangeOrderId::new(id), status))
            .collect();
        let config = SimConfig {
            change_orders: carried,
            faults,
            seed: self.config.seed.wrapping_add(self.history.len() as u64),
            ..self.config.clone()
        };
        // The old listener is closed; binding can still race the kernel for a moment.
        let start = Instant::now();
        let simulator = loop {
            match self
                .runtime
                .block_on(Simulator::start(self.addr, config.clone()))
            {
                Ok(simulator) => break simulator,
                Err(error) if start.elapsed() < Duration::from_secs(10) => {
                    eprintln!("rebinding {}: {error}", self.addr);
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(error) => panic!("cannot restart the simulator on {}: {error}", self.addr),
            }
        };
        self.simulator = Some(simulator);
    }

    /// Latest known status of every change order, over all instances.
    fn all_change_orders(&self) -> BTreeMap<String, i32> {
        let mut statuses = BTreeMap::new();
        for stats in self.history.iter().chain(std::iter::once(&self.stats())) {
            for (id, counts) in &stats.change_orders {
                statuses.insert(id.clone(), counts.status);
            }
        }
        statuses
    }

    /// Aborts committed per change order, summed over every instance this test ran.
    pub(crate) fn commits(&self) -> BTreeMap<String, u64> {
        let mut commits = BTreeMap::new();
        for stats in self.history.iter().chain(std::iter::once(&self.stats())) {
            for (id, counts) in &stats.change_orders {
                *commits.entry(id.clone()).or_insert(0) += counts.aborts_committed;
            }
        }
        commits
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(simulator) = self.simulator.take() {
            self.runtime.block_on(simulator.shutdown());
        }
    }
}

/// The one test workspace: a temp dir holding `edas-rollback.yaml` with `count` change
/// orders, built up by chained calls, and the real binary run in it:
///
/// ```ignore
/// let sim = Sim::any_id(Faults::default(), 42);
/// let workspace = Workspace::new(3).apply_settings("request_timeout: 1s").against(&sim);
/// let run = workspace.plan(&["--out", "plan.json"]).expect(0);
/// workspace.apply(&[]).expect(0); // apply --auto-approve
/// ```
///
/// Without [`Workspace::against`] no endpoint is named (the config or nothing decides): for
/// the commands that send nothing (`validate`, `show`, `state`, `plan` without `--refresh`,
/// `completions`, `man`). [`Workspace::config_named`] and [`Workspace::config`] give the config
/// another name or hand-written text; [`Workspace::empty`] is a dir with no config at all.
pub(crate) struct Workspace {
    pub dir: tempfile::TempDir,
    pub ids: Vec<String>,
    /// The config's file name in the dir (`edas-rollback.yaml` unless
    /// [`Workspace::config_named`] says otherwise); runs name it with `-c` only when a test
    /// does.
    config_name: String,
    /// Hand-written config bytes written instead of the generated YAML.
    config_text: Option<Vec<u8>>,
    /// No config file is written (see [`Workspace::empty`]).
    no_config: bool,
    /// Relative to the dir; `None` for the default beside the config.
    state: Option<String>,
    /// YAML under the config's `apply:` key.
    apply: String,
    /// Where [`Workspace::run`] points `--endpoint` (set by [`Workspace::against`]).
    endpoint: Option<String>,
    /// Point runs at the endpoint through `EDAS_ENDPOINT` rather than `--endpoint`.
    endpoint_in_env: bool,
}

impl Workspace {
    pub(crate) fn new(count: usize) -> Workspace {
        Workspace::declaring(numbered_ids(count))
    }

    /// A workspace whose config declares exactly `ids` (each with `app: checkout`).
    pub(crate) fn declaring(ids: Vec<String>) -> Workspace {
        let workspace = Workspace {
            dir: tempfile::tempdir().unwrap(),
            ids,
            config_name: "edas-rollback.yaml".to_string(),
            config_text: None,
            no_config: false,
            state: None,
            apply: String::new(),
            endpoint: None,
            endpoint_in_env: false,
        };
        workspace.write_config();
        workspace
    }

    /// A temp dir with no config in it (nothing there to read).
    pub(crate) fn empty() -> Workspace {
        let mut workspace = Workspace::new(0);
        std::fs::remove_file(workspace.config_path()).unwrap();
        workspace.no_config = true;
        workspace
    }

    /// The config is the file `name` in the dir (the generated one moves there); its default
    /// state is then `<stem>.state.json`. Runs still pass `-c name` themselves, as an SRE
    /// would.
    pub(crate) fn config_named(mut self, name: &str) -> Workspace {
        if !self.no_config {
            std::fs::remove_file(self.config_path()).unwrap();
        }
        self.config_name = name.to_string();
        self.write_config();
        self
    }

    /// The config file holds exactly `text` (and declares no [`Workspace::ids`] of its own).
    pub(crate) fn config(self, text: &str) -> Workspace {
        self.config_bytes(text.as_bytes())
    }

    /// Like [`Workspace::config`], for bytes that need not be UTF-8.
    pub(crate) fn config_bytes(mut self, bytes: &[u8]) -> Workspace {
        self.ids = Vec::new();
        self.config_text = Some(bytes.to_vec());
        self.no_config = false;
        self.write_config();
        self
    }

    /// Where the config is.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.path(&self.config_name)
    }

    /// The config's `state:` (a path relative to the dir, or a `postgres://` URL).
    pub(crate) fn state_at(mut self, state: &str) -> Workspace {
        self.state = Some(state.to_string());
        self.write_config();
        self
    }

    /// YAML put under the config's `apply:` key (e.g. `request_timeout: 1s`).
    pub(crate) fn apply_settings(mut self, yaml: &str) -> Workspace {
        self.apply = yaml.to_string();
        self.write_config();
        self
    }

    /// Runs from now on go to `sim` (through `--endpoint`).
    pub(crate) fn against(mut self, sim: &Sim) -> Workspace {
        self.endpoint = Some(sim.endpoint());
        self
    }

    /// Runs name the endpoint in `EDAS_ENDPOINT`, so their command lines are exactly the
    /// ones a document shows.
    pub(crate) fn endpoint_in_env(mut self) -> Workspace {
        self.endpoint_in_env = true;
        self
    }

    /// The binary with these arguments, pointed at the simulator given to
    /// [`Workspace::against`] (if any), with the simulator's test credentials, ready to spawn.
    pub(crate) fn binary(&self, args: &[&str]) -> Command {
        let Some(endpoint) = self.endpoint.as_deref() else {
            return self.without_endpoint(args);
        };
        if self.endpoint_in_env {
            let mut command = self.without_endpoint(args);
            command.env("EDAS_ENDPOINT", endpoint);
            command
        } else {
            self.command(endpoint, args)
        }
    }

    /// Starts the binary (see [`Workspace::binary`]) with stdout and stderr piped.
    pub(crate) fn spawn(&self, args: &[&str]) -> Child {
        self.binary(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs the binary to its end (see [`Workspace::binary`]).
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run::from(run(self.binary(args))).no_panic()
    }

    /// Runs the binary like [`Workspace::run`], under a pseudo-terminal (`script`), so stdout
    /// and stderr are a terminal as for a person at a shell. The [`Run`]'s stdout is what the
    /// terminal showed (both streams, with its `\r\n`); its exit code is the binary's.
    pub(crate) fn on_a_terminal(&self, args: &[&str]) -> Run {
        let binary = self.binary(args);
        let quoted: Vec<String> = std::iter::once(binary.get_program())
            .chain(binary.get_args())
            .map(|word| format!("'{}'", word.to_string_lossy().replace('\'', r"'\''")))
            .collect();
        let mut script = Command::new("script");
        script
            .args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
            .current_dir(self.dir.path())
            .env_clear()
            .envs(
                binary
                    .get_envs()
                    .filter_map(|(key, value)| Some((key, value?))),
            )
            .env("TERM", "xterm")
            .stdin(Stdio::null());
        Run::from(run(script)).no_panic()
    }

    /// Runs the binary to its end with a clean environment: no credentials, no endpoint.
    pub(crate) fn run_bare(&self, args: &[&str]) -> Run {
        Run::from(run(self.bare_command(args))).no_panic()
    }

    /// `plan` with `extra` arguments.
    pub(crate) fn plan(&self, extra: &[&str]) -> Run {
        self.run(&[&["plan"], extra].concat())
    }

    /// `apply --auto-approve` with `extra` arguments.
    pub(crate) fn apply(&self, extra: &[&str]) -> Run {
        self.run(&[&["apply", "--auto-approve"], extra].concat())
    }

    /// Declares `count` change orders from now on (the first ones stay the same).
    pub(crate) fn declare(&mut self, count: usize) {
        self.ids = numbered_ids(count);
        self.config_text = None;
        self.write_config();
    }

    fn write_config(&self) {
        if self.no_config {
            return;
        }
        if let Some(text) = &self.config_text {
            std::fs::write(self.config_path(), text).unwrap();
            return;
        }
        let mut yaml = String::from("version: 1\nprovider:\n  region: cn-hangzhou\n");
        if !self.apply.is_empty() {
            yaml.push_str("apply:\n");
            for line in self.apply.lines() {
                yaml.push_str(&format!("  {line}\n"));
            }
        }
        if let Some(state) = &self.state {
            yaml.push_str(&format!("state: {state}\n"));
        }
        yaml.push_str("change_orders:\n");
        for id in &self.ids {
            yaml.push_str(&format!("  - id: {id}\n    app: checkout\n"));
        }
        std::fs::write(self.config_path(), yaml).unwrap();
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn state_path(&self) -> PathBuf {
        match &self.state {
            Some(state) => self.path(state),
            None => {
                let stem = Path::new(&self.config_name)
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy();
                self.path(&format!("{stem}.state.json"))
            }
        }
    }

    pub(crate) fn journal_path(&self) -> PathBuf {
        let mut path = self.state_path().into_os_string();
        path.push(".journal");
        PathBuf::from(path)
    }

    /// The binary in this dir with the simulator's default test credentials and nothing else
    /// from the environment that could pick other credentials.
    pub(crate) fn command(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut command = self.without_endpoint(args);
        command.arg("--endpoint").arg(endpoint);
        command
    }

    /// Like [`Workspace::command`] without `--endpoint`, so the config or `EDAS_ENDPOINT`
    /// decides.
    pub(crate) fn without_endpoint(&self, args: &[&str]) -> Command {
        let mut command = self.bare_command(args);
        command
            .env(
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                edas_rollback::sim::DEFAULT_ACCESS_KEY_ID,
            )
            .env(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                edas_rollback::sim::DEFAULT_ACCESS_KEY_SECRET,
            );
        command
    }

    /// The binary in this dir with a clean environment and no credentials.
    pub(crate) fn bare_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            // Nothing may leave the machine: the chain's last resort would ask the ECS
            // metadata service at 100.100.100.200. Tests of that source remove this.
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// A JSON file in the dir (a saved plan, a state).
    pub(crate) fn json(&self, name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path(name)).unwrap()).unwrap()
    }

    pub(crate) fn read_state(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.state_path()).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }

    pub(crate) fn state(&self) -> Value {
        self.read_state()
            .unwrap_or_else(|| panic!("no state file at {}", self.state_path().display()))
    }

    /// Lines in the journal of a run in progress (0 when there is none).
    pub(crate) fn journal_lines(&self) -> usize {
        std::fs::read_to_string(self.journal_path())
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }
}

/// Insta settings for snapshots of CLI output: what differs from run to run becomes a
/// placeholder (temp dirs, loopback ports, times, elapsed durations, digests, pids, the
/// simulator's RequestIds, the host name, the version), so a snapshot changes only when the
/// output really does. Ids that a test chose stay as they are; add a filter for other random
/// ones (a new state's lineage) where a test has them.
pub(crate) fn cli_snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let temp = std::env::temp_dir();
    let temp = regex_escape(temp.to_string_lossy().trim_end_matches('/'));
    // A test's temp dir (`.tmpXXXXXX`) or one the binary made (a rehearsal's scratch state).
    settings.add_filter(&format!(r"{temp}/[A-Za-z0-9._-]+"), "[TEMP]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
        "[TIME]",
    );
    // Elapsed and waited durations; not a literal quoted in backticks (a config error's
    // "expected a duration like `10s`").
    settings.add_filter(r"(^|[^`\w.])\d+(\.\d+)? ?(ms|µs|s)\b", "${1}[DURATION]");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
    settings.add_filter(r"\bpid \d+", "pid [PID]");
    // The simulator's RequestIds, where the output names them as such.
    settings.add_filter(
        r"RequestId (`?)[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\b",
        "RequestId ${1}[REQUEST-ID]",
    );
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    if !host.is_empty() {
        settings.add_filter(&format!(r"\b{}\b", regex_escape(&host)), "[HOST]");
    }
    settings.add_filter(
        &format!(r"edas-rollback {}", regex_escape(env!("CARGO_PKG_VERSION"))),
        "edas-rollback [VERSION]",
    );
    settings.add_filter(
        &format!(r"\bv{}\b", regex_escape(env!("CARGO_PKG_VERSION"))),
        "v[VERSION]",
    );
    settings
}

/// [`cli_snapshot_settings`], and every count (a number standing alone as a word) becomes
/// `[N]`: for output whose numbers depend on timing (how many answers arrived before a
/// signal or a fatal error), so the snapshot still holds every word around them.
pub(crate) fn counts_hidden_snapshot_settings() -> insta::Settings {
    let mut settings = cli_snapshot_settings();
    settings.add_filter(r"(^|[\s(])\d+\b", "${1}[N]");
    settings
}

/// `assert_snapshot!` under [`counts_hidden_snapshot_settings`].
macro_rules! assert_cli_snapshot_counts_hidden {
    ($($argument:tt)*) => {{
        let _settings = $crate::support::counts_hidden_snapshot_settings().bind_to_scope();
        insta::assert_snapshot!($($argument)*);
    }};
}
pub(crate) use assert_cli_snapshot_counts_hidden;

/// `assert_snapshot!` under [`cli_snapshot_settings`].
macro_rules! assert_cli_snapshot {
    ($($argument:tt)*) => {{
        let _settings = $crate::support::cli_snapshot_settings().bind_to_scope();
        insta::assert_snapshot!($($argument)*);
    }};
}
pub(crate) use assert_cli_snapshot;

/// `text` with each run of consecutive per-change-order lines (`ID: …`, `warning: ID: …`,
/// also indented in a summary's lists) sorted: `apply` prints them as answers arrive, in an order that concurrency decides, so a
/// snapshot takes them sorted. Every other line stays where it is.
pub(crate) fn sorted_outcomes(text: &str) -> String {
    let mut out = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for line in text.lines() {
        if per_change_order(line) {
            run.push(line);
            continue;
        }
        run.sort_unstable();
        out.append(&mut run);
        out.push(line);
    }
    run.sort_unstable();
    out.append(&mut run);
    let mut sorted = out.join("\n");
    if text.ends_with('\n') {
        sorted.push('\n');
    }
    sorted
}

/// `text` from the line `Aborting N change orders…` on: what `apply` printed after the plan
/// it showed (the plan's rows are snapshotted where plans are the subject).
pub(crate) fn after_the_plan(text: &str) -> &str {
    text.find("\nAborting ").map_or(text, |at| &text[at + 1..])
}

/// `text` without its per-change-order lines (`ID: …`, `warning: ID: …`, and the indented
/// ones of a summary's `Failed:` list): for a run whose set of answered change orders is
/// timing (a signal or a fatal error mid-run); the state checks those one by one.
pub(crate) fn without_outcomes(text: &str) -> String {
    let mut kept = String::new();
    for line in text.lines().filter(|line| !per_change_order(line)) {
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// `ID: …` or `warning: ID: …` (perhaps indented), where the id has a dash and nothing but letters, digits and
/// dashes (so `error: …` and `hint: …` are not).
fn per_change_order(line: &str) -> bool {
    let line = line.trim_start();
    let line = line.strip_prefix("warning: ").unwrap_or(line);
    line.split_once(": ").is_some_and(|(id, _)| {
        id.contains('-') && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

fn regex_escape(text: &str) -> String {
    let mut escaped = String::new();
    for character in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// `6b55106c-c7f2-40f7-a1d4-000000000000` and on: valid ids, the same in every test.
pub(crate) fn numbered_ids(count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("6b55106c-c7f2-40f7-a1d4-{index:012}"))
        .collect()
}

/// What one run of the binary left: its exit code (`None` when a signal ended it) and both
/// streams as text.
pub(crate) struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing both streams when it is another.
    #[track_caller]
    pub(crate) fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, Some(code), "{self}");
        self
    }

    /// Fails the test if the binary panicked (whatever its exit code).
    #[track_caller]
    pub(crate) fn no_panic(self) -> Run {
        assert!(!self.stderr.contains("panicked at"), "{self}");
        self
    }

    /// stdout then stderr, for what may be printed on either.
    pub(crate) fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: text(&output.stdout),
            stderr: text(&output.stderr),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub(crate) fn run(mut command: Command) -> Output {
    command.output().unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

#[track_caller]
pub(crate) fn assert_exit(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", describe(output));
}

/// No change order was committed twice, and none outside `declared` was committed at all.
pub(crate) fn assert_no_duplicates(sim: &Sim, declared: &[String]) {
    for (id, commits) in sim.commits() {
        if declared.contains(&id) {
            assert!(commits <= 1, "{id} was aborted {commits} times");
        } else {
            assert_eq!(commits, 0, "{id} was never declared but was aborted");
        }
    }
}

/// Nothing in the state says `aborted` unless the simulator committed that abort.
pub(crate) fn assert_nothing_recorded_falsely(workspace: &Workspace, sim: &Sim) {
    let Some(state) = workspace.read_state() else {
        return;
    };
    let commits = sim.commits();
    for (id, record) in state["change_orders"].as_object().unwrap() {
        if record["status"] == "aborted" {
            assert_eq!(
                commits.get(id).copied().unwrap_or(0),
                1,
                "{id} is recorded aborted but the simulator did not commit it: {record}"
            );
        }
    }
}

/// Every declared change order is aborted in state with a RequestId, the simulator committed
/// exactly one abort for each and none for anything else, and the journal is gone.
pub(crate) fn assert_all_aborted_exactly_once(workspace: &Workspace, sim: &Sim) {
    let state = workspace.state();
    let records = state["change_orders"].as_object().unwrap();
    let commits = sim.commits();
    for id in &workspace.ids {
        let record = &records[id];
        assert_eq!(record["status"], "aborted", "{id}: {record}");
        assert!(record["request_id"].is_string(), "{id}: {record}");
        assert_eq!(commits.get(id).copied().unwrap_or(0), 1, "{id}");
    }
    assert_no_duplicates(sim, &workspace.ids);
    assert!(
        !workspace.journal_path().exists(),
        "the journal was folded and removed"
    );
}

/// Sends signal `name` (`INT`, `TERM`, `KILL`…) to `child` with `kill`.
pub(crate) fn send_signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

/// Waits until `condition` holds, or fails after `limit`.
pub(crate) fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "gave up waiting after {limit:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
