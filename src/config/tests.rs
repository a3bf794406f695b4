//! Unit tests of parsing, checks and the rendering of config errors.

use super::*;
use std::path::Path;

const PATH: &str = "runbooks/incident.yaml";

fn parse_ok(text: &str) -> DesiredState {
    match parse(Path::new(PATH), text) {
        Ok(desired) => desired,
        Err(errors) => panic!("expected a valid config, got:\n{}", errors.report()),
    }
}

fn report(text: &str) -> String {
    match parse(Path::new(PATH), text) {
        Ok(desired) => panic!("expected errors, got {desired:?}"),
        Err(errors) => errors.report(),
    }
}

const HEADER: &str = "version: 1\nprovider:\n  region: cn-hangzhou\n";

#[test]
fn a_complete_config_parses_into_the_desired_state() {
    let desired = parse_ok(
        "version: 1\n\
         provider:\n  region: cn-hangzhou\n  endpoint: https://edas.cn-hangzhou.aliyuncs.com/\n  profile: oncall\n\
         apply:\n  parallelism: 10\n  requests_per_second: 20\n  request_timeout: 1m30s\n\
         state: incident-42.state.json\n\
         change_orders:\n  - id: 6b55106c-c7f2-40f7-a1d4-0928700aaaaa\n    app: checkout\n    reason: broke checkout\n  - id: B2\n",
    );
    assert_eq!(
        desired,
        DesiredState {
            selectors: Vec::new(),
            version: 1,
            provider: Provider {
                region: "cn-hangzhou".to_string(),
                endpoint: Some("https://edas.cn-hangzhou.aliyuncs.com".to_string()),
                profile: Some("oncall".to_string()),
                signature_algorithm: Default::default(),
                endpoint_type: Default::default(),
            },
            apply: ApplySettings {
                parallelism: Some(10),
                requests_per_second: Some(20),
                request_timeout: Some(Duration::from_secs(90)),
                verify_window: None,
                ..ApplySettings::default()
            },
            state: Some(PathBuf::from("incident-42.state.json")),
            state_name: None,
            change_orders: vec![
                ChangeOrderSpec {
                    id: ChangeOrderId::new("6b55106c-c7f2-40f7-a1d4-0928700aaaaa"),
                    app: Some("checkout".to_string()),
                    reason: Some("broke checkout".to_string()),
                    operation: Default::default(),
                    app_id: None,
                    selected_by: None,
                },
                ChangeOrderSpec {
                    id: ChangeOrderId::new("B2"),
                    app: None,
                    reason: None,
                    operation: Default::default(),
                    app_id: None,
                    selected_by: None,
                },
            ],
        }
    );
}

#[test]
fn an_empty_change_order_list_is_valid_and_optional_sections_default_to_none() {
    let desired = parse_ok(&format!("{HEADER}change_orders: []\n"));
    assert!(desired.change_orders.is_empty());
    assert_eq!(desired.apply, ApplySettings::default());
    assert_eq!(desired.state, None);
    assert_eq!(desired.provider.endpoint, None);
}

#[test]
fn change_orders_keep_the_order_they_are_declared_in() {
    let desired = parse_ok(&format!(
        "{HEADER}change_orders:\n  - id: c\n  - id: a\n  - id: b\n"
    ));
    let ids: Vec<&str> = desired
        .change_orders
        .iter()
        .map(|change_order| change_order.id.as_str())
        .collect();
    assert_eq!(ids, ["c", "a", "b"]);
}

#[test]
fn every_problem_of_meaning_is_reported_in_one_run() {
    let text = "version: 1\n\
                provider:\n  region: Cn_Hangzhou\n  endpoint: ftp://edas.example.com\n  profile: ''\n\
                apply:\n  parallelism: 0\n  requests_per_second: -3\n  request_timeout: 10\n\
                state: ''\n\
                change_orders:\n  - id: a_b\n  - id: abc\n  - id: ok-1\n  - id: \"abc\"\n";
    let errors = parse(Path::new(PATH), text).unwrap_err();
    assert_eq!(errors.errors.len(), 9, "{}", errors.report());
    insta::assert_snapshot!(errors.report());
}

#[test]
fn a_duplicate_id_names_both_lines() {
    let rendered = report(&format!(
        "{HEADER}change_orders:\n  - id: abc\n    app: one\n  - id: other\n  - id: abc\n"
    ));
    assert!(
        rendered.contains("`abc` is declared twice: line 5 and line 8"),
        "{rendered}"
    );
    insta::assert_snapshot!(rendered);
}

#[test]
fn an_id_declared_three_times_is_reported_against_the_first_each_time() {
    let errors = parse(
        Path::new(PATH),
        &format!("{HEADER}change_orders:\n  - id: x\n  - id: x\n  - id: x\n"),
    )
    .unwrap_err();
    let messages: Vec<&str> = errors.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`x` is declared twice: line 5 and line 6",
            "`x` is declared twice: line 5 and line 7"
        ]
    );
}

#[test]
fn malformed_yaml_is_reported_with_line_column_and_the_parser_reason() {
    insta::assert_snapshot!(report(
        "version: 1\nprovider: {region: cn-hangzhou\nchange_orders: []\n"
    ));
}

#[test]
fn an_unclosed_quote_is_reported_where_it_opens() {
    insta::assert_snapshot!(report(&format!(
        "{HEADER}change_orders:\n  - id: \"abc\n    app: x\n"
    )));
}

#[test]
fn a_value_of_the_wrong_type_says_what_was_expected() {
    insta::assert_snapshot!(report(&format!(
        "{HEADER}apply:\n  parallelism: ten\nchange_orders: []\n"
    )));
    insta::assert_snapshot!(report(&format!("{HEADER}change_orders:\n  - abc\n")));
    insta::assert_snapshot!(report(
        "version: 1\nprovider:\n  region: [a, b]\nchange_orders: []\n"
    ));
}

#[test]
fn an_unknown_key_names_the_key_and_the_allowed_ones() {
    let rendered = report(&format!(
        "{HEADER}change_orders:\n  - id: abc\n    application: checkout\n"
    ));
    assert!(rendered.contains("unknown key `application`"), "{rendered}");
    assert!(rendered.contains("`id`, `app`, `reason`"), "{rendered}");
    insta::assert_snapshot!(rendered);
}

#[test]
fn an_unknown_top_level_key_is_refused() {
    insta::assert_snapshot!(report(&format!(
        "{HEADER}credentials: secret\nchange_orders: []\n"
    )));
}

#[test]
fn a_missing_required_key_is_named() {
    insta::assert_snapshot!(report("version: 1\nchange_orders: []\n"));
    assert!(report(HEADER).contains("missing key `change_orders`"));
    assert!(
        report("version: 1\nprovider:\n  endpoint: http://127.0.0.1:1\nchange_orders: []\n")
            .contains("missing key `region`")
    );
}

#[test]
fn a_key_given_twice_is_refused() {
    insta::assert_snapshot!(report(
        "version: 1\nprovider:\n  region: cn-hangzhou\n  region: cn-shanghai\nchange_orders: []\n"
    ));
}

#[test]
fn another_version_is_refused_naming_the_supported_one() {
    let rendered = report("version: 2\nprovider:\n  region: cn-hangzhou\nchange_orders: []\n");
    assert!(rendered.contains("`version: 1`"), "{rendered}");
    insta::assert_snapshot!(rendered);
}

#[test]
fn an_empty_or_comment_only_file_is_an_empty_config() {
    assert!(report("").contains("empty config"));
    assert!(report("# nothing yet\n\n").contains("empty config"));
    insta::assert_snapshot!(report("# nothing yet\n"));
}

#[test]
fn a_missing_value_for_an_id_is_reported() {
    insta::assert_snapshot!(report(&format!("{HEADER}change_orders:\n  - id:\n")));
}

#[test]
fn a_null_change_order_list_asks_for_a_list() {
    insta::assert_snapshot!(report(&format!("{HEADER}change_orders:\n")));
}

#[test]
fn zero_parallelism_and_a_bare_number_duration_are_refused() {
    let rendered = report(&format!(
        "{HEADER}apply:\n  parallelism: 0\n  request_timeout: 10\nchange_orders: []\n"
    ));
    assert!(rendered.contains("invalid parallelism `0`"), "{rendered}");
    assert!(
        rendered.contains("invalid request_timeout `10`"),
        "{rendered}"
    );
}

#[test]
fn a_zero_duration_is_refused() {
    assert!(
        report(&format!(
            "{HEADER}apply:\n  request_timeout: 0s\nchange_orders: []\n"
        ))
        .contains("expected a duration greater than zero")
    );
}

#[test]
fn durations_follow_the_schema_grammar() {
    assert_eq!(parse_config_duration("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(
        parse_config_duration("500ms"),
        Ok(Duration::from_millis(500))
    );
    assert_eq!(parse_config_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(
        parse_config_duration("1h30m"),
        Ok(Duration::from_secs(5400))
    );
    for refused in ["", "10", "s", "10 s", "10sec", "1.5s", "-1s", "10S", " 10s"] {
        assert!(
            parse_config_duration(refused).is_err(),
            "`{refused}` should be refused"
        );
    }
}

#[test]
fn endpoints_must_be_http_urls_with_a_host_and_nothing_after_it() {
    assert_eq!(
        normalize_endpoint("https://edas.cn-hangzhou.aliyuncs.com/").as_deref(),
        Some("https://edas.cn-hangzhou.aliyuncs.com")
    );
    assert_eq!(
        normalize_endpoint("http://127.0.0.1:8080").as_deref(),
        Some("http://127.0.0.1:8080")
    );
    assert_eq!(
        normalize_endpoint("http://[::1]:8080").as_deref(),
        Some("http://[::1]:8080")
    );
    for refused in [
        "ftp://host",
        "edas.aliyuncs.com",
        "https://",
        "https://host/path",
        "https://host?x=1",
        "https://user@host",
        "https://host:port",
        "https://ho st",
        "HTTPS://host",
    ] {
        assert_eq!(
            normalize_endpoint(refused),
            None,
            "`{refused}` should be refused"
        );
    }
}

#[test]
fn regions_are_lowercase_letters_digits_and_dashes() {
    assert!(is_region("cn-hangzhou"));
    assert!(is_region("ap-southeast-1"));
    assert!(!is_region(""));
    assert!(!is_region("CN-hangzhou"));
    assert!(!is_region("cn_hangzhou"));
}

#[test]
fn the_caret_counts_characters_not_bytes() {
    let rendered = report(&format!(
        "{HEADER}change_orders:\n  - {{reason: \"été\", id: a_b}}\n"
    ));
    insta::assert_snapshot!(rendered);
}

#[test]
fn tabs_and_very_long_lines_keep_the_caret_under_the_value() {
    let long_reason = "x".repeat(300);
    let rendered = report(&format!(
        "{HEADER}change_orders:\n  - {{reason: {long_reason}, id: a_b}}\n"
    ));
    insta::assert_snapshot!(rendered);
    let rendered = report(&format!(
        "{HEADER}change_orders:\n  - {{reason: \"tab\there\", id: a_b}}\n"
    ));
    insta::assert_snapshot!(rendered);
}

#[test]
fn an_alias_to_an_unknown_anchor_is_a_yaml_error_not_a_panic() {
    insta::assert_snapshot!(report(&format!("{HEADER}change_orders: *missing\n")));
}

#[test]
fn anchors_and_aliases_work_for_repeated_labels() {
    let desired = parse_ok(&format!(
        "{HEADER}change_orders:\n  - id: a\n    reason: &why release 42 broke checkout\n  - id: b\n    reason: *why\n"
    ));
    assert_eq!(
        desired.change_orders[1].reason,
        desired.change_orders[0].reason
    );
}

#[test]
fn the_schema_lists_every_key_and_pattern() {
    let schema = raw::json_schema();
    for expected in [
        ID_PATTERN_JSON,
        "\"region\"",
        "\"request_timeout\"",
        "\"additionalProperties\": false",
    ] {
        assert!(schema.contains(expected), "missing {expected} in\n{schema}");
    }
}

const ID_PATTERN_JSON: &str = "\"pattern\": \"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$\"";

#[test]
fn a_file_full_of_bad_ids_keeps_every_error_and_renders_the_first_two_hundred() {
    let mut text = format!("{HEADER}change_orders:\n");
    for index in 0..20_000 {
        text.push_str(&format!("  - id: bad_{index}\n"));
    }
    let errors = parse(Path::new(PATH), &text).unwrap_err();
    assert_eq!(errors.errors.len(), 20_000);
    let rendered = errors.report();
    assert_eq!(
        rendered.matches("invalid change order id").count(),
        error::MAX_RENDERED_ERRORS
    );
    assert!(
        rendered
            .ends_with("error: 20000 errors in runbooks/incident.yaml; the first 200 are shown"),
        "{}",
        &rendered[rendered.len() - 200..]
    );
    assert_eq!(
        errors.errors[19_999].position,
        Some(Position {
            line: 20_004,
            column: 9
        })
    );
}

#[test]
fn source_lines_are_found_without_their_line_breaks() {
    let source = error::SourceText::new("a: 1\r\nb: 2\nc: 3");
    assert_eq!(source.line(1), "a: 1");
    assert_eq!(source.line(2), "b: 2");
    assert_eq!(source.line(3), "c: 3");
    assert_eq!(source.line(4), "");
    assert_eq!(source.line(0), "");
}

#[test]
fn windows_line_endings_parse_and_errors_point_at_the_same_place() {
    let text = format!("{HEADER}change_orders:\n  - id: a_b\n").replace('\n', "\r\n");
    let errors = parse(Path::new(PATH), &text).unwrap_err();
    assert_eq!(
        errors.errors[0].position,
        Some(Position { line: 5, column: 9 })
    );
    assert!(
        errors.report().contains("5 |   - id: a_b\n"),
        "{}",
        errors.report()
    );
}

/// Where the schema keeps a config key's properties: `apply.parallelism` is under
/// `$defs.Apply.properties.parallelism`.
fn schema_property<'a>(schema: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    let (section, name) = key.rsplit_once('.').unwrap();
    let definition = match section {
        "apply" => "Apply",
        "provider" => "Provider",
        "change_orders[]" => "ChangeOrder",
        "select[]" => "Selector",
        other => panic!("no schema definition for `{other}`"),
    };
    &schema["$defs"][definition]["properties"][name]
}

/// The config key a schema definition's property is, the inverse of [`schema_property`].
fn config_key(definition: &str, name: &str) -> String {
    let section = match definition {
        "Apply" => "apply",
        "Provider" => "provider",
        "ChangeOrder" => "change_orders[]",
        "Selector" => "select[]",
        other => panic!("a default in schema definition `{other}`, which no config key maps to"),
    };
    format!("{section}.{name}")
}

#[test]
fn the_schema_defaults_are_the_table_and_nothing_else() {
    let schema: serde_json::Value = serde_json::from_str(&raw::json_schema()).unwrap();
    let table = DEFAULTS.as_config_values();
    for (key, value) in &table {
        assert_eq!(
            &schema_property(&schema, key)["default"],
            value,
            "the schema's default of `{key}`"
        );
    }
    // And no default in the schema that the table does not hold.
    let mut in_schema = Vec::new();
    for (definition, body) in schema["$defs"].as_object().unwrap() {
        for (name, property) in body["properties"].as_object().into_iter().flatten() {
            if property.get("default").is_some() {
                in_schema.push(config_key(definition, name));
            }
        }
    }
    in_schema.sort();
    let mut in_table: Vec<String> = table.iter().map(|(key, _)| key.to_string()).collect();
    in_table.sort();
    assert_eq!(in_schema, in_table);
}

#[test]
fn the_config_doc_states_the_tables_defaults() {
    let doc = include_str!("../../docs/CONFIG.md");
    for (key, value) in DEFAULTS.as_config_values() {
        let row = doc
            .lines()
            .find(|line| line.starts_with(&format!("| `{key}`")))
            .unwrap_or_else(|| panic!("docs/CONFIG.md has no row for `{key}`"));
        // | key | type | required | default | constraint |
        let default = row.split(" | ").nth(3).unwrap_or_default();
        let expected = match &value {
            serde_json::Value::String(text) => format!("`{text}`"),
            other => format!("`{other}`"),
        };
        assert_eq!(
            default, expected,
            "the default column of `{key}` in:\n{row}"
        );
    }
}

#[test]
fn a_config_without_the_optional_keys_takes_the_tables_defaults() {
    let desired = parse_ok(&format!(
        "{HEADER}select:\n  - app_id: app-1\nchange_orders:\n  - id: a\n"
    ));
    assert_eq!(
        desired.provider.signature_algorithm,
        DEFAULTS.signature_algorithm
    );
    assert_eq!(desired.provider.endpoint_type, DEFAULTS.endpoint_type);
    assert_eq!(desired.change_orders[0].operation, DEFAULTS.operation);
    assert_eq!(desired.selectors[0].operation, DEFAULTS.operation);
    assert_eq!(desired.apply.require_refresh, DEFAULTS.require_refresh);
    // The other `apply` keys stay unset here: `cli::settings` resolves them against their
    // flags, then the table (tested there).
    assert_eq!(desired.apply.parallelism, None);
    assert_eq!(desired.apply.request_timeout, None);
}

#[test]
fn the_library_types_own_defaults_are_the_tables() {
    // Plan files without these fields and library callers (benchmarks) use the types' own
    // defaults; they must be the table's, not a second opinion.
    assert_eq!(
        crate::edas::signer::SignatureAlgorithm::default(),
        DEFAULTS.signature_algorithm
    );
    assert_eq!(
        crate::edas::endpoint::EndpointType::default(),
        DEFAULTS.endpoint_type
    );
    assert_eq!(
        crate::edas::request::RollbackOperation::default(),
        DEFAULTS.operation
    );
    assert_eq!(
        crate::apply::engine::SettlePolicy::default().window,
        DEFAULTS.verify_window
    );
    assert_eq!(
        crate::edas::client::DEFAULT_READ_TIMEOUT,
        DEFAULTS.request_timeout
    );
    let engine = crate::apply::EngineConfig::default();
    assert_eq!(engine.parallelism, DEFAULTS.parallelism);
    assert_eq!(engine.requests_per_second, DEFAULTS.requests_per_second);
}

#[test]
fn durations_are_spelled_in_their_largest_whole_unit() {
    use super::defaults::duration_text;
    use std::time::Duration;
    assert_eq!(duration_text(Duration::from_secs(10)), "10s");
    assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
    assert_eq!(duration_text(Duration::from_secs(120)), "2m");
    assert_eq!(duration_text(Duration::from_secs(7200)), "2h");
    assert_eq!(duration_text(Duration::ZERO), "0s");
    for text in ["10s", "1500ms", "2m", "2h"] {
        assert_eq!(
            duration_text(parse_config_duration(text).unwrap()),
            text,
            "{text}"
        );
    }
}

#[test]
fn unquoted_numbers_and_booleans_in_text_fields_are_kept_as_written() {
    // YAML 1.1 would read `no` as false and `0123` as octal; the loader keeps the text.
    let desired = parse_ok(&format!(
        "{HEADER}change_orders:\n  - id: 0123\n    app: 2048\n    reason: no\n  - id: \"12345\"\n"
    ));
    assert_eq!(desired.change_orders[0].id.as_str(), "0123");
    assert_eq!(desired.change_orders[0].app.as_deref(), Some("2048"));
    assert_eq!(desired.change_orders[0].reason.as_deref(), Some("no"));
    assert_eq!(desired.change_orders[1].id.as_str(), "12345");
}

#[test]
fn quoted_numbers_are_refused_where_a_number_is_expected() {
    let rendered = report(
        "version: \"1\"\nprovider:\n  region: cn-hangzhou\napply:\n  parallelism: '4'\nchange_orders: []\n",
    );
    assert!(
        rendered.contains("runbooks/incident.yaml:1:10"),
        "{rendered}"
    );
    assert!(
        rendered.contains("runbooks/incident.yaml:5:16"),
        "{rendered}"
    );
    insta::assert_snapshot!(rendered);
}

/// Regression (found by `tests/it/fuzz_parsers.rs`): the headline echoed a value in full and the
/// underline ran its whole width past the cropped source line, so a megabyte-long id printed
/// two megabytes.
#[test]
fn a_very_long_value_is_cropped_in_the_headline_and_the_underline() {
    let text = format!(
        "version: 1\nprovider:\n  region: {}\nchange_orders:\n  - id: {}\n",
        "X".repeat(5_000),
        "a_".repeat(5_000)
    );
    let shown = report(&text);
    assert!(shown.len() < 2_000, "{} bytes:\n{shown}", shown.len());
    assert!(shown.contains(&format!("invalid region `{}…`", "X".repeat(60))));
    for line in shown.lines() {
        assert!(line.chars().count() < 300, "{line}");
    }
}

/// Regression (found by `tests/it/fuzz_parsers.rs`): YAML ends a line at a lone `\r` too, so in
/// a file with old Mac line endings the parser's line 3 was shown as an empty line (or, with
/// a stray `\r` mid-file, as the wrong line).
#[test]
fn a_lone_carriage_return_ends_a_line_as_the_parser_counts_it() {
    let shown = report("version: 1\rprovider:\r  region: Bad_Region\rchange_orders: []\r");
    assert!(shown.contains(":3:11"), "{shown}");
    assert!(shown.contains("3 |   region: Bad_Region\n"), "{shown}");
    let source = crate::config::error::SourceText::new("a\r\nb\rc\nd");
    assert_eq!(
        (1..=5).map(|line| source.line(line)).collect::<Vec<_>>(),
        ["a", "b", "c", "d", ""]
    );
}

/// Regression (found by `tests/it/fuzz_parsers.rs`): a value holding a backtick shifted the
/// pairing of quotes, and the rest of a long value was echoed in full.
#[test]
fn a_long_value_holding_a_backtick_is_still_cropped() {
    let text = format!(
        "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders: a`{}\n",
        "a".repeat(5_000)
    );
    let shown = report(&text);
    for line in shown.lines() {
        assert!(line.chars().count() < 400, "{line}");
    }
}

#[test]
fn guards_parse_counts_percentages_and_require_refresh() {
    let desired = parse_ok(&format!(
        "{HEADER}apply:\n  max_change_orders: 50\n  halt_after_failures: 3\n  require_refresh: true\nchange_orders: []\n"
    ));
    assert_eq!(desired.apply.max_change_orders, Some(50));
    assert_eq!(
        desired.apply.halt_after_failures,
        Some(FailureThreshold::Count(3))
    );
    assert!(desired.apply.require_refresh);
    let desired = parse_ok(&format!(
        "{HEADER}apply:\n  halt_after_failures: 10%\nchange_orders: []\n"
    ));
    assert_eq!(
        desired.apply.halt_after_failures,
        Some(FailureThreshold::Percent(10))
    );
    let defaults = parse_ok(&format!("{HEADER}change_orders: []\n"));
    assert_eq!(defaults.apply.max_change_orders, None);
    assert_eq!(defaults.apply.halt_after_failures, None);
    assert!(!defaults.apply.require_refresh);
}

#[test]
fn bad_guards_are_refused_at_their_line_and_column() {
    for (value, shown) in [
        ("0", "`0`"),
        ("-2", "`-2`"),
        ("0%", "`0%`"),
        ("101%", "`101%`"),
        ("ten", "`ten`"),
        ("'10'", "`10`"),
        ("1.5", "`1.5`"),
    ] {
        let rendered = report(&format!(
            "{HEADER}apply:\n  halt_after_failures: {value}\nchange_orders: []\n"
        ));
        assert!(
            rendered.contains(&format!("invalid halt_after_failures {shown}"))
                || rendered.contains("halt_after_failures"),
            "{value}: {rendered}"
        );
        assert!(rendered.contains(":5:"), "{value}: {rendered}");
    }
    let rendered = report(&format!(
        "{HEADER}apply:\n  max_change_orders: 0\nchange_orders: []\n"
    ));
    assert!(
        rendered.contains("invalid max_change_orders `0`"),
        "{rendered}"
    );
}

#[test]
fn a_percentage_threshold_rounds_up_and_is_at_least_one() {
    assert_eq!(FailureThreshold::Percent(10).failures_for(100), 10);
    assert_eq!(FailureThreshold::Percent(10).failures_for(101), 11);
    assert_eq!(FailureThreshold::Percent(10).failures_for(3), 1);
    assert_eq!(FailureThreshold::Percent(100).failures_for(7), 7);
    assert_eq!(FailureThreshold::Percent(50).failures_for(0), 1);
    assert_eq!(FailureThreshold::Count(4).failures_for(2), 4);
}

#[test]
fn selectors_parse_with_defaults_and_status_names() {
    let desired = parse_ok(&format!(
        "{HEADER}select:\n  - app_id: 3616cdca-4f92\n  - app_id: app-2\n    app: payment\n    statuses: [running, waiting_for_manual_batch]\n    created_within: 2h\n    operation: rollback\nchange_orders: []\n"
    ));
    assert_eq!(desired.selectors.len(), 2);
    let first = &desired.selectors[0];
    assert_eq!(first.app_id, "3616cdca-4f92");
    assert_eq!(first.statuses, None);
    assert_eq!(first.created_within, None);
    let second = &desired.selectors[1];
    assert_eq!(
        second.statuses,
        Some(vec![
            crate::edas::wire::ChangeOrderStatus::Running,
            crate::edas::wire::ChangeOrderStatus::WaitingForManualConfirmation
        ])
    );
    assert_eq!(second.created_within, Some(Duration::from_secs(7200)));
    assert_eq!(second.operation, RollbackOperation::Rollback);
    assert_eq!(second.app.as_deref(), Some("payment"));
    assert!(
        parse_ok(&format!("{HEADER}change_orders: []\n"))
            .selectors
            .is_empty()
    );
}

#[test]
fn bad_selectors_are_refused_at_their_line() {
    let rendered = report(&format!(
        "{HEADER}select:\n  - app_id: app-1\n    statuses: [running, succeeded]\n    created_within: 2\n  - app_id: 'bad id'\nchange_orders: []\n"
    ));
    assert!(
        rendered.contains("unknown selector status `succeeded`")
            && rendered.contains("`waiting_for_next_batch`"),
        "{rendered}"
    );
    assert!(
        rendered.contains("invalid created_within `2`"),
        "{rendered}"
    );
    assert!(rendered.contains("invalid app_id `bad id`"), "{rendered}");
    assert!(rendered.contains(":6:"), "{rendered}");
    let unknown = report(&format!(
        "{HEADER}select:\n  - app_id: app-1\n    status: running\nchange_orders: []\n"
    ));
    assert!(unknown.contains("status"), "{unknown}");
}

#[test]
fn a_selector_names_its_application_by_id_or_by_name_exactly_once() {
    let desired = parse_ok(&format!(
        "{HEADER}select:\n  - app_name: checkout\n    statuses: [running]\nchange_orders: []\n"
    ));
    let selector = &desired.selectors[0];
    assert_eq!(selector.app_name.as_deref(), Some("checkout"));
    assert_eq!(selector.app_id, "", "the id is found at plan time");

    let both = report(&format!(
        "{HEADER}select:\n  - app_id: app-1\n    app_name: checkout\nchange_orders: []\n"
    ));
    assert!(
        both.contains("a selector has both `app_id` and `app_name`"),
        "{both}"
    );
    let neither = report(&format!(
        "{HEADER}select:\n  - statuses: [running]\nchange_orders: []\n"
    ));
    assert!(
        neither.contains("a selector names no application"),
        "{neither}"
    );
    assert!(neither.contains(":5:"), "{neither}");
    let empty = report(&format!(
        "{HEADER}select:\n  - app_name: ' '\nchange_orders: []\n"
    ));
    assert!(empty.contains("empty `app_name`"), "{empty}");
}

// ---------------------------------------------------------------------------------------------
// The fast path (`config::fast`) against the YAML parser.

/// What the YAML parser makes of `text`, as `parse` without the fast path reads it.
fn parsed_by_the_parser(text: &str) -> Result<raw::RawConfig, String> {
    serde_saphyr::from_str_with_options(text, parser_options()).map_err(|error| error.to_string())
}

/// Asserts that where the fast path takes `text`, the parser reads the same values at the
/// same places; returns whether it took it.
fn fast_path_agrees(text: &str) -> bool {
    let Some(fast) = fast::parse(text) else {
        return false;
    };
    match parsed_by_the_parser(text) {
        Ok(parsed) => assert_eq!(fast, parsed, "the fast path disagrees on:\n{text}"),
        Err(error) => panic!("the fast path took a file the parser refuses ({error}):\n{text}"),
    }
    // And the two whole parses agree, errors included.
    assert_eq!(
        parse(Path::new(PATH), text),
        parse_with_parser(Path::new(PATH), text),
        "{text}"
    );
    // `plan` opens the store from the guess of the unindented lines while the config
    // parses: on every file the fast path takes, the guess is right.
    assert_eq!(state_keys_guess(text), state_keys(text), "{text}");
    true
}

#[test]
fn the_guess_of_the_state_keys_reads_unindented_lines_and_gives_up_on_anything_else() {
    let keys = |state: Option<&str>, name: Option<&str>| {
        Some(StateKeys {
            state: state.map(PathBuf::from),
            state_name: name.map(str::to_string),
        })
    };
    assert_eq!(state_keys_guess(RUNBOOK), state_keys(RUNBOOK));
    assert_eq!(
        state_keys_guess(RUNBOOK),
        keys(Some("runs/incident-42.state.json"), Some("incident42"))
    );
    assert_eq!(
        state_keys_guess(&format!(
            "{HEADER}change_orders:\n- id: a\n  app: x\nstate: 's.json' # here\n\n  # aside\n"
        )),
        keys(Some("s.json"), None)
    );
    assert_eq!(state_keys_guess(HEADER), keys(None, None));
    for text in [
        // A value continued, or nested, on the next line.
        format!("{HEADER}state: a\n  b.json\n"),
        format!("{HEADER}state:\n  a.json\n"),
        format!("{HEADER}state_name: a\n- b\n"),
        // Given twice, null, outside the subset.
        format!("{HEADER}state: a.json\nstate: b.json\n"),
        format!("{HEADER}state: ~\n"),
        format!("{HEADER}state: \"a\\tb\"\n"),
        format!("{HEADER}state: &anchor a.json\n"),
        "{state: a.json}\n".to_string(),
        format!("\"state\": a.json\n{HEADER}"),
        format!("---\nstate: a.json\n{HEADER}"),
        format!("{HEADER}state:\ta.json\n"),
    ] {
        assert_eq!(state_keys_guess(&text), None, "{text}");
    }
}

const RUNBOOK: &str = "# incident 42\n\
    version: 1\n\
    provider:\n  region: cn-hangzhou   # where\n  endpoint: 'http://127.0.0.1:8080'\n  profile: \"oncall\"\n  signature_algorithm: HMAC-SHA1\n  endpoint_type: vpc\n\
    apply:\n  parallelism: 12\n  requests_per_second: -3\n  request_timeout: 1m30s\n  verify_window: 3s\n  max_change_orders: 500\n  halt_after_failures: 10%\n  require_refresh: true\n\
    state: runs/incident-42.state.json\n\
    state_name: incident42\n\
    change_orders:\n\
    \x20 - id: 6b55106c-c7f2-40f7-a1d4-0928700aaaaa\n    app: checkout\n    reason: release 2026-11-27 broke checkout # why\n    operation: rollback\n    app_id: 3616cdca-4f92-4d28-9a52-8e0ea3f6b1a7\n\
    \n  # a comment between items\n\
    \x20 - id: \"B2\"\n    reason: 'it''s: quoted # not a comment'\n    app: 结账\n\
    \x20 -   id: c3\n\
    \x20 -\n    id: c4\n    app:\n";

#[test]
fn a_block_style_runbook_takes_the_fast_path_and_reads_as_the_parser_reads_it() {
    assert!(fast_path_agrees(RUNBOOK));
    assert!(fast_path_agrees(&RUNBOOK.replace('\n', "\r\n")));
    // Lists at the key's own indentation, and deeper.
    assert!(fast_path_agrees(&format!(
        "{HEADER}change_orders:\n- id: a\n  app: x\n- id: b\nstate: s.json\n"
    )));
    assert!(fast_path_agrees(&format!(
        "{HEADER}change_orders:\n    -    id: a\n         app: x\n    - id: b\n"
    )));
    // Errors of meaning found on the fast path are reported by the parser's path, the same.
    assert!(fast_path_agrees(&format!(
        "{HEADER}apply:\n  parallelism: 0\nchange_orders:\n  - id: a_b\n  - id: A\n  - id: a\n"
    )));
}

#[test]
fn the_fast_path_leaves_everything_outside_plain_block_style_to_the_parser() {
    for text in [
        format!("{HEADER}change_orders: []\n"),
        format!("{HEADER}change_orders:\n  - {{id: a}}\n"),
        format!("{HEADER}change_orders:\n  - id: &x a\n  - id: *x\n"),
        format!("{HEADER}change_orders:\n  - id: !!str a\n"),
        format!("{HEADER}change_orders:\n  - id: a\n    reason: |\n      text\n"),
        format!("{HEADER}change_orders:\n  - id: a\n    reason: two\n      lines\n"),
        format!("{HEADER}change_orders:\n  - id: \"a\\u0041\"\n"),
        format!("{HEADER}change_orders:\n  - id: \"a\n    b\"\n"),
        format!("{HEADER}change_orders:\n  - id:\ta\n"),
        format!("---\n{HEADER}change_orders:\n  - id: a\n"),
        format!("{HEADER}change_orders:\n  - id: a\n...\n"),
        format!("{HEADER}change_orders:\n  - id: a\n  - id: a\n    id: b\n"),
        format!("{HEADER}change_orders:\n  - id: ~\n"),
        format!("{HEADER}change_orders:\n  - id: a\n    app: null\n"),
        format!("{HEADER}change_orders:\n  - id: a\n    unknown: 1\n"),
        format!("{HEADER}change_orders:\n  - id: a: b\n"),
        format!("{HEADER}change_orders:\n  - a\n"),
        format!("{HEADER}change_orders:\n  - - id: a\n"),
        format!("{HEADER}select:\n  - app_id: x\nchange_orders:\n  - id: a\n"),
        format!("{HEADER}apply:\n  parallelism: '4'\nchange_orders:\n  - id: a\n"),
        format!("{HEADER}apply:\n  parallelism: 0x10\nchange_orders:\n  - id: a\n"),
        format!("{HEADER}apply:\n  require_refresh: yes\nchange_orders:\n  - id: a\n"),
        format!("\u{feff}{HEADER}change_orders:\n  - id: a\n"),
        format!("{HEADER}change_orders:\n  - id: a\r  - id: b\n"),
        "version: 1\nprovider: {region: cn-hangzhou}\nchange_orders:\n  - id: a\n".to_string(),
        "version: 1\n  provider:\n  region: x\nchange_orders:\n  - id: a\n".to_string(),
        "# nothing\n".to_string(),
        String::new(),
    ] {
        assert!(fast::parse(&text).is_none(), "the fast path took:\n{text}");
    }
}

/// Builds a block-style config from `choices`, mixing what the fast path takes with the
/// things it must give up on, so both sides of its boundary are exercised.
fn generated_config(choices: &[u8]) -> String {
    let mut choices = choices.iter().copied().chain(std::iter::repeat(0));
    let mut next = move |count: usize| usize::from(choices.next().unwrap_or(0)) % count;
    const SAFE: usize = 16;
    const SCALARS: &[&str] = &[
        "a",
        "co-1",
        "6b55106c-c7f2-40f7-a1d4-0928700aaaaa",
        "12",
        "0x1F",
        "1e3",
        "-5",
        "007",
        "true",
        "no",
        "a:b",
        "a#b",
        "-a",
        "it's",
        "结账",
        "${HOME}",
        "~",
        "null",
        "NULL",
        "",
        "a b",
        "a  b",
        "a: b",
        "a #b",
        "- a",
        "-",
        "?a",
        ":a",
        "a,b",
        "[a]",
        "{a}",
        "&a",
        "*a",
        "!a",
        "|",
        ">",
        "%a",
        "@a",
        "`a",
        "'a'",
        "\"a\"",
        "say \"hi\"",
        "é",
        "a\\b",
        "---",
        "...",
        "a ",
        " a",
        "#a",
        "a'",
        "a\"",
        "10%",
        "3s",
        "abort_and_rollback",
        "rollback",
        "vpc",
        "HMAC-SHA1",
    ];
    // Mostly values the fast path takes (the first ones), some it must leave to the parser.
    let scalar = |next: &mut dyn FnMut(usize) -> usize| -> String {
        let text = if next(8) == 0 {
            SCALARS[next(SCALARS.len())]
        } else {
            SCALARS[next(SAFE)]
        };
        match next(10) {
            0 => format!("'{}'", text.replace('\'', "''")),
            1 => format!("\"{text}\""),
            _ => text.to_string(),
        }
    };
    let comment = |next: &mut dyn FnMut(usize) -> usize| match next(12) {
        0 => " # note",
        1 => "   #",
        2 => "#x",
        _ => "",
    };
    let mut text = String::new();
    if next(4) == 0 {
        text.push_str("# runbook\n\n");
    }
    text.push_str(
        [
            "version: 1\n",
            "version: 2\n",
            "version: '1'\n",
            "version: 01\n",
        ][match next(24) {
            pick @ 1..=3 => pick,
            _ => 0,
        }],
    );
    text.push_str("provider:\n");
    let indent = ["  ", "    ", " "][next(3)];
    text.push_str(&format!(
        "{indent}region: {}{}\n",
        ["cn-hangzhou", "x y", "'cn-hangzhou'"][match next(12) {
            pick @ 1..=2 => pick,
            _ => 0,
        }],
        comment(&mut next)
    ));
    for (key, good) in [
        (
            "endpoint",
            &[
                "http://127.0.0.1:8080",
                "https://edas.cn-hangzhou.aliyuncs.com/",
            ][..],
        ),
        ("profile", &["oncall", "'default'"]),
        ("signature_algorithm", &["HMAC-SHA1", "ACS3-HMAC-SHA256"]),
        ("endpoint_type", &["vpc", "public"]),
    ] {
        if next(3) == 0 {
            let value = if next(4) == 0 {
                scalar(&mut next)
            } else {
                good[next(good.len())].to_string()
            };
            text.push_str(&format!("{indent}{key}: {value}\n"));
        }
    }
    if next(3) == 0 {
        text.push_str("apply:\n");
        for (key, good) in [
            ("parallelism", &["4", "0", "-3", "99999999999999999999"][..]),
            ("requests_per_second", &["20", "1"]),
            ("request_timeout", &["10s", "1m30s", "10"]),
            ("verify_window", &["3s", "0s"]),
            ("max_change_orders", &["500"]),
            ("halt_after_failures", &["10", "10%", "0%", "'10%'"]),
            ("require_refresh", &["true", "false"]),
        ] {
            if next(3) == 0 {
                let value = if next(4) == 0 {
                    scalar(&mut next)
                } else {
                    good[next(good.len())].to_string()
                };
                text.push_str(&format!("  {key}: {value}\n"));
            }
        }
    }
    if next(4) == 0 {
        text.push_str(&format!("state: {}\n", scalar(&mut next)));
    }
    text.push_str("change_orders:\n");
    let (dash_indent, gap) = [("  ", " "), ("", " "), ("    ", "   "), ("  ", "")][next(4)];
    for _ in 0..next(5) {
        // `id` (almost always) among up to three other keys, in any order.
        let mut keys = vec!["app", "reason", "operation", "app_id", "extra"];
        let first = next(keys.len());
        keys.swap(0, first);
        keys.truncate(next(4));
        keys.retain(|key| *key != "extra" || next(8) == 0);
        if next(16) != 0 {
            let at = next(keys.len() + 1);
            keys.insert(at, "id");
        }
        let compact = next(4) != 0 && !keys.is_empty();
        let key_indent = if compact {
            format!("{dash_indent} {gap}")
        } else {
            text.push_str(&format!("{dash_indent}-\n"));
            format!("{dash_indent}  ")
        };
        for (index, key) in keys.iter().enumerate() {
            let lead = if compact && index == 0 {
                format!("{dash_indent}-{gap}")
            } else {
                key_indent.clone()
            };
            let value = match (*key, next(16)) {
                (_, 0) => String::new(),
                ("operation", pick) if pick > 3 => {
                    ["rollback", "abort_and_rollback"][pick % 2].to_string()
                }
                _ => scalar(&mut next),
            };
            let separator = if value.is_empty() { ":" } else { ": " };
            text.push_str(&format!(
                "{lead}{key}{separator}{value}{}\n",
                comment(&mut next)
            ));
            if next(40) == 0 {
                text.push_str(&format!("{key_indent}  continued\n"));
            }
            if next(10) == 0 {
                text.push_str("\n   # aside\n");
            }
        }
    }
    if next(6) == 0 {
        text = text.replace('\n', "\r\n");
    }
    text
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3_000))]

    #[test]
    fn the_fast_path_agrees_with_the_parser_wherever_it_takes_a_file(
        choices in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160)
    ) {
        fast_path_agrees(&generated_config(&choices));
    }
}

#[test]
fn the_generated_configs_reach_both_sides_of_the_fast_path() {
    let mut taken = 0;
    let total = 2_000u32;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..total {
        let choices: Vec<u8> = (0..160)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        taken += u32::from(fast_path_agrees(&generated_config(&choices)));
    }
    // Both sides of the boundary are exercised, not only one.
    assert!(
        taken > total / 10 && taken < total * 9 / 10,
        "{taken} of {total} took the fast path"
    );
}

#[test]
fn hostile_block_style_files_are_refused_quickly_by_either_path() {
    let started = std::time::Instant::now();
    // Deep block nesting under a change order: the fast path gives up at the first line
    // deeper than the config's shape, the parser refuses it at its depth limit.
    let mut deep = format!("{HEADER}change_orders:\n  - id: a\n    reason:\n");
    for level in 0..5_000 {
        deep.push_str(&format!("{}k:\n", " ".repeat(6 + level)));
    }
    assert!(fast::parse(&deep).is_none());
    assert!(parse(Path::new(PATH), &deep).is_err());
    // An alias bomb in block style: the fast path never expands (it takes no alias), the
    // parser's alias budget refuses it.
    let mut bomb = format!("{HEADER}x:\n  - &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..9 {
        let previous = format!("*l{}", level - 1);
        bomb.push_str(&format!(
            "  - &l{level} [{}]\n",
            [previous.as_str(); 9].join(", ")
        ));
    }
    bomb.push_str("change_orders:\n  - id: a\n    reason: *l8\n");
    assert!(fast::parse(&bomb).is_none());
    assert!(parse(Path::new(PATH), &bomb).is_err());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_state_keys_of_a_runbook_far_past_the_parser_default_budget_are_read() {
    // 40,000 change orders are ~280,000 YAML nodes, past the parser's default cap of 250,000:
    // read with that cap, `state:` was dropped and `plan` silently used the default state
    // file. Both paths are tried: plain block style (the fast path) and a flow mapping (the
    // parser).
    let mut items = String::new();
    for index in 0..40_000 {
        items.push_str(&format!("  - id: co-{index}\n    app: a\n    reason: r\n"));
    }
    for header in [
        "version: 1\nprovider:\n  region: cn-hangzhou\n",
        "version: 1\nprovider: {region: cn-hangzhou}\n",
    ] {
        let text =
            format!("{header}state: custom.state.json\nstate_name: n\nchange_orders:\n{items}");
        assert_eq!(
            state_keys(&text),
            Some(StateKeys {
                state: Some(PathBuf::from("custom.state.json")),
                state_name: Some("n".to_string()),
            }),
            "{header}"
        );
    }
    // A config that fails its checks still names its state.
    let keys = state_keys("version: 7\nstate: s.json\nprovider: {}\nchange_orders: [{id: a_b}]\n");
    assert_eq!(
        keys.and_then(|keys| keys.state),
        Some(PathBuf::from("s.json"))
    );
}
