//! Every credentials source end to end (docs/credentials.md): the real binary, configured the
//! way people configure it (environment variables, `~/.aliyun/config.json` as `aliyun
//! configure` writes it, the credentials file), gets temporary keys from loopback fakes of
//! STS, the ECS metadata service, a credentials URI or an external process, and `apply`
//! aborts every change order on a simulator that accepts only those temporary keys.

use crate::support;

use std::process::{Command, Output};
use support::fake_sts::*;
use support::*;

const COUNT: usize = 3;

/// The binary in `workspace`, against `sim`, with the fakes as STS, metadata service and the
/// base of every credentials URI.
fn command(workspace: &Workspace, sim: &Sim, cloud: &FakeCloud, args: &[&str]) -> Command {
    let mut command = workspace.bare_command(args);
    command
        .env("EDAS_ENDPOINT", sim.endpoint())
        .env("ALIBABA_CLOUD_STS_ENDPOINT", cloud.url())
        .env("ALIBABA_CLOUD_IMDS_ENDPOINT", cloud.url());
    command
}

fn apply(workspace: &Workspace, sim: &Sim, configure: impl FnOnce(&mut Command)) -> Output {
    let mut command = workspace.bare_command(&["apply", "--auto-approve"]);
    command.env("EDAS_ENDPOINT", sim.endpoint());
    configure(&mut command);
    let output = run(command);
    assert_exit(&output, 0);
    output
}

/// Runs `apply` with the fakes wired in and checks every change order was aborted with the
/// temporary keys.
fn applies_with(setup: impl FnOnce(&Workspace, &FakeCloud, &mut Command)) -> FakeCloud {
    let cloud = FakeCloud::start();
    let sim = Sim::start(FakeCloud::sim_config());
    let workspace = Workspace::new(COUNT);
    apply(&workspace, &sim, |command| {
        command
            .env("ALIBABA_CLOUD_STS_ENDPOINT", cloud.url())
            .env("ALIBABA_CLOUD_IMDS_ENDPOINT", cloud.url());
        setup(&workspace, &cloud, command);
    });
    let stats = sim.stats();
    assert_eq!(stats.totals.aborts_committed, COUNT as u64, "{stats:?}");
    assert_eq!(stats.totals.signature_failures, 0);
    assert_all_aborted_exactly_once(&workspace, &sim);
    cloud
}

#[test]
fn oidc_from_the_environment_assumes_the_role_with_the_token_file() {
    let cloud = applies_with(|workspace, _, command| {
        command
            .env("ALIBABA_CLOUD_ROLE_ARN", ROLE_ARN)
            .env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", OIDC_PROVIDER_ARN)
            .env("ALIBABA_CLOUD_OIDC_TOKEN_FILE", write_token(workspace))
            .env("ALIBABA_CLOUD_ROLE_SESSION_NAME", "gh-run-42");
    });
    assert_eq!(cloud.count("AssumeRoleWithOIDC"), 1);
    assert_eq!(cloud.seen().last_session_name.as_deref(), Some("gh-run-42"));
}

#[test]
fn a_ram_role_arn_profile_assumes_the_role_with_a_verified_rpc_signature() {
    let cloud = applies_with(|workspace, _, _| {
        write_aliyun_config(
            workspace.dir.path(),
            "ops",
            vec![aliyun_profile(
                "ops",
                "RamRoleArn",
                serde_json::json!({
                    "access_key_id": BASE_ID, "access_key_secret": BASE_SECRET,
                    "ram_role_arn": ROLE_ARN, "ram_session_name": "oncall", "expired_seconds": 900,
                }),
            )],
        );
    });
    assert_eq!(cloud.count("AssumeRole"), 1, "{:?}", cloud.seen());
    assert_eq!(cloud.seen().last_role_arn.as_deref(), Some(ROLE_ARN));
}

#[test]
fn a_chainable_profile_assumes_the_role_on_top_of_its_source_profile() {
    let cloud = applies_with(|workspace, _, command| {
        write_aliyun_config(
            workspace.dir.path(),
            "default",
            vec![
                aliyun_profile(
                    "default",
                    "AK",
                    serde_json::json!({"access_key_id": BASE_ID, "access_key_secret": BASE_SECRET}),
                ),
                aliyun_profile(
                    "deploy",
                    "ChainableRamRoleArn",
                    serde_json::json!({"source_profile": "default", "ram_role_arn": ROLE_ARN}),
                ),
            ],
        );
        command.env("ALIBABA_CLOUD_PROFILE", "deploy");
    });
    assert_eq!(cloud.count("AssumeRole"), 1, "{:?}", cloud.seen());
}

#[test]
fn an_oidc_profile_reads_its_token_file() {
    let cloud = applies_with(|workspace, _, _| {
        let token = write_token(workspace);
        write_aliyun_config(
            workspace.dir.path(),
            "ci",
            vec![aliyun_profile(
                "ci",
                "OIDC",
                serde_json::json!({
                    "ram_role_arn": ROLE_ARN, "oidc_provider_arn": OIDC_PROVIDER_ARN,
                    "oidc_token_file": token,
                }),
            )],
        );
    });
    assert_eq!(cloud.count("AssumeRoleWithOIDC"), 1);
}

#[test]
fn an_ecs_ram_role_profile_asks_the_metadata_service_with_an_imdsv2_token() {
    let cloud = applies_with(|workspace, _, command| {
        write_aliyun_config(
            workspace.dir.path(),
            "bastion",
            vec![aliyun_profile(
                "bastion",
                "EcsRamRole",
                serde_json::json!({"ram_role_name": ROLE_NAME}),
            )],
        );
        command.env("ALIBABA_CLOUD_IMDSV1_DISABLED", "true");
    });
    assert_eq!(cloud.count("imds-token"), 1);
    assert_eq!(cloud.count("imds-credentials"), 1);
    assert_eq!(cloud.count("refused:ImdsTokenMissing"), 0);
}

#[test]
fn the_instance_role_is_the_chain_s_fallback_when_nothing_else_is_configured() {
    let cloud = applies_with(|_, _, command| {
        command.env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED");
    });
    // The role came from the listing.
    assert_eq!(cloud.count("imds-role"), 1);
    assert_eq!(cloud.count("imds-credentials"), 1);
}

#[test]
fn a_credentials_uri_profile_and_the_environment_variable_both_work() {
    let cloud = applies_with(|workspace, cloud, _| {
        write_aliyun_config(
            workspace.dir.path(),
            "uri",
            vec![aliyun_profile(
                "uri",
                "CredentialsURI",
                serde_json::json!({"credentials_uri": format!("{}/creds", cloud.url())}),
            )],
        );
    });
    assert_eq!(cloud.count("creds"), 1);
    let cloud = applies_with(|_, cloud, command| {
        command.env(
            "ALIBABA_CLOUD_CREDENTIALS_URI",
            format!("{}/creds", cloud.url()),
        );
    });
    assert_eq!(cloud.count("creds"), 1);
}

#[test]
fn an_external_profile_runs_its_process_command() {
    applies_with(|workspace, _, _| {
        let script = write_external(workspace);
        write_aliyun_config(
            workspace.dir.path(),
            "vault",
            vec![aliyun_profile(
                "vault",
                "External",
                serde_json::json!({"process_command": format!("/bin/sh {script}")}),
            )],
        );
    });
}

#[test]
fn the_credentials_file_assumes_a_role_from_its_section() {
    let cloud = applies_with(|workspace, _, command| {
        let path = workspace.path("credentials.ini");
        std::fs::write(
            &path,
            format!(
                "[default]\ntype = access_key\naccess_key_id = unused\naccess_key_secret = unused\n\n[ops]\nenable = true\ntype = ram_role_arn\naccess_key_id = {BASE_ID}\naccess_key_secret = {BASE_SECRET}\nrole_arn = {ROLE_ARN}\nrole_session_name = from-ini\n"
            ),
        )
        .unwrap();
        command
            .env("ALIBABA_CLOUD_CREDENTIALS_FILE", &path)
            .env("ALIBABA_CLOUD_PROFILE", "ops");
    });
    assert_eq!(cloud.seen().last_session_name.as_deref(), Some("from-ini"));
}

#[test]
fn a_refused_assume_role_stops_before_anything_is_sent_naming_the_source() {
    let cloud = FakeCloud::start();
    let sim = Sim::start(FakeCloud::sim_config());
    let workspace = Workspace::new(COUNT);
    write_aliyun_config(
        workspace.dir.path(),
        "ops",
        vec![aliyun_profile(
            "ops",
            "RamRoleArn",
            serde_json::json!({
                "access_key_id": BASE_ID, "access_key_secret": "a-wrong-secret",
                "ram_role_arn": ROLE_ARN,
            }),
        )],
    );
    let output = run(command(
        &workspace,
        &sim,
        &cloud,
        &["apply", "--auto-approve"],
    ));
    assert_exit(&output, 1);
    // Names the profile and STS's refusal of AssumeRole.
    assert_cli_snapshot!(text(&output.stderr));
    assert_eq!(sim.stats().totals.requests, 0);
}

#[test]
fn with_no_credentials_anywhere_the_error_lists_every_place_in_order() {
    let sim = Sim::start(FakeCloud::sim_config());
    let workspace = Workspace::new(COUNT);
    // A metadata endpoint where nothing listens: the chain asks it and moves on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut command = workspace.bare_command(&["apply", "--auto-approve"]);
    command
        .env("EDAS_ENDPOINT", sim.endpoint())
        .env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
        .env(
            "ALIBABA_CLOUD_IMDS_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        );
    let output = Run::from(run(command)).expect(1);
    // Every place the chain looked, in the order it looked (the port is the closed one).
    assert_cli_snapshot!(
        output
            .stderr
            .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:[CLOSED-PORT]")
    );
    assert_eq!(sim.stats().totals.requests, 0);
}

#[test]
fn the_credentials_command_shows_source_key_id_role_and_expiry_and_verifies_with_sts() {
    let cloud = FakeCloud::start();
    let sim = Sim::start(FakeCloud::sim_config());
    let workspace = Workspace::new(COUNT);
    write_aliyun_config(
        workspace.dir.path(),
        "ops",
        vec![aliyun_profile(
            "ops",
            "RamRoleArn",
            serde_json::json!({
                "access_key_id": BASE_ID, "access_key_secret": BASE_SECRET,
                "ram_role_arn": ROLE_ARN,
            }),
        )],
    );
    let output = run(command(
        &workspace,
        &sim,
        &cloud,
        &["-vv", "credentials", "--verify"],
    ));
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    // The temporary credentials expire in an hour, less the moments this run took.
    let mut settings = support::cli_snapshot_settings();
    settings.add_filter(r"\(in 59m[^)]*\)", "(in 59m…)");
    settings.bind(|| insta::assert_snapshot!("role_from_a_cli_profile", stdout));
    assert_eq!(cloud.count("AssumeRole"), 1);
    assert_eq!(cloud.count("GetCallerIdentity"), 1);
    let everything = format!("{stdout}{}", text(&output.stderr));
    for secret in [BASE_SECRET, TEMP_SECRET, TEMP_TOKEN] {
        assert!(
            !everything.contains(secret),
            "{secret} shown:\n{everything}"
        );
    }

    // Long-lived keys from the environment: no expiry, and STS says whose they are.
    let mut with_keys = command(&workspace, &sim, &cloud, &["credentials", "--verify"]);
    with_keys
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", BASE_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", BASE_SECRET);
    let output = run(with_keys);
    assert_exit(&output, 0);
    assert_cli_snapshot!("keys_from_the_environment", text(&output.stdout));

    // Keys STS does not know: --verify fails, exit 1, naming STS.
    let mut wrong = command(&workspace, &sim, &cloud, &["credentials", "--verify"]);
    wrong
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", BASE_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret");
    let output = run(wrong);
    assert_exit(&output, 1);
    assert_cli_snapshot!("keys_sts_does_not_know", text(&output.stderr));
}

/// The client asks the provider on every attempt: once the credentials are due for renewal
/// and the renewal fails, the attempt is fatal before anything is sent (the simulator sees
/// nothing), with a message naming the source. Before that, requests go out signed.
#[test]
fn a_failed_renewal_makes_the_next_attempt_fatal_without_sending_it() {
    use edas_rollback::edas::client::{ClientSettings, EdasClient};
    use edas_rollback::edas::credentials::fetch::Fetched;
    use edas_rollback::edas::credentials::provider::{CredentialsProvider, Fetcher};
    use edas_rollback::edas::credentials::{Credentials, Origin, Resolved, Source};
    use edas_rollback::edas::endpoint::Endpoint;
    use edas_rollback::edas::outcome::Outcome;
    use edas_rollback::edas::request::RollbackOperation;
    use edas_rollback::edas::secret::Secret;
    use edas_rollback::ids::ChangeOrderId;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    let sim = Sim::start(FakeCloud::sim_config());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let temporary = Credentials::new(TEMP_ID, Secret::new(TEMP_SECRET))
        .with_security_token(Secret::new(TEMP_TOKEN));
    let provider = |life: Duration| {
        let fetcher: Fetcher =
            Box::new(|_| Box::pin(async { Err("STS answered HTTP 503".to_string()) }));
        CredentialsProvider::new(
            Resolved {
                origin: Origin::OidcEnvironment,
                source: Source::Static(temporary.clone()),
            },
            Fetched {
                credentials: temporary.clone(),
                expiration: Some(SystemTime::now() + life),
            },
            Arc::new(edas_rollback::edas::credentials::SystemProviderClock),
            Some(fetcher),
        )
    };
    let id = ChangeOrderId::new("6b55106c-c7f2-40f7-a1d4-000000000000".to_string());
    runtime.block_on(async {
        let fresh = EdasClient::new(ClientSettings::new(
            Endpoint::parse(&sim.endpoint()).unwrap(),
            "cn-hangzhou",
            provider(Duration::from_secs(3600)),
            1,
        ))
        .unwrap();
        assert!(
            matches!(
                fresh.abort(&id, RollbackOperation::AbortAndRollback).await,
                Outcome::Done { .. }
            ),
            "signed with the temporary keys"
        );
        let due = EdasClient::new(ClientSettings::new(
            Endpoint::parse(&sim.endpoint()).unwrap(),
            "cn-hangzhou",
            provider(Duration::from_secs(120)),
            1,
        ))
        .unwrap();
        match due.abort(&id, RollbackOperation::AbortAndRollback).await {
            Outcome::Fatal { details, .. } => {
                assert_cli_snapshot!(details.message.unwrap_or_default());
            }
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(sim.stats().totals.requests, 1);
}

/// A run longer than the credentials' life keeps going: the STS session here lasts 3 min 2 s,
/// so 2 s into the run the keys are due for renewal (3 minutes or less left) and the binary
/// fetches new ones, re-reading the token file, while requests keep flowing; every change
/// order is aborted exactly once and nothing is refused.
#[test]
fn an_apply_longer_than_the_session_renews_the_credentials_and_carries_on() {
    use edas_rollback::sim::{Faults, Latency};
    let cloud = FakeCloud::start_with_life(std::time::Duration::from_secs(182));
    let sim = Sim::start(edas_rollback::sim::SimConfig {
        faults: Faults {
            latency: Latency::Fixed(std::time::Duration::from_millis(400)),
            ..Faults::default()
        },
        ..FakeCloud::sim_config()
    });
    let workspace = Workspace::new(10);
    let token = write_token(&workspace);
    apply(&workspace, &sim, |command| {
        command
            .args(["--parallelism", "1"])
            .env("ALIBABA_CLOUD_STS_ENDPOINT", cloud.url())
            .env("ALIBABA_CLOUD_ROLE_ARN", ROLE_ARN)
            .env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", OIDC_PROVIDER_ARN)
            .env("ALIBABA_CLOUD_OIDC_TOKEN_FILE", &token);
    });
    let renewals = cloud.count("AssumeRoleWithOIDC");
    // The first fetch is before anything is sent; the run (10 aborts one after another at
    // 400 ms each) outlasts the 1-2 s the keys have before they are due (the expiry is in
    // whole seconds), so at least one renewal happens mid-run.
    assert!(
        renewals >= 2,
        "{renewals} fetches in a 4 s run of 3 min 2 s sessions"
    );
    assert_eq!(sim.stats().totals.aborts_committed, 10);
    assert_eq!(sim.stats().totals.signature_failures, 0);
    assert_all_aborted_exactly_once(&workspace, &sim);
}
