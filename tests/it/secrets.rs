//! Secrets are never written (docs/credentials.md, docs/RELIABILITY.md): every command, its
//! failures and its `-v` and `-vv` logs, with a recognisable access key secret and STS token given
//! through the environment and through an aliyun CLI profile, against a simulator that requires
//! both. Every byte of stdout and stderr and every file written under the workspace is scanned for
//! the secret, the token, and every 8-character piece of either.

use crate::support;
use crate::support::pg_cluster;

use edas_rollback::edas::secret::Secret;
use edas_rollback::sim::{Faults, SimConfig};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::*;

const SECRET: &str = "SECRET-DO-NOT-LEAK-9f8e7d";
const TOKEN: &str = "TOKEN-DO-NOT-LEAK-1a2b3c";
const KEY_ID: &str = "LTAI5tLeakTestKeyId";

/// Every 8-character piece of the secret and the token: a leak of part of one is a leak.
fn forbidden() -> Vec<String> {
    let mut pieces = Vec::new();
    for whole in [SECRET, TOKEN] {
        for start in 0..=whole.len() - 8 {
            pieces.push(whole[start..start + 8].to_string());
        }
    }
    pieces
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let haystack = String::from_utf8_lossy(bytes);
    for piece in forbidden() {
        assert!(
            !haystack.contains(&piece),
            "`{piece}` (from the secret or token) appears in {what}:\n{haystack}"
        );
    }
}

/// How the binary gets its credentials in one pass over the commands.
#[derive(Clone, Copy, Debug)]
enum Source {
    Environment,
    Profile,
}

struct Harness {
    workspace: Workspace,
    source: Source,
    endpoint: String,
    /// What every command printed, by command, for the scan and for failures.
    outputs: Vec<(String, Output)>,
}

impl Harness {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.workspace.bare_command(args);
        command.env("EDAS_ENDPOINT", &self.endpoint);
        if let Source::Environment = self.source {
            command
                .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
                .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
                .env("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN);
        }
        command
    }

    /// Runs a command, expects `code`, and keeps its output for the scan.
    fn expect(&mut self, args: &[&str], code: i32) -> &Output {
        let output = run(self.command(args));
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?} ({:?}): {}",
            self.source,
            describe(&output)
        );
        self.outputs.push((format!("{args:?}"), output));
        &self.outputs.last().unwrap().1
    }

    fn scan(&self) {
        for (args, output) in &self.outputs {
            assert_clean(&format!("the stdout of {args}"), &output.stdout);
            assert_clean(&format!("the stderr of {args}"), &output.stderr);
        }
        let profile = self.workspace.path(".aliyun/config.json");
        let files: Vec<_> = files_under(self.workspace.dir.path())
            .into_iter()
            .filter(|path| *path != profile)
            .collect();
        for path in files {
            assert_clean(&path.display().to_string(), &std::fs::read(&path).unwrap());
        }
    }
}

fn write_profile(home: &Path) {
    std::fs::create_dir_all(home.join(".aliyun")).unwrap();
    let profile = serde_json::json!({
        "current": "incident",
        "profiles": [{
            "name": "incident",
            "mode": "StsToken",
            "access_key_id": KEY_ID,
            "access_key_secret": SECRET,
            "sts_token": TOKEN,
            "region_id": "cn-hangzhou",
            "output_format": "json",
        }],
        "meta_path": "",
    });
    std::fs::write(
        home.join(".aliyun/config.json"),
        serde_json::to_vec_pretty(&profile).unwrap(),
    )
    .unwrap();
}

fn sim_with(secret: &str) -> Sim {
    Sim::start(sim_config(secret))
}

fn sim_config(secret: &str) -> SimConfig {
    SimConfig {
        access_key_id: KEY_ID.to_string(),
        access_key_secret: Secret::new(secret),
        security_token: Some(Secret::new(TOKEN)),
        any_id: true,
        faults: Faults {
            drop_rate: 0.2,
            fail_rate: 0.1,
            ..Faults::default()
        },
        seed: 4,
        ..SimConfig::default()
    }
}

fn every_command_keeps_the_secret_and_token_out_of_output_and_files(source: Source) {
    let sim = sim_with(SECRET);
    // The same key id with another secret: our signature will not match.
    let wrong = sim_with("ANOTHER-SECRET-ENTIRELY-000");
    let workspace = Workspace::new(12);
    if let Source::Profile = source {
        write_profile(workspace.dir.path());
        // The scan would see it: the one file allowed to hold the secret is the profile.
        let profile = std::fs::read(workspace.path(".aliyun/config.json")).unwrap();
        assert!(
            std::panic::catch_unwind(|| assert_clean("the profile", &profile)).is_err(),
            "the scan recognises the secret"
        );
    }
    let mut harness = Harness {
        workspace,
        source,
        endpoint: sim.endpoint(),
        outputs: Vec::new(),
    };
    let first = harness.workspace.ids[0].clone();
    let second = harness.workspace.ids[1].clone();

    harness.expect(&["validate"], 0);
    harness.expect(&["-vv", "validate"], 0);
    harness.expect(&["plan"], 0);
    harness.expect(&["-vv", "plan", "--refresh"], 0);
    harness.expect(&["plan", "--out", "plan.json", "--format", "json"], 0);
    harness.expect(&["show", "plan.json", "--format", "markdown"], 0);

    // Signature failure first, with the server's string to sign in the error.
    harness.endpoint = wrong.endpoint();
    let failure = harness.expect(&["-vv", "apply", "--auto-approve"], 1);
    assert!(text(&failure.stderr).contains("SignatureDoesNotMatch"));
    harness.expect(&["-v", "apply", "--auto-approve", "--json"], 1);
    harness.endpoint = sim.endpoint();

    harness.expect(&["plan", "--out", "plan.json"], 0);
    harness.expect(&["-vv", "apply", "plan.json"], 0);
    let stale = harness.expect(&["-v", "apply", "plan.json"], 1);
    assert!(text(&stale.stderr).contains("Saved plan is stale"));
    harness.expect(&["apply", "--auto-approve"], 0);
    harness.expect(&["show"], 0);
    harness.expect(&["show", "--format", "json"], 0);
    harness.expect(&["state", "list"], 0);
    harness.expect(&["-vv", "state", "show", &first], 0);
    harness.expect(&["state", "show", "no-such-change-order"], 1);
    harness.expect(&["state", "rm", &second], 0);
    // The removed change order is planned again, but the refresh finds it already stopped
    // (status 6), so nothing would be sent: exit 0. The GetChangeOrderInfo request it signed
    // with the token is what this step is here to scan.
    harness.expect(&["-vv", "plan", "--refresh", "--detailed-exitcode"], 0);
    harness.expect(&["force-unlock", "not-a-lock"], 1);
    harness.expect(&["-vv", "rehearse"], 0);

    // A run caught in the middle: its lock and journal are on disk, and a SIGKILL leaves the
    // journal for the next command to fold.
    let slow = Sim::start(SimConfig {
        faults: Faults {
            latency: edas_rollback::sim::Latency::Fixed(std::time::Duration::from_millis(300)),
            ..Faults::default()
        },
        ..sim_config(SECRET)
    });
    harness.workspace.declare(17);
    harness.endpoint = slow.endpoint();
    let mut child = harness
        .command(&["-vv", "apply", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(std::time::Duration::from_secs(30), || {
        harness.workspace.journal_lines() >= 2
    });
    let live = files_under(harness.workspace.dir.path());
    for name in [
        "edas-rollback.state.json.lock",
        "edas-rollback.state.json.journal",
    ] {
        assert!(live.iter().any(|path| path.ends_with(name)), "{live:?}");
    }
    for path in live
        .iter()
        .filter(|path| !path.ends_with(".aliyun/config.json"))
    {
        assert_clean(&path.display().to_string(), &std::fs::read(path).unwrap());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(harness.workspace.journal_path().exists());
    harness.expect(&["-vv", "state", "list"], 0);
    harness.expect(&["-v", "apply", "--auto-approve"], 0);
    harness.endpoint = sim.endpoint();
    harness.expect(&["completions", "bash"], 0);
    harness.expect(&["man"], 0);
    // Without the endpoint to refuse the rest, a config error and a missing file.
    harness.expect(&["-c", "missing.yaml", "-vv", "apply", "--auto-approve"], 1);

    assert!(sim.stats().totals.aborts_committed >= 12);
    assert_eq!(wrong.stats().totals.aborts_committed, 0);
    assert!(wrong.stats().totals.signature_failures > 0);
    let files = files_under(harness.workspace.dir.path());
    assert!(
        files
            .iter()
            .any(|path| path.ends_with("edas-rollback.state.json.backup")),
        "the scan sees the backup: {files:?}"
    );
    harness.scan();
}

#[test]
fn every_command_keeps_secrets_given_in_the_environment_out_of_every_output_and_file() {
    every_command_keeps_the_secret_and_token_out_of_output_and_files(Source::Environment);
}

#[test]
fn every_command_keeps_secrets_from_an_aliyun_sts_profile_out_of_every_output_and_file() {
    every_command_keeps_the_secret_and_token_out_of_output_and_files(Source::Profile);
}

#[test]
fn the_simulator_given_a_secret_and_token_on_its_command_line_never_prints_them() {
    let workspace = Workspace::new(5);
    let mut simulator = workspace
        .bare_command(&[
            "-vv",
            "simulate",
            "--any-id",
            "--access-key-id",
            KEY_ID,
            "--access-key-secret",
            SECRET,
            "--security-token",
            TOKEN,
            "--drop-rate",
            "0.3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(simulator.stdout.take().unwrap());
    let mut first_line = String::new();
    stdout.read_line(&mut first_line).unwrap();
    let endpoint = first_line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first_line}"))
        .to_string();

    let mut harness = Harness {
        workspace,
        source: Source::Environment,
        endpoint,
        outputs: Vec::new(),
    };
    harness.expect(&["-vv", "apply", "--auto-approve"], 0);
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(simulator.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).unwrap();
    let output = simulator.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_clean("the simulator's stdout", first_line.as_bytes());
    assert_clean("the simulator's stdout", &rest);
    assert_clean("the simulator's stderr", &output.stderr);
    assert!(
        text(&output.stderr).contains("5 aborts committed"),
        "{}",
        text(&output.stderr)
    );
    harness.scan();
}

/// A PostgreSQL state URL's password (in the URL, or in PGPASSWORD) appears in no output or
/// error of any command, including a URL that does not parse and a server that cannot be
/// reached, at `-vv`.
#[test]
fn a_postgresql_password_never_leaves_the_url_it_was_given_in() {
    const PASSWORD: &str = "PGPASS-DO-NOT-LEAK-5x6y7z";
    let pieces: Vec<&str> = (0..=PASSWORD.len() - 8)
        .map(|start| &PASSWORD[start..start + 8])
        .collect();
    let cluster = pg_cluster::PgCluster::start();
    let sim = Sim::any_id(Faults::default(), 11);
    let workspace = Workspace::new(3).against(&sim);
    let socket = cluster.socket_dir().display().to_string();
    let with_password = format!("postgresql://postgres:{PASSWORD}@/postgres?host={socket}");
    let bad_option = format!("{with_password}&no_such_option=1");
    let unreachable = format!("postgresql://postgres:{PASSWORD}@/postgres?host=/nonexistent");
    let runs: Vec<(String, Vec<String>, bool)> = vec![
        (
            with_password.clone(),
            vec!["apply".into(), "--auto-approve".into()],
            false,
        ),
        (
            with_password.clone(),
            vec!["-vv".into(), "plan".into()],
            false,
        ),
        (
            with_password.clone(),
            vec!["state".into(), "list".into()],
            false,
        ),
        (
            with_password.clone(),
            vec!["state".into(), "pull".into()],
            false,
        ),
        (
            with_password.clone(),
            vec!["force-unlock".into(), "x".into()],
            false,
        ),
        (bad_option, vec!["plan".into()], false),
        (
            unreachable.clone(),
            vec!["-vv".into(), "apply".into(), "--auto-approve".into()],
            false,
        ),
        // The password from the environment instead of the URL.
        (
            format!("postgresql://postgres@/postgres?host={socket}"),
            vec!["state".into(), "list".into()],
            true,
        ),
        (
            "postgresql://postgres@/postgres?host=/nonexistent".into(),
            vec!["plan".into()],
            true,
        ),
    ];
    let mut failures = 0;
    for (url, args, from_env) in runs {
        let mut all = vec!["--state".to_string(), url];
        all.extend(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut command = workspace.binary(&all);
        if from_env {
            command.env("PGPASSWORD", PASSWORD);
        }
        let output = run(command);
        if output.status.code() != Some(0) {
            failures += 1;
            eprintln!(
                "{all:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for (what, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            for piece in &pieces {
                assert!(
                    !text.contains(piece),
                    "`{piece}` of the PostgreSQL password appears in the {what} of {all:?}:\n{text}"
                );
            }
        }
    }
    // The unparsable URL, the two unreachable servers and force-unlock of no lock fail; the
    // rest ran.
    assert_eq!(failures, 4);
    for file in files_under(workspace.dir.path()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for piece in &pieces {
            assert!(!text.contains(piece), "`{piece}` in {}", file.display());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Temporary credentials (docs/credentials.md): the keys and tokens STS, the metadata service, a
// credentials URI or an external process hand out, the OIDC token, the metadata token and the
// long-lived keys a role is assumed with never show in any output or file either.

mod temporary {
    use super::support::fake_sts::*;
    use super::support::*;
    use std::process::{Command, Output};

    fn forbidden() -> Vec<String> {
        let mut pieces = Vec::new();
        for whole in [TEMP_SECRET, TEMP_TOKEN, OIDC_TOKEN, BASE_SECRET, IMDS_TOKEN] {
            for start in 0..=whole.len() - 8 {
                pieces.push(whole[start..start + 8].to_string());
            }
        }
        pieces
    }

    fn assert_clean(what: &str, bytes: &[u8]) {
        let haystack = String::from_utf8_lossy(bytes);
        for piece in forbidden() {
            assert!(
                !haystack.contains(&piece),
                "`{piece}` (from a temporary secret or token) appears in {what}:\n{haystack}"
            );
        }
    }

    /// The input files that hold secrets by design.
    const INPUTS: [&str; 4] = [
        ".aliyun/config.json",
        "oidc-token",
        "print-creds.sh",
        "credentials.ini",
    ];

    #[derive(Clone, Copy, Debug)]
    enum Setup {
        OidcEnvironment,
        RamRoleArnProfile,
        EcsMetadata,
        CredentialsUri,
        External,
        CredentialsFile,
    }

    fn configure(setup: Setup, workspace: &Workspace, cloud: &FakeCloud, command: &mut Command) {
        let home = workspace.dir.path();
        match setup {
            Setup::OidcEnvironment => {
                command
                    .env("ALIBABA_CLOUD_ROLE_ARN", ROLE_ARN)
                    .env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", OIDC_PROVIDER_ARN)
                    .env("ALIBABA_CLOUD_OIDC_TOKEN_FILE", write_token(workspace));
            }
            Setup::RamRoleArnProfile => write_aliyun_config(
                home,
                "ops",
                vec![aliyun_profile(
                    "ops",
                    "RamRoleArn",
                    serde_json::json!({
                        "access_key_id": BASE_ID, "access_key_secret": BASE_SECRET,
                        "ram_role_arn": ROLE_ARN,
                    }),
                )],
            ),
            Setup::EcsMetadata => {
                command.env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED");
            }
            Setup::CredentialsUri => {
                command.env(
                    "ALIBABA_CLOUD_CREDENTIALS_URI",
                    format!("{}/creds", cloud.url()),
                );
            }
            Setup::External => {
                let script = write_external(workspace);
                write_aliyun_config(
                    home,
                    "vault",
                    vec![aliyun_profile(
                        "vault",
                        "External",
                        serde_json::json!({"process_command": format!("/bin/sh {script}")}),
                    )],
                );
            }
            Setup::CredentialsFile => {
                let path = workspace.path("credentials.ini");
                std::fs::write(
                    &path,
                    format!(
                        "[default]\ntype = ram_role_arn\naccess_key_id = {BASE_ID}\naccess_key_secret = {BASE_SECRET}\nrole_arn = {ROLE_ARN}\n"
                    ),
                )
                .unwrap();
                command.env("ALIBABA_CLOUD_CREDENTIALS_FILE", &path);
            }
        }
    }

    fn run_all(setup: Setup) {
        let cloud = FakeCloud::start();
        let sim = Sim::start(FakeCloud::sim_config());
        let workspace = Workspace::new(6);
        let mut outputs: Vec<(String, Output)> = Vec::new();
        let mut expect = |args: &[&str], code: i32| {
            let mut command = workspace.bare_command(args);
            command
                .env("EDAS_ENDPOINT", sim.endpoint())
                .env("ALIBABA_CLOUD_STS_ENDPOINT", cloud.url())
                .env("ALIBABA_CLOUD_IMDS_ENDPOINT", cloud.url());
            configure(setup, &workspace, &cloud, &mut command);
            let output = run(command);
            assert_eq!(
                output.status.code(),
                Some(code),
                "{setup:?} {args:?}: {}",
                describe(&output)
            );
            outputs.push((format!("{setup:?} {args:?}"), output));
        };
        expect(&["-vv", "credentials", "--verify"], 0);
        expect(&["-vv", "plan", "--refresh", "--out", "plan.json"], 0);
        expect(&["show", "plan.json", "--format", "json"], 0);
        expect(&["-vv", "apply", "plan.json"], 0);
        expect(&["-vv", "show", "--format", "json"], 0);
        expect(&["-vv", "state", "list"], 0);
        expect(&["-v", "apply", "--auto-approve", "--json"], 0);
        assert_eq!(sim.stats().totals.aborts_committed, 6);
        for (what, output) in &outputs {
            assert_clean(&format!("the stdout of {what}"), &output.stdout);
            assert_clean(&format!("the stderr of {what}"), &output.stderr);
        }
        let files: Vec<_> = files_under(workspace.dir.path())
            .into_iter()
            .filter(|path| !INPUTS.iter().any(|input| path.ends_with(input)))
            .collect();
        assert!(
            files
                .iter()
                .any(|path| path.ends_with("edas-rollback.state.json")),
            "{files:?}"
        );
        for path in files {
            assert_clean(&path.display().to_string(), &std::fs::read(&path).unwrap());
        }
        // The scan does recognise a secret: an input it skips holds one.
        let recognised = files_under(workspace.dir.path())
            .into_iter()
            .filter(|path| INPUTS.iter().any(|input| path.ends_with(input)))
            .filter(|input| {
                let bytes = std::fs::read(input).unwrap();
                std::panic::catch_unwind(|| assert_clean("an input", &bytes)).is_err()
            })
            .count();
        assert!(
            recognised > 0 || matches!(setup, Setup::EcsMetadata | Setup::CredentialsUri),
            "{setup:?}: no input holds a secret the scan knows"
        );
    }

    #[test]
    fn temporary_credentials_from_every_source_stay_out_of_every_output_and_file() {
        for setup in [
            Setup::OidcEnvironment,
            Setup::RamRoleArnProfile,
            Setup::EcsMetadata,
            Setup::CredentialsUri,
            Setup::External,
            Setup::CredentialsFile,
        ] {
            run_all(setup);
        }
    }

    #[test]
    fn a_failing_or_garbled_external_process_never_has_its_output_shown() {
        let sim = Sim::start(FakeCloud::sim_config());
        let workspace = Workspace::new(2);
        for (name, script) in [
            (
                "fails",
                format!(
                    "echo '{{\"access_key_secret\":\"{TEMP_SECRET}\"}}'; echo {TEMP_TOKEN} >&2; exit 3"
                ),
            ),
            (
                "garbled",
                format!("echo 'not json {TEMP_SECRET} {TEMP_TOKEN}'"),
            ),
        ] {
            let path = workspace.path(&format!("{name}.sh"));
            std::fs::write(&path, script).unwrap();
            write_aliyun_config(
                workspace.dir.path(),
                "vault",
                vec![aliyun_profile(
                    "vault",
                    "External",
                    serde_json::json!({"process_command": format!("/bin/sh {}", path.display())}),
                )],
            );
            let mut command = workspace.bare_command(&["-vv", "apply", "--auto-approve"]);
            command.env("EDAS_ENDPOINT", sim.endpoint());
            let output = run(command);
            assert_exit(&output, 1);
            let stderr = text(&output.stderr);
            assert!(
                stderr.contains("External") || stderr.contains("process"),
                "{stderr}"
            );
            assert!(stderr.contains("aliyun CLI profile `vault`"), "{stderr}");
            assert_clean(&format!("the stderr of {name}"), &output.stderr);
            assert_clean(&format!("the stdout of {name}"), &output.stdout);
        }
        assert_eq!(sim.stats().totals.requests, 0);
    }
}

/// A proxy's password (in `HTTP_PROXY`) never appears in any output or file, whether the
/// proxy carries the run, refuses it, or names a scheme we do not support.
#[test]
fn a_proxy_password_never_appears_in_output_or_files() {
    use base64::Engine as _;
    const PROXY_PASSWORD: &str = "PROXY-PASS-DO-NOT-LEAK-77";
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("ops:{PROXY_PASSWORD}"));
    let expected: &'static str = Box::leak(format!("Basic {encoded}").into_boxed_str());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (proxy, heads) = runtime.block_on(crate::edas_client::forwarding_proxy(expected, None));
    let sim = Sim::start(SimConfig {
        faults: Faults::default(),
        ..sim_config(SECRET)
    });
    let workspace = Workspace::new(3);
    let run_with = |proxy_url: &str, args: &[&str]| {
        let mut command = workspace.bare_command(args);
        command
            .env("EDAS_ENDPOINT", sim.endpoint())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
            .env("HTTP_PROXY", proxy_url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy");
        run(command)
    };
    let good = format!("http://ops:{PROXY_PASSWORD}@{proxy}");
    let wrong = format!("http://ops:{PROXY_PASSWORD}-wrong@{proxy}");
    let unsupported = format!("socks5://ops:{PROXY_PASSWORD}@{proxy}");
    let mut outputs = Vec::new();
    let plan = run_with(&good, &["-vv", "plan", "--refresh"]);
    assert_eq!(plan.status.code(), Some(0), "{}", describe(&plan));
    outputs.push(plan);
    let refused = run_with(&wrong, &["-vv", "apply", "--auto-approve"]);
    assert_ne!(refused.status.code(), Some(0), "{}", describe(&refused));
    outputs.push(refused);
    let not_supported = run_with(&unsupported, &["-vv", "apply", "--auto-approve"]);
    assert_ne!(
        not_supported.status.code(),
        Some(0),
        "{}",
        describe(&not_supported)
    );
    assert!(
        text(&not_supported.stderr).contains("socks5://127.0.0.1"),
        "{}",
        describe(&not_supported)
    );
    outputs.push(not_supported);
    let applied = run_with(&good, &["-vv", "apply", "--auto-approve"]);
    assert_eq!(applied.status.code(), Some(0), "{}", describe(&applied));
    outputs.push(applied);
    let heads = heads.lock().unwrap().clone();
    assert!(
        heads.iter().any(|head| head.contains(expected)),
        "the run went through the proxy: {heads:?}"
    );

    let mut pieces = vec![encoded.clone()];
    for start in 0..=PROXY_PASSWORD.len() - 8 {
        pieces.push(PROXY_PASSWORD[start..start + 8].to_string());
    }
    let check = |what: &str, bytes: &[u8]| {
        let haystack = String::from_utf8_lossy(bytes);
        for piece in &pieces {
            assert!(
                !haystack.contains(piece.as_str()),
                "`{piece}` (from the proxy password) appears in {what}:\n{haystack}"
            );
        }
    };
    for output in &outputs {
        check("stdout", &output.stdout);
        check("stderr", &output.stderr);
        assert_clean("stderr", &output.stderr);
    }
    for path in files_under(workspace.dir.path()) {
        check(&path.display().to_string(), &std::fs::read(&path).unwrap());
    }
}
