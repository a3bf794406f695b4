//! The command line (docs/CONTRACT.md, "Commands"), as clap structs only. Names and flags here are
//! a contract: outside tests and runbooks drive the binary through them.

use crate::config::duration::parse_duration;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "edas-rollback",
    version,
    about = "Plan and apply aborts and rollbacks of EDAS change orders, durably and in parallel"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Debug, Args)]
pub struct GlobalArgs {
    /// The config file (desired state).
    #[arg(short = 'c', long, global = true, default_value = crate::config::DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// The state file, or a `postgres://` URL [default: `state:` in the config, else
    /// `<config stem>.state.json`].
    #[arg(long, global = true)]
    pub state: Option<PathBuf>,
    /// The state's name in a PostgreSQL database [default: `state_name:` in the config, else
    /// the config file's stem].
    #[arg(long, global = true)]
    pub state_name: Option<String>,
    /// The EDAS endpoint, e.g. `http://127.0.0.1:8080` for the simulator.
    #[arg(long, global = true, env = "EDAS_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Never colour the output (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Log requests, canonical requests (V3) or strings to sign (v1), statuses and RequestIds
    /// to stderr (-vv for more).
    /// Secrets are never logged.
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the config.
    Validate,
    /// Diff the config against the state and show what apply would do.
    Plan(PlanArgs),
    /// Carry out a plan: abort the change orders in parallel, recording every response.
    Apply(ApplyArgs),
    /// Show a saved plan, or the state when no plan file is given.
    Show(ShowArgs),
    /// Inspect and edit the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Remove a lock whose holder is gone.
    ForceUnlock(ForceUnlockArgs),
    /// Show which credentials a run would use (source, AccessKey id, role, expiry; never a
    /// secret); `--verify` asks STS who they belong to.
    Credentials(CredentialsArgs),
    /// Run the EDAS simulator.
    Simulate(SimulateArgs),
    /// Plan and apply against an embedded simulator into a scratch state; nothing leaves the
    /// machine.
    Rehearse(RehearseArgs),
    /// Print a shell completion script to stdout
    ///
    /// bash: `edas-rollback completions bash > ~/.local/share/bash-completion/completions/edas-rollback`
    /// zsh: `edas-rollback completions zsh > "${fpath[1]}/_edas-rollback"`
    /// fish: `edas-rollback completions fish > ~/.config/fish/completions/edas-rollback.fish`
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout.
    ///
    /// Read it with `edas-rollback man | man -l -`, or install it with
    /// `edas-rollback man > /usr/local/share/man/man1/edas-rollback.1`.
    Man,
    /// Hidden, not part of the CLI contract: print randomly generated requests signed with
    /// signature V3 under generated throwaway keys, as JSON lines, for the CI cross-check
    /// against the official SDK's own V3 util (scripts/sdk-interop.sh).
    #[command(hide = true)]
    SignDebug(SignDebugArgs),
}

#[derive(Debug, Args)]
pub struct SignDebugArgs {
    /// How many requests.
    #[arg(long, default_value_t = 300)]
    pub count: u32,
    /// Seeds every random choice, so a failure can be reproduced.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

fn positive(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(0) | Err(_) => Err(format!("expected a positive whole number, found `{text}`")),
        Ok(value) => Ok(value),
    }
}

fn parallelism(text: &str) -> Result<u32, String> {
    let max = crate::config::MAX_PARALLELISM;
    match positive(text)? {
        value if value > max => Err(format!(
            "expected at most {max} requests in flight, found `{text}` (each holds a connection; \
             the service's rate limit is reached long before)"
        )),
        value => Ok(value),
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Save the plan to this file, for `apply FILE`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Exit 2 when the plan would send something (0 when there is nothing to do).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Ask `GetChangeOrderInfo` for each pending change order and show its live status.
    #[arg(long)]
    pub refresh: bool,
    /// How long to wait for the state lock when a leftover journal must be folded.
    #[arg(long, value_parser = duration, default_value = "0s")]
    pub lock_timeout: Duration,
}

/// How a run is carried out; shared by `apply` and `rehearse`, which runs apply's own code.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Requests in flight at once, at most 1000 [default: config, else 10].
    #[arg(long, value_parser = parallelism)]
    pub parallelism: Option<u32>,
    /// Requests started per second [default: config, else 20].
    #[arg(long, value_parser = positive)]
    pub requests_per_second: Option<u32>,
    /// One JSON object per line on stdout, and nothing else there.
    #[arg(long)]
    pub json: bool,
    /// After aborting, wait for each rollback change order to finish.
    #[arg(long)]
    pub wait: bool,
    #[arg(long, value_parser = duration, default_value = "10m")]
    pub wait_timeout: Duration,
}

#[derive(Clone, Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `plan --out`; without one, plan now and ask for approval.
    pub plan_file: Option<PathBuf>,
    /// Apply without asking (required when there is no terminal).
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub run: RunArgs,
    /// Wait this long for the state lock instead of failing at once.
    #[arg(long, value_parser = duration, default_value = "0s")]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub plan_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the change orders in state.
    List,
    /// Show one change order's record.
    Show { id: String },
    /// Remove change orders from state (they become unknown to the tool).
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long, value_parser = duration, default_value = "0s")]
        lock_timeout: Duration,
    },
    /// Print the state as the local state file's JSON (from any backend).
    Pull {
        #[arg(long, value_parser = duration, default_value = "0s")]
        lock_timeout: Duration,
    },
    /// Replace the state with FILE (a state file's JSON). Refused when FILE has another
    /// lineage, an older serial, or the same serial with other content, unless --force.
    Push {
        file: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long, value_parser = duration, default_value = "0s")]
        lock_timeout: Duration,
    },
    /// Copy the state (lineage, serial, every record) to another backend: a file path or a
    /// `postgres://` URL. Holds both locks; refused when the target holds another lineage or
    /// a newer serial.
    Migrate {
        #[arg(long)]
        to: PathBuf,
        #[arg(long, value_parser = duration, default_value = "0s")]
        lock_timeout: Duration,
    },
}

#[derive(Debug, Args)]
pub struct CredentialsArgs {
    /// Ask STS `GetCallerIdentity` whether the credentials work and whose they are.
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    pub lock_id: String,
}

/// Wraps a secret at once, so `Debug` of the parsed arguments never shows it.
fn secret(text: &str) -> Result<crate::edas::secret::Secret, String> {
    Ok(crate::edas::secret::Secret::new(text))
}

/// Parses a probability between 0 and 1.
fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!(
            "expected a rate between 0 and 1 like `0.05`, found `{text}`"
        )),
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Default test credentials (sign requests with these unless you pass your own):
  access key id      LTAI5tSimulatorKeyId
  access key secret  SimulatorSecret0123456789abcdef

The counters are served unsigned at GET /__sim/stats (loopback only).
Ctrl-C or SIGTERM stops the simulator cleanly (exit 0).")]
pub struct SimulateArgs {
    /// The address to listen on (loopback only); the first line printed is
    /// `listening on http://ADDR`.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The change orders that exist: an edas-rollback config (`.yaml`/`.yml`; each id starts
    /// running) or lines `ID [STATUS]` with `#` comments.
    #[arg(long)]
    pub change_orders: Option<PathBuf>,
    /// Unknown change order ids exist, with status 1 (running).
    #[arg(long)]
    pub any_id: bool,
    /// The access key id the simulator accepts.
    #[arg(long, default_value = crate::sim::DEFAULT_ACCESS_KEY_ID)]
    pub access_key_id: String,
    /// The access key secret the simulator accepts [default: the documented test secret].
    #[arg(long, hide_default_value = true, value_parser = secret,
          default_value = crate::sim::DEFAULT_ACCESS_KEY_SECRET)]
    pub access_key_secret: crate::edas::secret::Secret,
    /// Require this STS security token on every request.
    #[arg(long, value_parser = secret)]
    pub security_token: Option<crate::edas::secret::Secret>,
    /// Delay before every answer: `50ms`, or a uniform range `20ms..80ms`.
    #[arg(long, default_value = "0s")]
    pub latency: crate::sim::Latency,
    /// Answer requests over this rate with HTTP 400 `Throttling.User`.
    #[arg(long, value_parser = positive)]
    pub requests_per_second: Option<u32>,
    /// With every throttling answer, send `x-acs-retry-after` with this duration (e.g. `1s`)
    /// in milliseconds.
    #[arg(long, value_parser = duration)]
    pub retry_after: Option<Duration>,
    /// Share of requests answered HTTP 503 before anything is done, e.g. `0.05`.
    #[arg(long, value_parser = rate, default_value = "0")]
    pub fail_rate: f64,
    /// Share of aborts committed and then answered by resetting the connection.
    #[arg(long, value_parser = rate, default_value = "0")]
    pub drop_rate: f64,
    /// Seeds rollback ids, RequestIds and every fault decision.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How long a rollback change order runs before it succeeds.
    #[arg(long, value_parser = duration, default_value = "5s")]
    pub rollback_duration: Duration,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// Statuses and faults for the embedded simulator (YAML; see docs/RUNBOOK.md).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}
