//! The config as the SRE meets it: `validate` run as a real process in a temp dir, the
//! committed JSON schema checked against the Rust types, every example checked by both the
//! schema and the loader, and docs/CONFIG.md checked to mention every key.

use crate::support::{Run, Workspace, assert_cli_snapshot};
use edas_rollback::cli::settings::load_config;
use edas_rollback::config::raw::json_schema;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const VALID_HEADER: &str = "version: 1\nprovider:\n  region: cn-hangzhou\n";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `edas-rollback -c name validate` on a config `name` holding `contents`, in a fresh
/// workspace with a clean environment.
fn validate(name: &str, contents: &[u8]) -> Run {
    Workspace::empty()
        .config_named(name)
        .config_bytes(contents)
        .run_bare(&["-c", name, "validate"])
}

/// Runs `validate` on `contents` as `name` and checks what every refusal must do: exit 1,
/// print nothing on stdout (the harness checks it never panics). The caller snapshots the
/// message, which names the file and the `line:column`.
fn refused(name: &str, contents: &[u8]) -> String {
    let run = validate(name, contents).expect(1);
    assert_eq!(run.stdout, "");
    run.stderr
}

/// [`refused`] as `incident.yaml`.
fn refused_at(contents: &str) -> String {
    refused("incident.yaml", contents.as_bytes())
}

#[test]
fn a_valid_config_prints_the_number_of_change_orders() {
    let example = std::fs::read(repository().join("examples/incident.yaml")).unwrap();
    let run = validate("incident.yaml", &example).expect(0);
    assert_eq!(run.stdout, "ok: 3 change orders\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn an_empty_change_order_list_is_valid() {
    let workspace = Workspace::empty().config(&format!("{VALID_HEADER}change_orders: []\n"));
    // No `-c`: the default name in the working directory is used.
    let run = workspace.run_bare(&["validate"]).expect(0);
    assert_eq!(run.stdout, "ok: 0 change orders\n");
}

#[test]
fn a_hundred_thousand_change_orders_validate() {
    let mut text = format!("{VALID_HEADER}change_orders:\n");
    for index in 0..100_000u32 {
        writeln!(
            text,
            "  - id: {index:08x}-c7f2-40f7-a1d4-0928700aaaaa\n    app: app-{}\n    reason: bulk",
            index % 97
        )
        .unwrap();
    }
    let run = validate("big.yaml", text.as_bytes()).expect(0);
    assert_eq!(run.stdout, "ok: 100000 change orders\n");
}

#[test]
fn a_duplicate_id_at_the_end_of_a_large_file_names_both_lines() {
    let mut text = format!("{VALID_HEADER}change_orders:\n");
    for index in 0..20_000u32 {
        writeln!(text, "  - id: co-{index}").unwrap();
    }
    text.push_str("  - id: co-7\n");
    // At incident.yaml:20005:9, naming both lines.
    assert_cli_snapshot!(refused_at(&text));
}

#[test]
fn malformed_yaml_is_refused_with_its_position() {
    let stderr = refused_at("version: 1\nprovider: {region: cn-hangzhou\nchange_orders: []\n");
    assert_cli_snapshot!(stderr);
}

#[test]
fn a_value_of_the_wrong_type_is_refused_with_what_was_expected() {
    let stderr = refused_at(&format!(
        "{VALID_HEADER}apply:\n  requests_per_second: fast\nchange_orders: []\n"
    ));
    assert_cli_snapshot!(stderr);
}

#[test]
fn an_unknown_key_is_refused_naming_the_allowed_ones() {
    let stderr = refused_at(&format!(
        "{VALID_HEADER}  access_key_secret: hunter2\nchange_orders: []\n"
    ));
    assert_cli_snapshot!(stderr);
}

#[test]
fn every_bad_id_and_duplicate_is_reported_in_one_run() {
    let stderr = refused_at(&format!(
        "{VALID_HEADER}change_orders:\n  - id: 6b55106c_c7f2\n  - id: ok-1\n  - id: 'has space'\n  - id: ok-1\n"
    ));
    assert_cli_snapshot!(stderr);
}

#[test]
fn a_bad_region_is_refused() {
    let stderr = refused_at("version: 1\nprovider:\n  region: CN_Hangzhou\nchange_orders: []\n");
    assert_cli_snapshot!(stderr);
}

#[test]
fn zero_parallelism_is_refused() {
    let stderr = refused_at(&format!(
        "{VALID_HEADER}apply:\n  parallelism: 0\nchange_orders: []\n"
    ));
    assert_cli_snapshot!(stderr);
}

#[test]
fn a_duration_without_a_unit_is_refused() {
    let stderr = refused_at(&format!(
        "{VALID_HEADER}apply:\n  request_timeout: 10\nchange_orders: []\n"
    ));
    assert_cli_snapshot!(stderr);
}

#[test]
fn a_non_http_endpoint_is_refused() {
    let stderr = refused_at(
        "version: 1\nprovider:\n  region: cn-hangzhou\n  endpoint: edas.cn-hangzhou.aliyuncs.com\nchange_orders: []\n",
    );
    assert_cli_snapshot!(stderr);
}

#[test]
fn an_unsupported_version_is_refused() {
    let stderr = refused_at("version: 2\nprovider:\n  region: cn-hangzhou\nchange_orders: []\n");
    assert_cli_snapshot!(stderr);
}

#[test]
fn bytes_that_are_not_utf8_are_refused_with_their_position() {
    let mut contents =
        format!("{VALID_HEADER}change_orders:\n  - id: abc\n    reason: caf").into_bytes();
    contents.extend_from_slice(&[0xe9, b'\n']);
    let stderr = refused("latin1.yaml", &contents);
    assert_cli_snapshot!(stderr);
}

#[test]
fn a_missing_file_is_refused_with_a_hint_about_the_flag() {
    let workspace = Workspace::empty();
    let run = workspace
        .run_bare(&["-c", "nope.yaml", "validate"])
        .expect(1);
    assert_cli_snapshot!(run.stderr);

    let run = workspace.run_bare(&["validate"]).expect(1);
    assert_cli_snapshot!("the_default_config_is_missing", run.stderr);
}

#[test]
fn a_directory_given_as_the_config_is_refused() {
    let workspace = Workspace::empty();
    std::fs::create_dir(workspace.path("runbooks")).unwrap();
    let run = workspace
        .run_bare(&["-c", "runbooks", "validate"])
        .expect(1);
    assert_cli_snapshot!(run.stderr);
}

#[test]
fn load_config_hashes_the_file_bytes() {
    let loaded = load_config(&repository().join("examples/incident.yaml")).unwrap();
    let bytes = std::fs::read(repository().join("examples/incident.yaml")).unwrap();
    assert_eq!(loaded.sha256.len(), 64);
    assert_eq!(loaded.desired.change_orders.len(), 3);
    // Same bytes, same hash; one changed byte, another hash.
    let directory = tempfile::tempdir().unwrap();
    let copy = directory.path().join("copy.yaml");
    std::fs::write(&copy, &bytes).unwrap();
    assert_eq!(load_config(&copy).unwrap().sha256, loaded.sha256);
    let mut changed = bytes.clone();
    changed.extend_from_slice(b"# reviewed\n");
    std::fs::write(&copy, &changed).unwrap();
    assert_ne!(load_config(&copy).unwrap().sha256, loaded.sha256);
}

#[test]
fn the_state_file_sits_beside_the_config_unless_it_says_otherwise() {
    let loaded = load_config(&repository().join("examples/incident.yaml")).unwrap();
    assert_eq!(
        loaded.state_path(None),
        repository().join("examples/incident.state.json")
    );
    let batch = load_config(&repository().join("examples/batch.yaml")).unwrap();
    assert_eq!(
        batch.state_path(None),
        repository().join("examples/batch.state.json")
    );
    assert_eq!(
        batch.state_path(Some(Path::new("/tmp/other.json"))),
        PathBuf::from("/tmp/other.json")
    );
}

// --- the schema -------------------------------------------------------------------------

const SCHEMA_PATH: &str = "schemas/edas-rollback.schema.json";

#[test]
fn the_committed_schema_matches_the_rust_types() {
    let path = repository().join(SCHEMA_PATH);
    let generated = json_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{SCHEMA_PATH} is out of date with src/config/raw.rs; regenerate it with\n\n    \
         UPDATE_SCHEMA=1 cargo test --test it config::the_committed_schema_matches_the_rust_types\n\n\
         and commit the result"
    );
}

fn compiled_schema() -> (boon::Schemas, boon::SchemaIndex) {
    let schema: Value = serde_json::from_str(&json_schema()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("edas-rollback.schema.json", schema)
        .unwrap();
    let index = compiler
        .compile("edas-rollback.schema.json", &mut schemas)
        .unwrap();
    (schemas, index)
}

fn yaml_to_json(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

/// Every YAML file directly in `examples/` except the CI pipeline example (`gitlab-ci.yml`),
/// which `tests/it/completions.rs` checks instead.
fn config_examples() -> Vec<PathBuf> {
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repository().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.is_file()
                && path.file_name().and_then(|name| name.to_str()) != Some("gitlab-ci.yml")
                && matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                )
        })
        .collect();
    examples.sort();
    examples
}

#[test]
fn every_example_passes_the_schema_and_the_loader() {
    let (schemas, index) = compiled_schema();
    let examples = config_examples();
    let names: Vec<String> = examples
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"incident.yaml".to_string()), "{names:?}");
    assert!(names.contains(&"batch.yaml".to_string()), "{names:?}");
    for example in examples {
        let text = std::fs::read_to_string(&example).unwrap();
        assert!(
            text.starts_with(
                "# yaml-language-server: $schema=../schemas/edas-rollback.schema.json\n"
            ),
            "{} should point editors at the schema on its first line",
            example.display()
        );
        if let Err(error) = schemas.validate(&yaml_to_json(&text), index) {
            panic!("{} fails the schema: {error:#}", example.display());
        }
        if let Err(error) = load_config(&example) {
            panic!("{} fails the loader: {error:#}", example.display());
        }
    }
    let batch = load_config(&repository().join("examples/batch.yaml")).unwrap();
    assert_eq!(batch.desired.change_orders.len(), 200);
}

/// The schema and the loader must agree: what one accepts, the other accepts.
#[test]
fn the_schema_and_the_loader_agree_on_each_rule() {
    let (schemas, index) = compiled_schema();
    let cases: &[(&str, bool)] = &[
        ("change_orders: []", true),
        (
            "change_orders: [{id: 6b55106c-c7f2, app: a, reason: r}]",
            true,
        ),
        ("change_orders: [{id: a_b}]", false),
        ("change_orders: [{id: ''}]", false),
        ("change_orders: [{id: a, extra: 1}]", false),
        ("change_orders: [{app: a}]", false),
        (
            "apply: {parallelism: 1, requests_per_second: 1, request_timeout: 1m30s}\nchange_orders: []",
            true,
        ),
        ("apply: {parallelism: 0}\nchange_orders: []", false),
        ("apply: {parallelism: '4'}\nchange_orders: []", false),
        ("apply: {requests_per_second: 0}\nchange_orders: []", false),
        ("apply: {request_timeout: 10}\nchange_orders: []", false),
        ("apply: {request_timeout: 10 s}\nchange_orders: []", false),
        ("apply: {request_timeout: 500ms}\nchange_orders: []", true),
        ("state: s.json\nchange_orders: []", true),
        ("state: ''\nchange_orders: []", false),
        ("extra: 1\nchange_orders: []", false),
        ("", false),
    ];
    for (body, valid) in cases {
        let text = format!("{VALID_HEADER}{body}\n");
        let by_schema = schemas.validate(&yaml_to_json(&text), index).is_ok();
        let by_loader = edas_rollback::config::parse(Path::new("case.yaml"), &text).is_ok();
        assert_eq!(by_schema, *valid, "schema on:\n{text}");
        assert_eq!(by_loader, *valid, "loader on:\n{text}");
    }
    let provider_cases: &[(&str, bool)] = &[
        (
            "region: cn-hangzhou\n  endpoint: http://127.0.0.1:8080",
            true,
        ),
        (
            "region: cn-hangzhou\n  endpoint: https://edas.aliyuncs.com/",
            true,
        ),
        (
            "region: cn-hangzhou\n  endpoint: ftp://edas.aliyuncs.com",
            false,
        ),
        (
            "region: cn-hangzhou\n  endpoint: https://edas.aliyuncs.com/pop",
            false,
        ),
        ("region: cn-hangzhou\n  profile: ''", false),
        ("region: Cn-Hangzhou", false),
        ("endpoint: http://127.0.0.1:8080", false),
    ];
    for (provider, valid) in provider_cases {
        let text = format!("version: 1\nprovider:\n  {provider}\nchange_orders: []\n");
        let by_schema = schemas.validate(&yaml_to_json(&text), index).is_ok();
        let by_loader = edas_rollback::config::parse(Path::new("case.yaml"), &text).is_ok();
        assert_eq!(by_schema, *valid, "schema on:\n{text}");
        assert_eq!(by_loader, *valid, "loader on:\n{text}");
    }
}

// --- the docs ---------------------------------------------------------------------------

fn property_names(schema: &Value, names: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                names.extend(properties.keys().cloned());
            }
            for value in map.values() {
                property_names(value, names);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| property_names(item, names)),
        _ => {}
    }
}

#[test]
fn the_config_doc_mentions_every_key_of_the_schema() {
    let schema: Value = serde_json::from_str(&json_schema()).unwrap();
    let mut names = Vec::new();
    property_names(&schema, &mut names);
    assert!(names.len() >= 12, "{names:?}");
    let doc = std::fs::read_to_string(repository().join("docs/CONFIG.md")).unwrap();
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| !doc.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/CONFIG.md does not mention {missing:?}"
    );
}
