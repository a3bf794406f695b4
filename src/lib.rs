//! edas-rollback: a declarative, reviewable, durable plan/apply workflow for aborting and
//! rolling back EDAS change orders (`AbortAndRollbackChangeOrder`).
//!
//! The flow, and the module that owns each step:
//!
//! ```text
//! YAML ──config──▶ DesiredState ──plan(desired, state)──▶ Plan ──apply──▶ signed requests (edas)
//!                                      ▲                                     │
//!                                      └────── state (fold of the journal) ◀─┘
//! ```
//!
//! - [`config`] turns YAML text into a validated [`config::DesiredState`]; it never opens files.
//! - [`state`] holds what is known to have happened: the state model, the journal and its pure
//!   fold, and the one store that writes state, journal, lock and backup files.
//! - [`plan`] is pure: desired state × recorded state → a [`plan::Plan`], and the plan file.
//! - [`apply`] carries out a plan: parallel, paced, journaled, interruptible.
//! - [`edas`] is everything that crosses the wire: wire types, request building, the ROA v1
//!   signer, credentials, endpoints, the HTTP client and the one outcome policy.
//! - [`transport`] is the HTTP/1.1 client under [`edas`]: keep-alive connections to one origin,
//!   proxies, TLS; it knows nothing of EDAS.
//! - [`sim`] is a strict local EDAS simulator for tests, benchmarks and rehearsals.
//! - [`cli`] is the only code that reads argv and the environment, prints, and picks exit codes.
//!
//! These boundaries are lints, not only words (docs/DECISIONS.md, "Boundaries"): outside
//! `cli/`, printing is refused, and `clippy.toml`'s disallowed methods (environment reads,
//! file writes, `process::exit`) are refused everywhere but the functions and modules that
//! say why they may.
#![cfg_attr(
    not(test),
    warn(
        clippy::disallowed_methods,
        clippy::print_stdout,
        clippy::print_stderr,
        clippy::dbg_macro
    )
)]

pub mod apply;
mod civil_time;
#[allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "cli/ is the one module that prints (docs/DECISIONS.md, Boundaries)"
)]
pub mod cli;
pub mod config;
pub mod edas;
pub mod ids;
pub mod plan;
pub mod sim;
pub mod state;
pub mod transport;
