//! The integration tests, as one test binary: one link instead of one per file (each link of
//! the whole dependency tree costs seconds on CI's two cores; docs/BENCHMARKS.md, Test
//! suite). Each module is what used to be a `tests/*.rs` binary; run one with
//! `cargo test --test it apply::` (a module path is a name filter). [`support`] is the shared
//! harness. Nothing here may change the process's own environment, working directory or
//! signal handlers: every test shares this process, so such state goes to the child
//! processes (`Command::env`, `current_dir`) instead.

mod support;

mod apply;
mod completions;
mod config;
mod credentials;
mod edas_client;
mod fuzz_parsers;
mod hostile;
mod one_writer;
mod plan_cli;
mod postgres_cli;
mod properties;
mod rehearse;
mod secrets;
mod signer_vectors;
mod simulator;
mod state_store;
mod state_store_conformance;
mod torture;
mod workflows;
