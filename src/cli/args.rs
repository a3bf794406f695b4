//! The command line (DESIGN 4), as clap structs only. Names and flags here are a contract:
//! outside tests and runbooks drive the binary through them.

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

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The config file (desired state).
    #[arg(short = 'c', long, global = true, default_value = crate::config::DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// The state file [default: `state:` in the config, else `<config stem>.state.json`].
    #[arg(long, global = true)]
    pub state: Option<PathBuf>,
    /// The EDAS endpoint, e.g. `http://127.0.0.1:8080` for the simulator.
    #[arg(long, global = true, env = "EDAS_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Never colour the output (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Log requests, strings to sign, statuses and RequestIds to stderr (-vv for more).
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
    /// Run the EDAS simulator.
    Simulate(SimulateArgs),
    /// Plan and apply against an embedded simulator into a scratch state; nothing leaves the
    /// machine.
    Rehearse(RehearseArgs),
    /// Print a shell completion script to stdout.
    ///
    /// bash: `edas-rollback completions bash > ~/.local/share/bash-completion/completions/edas-rollback`
    /// zsh: `edas-rollback completions zsh > "${fpath[1]}/_edas-rollback"`
    /// fish: `edas-rollback completions fish > ~/.config/fish/completions/edas-rollback.fish`
    #[command(verbatim_doc_comment)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout.
    ///
    /// Read it with `edas-rollback man | man -l -`, or install it with
    /// `edas-rollback man > /usr/local/share/man/man1/edas-rollback.1`.
    Man,
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

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `plan --out`; without one, plan now and ask for approval.
    pub plan_file: Option<PathBuf>,
    /// Apply without asking (required when there is no terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Requests in flight at once [default: config, else 10].
    #[arg(long, value_parser = positive)]
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
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    pub lock_id: String,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The address to listen on; the bound address is printed on the first line.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// Statuses and faults for the embedded simulator.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
}
