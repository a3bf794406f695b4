//! The state as people and machines read it: `state list`, `state show ID`, `show` without a
//! plan (text, JSON, markdown), and the before/after of a state edit (`state rm`) as a diff
//! made with `similar`. Pure functions returning `String`; text carries ANSI styles that
//! `anstream` drops when colour is off. This file never reads or writes state.

use super::plan::{Section, capped, cell, one_line};
use crate::ids::ChangeOrderId;
use crate::state::{ChangeOrderRecord, RecordStatus, STATE_FORMAT_VERSION, State};
use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};
use std::fmt::Write as _;
use std::path::Path;

const ABORTED: Style = AnsiColor::Green.on_default();
const FAILED: Style = AnsiColor::Red.on_default();
const UNKNOWN: Style = AnsiColor::Yellow.on_default();
const FINISHED: Style = Style::new().dimmed();
const REMOVED: Style = AnsiColor::Red.on_default();
const ADDED: Style = AnsiColor::Green.on_default();
const BOLD: Style = Style::new().bold();

fn status_style(status: RecordStatus) -> Style {
    match status {
        RecordStatus::Aborted => ABORTED,
        RecordStatus::Failed => FAILED,
        RecordStatus::Unknown => UNKNOWN,
        RecordStatus::Finished => FINISHED,
    }
}

/// `state list`: one line per change order, `ID  STATUS  attempts=N  request_id=R`, ids in
/// order; nothing at all for an empty state (so `| wc -l` counts change orders).
pub(crate) fn list(state: &State) -> String {
    let id_width = state
        .change_orders
        .keys()
        .map(|id| one_line(id.as_str()).chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::with_capacity(state.change_orders.len() * (id_width + 60));
    for (id, record) in &state.change_orders {
        let style = status_style(record.status);
        let _ = writeln!(
            out,
            "{:<id_width$}  {style}{:<7}{style:#}  attempts={}  request_id={}",
            one_line(id.as_str()),
            record.status.as_str(),
            record.attempts,
            record
                .request_id
                .as_deref()
                .map(one_line)
                .unwrap_or_else(|| "-".to_string()),
        );
    }
    out
}

/// The fields of a record as `name = value` lines, in the state file's order; absent
/// optional fields are left out.
fn fields(record: &ChangeOrderRecord) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("status", record.status.as_str().to_string()),
        ("attempts", record.attempts.to_string()),
    ];
    let optional: [(&'static str, Option<String>); 12] = [
        ("last_attempt_at", record.last_attempt_at.clone()),
        ("request_id", record.request_id.clone()),
        ("trace_id", record.trace_id.clone()),
        (
            "http_status",
            record.http_status.map(|status| status.to_string()),
        ),
        ("code", record.code.clone()),
        ("error_code", record.error_code.clone()),
        ("message", record.message.clone()),
        (
            "rollback_change_order_id",
            record.rollback_change_order_id.clone(),
        ),
        (
            "rollback_status",
            record.rollback_status.map(|status| {
                serde_json::to_value(status)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{status:?}"))
            }),
        ),
        (
            "confirmed_by_status",
            record.confirmed_by_status.then(|| "true".to_string()),
        ),
        ("app", record.app.clone()),
        ("reason", record.reason.clone()),
    ];
    fields.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value))),
    );
    fields
}

/// `state show ID`: every recorded field of one change order.
pub(crate) fn record(id: &ChangeOrderId, record: &ChangeOrderRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{BOLD}# change order {}{BOLD:#}",
        one_line(id.as_str())
    );
    let fields = fields(record);
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in fields {
        if name == "status" {
            let style = status_style(record.status);
            let _ = writeln!(out, "{name:<width$} = {style}{value}{style:#}");
        } else {
            let _ = writeln!(out, "{name:<width$} = {}", one_line(&value));
        }
    }
    out
}

/// Counts of a state's records by status: `3 aborted, 1 failed, 0 unknown`.
fn counts(state: &State) -> (usize, usize, usize) {
    let mut counts = (0, 0, 0);
    for record in state.change_orders.values() {
        match record.status {
            RecordStatus::Aborted => counts.0 += 1,
            RecordStatus::Failed => counts.1 += 1,
            RecordStatus::Unknown => counts.2 += 1,
            // Ended by itself: nothing to do, like an aborted one.
            RecordStatus::Finished => counts.0 += 1,
        }
    }
    counts
}

/// `show` without a plan file: a summary of the state, then `state list`'s lines.
/// `state` is `None` when no state file exists at `path`.
pub(crate) fn summary(path: &Path, state: Option<&State>) -> String {
    let Some(state) = state else {
        return format!(
            "No state at `{}` yet: nothing has been applied.\n",
            path.display()
        );
    };
    let (aborted, failed, unknown) = counts(state);
    let mut out = format!(
        "State `{}`: lineage `{}`, serial {}, written by edas-rollback {}.\n",
        path.display(),
        one_line(&state.lineage),
        state.serial,
        one_line(&state.tool_version),
    );
    let _ = writeln!(
        out,
        "{} change order{}: {aborted} aborted, {failed} failed, {unknown} unknown.",
        state.change_orders.len(),
        if state.change_orders.len() == 1 {
            ""
        } else {
            "s"
        },
    );
    if !state.change_orders.is_empty() {
        out.push('\n');
        out.push_str(&list(state));
    }
    out
}

/// `show --format json` without a plan file: the state file's own format (pretty, trailing
/// newline); with no state file, an empty state with `lineage: null` and serial 0.
pub(crate) fn json(state: Option<&State>) -> String {
    let value = match state {
        Some(state) => serde_json::to_value(state),
        None => Ok(serde_json::json!({
            "format_version": STATE_FORMAT_VERSION,
            "lineage": null,
            "serial": 0,
            "tool_version": env!("CARGO_PKG_VERSION"),
            "change_orders": {},
        })),
    };
    let mut text = value
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|error| {
            // The state model has string keys only; this branch exists to avoid a panic.
            serde_json::json!({ "error": error.to_string() }).to_string()
        });
    text.push('\n');
    text
}

/// `show --format markdown` without a plan file: the state as a pull-request comment, cut
/// under the same limit as a plan.
pub(crate) fn markdown(path: &Path, state: Option<&State>) -> String {
    let Some(state) = state else {
        return format!(
            "**No state yet.** Nothing has been applied (`{}` does not exist).\n",
            cell(&path.display().to_string())
        );
    };
    let (aborted, failed, unknown) = counts(state);
    let head = format!(
        "**State `{}`**: {} change orders, {aborted} aborted, {failed} failed, {unknown} unknown.\n\n",
        cell(&path.display().to_string()),
        state.change_orders.len(),
    );
    let rows = state
        .change_orders
        .iter()
        .map(|(id, record)| {
            format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                cell(id.as_str()),
                record.status.as_str(),
                record.attempts,
                record.request_id.as_deref().map(cell).unwrap_or_default(),
                record.app.as_deref().map(cell).unwrap_or_default(),
                record.message.as_deref().map(cell).unwrap_or_default(),
            )
        })
        .collect();
    let sections = [Section {
        title: format!("Change orders ({})", state.change_orders.len()),
        header: "| change order | status | attempts | request id | app | message |\n|---|---|--:|---|---|---|\n",
        rows,
        groups: Vec::new(),
    }];
    let foot = format!(
        "---\nState lineage `{}` · serial {} · written by edas-rollback {}\n",
        cell(&state.lineage),
        state.serial,
        cell(&state.tool_version),
    );
    capped(&head, &sections, &foot, "`edas-rollback state list`")
}

/// The before/after of every record that differs between two states, as unified diffs of
/// their JSON (`-` before, `+` after), in id order. Empty when no record differs.
pub(crate) fn diff(before: &State, after: &State) -> String {
    let mut out = String::new();
    let ids = before.change_orders.keys().chain(
        after
            .change_orders
            .keys()
            .filter(|id| !before.change_orders.contains_key(*id)),
    );
    let mut ids: Vec<&ChangeOrderId> = ids.collect();
    ids.sort();
    for id in ids {
        let old = before.change_orders.get(id);
        let new = after.change_orders.get(id);
        if old == new {
            continue;
        }
        let what = match (old, new) {
            (Some(_), None) => "removed",
            (None, Some(_)) => "added",
            _ => "changed",
        };
        let _ = writeln!(
            out,
            "{BOLD}# change order {} {what}{BOLD:#}",
            one_line(id.as_str())
        );
        let old_text = old.map(record_json).unwrap_or_default();
        let new_text = new.map(record_json).unwrap_or_default();
        let lines = TextDiff::from_lines(old_text.as_str(), new_text.as_str());
        for change in lines.iter_all_changes() {
            let line = one_line(change.value().trim_end_matches('\n'));
            match change.tag() {
                ChangeTag::Delete => {
                    let _ = writeln!(out, "{REMOVED}- {line}{REMOVED:#}");
                }
                ChangeTag::Insert => {
                    let _ = writeln!(out, "{ADDED}+ {line}{ADDED:#}");
                }
                ChangeTag::Equal => {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
    }
    out
}

fn record_json(record: &ChangeOrderRecord) -> String {
    let mut text = serde_json::to_string_pretty(record).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut state = State::new_empty("0f0e0d0c-0000-4000-8000-00000000abcd", "0.1.0");
        state.serial = 4;
        let mut aborted = ChangeOrderRecord::new(RecordStatus::Aborted);
        aborted.attempts = 1;
        aborted.request_id = Some("9A1B-REQ".to_string());
        aborted.rollback_change_order_id = Some("rb-1".to_string());
        aborted.app = Some("checkout".to_string());
        let mut failed = ChangeOrderRecord::new(RecordStatus::Failed);
        failed.attempts = 2;
        failed.http_status = Some(200);
        failed.code = Some("500".to_string());
        failed.message = Some("status forbids | abort\nsecond line \u{1b}[31m".to_string());
        state
            .change_orders
            .insert(ChangeOrderId::new("co-a"), aborted);
        state
            .change_orders
            .insert(ChangeOrderId::new("co-bb"), failed);
        state
    }

    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    #[test]
    fn state_list_prints_one_aligned_line_per_change_order() {
        insta::assert_snapshot!(plain(&list(&sample())), @r"
        co-a   aborted  attempts=1  request_id=9A1B-REQ
        co-bb  failed   attempts=2  request_id=-
        ");
        assert_eq!(list(&State::new_empty("l", "0.1.0")), "");
    }

    #[test]
    fn state_show_prints_every_recorded_field_with_control_characters_escaped() {
        let state = sample();
        let id = ChangeOrderId::new("co-bb");
        insta::assert_snapshot!(plain(&record(&id, &state.change_orders[&id])), @r#"
        # change order co-bb
        status      = failed
        attempts    = 2
        http_status = 200
        code        = 500
        message     = status forbids | abort\nsecond line \u{1b}[31m
        "#);
    }

    #[test]
    fn show_without_a_plan_summarises_the_state_then_lists_it() {
        insta::assert_snapshot!(plain(&summary(Path::new("s.json"), Some(&sample()))), @r"
        State `s.json`: lineage `0f0e0d0c-0000-4000-8000-00000000abcd`, serial 4, written by edas-rollback 0.1.0.
        2 change orders: 1 aborted, 1 failed, 0 unknown.

        co-a   aborted  attempts=1  request_id=9A1B-REQ
        co-bb  failed   attempts=2  request_id=-
        ");
        assert_eq!(
            summary(Path::new("s.json"), None),
            "No state at `s.json` yet: nothing has been applied.\n"
        );
    }

    #[test]
    fn state_json_is_the_state_file_format_and_an_absent_state_is_empty() {
        let state = sample();
        let parsed: State = serde_json::from_str(&json(Some(&state))).unwrap();
        assert_eq!(parsed, state);
        let empty: serde_json::Value = serde_json::from_str(&json(None)).unwrap();
        assert_eq!(empty["serial"], 0);
        assert!(empty["lineage"].is_null());
        assert_eq!(empty["change_orders"], serde_json::json!({}));
    }

    #[test]
    fn state_markdown_escapes_cells_and_names_lineage_and_serial() {
        let text = markdown(Path::new("s.json"), Some(&sample()));
        assert!(
            text.contains("status forbids \\| abort<br>second line  [31m"),
            "{text}"
        );
        assert!(text.contains("serial 4"));
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn removing_a_record_shows_it_as_a_before_after_diff() {
        let before = sample();
        let mut after = before.clone();
        after.change_orders.remove(&ChangeOrderId::new("co-a"));
        insta::assert_snapshot!(plain(&diff(&before, &after)), @r#"
        # change order co-a removed
        - {
        -   "status": "aborted",
        -   "attempts": 1,
        -   "request_id": "9A1B-REQ",
        -   "rollback_change_order_id": "rb-1",
        -   "app": "checkout"
        - }
        "#);
        assert_eq!(diff(&before, &before), "");
    }

    #[test]
    fn a_changed_record_shows_only_the_lines_that_moved() {
        let before = sample();
        let mut after = before.clone();
        if let Some(record) = after.change_orders.get_mut(&ChangeOrderId::new("co-a")) {
            record.attempts = 2;
        }
        let text = diff(&before, &after);
        assert!(text.contains("changed"));
        assert!(plain(&text).contains("-   \"attempts\": 1,\n+   \"attempts\": 2,"));
        assert!(
            text.contains('\u{1b}'),
            "the diff is coloured before anstream strips it"
        );
    }
}
