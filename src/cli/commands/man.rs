//! `man`: print one self-contained manual page (roff, section 1) for the whole CLI. The synopsis,
//! options and every command's flags come from the clap definitions in `cli::args` (through
//! clap_mangen and its roff writer), so the page can never drift from the binary; the exit
//! statuses, files and environment come from docs/CONTRACT.md and docs/credentials.md. It reads no
//! config, state or credentials, and writes nothing but stdout.

use crate::cli::args::Cli;
use crate::cli::commands::completions::print_bytes;
use crate::cli::exit;
use anyhow::Context;
use clap::{Arg, CommandFactory};
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

pub(crate) fn run() -> anyhow::Result<u8> {
    let page = man_page().context("cannot render the man page")?;
    print_bytes(&page)?;
    Ok(exit::OK)
}

/// The manual page as roff. One page rather than one per command (`edas-rollback-plan(1)`…):
/// the tool is small, and a single page is what `edas-rollback man | man -l -` can show.
pub(crate) fn man_page() -> std::io::Result<Vec<u8>> {
    // `help` as a subcommand is clap's, not ours; `-h` on every command is documented once.
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let man = Man::new(command.clone()).manual("edas-rollback manual");

    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    // clap's DESCRIPTION would repeat NAME word for word; say how the commands fit instead.
    let mut roff = Roff::default();
    roff.control("SH", ["DESCRIPTION"]);
    render_paragraphs(&mut roff, DESCRIPTION);
    roff.to_writer(&mut page)?;
    man.render_options_section(&mut page)?;

    let mut roff = Roff::default();
    roff.control("SH", ["COMMANDS"]);
    roff.text([roman(
        "The global options above are accepted by every command, before or after its name.",
    )]);
    for subcommand in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        render_command(&mut roff, subcommand);
    }
    render_fixed_sections(&mut roff);
    roff.to_writer(&mut page)?;

    man.render_version_section(&mut page)?;
    Ok(without_repeated_preamble(&page))
}

/// Every roff fragment opens with the same two lines defining the `Aq` string; rendering the
/// page in sections repeats them. Keep each line's first occurrence only.
fn without_repeated_preamble(page: &[u8]) -> Vec<u8> {
    const PREAMBLE: [&str; 2] = [".ie \\n(.g .ds Aq \\(aq", ".el .ds Aq '"];
    let text = String::from_utf8_lossy(page);
    let mut seen = [false; 2];
    let mut kept = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if let Some(index) = PREAMBLE.iter().position(|p| line.trim_end() == *p) {
            if seen[index] {
                continue;
            }
            seen[index] = true;
        }
        kept.push_str(line);
    }
    kept.into_bytes()
}

const DESCRIPTION: &str = "\
edas-rollback makes aborting EDAS change orders (AbortAndRollbackChangeOrder) a declarative, \
reviewable, durable operation, in the manner of Terraform. The config lists the change orders \
to abort; plan diffs it against the state and can save the plan to a file; the plan is \
reviewed; apply carries out exactly that plan, sending the signed requests in parallel and \
journaling every response before it is folded into the state.

A saved plan is pinned to the state it was made from: apply refuses it once the state has \
moved on. rehearse runs the same plan and apply against an embedded simulator first, so \
nothing leaves the machine.";

/// One `.SS` per leaf command, named by its full path (`edas-rollback state rm`), with its
/// usage, description and own arguments.
fn render_command(roff: &mut Roff, command: &clap::Command) {
    let path = command
        .get_bin_name()
        .unwrap_or(command.get_name())
        .to_owned();
    let subcommands: Vec<&clap::Command> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .collect();
    if !subcommands.is_empty() {
        for subcommand in subcommands {
            render_command(roff, subcommand);
        }
        return;
    }

    roff.control("SS", [path.as_str()]);
    let usage = command.clone().render_usage().to_string();
    let usage = usage.trim().trim_start_matches("Usage:").trim();
    roff.text([bold(usage)]);
    roff.control("PP", []);
    if let Some(about) = command.get_long_about().or(command.get_about()) {
        render_paragraphs(roff, &about.to_string());
    }
    for argument in command
        .get_arguments()
        .filter(|arg| is_documented_here(arg))
    {
        roff.control("TP", []);
        roff.text(argument_spec(argument));
        let mut help = argument
            .get_long_help()
            .or(argument.get_help())
            .map(|help| help.to_string())
            .unwrap_or_default();
        if argument.get_action().takes_values() {
            let values: Vec<String> = argument
                .get_possible_values()
                .iter()
                .filter(|value| !value.is_hide_set())
                .map(|value| value.get_name().to_owned())
                .collect();
            if !values.is_empty() && !argument.is_hide_possible_values_set() {
                help.push_str(&format!(" [possible values: {}]", values.join(", ")));
            }
            let defaults: Vec<String> = argument
                .get_default_values()
                .iter()
                .map(|value| value.to_string_lossy().into_owned())
                .collect();
            // A hidden default stays hidden (the simulator's test secret is documented by
            // name, not printed).
            if !defaults.is_empty() && !argument.is_hide_default_value_set() {
                help.push_str(&format!(" [default: {}]", defaults.join(", ")));
            }
        }
        if !help.trim().is_empty() {
            roff.text([roman(help.trim().to_owned())]);
        }
    }
    // e.g. the simulator's test credentials.
    if let Some(after) = command.get_after_long_help().or(command.get_after_help()) {
        roff.control("PP", []);
        render_paragraphs(roff, &after.to_string());
    }
}

/// Global options are listed once under OPTIONS; clap copies them into every subcommand.
fn is_documented_here(argument: &Arg) -> bool {
    !argument.is_hide_set()
        && !argument.is_global_set()
        && !matches!(argument.get_id().as_str(), "help" | "version")
}

/// `-c, --config <CONFIG>`, `--auto-approve`, `<PLAN_FILE>`, `<IDS>...`.
fn argument_spec(argument: &Arg) -> Vec<Inline> {
    let value_names: Vec<String> = match argument.get_value_names() {
        Some(names) => names.iter().map(|name| name.to_string()).collect(),
        None => vec![argument.get_id().as_str().to_uppercase()],
    };
    let values = value_names
        .iter()
        .map(|name| format!("<{name}>"))
        .collect::<Vec<_>>()
        .join(" ");
    let repeated = matches!(argument.get_action(), clap::ArgAction::Append);
    let ellipsis = if repeated && argument.is_positional() {
        "..."
    } else {
        ""
    };

    if argument.is_positional() {
        return vec![italic(format!("{values}{ellipsis}"))];
    }
    let mut spec = Vec::new();
    if let Some(short) = argument.get_short() {
        spec.push(bold(format!("-{short}")));
    }
    if let Some(long) = argument.get_long() {
        if !spec.is_empty() {
            spec.push(roman(", "));
        }
        spec.push(bold(format!("--{long}")));
    }
    if argument.get_action().takes_values() {
        spec.push(roman(" "));
        spec.push(italic(values));
    }
    spec
}

/// Lines become lines (a verbatim doc comment keeps its install commands one per line);
/// blank lines start a new paragraph.
fn render_paragraphs(roff: &mut Roff, text: &str) {
    for line in text.lines() {
        if line.trim().is_empty() {
            roff.control("PP", []);
        } else {
            roff.text([roman(line.trim_end().to_owned())]);
            roff.control("br", []);
        }
    }
}

/// Sections that are contracts of docs/CONTRACT.md rather than clap definitions.
fn render_fixed_sections(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    let statuses = [
        (
            exit::OK,
            "Success: the config is valid, the plan was made, every change order was aborted.",
        ),
        (
            exit::ERROR,
            "An error, or (apply) any change order failed. A saved plan that no longer matches \
             the state is refused with \"Saved plan is stale\" and this status.",
        ),
        (
            exit::CHANGES,
            "plan --detailed-exitcode only: the plan would send something (0 means nothing to do).",
        ),
        (
            exit::INTERRUPTED,
            "Interrupted by Ctrl-C: nothing new was started, what was in flight finished and \
             was saved.",
        ),
    ];
    for (status, meaning) in statuses {
        roff.control("TP", []);
        roff.text([bold(status.to_string())]);
        roff.text([roman(meaning)]);
    }

    roff.control("SH", ["ENVIRONMENT"]);
    let variables = [
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN",
            "Credentials, looked at first (also ALICLOUD_ACCESS_KEY, ALICLOUD_SECRET_KEY, \
             ALICLOUD_SECURITY_TOKEN). Secrets never appear in any output, file or log.",
        ),
        (
            "ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE",
            "OIDC: STS AssumeRoleWithOIDC with the token in the file (CI without stored keys). \
             The whole chain and every variable: docs/credentials.md.",
        ),
        (
            "ALIBABA_CLOUD_PROFILE",
            "The aliyun CLI profile in ~/.aliyun/config.json, when no key is in the environment.",
        ),
        (
            "ALIBABA_CLOUD_STS_ENDPOINT, ALIBABA_CLOUD_IMDS_ENDPOINT",
            "Where STS and the ECS metadata service are (a proxy, or a loopback fake in tests).",
        ),
        (
            "EDAS_ENDPOINT",
            "The EDAS endpoint, as --endpoint (e.g. the simulator's address).",
        ),
        (
            "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY (or lowercase)",
            "An http:// proxy for https (a CONNECT tunnel) and plain http requests, to EDAS, STS \
             and the metadata service; user:password in the proxy URL is sent as Basic proxy \
             authentication and never shown. NO_PROXY lists hosts, domains and CIDR blocks to \
             reach directly. Details: docs/wire.md, Transport.",
        ),
        ("NO_COLOR", "Never colour the output, as --no-color."),
    ];
    for (name, meaning) in variables {
        roff.control("TP", []);
        roff.text([bold(name)]);
        roff.text([roman(meaning)]);
    }

    roff.control("SH", ["FILES"]);
    let files = [
        (
            "edas-rollback.yaml",
            "The config (desired state): the change orders to abort. Chosen with -c.",
        ),
        (
            "STATE",
            "What is known to have happened: state: in the config, else <config stem>.state.json \
             beside the config, or --state.",
        ),
        (
            "STATE.journal",
            "Every intent and response of a run, appended durably; folded into the state at the \
             end, or by the next command after a crash.",
        ),
        (
            "STATE.lock",
            "Held (an OS file lock) while a command may write the state.",
        ),
        (
            "STATE.backup",
            "The previous state, written before the first change of a run.",
        ),
    ];
    for (name, meaning) in files {
        roff.control("TP", []);
        roff.text([italic(name)]);
        roff.text([roman(meaning)]);
    }

    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "docs/RUNBOOK.md (an incident, end to end) and docs/CI.md (plans reviewed in pull \
         requests) in the source repository.",
    )]);
}
