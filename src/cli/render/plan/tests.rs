use super::*;
use crate::config::{ApplySettings, ChangeOrderSpec, DesiredState, Provider};
use crate::ids::ChangeOrderId;
use crate::plan::{PlanInputs, plan};
use crate::state::{ChangeOrderRecord, RecordStatus, State};

/// `count` declared change orders cycling through every recorded status (fresh, failed,
/// unknown, aborted, fresh), and `max(1, count / 50)` recorded ones no longer declared.
fn sample(count: usize) -> Plan {
    let id = |index: usize| format!("{index:08x}-c7f2-40f7-a1d4-0928700aaaaa");
    let mut state = State::new_empty("5f0c1d2e-7a0b-4c3d-8e9f-0123456789ab", "0.1.0");
    state.serial = 7;
    let change_orders = (0..count)
        .map(|index| {
            let status = match index % 5 {
                1 => Some(RecordStatus::Failed),
                2 => Some(RecordStatus::Unknown),
                3 => Some(RecordStatus::Aborted),
                _ => None,
            };
            if let Some(status) = status {
                let mut record = ChangeOrderRecord::new(status);
                record.attempts = 1;
                if status == RecordStatus::Failed {
                    record.http_status = Some(200);
                    record.code = Some("500".to_string());
                    record.message = Some(format!(
                        "change order {} is in status 2 | succeeded\nand cannot be aborted",
                        id(index)
                    ));
                    record.request_id = Some(format!("REQ-{index:04}"));
                    record.last_attempt_at = Some("2026-11-27T23:10:00Z".to_string());
                }
                state
                    .change_orders
                    .insert(ChangeOrderId::new(id(index)), record);
            }
            ChangeOrderSpec {
                id: ChangeOrderId::new(id(index)),
                app: Some(format!("app-{}", index % 7)),
                reason: (index % 3 == 0).then(|| "release 2026-11-27 broke <checkout>".to_string()),
                operation: Default::default(),
                app_id: None,
                selected_by: None,
            }
        })
        .collect();
    for index in 0..(count / 50).max(1) {
        let mut record = ChangeOrderRecord::new(RecordStatus::Aborted);
        record.app = Some("legacy".to_string());
        state
            .change_orders
            .insert(ChangeOrderId::new(format!("old-{index:04}")), record);
    }
    let desired = DesiredState {
        selectors: Vec::new(),
        version: 1,
        provider: Provider {
            region: "cn-hangzhou".to_string(),
            endpoint: None,
            profile: None,
            signature_algorithm: Default::default(),
            endpoint_type: Default::default(),
        },
        apply: ApplySettings::default(),
        state: None,
        state_name: None,
        change_orders,
    };
    let inputs = PlanInputs {
        created_at: "2026-11-28T01:00:00Z".to_string(),
        config_path: "incident.yaml".to_string(),
        config_sha256: "0".repeat(64),
        endpoint: "https://edas.cn-hangzhou.aliyuncs.com".to_string(),
        tool_version: "0.1.0".to_string(),
    };
    plan(&desired, Some(&state), &inputs)
}

fn plain(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}

#[test]
fn text_shows_one_line_per_action_and_the_summary_without_colour() {
    insta::assert_snapshot!(plain(&text(&sample(5), None)));
}

#[test]
fn text_colours_each_action_by_its_kind() {
    let styled = text(&sample(5), None);
    assert!(styled.contains("\u{1b}[31m- abort"), "{styled:?}");
    insta::assert_snapshot!(styled);
}

#[test]
fn text_for_a_saved_plan_names_the_file_checksum_and_apply_command() {
    insta::assert_snapshot!(plain(&text(&sample(3), Some(Path::new("plan.json")))));
}

#[test]
fn the_summary_line_counts_retries_and_verifications_in_the_aborts() {
    let plan = sample(5);
    assert_eq!(
        summary_sentence(&plan),
        "4 to abort (1 retry, 1 to verify first), 1 unchanged, 1 no longer declared."
    );
    let plain_plan = sample(1);
    assert_eq!(
        summary_sentence(&plain_plan),
        "1 to abort, 0 unchanged, 1 no longer declared."
    );
}

#[test]
fn a_plan_with_nothing_to_send_says_no_changes() {
    let mut plan = sample(5);
    plan.actions
        .retain(|action| action.kind() == ActionKind::Unchanged);
    plan.summary = crate::plan::PlanSummary {
        unchanged: plan.actions.len(),
        ..Default::default()
    };
    let rendered = plain(&text(&plan, None));
    assert!(
        rendered.ends_with("No changes. All declared change orders are aborted.\n"),
        "{rendered}"
    );
    assert!(!rendered.contains("Plan:"));
    assert!(markdown(&plan, None).starts_with("**No changes.**"));
}

#[test]
fn json_is_the_plan_file_encoding() {
    let plan = sample(3);
    let rendered = json(&plan);
    assert_eq!(rendered, crate::plan::file::encode(&plan));
    insta::assert_snapshot!(rendered);
}

#[test]
fn markdown_for_three_change_orders_shows_every_row() {
    let rendered = markdown(&sample(3), Some(Path::new("plan.json")));
    assert!(!rendered.contains("left out"));
    insta::assert_snapshot!(rendered);
}

#[test]
fn markdown_for_two_hundred_change_orders_folds_long_sections() {
    let rendered = markdown(&sample(200), Some(Path::new("plan.json")));
    assert!(rendered.len() <= MARKDOWN_LIMIT);
    assert!(rendered.contains("<details><summary>Actions: 160 change orders to abort"));
    assert!(!rendered.contains("left out"));
    insta::assert_snapshot!(rendered);
}

#[test]
fn markdown_for_twenty_thousand_change_orders_is_cut_under_the_limit_with_a_note() {
    let rendered = markdown(&sample(20_000), Some(Path::new("plan.json")));
    assert!(
        rendered.chars().count() <= MARKDOWN_LIMIT,
        "{}",
        rendered.len()
    );
    assert!(
        rendered.len() > MARKDOWN_LIMIT - 2_000,
        "the budget is used, not wasted"
    );
    assert!(rendered.contains("rows were left out to keep this comment under 65536 characters"));
    assert!(rendered.contains("`edas-rollback show plan.json`"));
    // The footer with the checksum survives the cut.
    assert!(rendered.contains(&format!("Plan checksum `{}`", sample(20_000).checksum)));
    insta::assert_snapshot!(rendered);
}

#[test]
fn markdown_cells_escape_pipes_newlines_and_html() {
    assert_eq!(
        cell("a|b\nc\r\nd<e>&`f`"),
        "a\\|b<br>c<br>d&lt;e&gt;&amp;'f'"
    );
    let long = "x".repeat(500);
    assert_eq!(cell(&long).chars().count(), CELL_LIMIT + 1);
}

#[test]
fn text_escapes_control_characters_in_values() {
    assert_eq!(one_line("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
    assert_eq!(one_line("plain"), "plain");
}

/// Rows of two applications found by selectors (interleaved as EDAS might list them), an
/// explicit id labelled `checkout` by hand, and an explicit id with no application.
fn selected_sample() -> Plan {
    let selected = |id: &str, app: &str, app_id: &str, status: i32| ChangeOrderSpec {
        id: ChangeOrderId::new(id),
        app: Some(app.to_string()),
        reason: None,
        operation: Default::default(),
        app_id: Some(app_id.to_string()),
        selected_by: Some(crate::plan::SelectedBy {
            selector: usize::from(app == "payment"),
            status: status.into(),
            create_time: "2026-11-30 19:00:00".to_string(),
        }),
    };
    let explicit = |id: &str, app: Option<&str>| ChangeOrderSpec {
        id: ChangeOrderId::new(id),
        app: app.map(str::to_string),
        reason: Some("found by hand".to_string()),
        operation: Default::default(),
        app_id: None,
        selected_by: None,
    };
    let desired = DesiredState {
        selectors: Vec::new(),
        version: 1,
        provider: Provider {
            region: "cn-hangzhou".to_string(),
            endpoint: None,
            profile: None,
            signature_algorithm: Default::default(),
            endpoint_type: Default::default(),
        },
        apply: ApplySettings::default(),
        state: None,
        state_name: None,
        change_orders: vec![
            explicit("co-explicit", None),
            explicit("co-c0", Some("checkout")),
            selected("co-c1", "checkout", "app-checkout", 1),
            selected("co-p1", "payment", "app-payment", 9),
            selected("co-c2", "checkout", "app-checkout", 8),
            selected("co-p2", "payment", "app-payment", 1),
        ],
    };
    let inputs = PlanInputs {
        created_at: "2026-11-30T20:00:00Z".to_string(),
        config_path: "incident.yaml".to_string(),
        config_sha256: "0".repeat(64),
        endpoint: "https://edas.cn-hangzhou.aliyuncs.com".to_string(),
        tool_version: "0.1.0".to_string(),
    };
    plan(&desired, None, &inputs)
}

#[test]
fn text_groups_selected_rows_by_application_with_the_unnamed_ones_last() {
    let rendered = plain(&text(&selected_sample(), Some(Path::new("plan.json"))));
    let headings: Vec<&str> = rendered
        .lines()
        .filter(|line| line.starts_with("  # "))
        .collect();
    assert_eq!(
        headings,
        [
            "  # checkout: 3 change orders",
            "  # payment: 2 change orders",
            "  # (no application): 1 change order"
        ]
    );
    assert!(
        rendered.contains(
            "By application: checkout: 3 change orders, payment: 2, (no application): 1."
        ),
        "{rendered}"
    );
    insta::assert_snapshot!(rendered);
}

#[test]
fn markdown_groups_selected_rows_by_application_with_the_unnamed_ones_last() {
    let rendered = markdown(&selected_sample(), Some(Path::new("plan.json")));
    let checkout = rendered.find("**checkout: 3 change orders**").unwrap();
    let payment = rendered.find("**payment: 2 change orders**").unwrap();
    let unnamed = rendered
        .find("**(no application): 1 change order**")
        .unwrap();
    assert!(checkout < payment && payment < unnamed, "{rendered}");
    // Each group is its own table under its heading.
    assert_eq!(rendered.matches("| change order | app |").count(), 3);
    insta::assert_snapshot!(rendered);
}

#[test]
fn rows_that_name_no_application_are_listed_without_groups() {
    let mut plan = sample(5);
    for action in &mut plan.actions {
        action.app = None;
    }
    let rendered = plain(&text(&plan, None));
    assert!(!rendered.contains("  # "), "{rendered}");
    assert!(!rendered.contains("no application"), "{rendered}");
    let markdown = markdown(&plan, None);
    assert!(!markdown.contains("**(no application)"), "{markdown}");
}

#[test]
fn a_row_with_only_an_application_id_joins_the_rows_that_carry_its_label() {
    let mut plan = selected_sample();
    plan.actions[2].app = None;
    let rendered = plain(&text(&plan, None));
    assert!(
        rendered.contains("  # checkout: 3 change orders"),
        "{rendered}"
    );
}

#[test]
fn a_cut_markdown_keeps_each_group_heading_with_its_first_row() {
    let mut plan = sample(20_000);
    for (index, action) in plan.actions.iter_mut().enumerate() {
        action.app = Some(format!("app-{}", index % 400));
    }
    let rendered = markdown(&plan, Some(Path::new("plan.json")));
    assert!(rendered.len() <= MARKDOWN_LIMIT, "{}", rendered.len());
    assert!(rendered.contains("rows were left out"));
    // Every heading shown is followed by a table with at least one row.
    for (at, _) in rendered.match_indices("**app-") {
        let after: Vec<&str> = rendered[at..].lines().take(5).collect();
        assert!(after[2].starts_with("| change order |"), "{after:?}");
        assert!(after[4].starts_with("| `"), "{after:?}");
    }
}

#[test]
fn text_while_applying_a_saved_plan_keeps_its_header_and_drops_the_apply_hint() {
    let path = Path::new("plan.json");
    let shown = plain(&text(&sample(3), Some(path)));
    let applying = plain(&text_while_applying(&sample(3), path));
    assert!(
        shown.contains("run: edas-rollback apply plan.json"),
        "{shown}"
    );
    // Everything but the hint (and the blank line before it) is the same text.
    let without_hint: String = shown
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("To carry out exactly this plan"))
        .collect();
    assert_eq!(format!("{applying}\n"), without_hint);
}
