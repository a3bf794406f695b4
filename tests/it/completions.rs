//! Everything generated from, or written against, the command line: the shell completion
//! scripts and the man page (run as real processes), and the CI examples in `examples/`, whose
//! every `edas-rollback …` command line must parse with the real clap definitions so an example
//! can never call a command or flag that does not exist.

use crate::support::{Workspace, assert_cli_snapshot, docs};

use clap::{CommandFactory, Parser};
use docs::invocations;
use edas_rollback::cli::args::{Cli, Command as Verb, OutputFormat};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The commands of docs/CONTRACT.md, "Commands": the contract every generated artefact must cover.
const DESIGN_COMMANDS: [&str; 8] = [
    "validate",
    "plan",
    "apply",
    "show",
    "state",
    "force-unlock",
    "simulate",
    "rehearse",
];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with `args` in an empty workspace (nothing there to read), asserts it
/// succeeded quietly, and returns stdout.
fn generated(args: &[&str]) -> String {
    let run = Workspace::empty().run_bare(args).expect(0);
    assert_eq!(run.stderr, "", "{args:?} wrote to stderr");
    run.stdout
}

/// Every visible subcommand clap knows, so a command added later is covered without
/// editing this file.
fn every_command() -> Vec<String> {
    let command = Cli::command();
    let mut names: Vec<String> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in DESIGN_COMMANDS {
        assert!(
            names.iter().any(|known| known == name),
            "docs/CONTRACT.md names `{name}`, the CLI does not"
        );
    }
    names.sort();
    names
}

#[test]
fn each_shell_script_is_non_empty_and_names_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let script = generated(&["completions", shell]);
        assert!(script.len() > 1000, "{shell}: only {} bytes", script.len());
        assert!(script.contains("edas-rollback"), "{shell}: no binary name");
        for name in every_command() {
            assert!(script.contains(&name), "{shell} script lacks `{name}`");
        }
        for name in ["list", "show", "rm"] {
            assert!(script.contains(name), "{shell} script lacks `state {name}`");
        }
    }
}

/// Sources the bash script and asks it to complete `words`, the last being the word under the
/// cursor, as bash itself would on Tab.
fn bash_completes(script: &Path, words: &[&str]) -> Vec<String> {
    let current = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let program = format!(
        "source '{script}'\nCOMP_WORDS=({words})\nCOMP_CWORD={current}\n\
         _edas__rollback edas-rollback '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        words = quoted.join(" "),
        cur = words[current],
        prev = words[current - 1],
    );
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Guards the respelling in `completions.rs`: with clap_complete's own output for a hyphenated
/// binary name, only the first word ever completed (clap-rs/clap#6421).
#[test]
fn bash_completes_the_flags_and_values_of_each_command_not_only_the_command_names() {
    let directory = tempfile::tempdir().unwrap();
    let script = directory.path().join("edas-rollback.bash");
    std::fs::write(&script, generated(&["completions", "bash"])).unwrap();

    assert_eq!(bash_completes(&script, &["edas-rollback", "pl"]), ["plan"]);
    assert_eq!(
        bash_completes(&script, &["edas-rollback", "plan", "--deta"]),
        ["--detailed-exitcode"]
    );
    assert_eq!(
        bash_completes(&script, &["edas-rollback", "show", "--format", ""]),
        ["text", "json", "markdown"]
    );
    assert_eq!(
        bash_completes(&script, &["edas-rollback", "apply", "--auto"]),
        ["--auto-approve"]
    );
    assert_eq!(
        bash_completes(&script, &["edas-rollback", "state", "r"]),
        ["rm"]
    );
    assert_eq!(
        bash_completes(&script, &["edas-rollback", "force-unlock", "--no"]),
        ["--no-color"]
    );
}

#[test]
fn an_unknown_shell_is_refused_naming_the_supported_ones() {
    let run = Workspace::empty()
        .run_bare(&["completions", "tcsh"])
        .expect(1);
    assert_eq!(run.stdout, "");
    assert_cli_snapshot!(run.stderr);
}

/// roff escapes `-` in text as `\-`.
fn roff(text: &str) -> String {
    text.replace('-', "\\-")
}

#[test]
fn the_man_page_has_a_name_section_and_documents_every_command_and_its_flags() {
    let page = generated(&["man"]);
    assert_eq!(
        page.matches(".ds Aq").count(),
        2,
        "one roff preamble: {page}"
    );
    // The page's outline: its title, every section and command heading, and the NAME line.
    let outline: Vec<&str> = page
        .lines()
        .scan(false, |after_name, line| {
            let keep = *after_name || [".TH ", ".SH ", ".SS "].iter().any(|p| line.starts_with(p));
            *after_name = line == ".SH NAME";
            Some(keep.then_some(line))
        })
        .flatten()
        .collect();
    assert_cli_snapshot!("man_page_outline", outline.join("\n"));
    // A command added later must get its heading (the outline above shows today's).
    for name in every_command() {
        if name == "state" {
            continue;
        }
        let heading = format!(".SS \"edas-rollback {name}\"");
        assert!(
            page.lines().any(|line| line == heading),
            "man page lacks `{heading}`"
        );
    }
    // Every flag of every command is documented, taken from clap rather than listed here.
    let mut command = Cli::command();
    command.build();
    let mut flags = Vec::new();
    collect_long_flags(&command, &mut flags);
    assert!(flags.contains(&"detailed-exitcode".to_owned()));
    for flag in flags {
        let escaped = roff(&format!("--{flag}"));
        assert!(page.contains(&escaped), "man page lacks `--{flag}`");
    }
    // The hand-written sections, whole: exit statuses, environment, files, see also.
    let written = page
        .find(".SH \"EXIT STATUS\"")
        .map(|at| &page[at..])
        .unwrap_or_default();
    assert_cli_snapshot!("man_page_exit_status_environment_files", written);
}

fn collect_long_flags(command: &clap::Command, flags: &mut Vec<String>) {
    for argument in command.get_arguments().filter(|arg| !arg.is_hide_set()) {
        if let Some(long) = argument.get_long()
            && !flags.iter().any(|known| known == long)
        {
            flags.push(long.to_owned());
        }
    }
    // Hidden commands (`sign-debug`) are outside the contract and the man page.
    for subcommand in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        collect_long_flags(subcommand, flags);
    }
}

// ---------------------------------------------------------------------------------------------
// The CI examples.

fn parse_yaml(relative: &str) -> Value {
    let text = std::fs::read_to_string(repository().join(relative)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// Parses every invocation with the real CLI definitions; returns the parsed ones.
fn parse_all(file: &str, scripts: &[String]) -> Vec<Cli> {
    let mut parsed = Vec::new();
    for script in scripts {
        for argv in invocations(script) {
            match Cli::try_parse_from(&argv) {
                Ok(cli) => parsed.push(cli),
                Err(error) => panic!("{file}: `{}` does not parse:\n{error}", argv.join(" ")),
            }
        }
    }
    parsed
}

/// What both CI examples must do, checked on the parsed commands: validate; plan with
/// `--detailed-exitcode` into a file; show that same file as markdown; apply that same file,
/// without `--auto-approve` (the review was the approval) and nothing else.
fn assert_the_reviewed_plan_flow(file: &str, parsed: &[Cli]) {
    let plan_file = parsed
        .iter()
        .find_map(|cli| match &cli.command {
            Verb::Plan(args) => {
                assert!(
                    args.detailed_exitcode,
                    "{file}: plan without --detailed-exitcode"
                );
                args.out.clone()
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{file}: no `plan --out FILE`"));
    assert!(
        parsed
            .iter()
            .any(|cli| matches!(cli.command, Verb::Validate)),
        "{file}: no `validate`"
    );
    assert!(
        parsed
            .iter()
            .any(|cli| matches!(cli.command, Verb::Rehearse(_))),
        "{file}: the runbook is never rehearsed before review"
    );
    assert!(
        parsed.iter().any(|cli| matches!(&cli.command, Verb::Show(args)
            if args.plan_file.as_ref() == Some(&plan_file) && args.format == OutputFormat::Markdown)),
        "{file}: the saved plan is never shown as markdown"
    );
    let applies: Vec<_> = parsed
        .iter()
        .filter_map(|cli| match &cli.command {
            Verb::Apply(args) => Some(args),
            _ => None,
        })
        .collect();
    assert_eq!(applies.len(), 1, "{file}: expected one apply");
    assert_eq!(
        applies[0].plan_file.as_ref(),
        Some(&plan_file),
        "{file}: apply must apply the reviewed plan file"
    );
    assert!(
        !applies[0].auto_approve,
        "{file}: apply of a plan file needs no --auto-approve"
    );
}

#[test]
fn the_github_workflow_parses_and_runs_only_real_commands_with_real_flags() {
    let file = "examples/github-actions/plan-and-apply.yml";
    let workflow = parse_yaml(file);
    let jobs = workflow["jobs"].as_object().unwrap();
    assert!(
        jobs.contains_key("plan") && jobs.contains_key("apply"),
        "{jobs:?}"
    );
    // YAML 1.2: `on` is a key, not the boolean YAML 1.1 would make it.
    assert!(workflow["on"]["pull_request"].is_object(), "{workflow}");
    assert!(workflow["on"]["push"].is_object(), "{workflow}");

    let mut scripts = Vec::new();
    for (name, job) in jobs {
        for step in job["steps"].as_array().unwrap() {
            assert!(
                step.get("uses").is_some() || step.get("run").is_some(),
                "{name}: a step neither uses nor runs: {step}"
            );
            if let Some(run) = step.get("run") {
                scripts.push(run.as_str().unwrap().to_owned());
            }
        }
    }
    let parsed = parse_all(file, &scripts);
    assert_the_reviewed_plan_flow(file, &parsed);

    // No stored keys: the apply job, and only it, may ask GitHub for an OIDC token and passes
    // the role's ARNs from repository variables; the token goes to a file for the chain.
    let text = std::fs::read_to_string(repository().join(file)).unwrap();
    assert!(
        !text.contains("ALIBABA_CLOUD_ACCESS_KEY_") && !text.contains("secrets.ALIBABA"),
        "{file}: stored keys"
    );
    assert_eq!(jobs["apply"]["permissions"]["id-token"], "write");
    assert!(jobs["plan"]["permissions"].get("id-token").is_none());
    let apply_env = &jobs["apply"]["env"];
    for variable in ["ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"] {
        assert_eq!(
            apply_env[variable].as_str().unwrap_or_default(),
            format!("${{{{ vars.{variable} }}}}")
        );
        assert!(
            jobs["plan"]
                .get("env")
                .is_none_or(|env| env.get(variable).is_none())
        );
    }
    assert!(
        scripts
            .iter()
            .any(|script| script.contains("ACTIONS_ID_TOKEN_REQUEST_URL")
                && script.contains("ALIBABA_CLOUD_OIDC_TOKEN_FILE=")
                && script.contains("$GITHUB_ENV")),
        "{file}: no step writes the OIDC token to a file for ALIBABA_CLOUD_OIDC_TOKEN_FILE"
    );
    // Two applies never race on the committed state.
    assert_eq!(jobs["apply"]["concurrency"]["cancel-in-progress"], false);
}

#[test]
fn the_gitlab_pipeline_parses_and_runs_only_real_commands_with_real_flags() {
    let file = "examples/gitlab-ci.yml";
    let pipeline = parse_yaml(file);
    let jobs = pipeline.as_object().unwrap();
    assert!(
        jobs.contains_key("plan") && jobs.contains_key("apply"),
        "{jobs:?}"
    );

    let mut scripts = Vec::new();
    for job in jobs.values() {
        for key in ["before_script", "script", "after_script"] {
            for line in job.get(key).and_then(Value::as_array).into_iter().flatten() {
                scripts.push(line.as_str().unwrap().to_owned());
            }
        }
    }
    let parsed = parse_all(file, &scripts);
    assert_the_reviewed_plan_flow(file, &parsed);
    assert!(
        jobs["plan"]["artifacts"]["paths"]
            .as_array()
            .unwrap()
            .contains(&Value::from("plan.json"))
    );
    // Applies queue one at a time on the committed state.
    assert!(jobs["apply"]["resource_group"].is_string());
    // No stored keys: the apply job's `id_tokens:` token, written to the file the chain reads.
    let text = std::fs::read_to_string(repository().join(file)).unwrap();
    assert!(
        !text.contains("ALIBABA_CLOUD_ACCESS_KEY_"),
        "{file}: stored keys"
    );
    assert!(jobs["apply"]["id_tokens"]["ALIBABA_CLOUD_OIDC_TOKEN"]["aud"].is_string());
    assert!(jobs["plan"].get("id_tokens").is_none());
    assert!(
        scripts
            .iter()
            .any(|line| line.contains("ALIBABA_CLOUD_OIDC_TOKEN_FILE=")
                && line.contains("\"$ALIBABA_CLOUD_OIDC_TOKEN\"")),
        "{file}: the token is never written to ALIBABA_CLOUD_OIDC_TOKEN_FILE"
    );
}

#[test]
fn the_command_extractor_finds_commands_and_ignores_mentions() {
    let script = "status=0\n\
        edas-rollback plan --out plan.json --detailed-exitcode || status=$?\n\
        # edas-rollback apply in a comment\n\
        git config user.name \"edas-rollback CI\"\n\
        for file in edas-rollback.state.json; do echo; done\n\
        NO_COLOR=1 edas-rollback show plan.json \\\n  --format markdown > plan.md\n\
        if x; then edas-rollback validate; fi\n\
        out=$(edas-rollback -c 'a b.yaml' validate)\n";
    let found: Vec<String> = invocations(script)
        .iter()
        .map(|argv| argv.join(" "))
        .collect();
    assert_eq!(
        found,
        [
            "edas-rollback plan --out plan.json --detailed-exitcode",
            "edas-rollback show plan.json --format markdown",
            "edas-rollback validate",
            "edas-rollback -c a b.yaml validate",
        ]
    );
    assert!(Cli::try_parse_from(["edas-rollback", "plan", "--no-such-flag"]).is_err());
}
