//! The command line: the only code that reads argv and the environment, prints, and picks
//! exit codes. Commands are thin: resolve settings, load inputs, call one core function,
//! render. `anyhow` is used here and only here; the library modules return typed errors.

pub mod args;
pub(crate) mod batched_stdout;
pub(crate) mod commands;
pub(crate) mod env;
pub(crate) mod hints;
pub(crate) mod limits;
pub(crate) mod logging;
pub(crate) mod out_file;
pub(crate) mod render;
pub(crate) mod saved_plan;
pub mod settings;
pub(crate) mod signals;

use args::{Cli, Command};
use clap::Parser as _;
use std::process::ExitCode;

/// Exit codes of docs/CONTRACT.md, "Commands".
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// `plan --detailed-exitcode`: the plan would send something.
    pub const CHANGES: u8 = 2;
    pub const INTERRUPTED: u8 = 130;
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap exits 2 on a usage error, which a pipeline running `plan --detailed-exitcode`
        // would read as "changes pending". A mistyped flag is an error: exit 1. Help and
        // version requests still exit 0.
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    if cli.global.no_color {
        anstream::ColorChoice::Never.write_global();
    }
    logging::init_logging(cli.global.verbose);
    hints::remember(&cli.global);
    let result = match &cli.command {
        Command::Validate => commands::validate::run(&cli.global),
        Command::Plan(args) => commands::plan::run(&cli.global, args),
        Command::Apply(args) => commands::apply::run(&cli.global, args),
        Command::Show(args) => commands::show::run(&cli.global, args),
        Command::State(command) => commands::state::run(&cli.global, command),
        Command::ForceUnlock(args) => commands::force_unlock::run(&cli.global, args),
        Command::Credentials(args) => commands::credentials::run(&cli.global, args),
        Command::Simulate(args) => commands::simulate::run(&cli.global, args),
        Command::Rehearse(args) => commands::rehearse::run(&cli.global, args),
        Command::Completions { shell } => commands::completions::run(*shell),
        Command::Man => commands::man::run(),
        Command::SignDebug(args) => commands::sign_debug::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            render::print_error(&error);
            ExitCode::from(exit::ERROR)
        }
    }
}
