//! Plans as people and machines read them: text in Terraform's spirit, the JSON of the plan
//! file, and a pull-request comment in markdown (docs/CI.md). Pure functions from a [`Plan`] to
//! a `String`; the command decides where it goes. Text carries ANSI styles and must be
//! printed through `anstream`, which drops them for `NO_COLOR`, `--no-color` and anything
//! that is not a terminal. This file must not decide anything a plan does not already say.

use crate::edas::wire::ChangeOrderStatus;
use crate::plan::{
    ActionKind, LastError, LiveStatus, Plan, PlannedAction, cannot_abort_hint, file,
};
use anstyle::{AnsiColor, Style};
use std::fmt::Write as _;
use std::path::Path;

/// GitHub refuses comments longer than this many characters; the markdown never exceeds it
/// (it is measured in bytes, which are never fewer than characters).
pub(crate) const MARKDOWN_LIMIT: usize = 65_536;

const ABORT: Style = AnsiColor::Red.on_default();
const RETRY: Style = AnsiColor::Yellow.on_default();
const VERIFY: Style = AnsiColor::Magenta.on_default();
const NOT_DECLARED: Style = Style::new().dimmed();
const CANNOT_ABORT: Style = AnsiColor::Yellow.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const BOLD: Style = Style::new().bold();

/// Longest value shown in one markdown cell or text field; a service message can be long.
const CELL_LIMIT: usize = 200;

fn symbol(kind: ActionKind) -> (&'static str, &'static str, Style) {
    match kind {
        ActionKind::Abort => ("-", "abort", ABORT),
        ActionKind::Retry => ("~", "retry", RETRY),
        ActionKind::VerifyThenAbort => ("?", "verify, then abort", VERIFY),
        ActionKind::Unchanged => (" ", "no-op", Style::new()),
        ActionKind::NotDeclared => ("!", "not declared", NOT_DECLARED),
        ActionKind::AlreadyStopped => ("=", "no-op (already stopped)", Style::new()),
        ActionKind::CannotAbort => ("x", "cannot abort", CANNOT_ABORT),
    }
}

/// The action as shown: `cannot abort` names the live status that forbids it.
fn label(action: &PlannedAction, kind: ActionKind) -> String {
    match (kind, live_status(action)) {
        (ActionKind::CannotAbort, Some(status)) => {
            format!("cannot abort (status {})", status.code())
        }
        _ => symbol(kind).1.to_string(),
    }
}

fn live_status(action: &PlannedAction) -> Option<ChangeOrderStatus> {
    action.live_status.as_ref().and_then(|live| live.status)
}

/// `1 (running)`.
fn describe_status(status: ChangeOrderStatus) -> String {
    status.to_string()
}

/// The warning for a change order whose live status could not be had.
fn unknown_live_status(live: &LiveStatus) -> String {
    let mut text = String::from("live status unknown: the service refused `GetChangeOrderInfo`");
    if let Some(message) = &live.message {
        let _ = write!(text, " ({})", clip(message));
    }
    if let Some(request_id) = &live.request_id {
        let _ = write!(text, ", request id {}", clip(request_id));
    }
    text.push_str("; apply will still send the abort and record the answer");
    text
}

/// Counts of refreshed rows whose live status could not be had.
fn unknown_live_count(plan: &Plan) -> usize {
    plan.actions
        .iter()
        .filter(|action| {
            action
                .live_status
                .as_ref()
                .is_some_and(|live| live.status.is_none())
        })
        .count()
}

/// Text for a terminal. `saved_as` is the plan file this plan was read from or written to;
/// it adds the checksum and the command that applies exactly this plan.
pub(crate) fn text(plan: &Plan, saved_as: Option<&Path>) -> String {
    render_text(plan, saved_as, saved_as.is_some())
}

/// The text of a saved plan that `apply PLAN` is about to carry out: as [`text`], without the
/// closing "to carry out exactly this plan, run: …" line, which would name the command the
/// reader has just run.
pub(crate) fn text_while_applying(plan: &Plan, saved_as: &Path) -> String {
    render_text(plan, Some(saved_as), false)
}

fn render_text(plan: &Plan, saved_as: Option<&Path>, hint_apply_command: bool) -> String {
    let mut out = String::new();
    if let Some(path) = saved_as {
        let _ = writeln!(
            out,
            "Plan file `{}`: created {} by edas-rollback {}, checksum `{}`.",
            path.display(),
            one_line(&plan.created_at),
            one_line(&plan.tool_version),
            one_line(&plan.checksum),
        );
    }
    let _ = writeln!(
        out,
        "Region `{}`, endpoint `{}`; {}.",
        one_line(&plan.region),
        one_line(&plan.endpoint),
        state_version(plan),
    );
    let summary = &plan.summary;

    let shown: Vec<(&PlannedAction, ActionKind)> = plan
        .actions
        .iter()
        .map(|action| (action, action.kind()))
        .filter(|(_, kind)| *kind != ActionKind::Unchanged)
        .collect();
    if !shown.is_empty() {
        let mut used = [false; 7];
        for (_, kind) in &shown {
            used[kind_index(*kind)] = true;
        }
        let legend: Vec<String> = [
            (ActionKind::Abort, "abort"),
            (ActionKind::Retry, "retry (failed before)"),
            (
                ActionKind::VerifyThenAbort,
                "verify, then abort (outcome unknown)",
            ),
            (
                ActionKind::NotDeclared,
                "no longer declared (kept in state, never touched)",
            ),
            (
                ActionKind::AlreadyStopped,
                "already stopped (live status 6): nothing sent",
            ),
            (
                ActionKind::CannotAbort,
                "cannot abort in its live status: nothing sent",
            ),
        ]
        .into_iter()
        .filter(|(kind, _)| used[kind_index(*kind)])
        .map(|(kind, words)| {
            let (sign, _, style) = symbol(kind);
            format!("{style}{sign}{style:#} {words}")
        })
        .collect();
        let _ = writeln!(out, "Symbols: {}", legend.join("   "));
        out.push('\n');
        if summary.will_send() > 0 {
            out.push_str("edas-rollback will perform the following actions:\n\n");
        } else if summary.already_stopped + summary.cannot_abort > 0 {
            out.push_str("Nothing will be sent for these change orders:\n\n");
        } else {
            out.push_str("Change orders in state that are no longer declared:\n\n");
        }
        let width = shown
            .iter()
            .map(|(action, kind)| label(action, *kind).len())
            .max()
            .unwrap_or(0);
        if shown.iter().any(|(action, _)| names_an_application(action)) {
            let labels = application_labels(plan);
            for (index, (label, rows)) in
                group_by_application(shown, &labels).into_iter().enumerate()
            {
                if index > 0 {
                    out.push('\n');
                }
                let sent = rows.iter().filter(|(_, kind)| sends(*kind)).count();
                let mut heading = format!(
                    "{}: {}",
                    one_line(label.as_deref().unwrap_or(NO_APPLICATION)),
                    plural(rows.len(), "change order", "change orders")
                );
                // Rows that send nothing (not declared, already stopped) are listed too;
                // the heading says how many of them will be sent.
                if sent == 0 {
                    heading.push_str(", nothing sent");
                } else if sent != rows.len() {
                    let _ = write!(heading, ", {sent} to abort");
                }
                let _ = writeln!(out, "  {BOLD}# {heading}{BOLD:#}");
                for (action, kind) in &rows {
                    action_line(&mut out, action, *kind, width);
                }
            }
        } else {
            for (action, kind) in &shown {
                action_line(&mut out, action, *kind, width);
            }
        }
        out.push('\n');
    }

    if summary.will_send() == 0 && summary.already_stopped + summary.cannot_abort == 0 {
        out.push_str("No changes. All declared change orders are aborted.\n");
    } else if summary.will_send() == 0 {
        let _ = writeln!(
            out,
            "No changes: nothing will be sent. {BOLD}Plan:{BOLD:#} {}",
            summary_sentence(plan)
        );
    } else {
        let _ = writeln!(out, "{BOLD}Plan:{BOLD:#} {}", summary_sentence(plan));
    }
    if let Some(groups) = by_application(plan) {
        let _ = writeln!(out, "By application: {groups}.");
    }
    for warning in warnings(plan) {
        let _ = writeln!(out, "{WARN}warning:{WARN:#} {warning}");
    }
    if let Some(path) = saved_as
        && hint_apply_command
        && summary.will_send() > 0
    {
        let _ = writeln!(
            out,
            "\nTo carry out exactly this plan, run: {}",
            apply_command(path)
        );
    }
    out
}

/// The change orders that will be sent, counted by application in the order of
/// [`group_by_application`]: `checkout: 3 change orders, payment: 2`. Only for plans with
/// selected rows (a selector names applications, so the reviewer checks the blast radius per
/// application).
fn by_application(plan: &Plan) -> Option<String> {
    if !plan
        .actions
        .iter()
        .any(|action| action.selected_by.is_some())
    {
        return None;
    }
    let labels = application_labels(plan);
    let sent = plan
        .actions
        .iter()
        .filter(|action| action.action == crate::plan::Action::Abort)
        .map(|action| (action, ()))
        .collect();
    let parts: Vec<String> = group_by_application(sent, &labels)
        .iter()
        .enumerate()
        .map(|(index, (label, rows))| {
            let name = one_line(label.as_deref().unwrap_or(NO_APPLICATION));
            if index == 0 {
                format!(
                    "{name}: {}",
                    plural(rows.len(), "change order", "change orders")
                )
            } else {
                format!("{name}: {}", rows.len())
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The group of rows that name no application (explicit ids without `app:`).
const NO_APPLICATION: &str = "(no application)";

/// Whether the row names an application (`app` or `app_id`).
fn names_an_application(action: &PlannedAction) -> bool {
    action.app.is_some() || action.app_id.is_some()
}

/// The label of each application id, from the first row that gives both, so a row with only
/// the id joins the rows that carry its label.
fn application_labels(plan: &Plan) -> std::collections::HashMap<&str, &str> {
    let mut labels = std::collections::HashMap::new();
    for action in &plan.actions {
        if let (Some(app_id), Some(app)) = (&action.app_id, &action.app) {
            labels.entry(app_id.as_str()).or_insert(app.as_str());
        }
    }
    labels
}

/// One application's rows: its label (`None`: the rows that name none) and the rows.
type Group<'p, T> = (Option<String>, Vec<(&'p PlannedAction, T)>);

/// Rows grouped by application for review: groups in the order their first row appears,
/// rows in plan order within each, and the rows that name no application (label `None`) in
/// one group at the end. A row's application is its `app`, else its `app_id`'s label from
/// `labels`, else the `app_id`.
fn group_by_application<'p, T>(
    rows: Vec<(&'p PlannedAction, T)>,
    labels: &std::collections::HashMap<&str, &str>,
) -> Vec<Group<'p, T>> {
    let mut groups: Vec<Group<'p, T>> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut unnamed = Vec::new();
    for (action, extra) in rows {
        let label = action.app.as_deref().or_else(|| {
            action
                .app_id
                .as_deref()
                .map(|app_id| labels.get(app_id).copied().unwrap_or(app_id))
        });
        let Some(label) = label else {
            unnamed.push((action, extra));
            continue;
        };
        match index.get(label) {
            Some(&at) => groups[at].1.push((action, extra)),
            None => {
                index.insert(label.to_string(), groups.len());
                groups.push((Some(label.to_string()), vec![(action, extra)]));
            }
        }
    }
    if !unnamed.is_empty() {
        groups.push((None, unnamed));
    }
    groups
}

/// Whether a row of this kind sends a request.
fn sends(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::Abort | ActionKind::Retry | ActionKind::VerifyThenAbort
    )
}

/// `edas-rollback [-c …] [--state …] apply PATH`, with the flags this run was given.
fn apply_command(path: &Path) -> String {
    crate::cli::hints::command(&format!(
        "apply {}",
        crate::cli::hints::shell_quoted(&path.display().to_string())
    ))
}

fn kind_index(kind: ActionKind) -> usize {
    match kind {
        ActionKind::Abort => 0,
        ActionKind::Retry => 1,
        ActionKind::VerifyThenAbort => 2,
        ActionKind::Unchanged => 3,
        ActionKind::NotDeclared => 4,
        ActionKind::AlreadyStopped => 5,
        ActionKind::CannotAbort => 6,
    }
}

/// The plan-wide warnings of a refreshed plan; none otherwise.
fn warnings(plan: &Plan) -> Vec<String> {
    let mut warnings = Vec::new();
    if plan.summary.cannot_abort > 0 {
        warnings.push(format!(
            "{} cannot be aborted in {} live status; nothing will be sent for {} (see each hint)",
            plural(plan.summary.cannot_abort, "change order", "change orders"),
            if plan.summary.cannot_abort == 1 {
                "its"
            } else {
                "their"
            },
            if plan.summary.cannot_abort == 1 {
                "it"
            } else {
                "them"
            },
        ));
    }
    let unknown = unknown_live_count(plan);
    if unknown > 0 {
        warnings.push(format!(
            "the live status of {} is unknown; {} planned from the recorded state",
            plural(unknown, "change order", "change orders"),
            if unknown == 1 { "it is" } else { "they are" },
        ));
    }
    warnings
}

fn action_line(out: &mut String, action: &PlannedAction, kind: ActionKind, width: usize) {
    let (sign, _, style) = symbol(kind);
    let label = label(action, kind);
    let _ = write!(
        out,
        "  {style}{sign} {label:<width$}{style:#} {}",
        one_line(action.change_order_id.as_str())
    );
    if let Some(app) = &action.app {
        let _ = write!(out, "  {}", one_line(app));
    }
    if let Some(reason) = &action.reason {
        let _ = write!(out, "  \"{}\"", one_line(reason));
    }
    // Every row names its call: ACK and ECS change orders roll back through different APIs.
    let _ = write!(out, "  [{}]", action.operation.request().action());
    if kind == ActionKind::NotDeclared {
        out.push_str("  (kept in state, never touched)");
    }
    out.push('\n');
    let indent = " ".repeat(width + 5);
    match kind {
        ActionKind::Retry => {
            let error = action
                .last_error
                .as_ref()
                .map(describe_error)
                .unwrap_or_else(|| "none recorded".to_string());
            let _ = writeln!(out, "{indent}{RETRY}last error:{RETRY:#} {error}");
        }
        ActionKind::VerifyThenAbort => {
            let _ = writeln!(
                out,
                "{indent}an earlier request's outcome is unknown: GetChangeOrderInfo first, abort only if still abortable"
            );
        }
        _ => {}
    }
    let Some(live) = &action.live_status else {
        return;
    };
    match (kind, live.status) {
        (ActionKind::AlreadyStopped, _) => {
            let _ = writeln!(
                out,
                "{indent}live status 6 (stopped): already aborted or stopped, by this tool or another; nothing will be sent"
            );
        }
        (ActionKind::CannotAbort, Some(status)) => {
            let _ = writeln!(
                out,
                "{indent}{WARN}warning:{WARN:#} live status {}: {}; nothing will be sent",
                describe_status(status),
                cannot_abort_hint(status)
            );
        }
        (_, Some(status)) => {
            let _ = writeln!(out, "{indent}live status {}", describe_status(status));
        }
        (_, None) => {
            let _ = writeln!(
                out,
                "{indent}{WARN}warning:{WARN:#} {}",
                unknown_live_status(live)
            );
        }
    }
}

/// `Plan: 5 to abort (1 retry, 1 to verify first), 2 unchanged, 0 no longer declared.`
/// The first number counts everything that will be sent.
pub(crate) fn summary_sentence(plan: &Plan) -> String {
    let summary = &plan.summary;
    let mut details = Vec::new();
    if summary.to_retry > 0 {
        details.push(plural(summary.to_retry, "retry", "retries"));
    }
    if summary.to_verify > 0 {
        details.push(format!("{} to verify first", summary.to_verify));
    }
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join(", "))
    };
    let mut sentence = format!(
        "{} to abort{details}, {} unchanged, {} no longer declared",
        summary.will_send(),
        summary.unchanged,
        summary.not_declared
    );
    if summary.already_stopped + summary.cannot_abort > 0 {
        let _ = write!(
            sentence,
            "; live status: {} already stopped, {} cannot abort",
            summary.already_stopped, summary.cannot_abort
        );
    }
    sentence.push('.');
    sentence
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn state_version(plan: &Plan) -> String {
    match &plan.state.lineage {
        Some(lineage) => format!(
            "state serial {} (lineage `{}`)",
            plan.state.serial,
            one_line(lineage)
        ),
        None => "no state file yet".to_string(),
    }
}

/// `HTTP 200, code `500`: message (request `id`, at time)` for a terminal.
pub(crate) fn describe_error(error: &LastError) -> String {
    describe_error_with(error, |value| clip(&one_line(value)))
}

/// The same words for a markdown cell: every value escaped by [`cell`].
fn describe_error_markdown(error: &LastError) -> String {
    describe_error_with(error, cell)
}

fn describe_error_with(error: &LastError, escape: impl Fn(&str) -> String) -> String {
    let mut parts = Vec::new();
    if let Some(status) = error.http_status {
        parts.push(format!("HTTP {status}"));
    }
    if let Some(code) = &error.code {
        parts.push(format!("code `{}`", escape(code)));
    }
    if let Some(code) = &error.error_code {
        parts.push(format!("error code `{}`", escape(code)));
    }
    let mut text = parts.join(", ");
    if let Some(message) = &error.message {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&escape(message));
    }
    let mut context = Vec::new();
    if let Some(request_id) = &error.request_id {
        context.push(format!("request `{}`", escape(request_id)));
    }
    if let Some(at) = &error.at {
        context.push(format!("at {}", escape(at)));
    }
    if !context.is_empty() {
        if !text.is_empty() {
            text.push(' ');
        }
        let _ = write!(text, "({})", context.join(", "));
    }
    text
}

/// Control characters (newlines, escape sequences from a hostile message) become visible
/// escapes, so one value is one line and cannot restyle the terminal.
pub(crate) fn one_line(value: &str) -> String {
    if !value.chars().any(char::is_control) {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for character in value.chars() {
        if character.is_control() {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
    out
}

fn clip(value: &str) -> String {
    match value.char_indices().nth(CELL_LIMIT) {
        Some((index, _)) => format!("{}…", &value[..index]),
        None => value.to_string(),
    }
}

/// The JSON output of `plan --format json` and `show PLAN --format json`: exactly the plan
/// file's canonical encoding (docs/json-output.md).
pub(crate) fn json(plan: &Plan) -> String {
    file::encode(plan)
}

/// A pull-request comment (docs/CI.md, docs/CONTRACT.md "Commands"): a one-line verdict, a summary
/// table, the actions, long sections folded, the checksum and state serial, never over
/// [`MARKDOWN_LIMIT`]. `saved_as` is the plan file, named in the command that applies it and in the
/// note that says how to see rows left out.
pub(crate) fn markdown(plan: &Plan, saved_as: Option<&Path>) -> String {
    let summary = &plan.summary;
    let mut head = String::new();
    let refreshed = plan
        .actions
        .iter()
        .any(|action| action.live_status.is_some());
    if summary.will_send() == 0 && summary.already_stopped + summary.cannot_abort > 0 {
        let _ = write!(
            head,
            "**No changes.** Nothing will be sent. Plan: {}",
            summary_sentence(plan)
        );
        head.push_str("\n\n");
    } else if summary.will_send() == 0 {
        head.push_str("**No changes.** All declared change orders are aborted.");
        if summary.not_declared > 0 {
            let _ = write!(
                head,
                " {} no longer declared (kept in state, never touched).",
                plural(summary.not_declared, "change order is", "change orders are")
            );
        }
        head.push_str("\n\n");
    } else {
        let _ = writeln!(
            head,
            "**edas-rollback will abort {}** in `{}`. Plan: {}\n",
            plural(summary.will_send(), "change order", "change orders"),
            cell(&plan.region),
            summary_sentence(plan),
        );
    }
    head.push_str("| change orders | count |\n|:--|--:|\n");
    for (label, count) in [
        ("to abort", summary.to_abort),
        ("to retry (failed before)", summary.to_retry),
        ("to verify, then abort (outcome unknown)", summary.to_verify),
        ("unchanged (already aborted)", summary.unchanged),
        (
            "no longer declared (kept in state, never touched)",
            summary.not_declared,
        ),
    ] {
        let _ = writeln!(head, "| {label} | {count} |");
    }
    if refreshed {
        for (label, count) in [
            ("already stopped (live status 6)", summary.already_stopped),
            ("cannot abort (live status)", summary.cannot_abort),
        ] {
            let _ = writeln!(head, "| {label} | {count} |");
        }
    }
    let _ = writeln!(head, "| **will be sent** | **{}** |\n", summary.will_send());
    if let Some(groups) = by_application(plan) {
        let _ = writeln!(head, "**By application:** {}.\n", cell(&groups));
    }
    let warnings = warnings(plan);
    for warning in &warnings {
        let _ = writeln!(head, "> **Warning:** {}", cell(warning));
    }
    if !warnings.is_empty() {
        head.push('\n');
    }
    if refreshed {
        head.push_str(
            "Live statuses are from `GetChangeOrderInfo` at plan time (`plan --refresh`).\n\n",
        );
    }

    let mut foot = String::from("---\n");
    let _ = writeln!(
        foot,
        "Plan checksum `{}` · {} · config `{}` (sha256 `{}`) · region `{}` · endpoint `{}` · created {} by edas-rollback {}",
        cell(&plan.checksum),
        match &plan.state.lineage {
            Some(lineage) => format!(
                "state serial {} (lineage `{}`)",
                plan.state.serial,
                cell(lineage)
            ),
            None => "no state file yet (serial 0)".to_string(),
        },
        cell(&plan.config.path),
        cell(&plan.config.sha256),
        cell(&plan.region),
        cell(&plan.endpoint),
        cell(&plan.created_at),
        cell(&plan.tool_version),
    );
    if let Some(path) = saved_as
        && summary.will_send() > 0
    {
        let _ = writeln!(
            foot,
            "\nApply exactly this plan with `{}`.",
            cell(&apply_command(path))
        );
    }

    const HEADER: &str =
        "| change order | app | reason | action | call | last error |\n|---|---|---|---|---|---|\n";
    let mut sends = Vec::new();
    let mut unchanged = Vec::new();
    let mut not_declared = Vec::new();
    let mut not_sent = Vec::new();
    for action in &plan.actions {
        let kind = action.kind();
        let bucket = match kind {
            ActionKind::Unchanged => &mut unchanged,
            ActionKind::AlreadyStopped | ActionKind::CannotAbort => &mut not_sent,
            ActionKind::NotDeclared => &mut not_declared,
            _ => &mut sends,
        };
        bucket.push((action, kind));
    }
    // Each section's rows under a sub-heading per application when any row names one.
    let grouped = plan.actions.iter().any(names_an_application);
    let labels = application_labels(plan);
    let rows_of =
        |bucket: Vec<(&PlannedAction, ActionKind)>| -> (Vec<String>, Vec<(String, usize)>) {
            if !grouped {
                let rows = bucket
                    .into_iter()
                    .map(|(action, kind)| action_row(action, kind))
                    .collect();
                return (rows, Vec::new());
            }
            let mut rows = Vec::with_capacity(bucket.len());
            let mut groups = Vec::new();
            for (label, members) in group_by_application(bucket, &labels) {
                groups.push((
                    format!(
                        "{}: {}",
                        label.as_deref().unwrap_or(NO_APPLICATION),
                        plural(members.len(), "change order", "change orders")
                    ),
                    members.len(),
                ));
                rows.extend(
                    members
                        .into_iter()
                        .map(|(action, kind)| action_row(action, kind)),
                );
            }
            (rows, groups)
        };
    let not_sent_count = not_sent.len();
    let (sends, sends_groups) = rows_of(sends);
    let (not_sent, not_sent_groups) = rows_of(not_sent);
    let (unchanged, unchanged_groups) = rows_of(unchanged);
    let (not_declared, not_declared_groups) = rows_of(not_declared);
    let sections = [
        Section {
            title: format!(
                "Actions: {} to abort",
                plural(summary.will_send(), "change order", "change orders")
            ),
            header: HEADER,
            rows: sends,
            groups: sends_groups,
        },
        Section {
            title: format!(
                "Not sent: {} already stopped or not abortable in {} live status",
                plural(not_sent_count, "change order", "change orders"),
                if not_sent_count == 1 { "its" } else { "their" }
            ),
            header: HEADER,
            rows: not_sent,
            groups: not_sent_groups,
        },
        Section {
            title: format!(
                "Unchanged: {} already aborted",
                plural(summary.unchanged, "change order", "change orders")
            ),
            header: HEADER,
            rows: unchanged,
            groups: unchanged_groups,
        },
        Section {
            title: format!(
                "No longer declared: {} kept in state, never touched",
                plural(summary.not_declared, "change order", "change orders")
            ),
            header: HEADER,
            rows: not_declared,
            groups: not_declared_groups,
        },
    ];
    let see_all = match saved_as {
        Some(path) => format!(
            "`{}`",
            cell(&crate::cli::hints::command(&format!(
                "show {}",
                crate::cli::hints::shell_quoted(&path.display().to_string())
            )))
        ),
        None => {
            "`edas-rollback plan --out plan.json` then `edas-rollback show plan.json`".to_string()
        }
    };
    capped(&head, &sections, &foot, &see_all)
}

fn action_row(action: &PlannedAction, kind: ActionKind) -> String {
    let mut error = match kind {
        ActionKind::Retry => action
            .last_error
            .as_ref()
            .map(describe_error_markdown)
            .unwrap_or_else(|| "none recorded".to_string()),
        _ => String::new(),
    };
    let mut shown = label(action, kind);
    if let Some(live) = &action.live_status {
        let note = match (kind, live.status) {
            (ActionKind::AlreadyStopped, _) => {
                "already aborted or stopped; nothing will be sent".to_string()
            }
            (ActionKind::CannotAbort, Some(status)) => format!(
                "**warning:** {}: {}",
                status.name(),
                cannot_abort_hint(status)
            ),
            (_, Some(status)) => {
                let _ = write!(shown, ", live status {}", describe_status(status));
                String::new()
            }
            (_, None) => format!("**warning:** {}", cell(&unknown_live_status(live))),
        };
        if !note.is_empty() {
            if !error.is_empty() {
                error.push_str("<br>");
            }
            error.push_str(&note);
        }
    }
    format!(
        "| `{}` | {} | {} | {} | {} | {} |\n",
        cell(action.change_order_id.as_str()),
        action.app.as_deref().map(cell).unwrap_or_default(),
        action.reason.as_deref().map(cell).unwrap_or_default(),
        shown,
        action.operation.request().action(),
        error,
    )
}

/// A table cell: one line, no `|` that would end the cell, no HTML that would break the
/// surrounding `<details>`, at most [`CELL_LIMIT`] characters.
pub(crate) fn cell(value: &str) -> String {
    let clipped = clip(value);
    let mut out = String::with_capacity(clipped.len() + 8);
    let mut characters = clipped.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '|' => out.push_str("\\|"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            '\r' if characters.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("<br>"),
            other if other.is_control() => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

/// One foldable table of a markdown document.
pub(crate) struct Section {
    pub title: String,
    pub header: &'static str,
    pub rows: Vec<String>,
    /// Sub-headings that split `rows` into consecutive groups, each with its own table: the
    /// title and how many rows follow it (summing to `rows.len()`). Empty: one table.
    pub groups: Vec<(String, usize)>,
}

impl Section {
    /// The row index at which each group starts, with its title.
    fn group_starts(&self) -> impl Iterator<Item = (usize, &str)> {
        self.groups.iter().scan(0, |start, (title, count)| {
            let at = *start;
            *start += count;
            Some((at, title.as_str()))
        })
    }
}

/// The lines that open a group's table: a blank line after the previous group's table, the
/// sub-heading and the table header.
fn group_open(section: &Section, title: &str, first: bool) -> String {
    format!(
        "{}**{}**\n\n{}",
        if first { "" } else { "\n" },
        cell(title),
        section.header
    )
}

/// Sections with more rows than this are folded in `<details>`.
const FOLD_AFTER: usize = 10;

/// Assembles `head`, the sections and `foot`, keeping rows in order until the next one would
/// push the document over [`MARKDOWN_LIMIT`]; then adds a note saying how many rows were
/// left out and `see_all` (a command that shows them).
pub(crate) fn capped(head: &str, sections: &[Section], foot: &str, see_all: &str) -> String {
    let total_rows: usize = sections.iter().map(|section| section.rows.len()).sum();
    // Room for the note, whatever the numbers in it.
    let note_reserve = 200 + see_all.len();
    // A grouped section's tables are opened group by group, as rows are kept; see below.
    let framing = |section: &Section| {
        let header = if section.groups.is_empty() {
            section.header.len()
        } else {
            0
        };
        section_open(section).len() + header + section_close(section).len()
    };
    let group_openings: usize = sections
        .iter()
        .flat_map(|section| {
            section
                .groups
                .iter()
                .enumerate()
                .map(move |(index, (title, _))| group_open(section, title, index == 0).len())
        })
        .sum();
    let fixed: usize = head.len()
        + foot.len()
        + sections
            .iter()
            .filter(|section| !section.rows.is_empty())
            .map(framing)
            .sum::<usize>();
    let everything = fixed
        + group_openings
        + sections
            .iter()
            .flat_map(|s| &s.rows)
            .map(String::len)
            .sum::<usize>();
    let mut budget = if everything <= MARKDOWN_LIMIT {
        usize::MAX
    } else {
        MARKDOWN_LIMIT.saturating_sub(fixed + note_reserve)
    };

    let mut out = String::with_capacity(everything.min(MARKDOWN_LIMIT));
    out.push_str(head);
    let mut shown = 0;
    let mut cut = false;
    for section in sections.iter().filter(|section| !section.rows.is_empty()) {
        let mut body = String::new();
        let mut starts = section.group_starts().peekable();
        for (index, row) in section.rows.iter().enumerate() {
            // A group's sub-heading and table header are kept only with its first row.
            let opening = match starts.next_if(|(start, _)| *start == index) {
                Some((_, title)) => group_open(section, title, body.is_empty()),
                None => String::new(),
            };
            if cut || opening.len() + row.len() > budget {
                cut = true;
                break;
            }
            budget -= opening.len() + row.len();
            body.push_str(&opening);
            body.push_str(row);
            shown += 1;
        }
        out.push_str(&section_open(section));
        if body.is_empty() {
            out.push_str("_All rows of this section were left out; see the note below._\n");
        } else {
            if section.groups.is_empty() {
                out.push_str(section.header);
            }
            out.push_str(&body);
        }
        out.push_str(section_close(section));
    }
    if shown < total_rows {
        let _ = writeln!(
            out,
            "> **Note:** {} of {} rows were left out to keep this comment under {} characters. See them all with {}.\n",
            total_rows - shown,
            total_rows,
            MARKDOWN_LIMIT,
            see_all
        );
    }
    out.push_str(foot);
    out
}

fn section_open(section: &Section) -> String {
    if section.rows.len() > FOLD_AFTER {
        format!("<details><summary>{}</summary>\n\n", cell(&section.title))
    } else {
        format!("#### {}\n\n", cell(&section.title))
    }
}

fn section_close(section: &Section) -> &'static str {
    if section.rows.len() > FOLD_AFTER {
        "\n</details>\n\n"
    } else {
        "\n"
    }
}

#[cfg(test)]
mod tests;
