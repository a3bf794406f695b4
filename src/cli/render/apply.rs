//! `apply`'s output: the engine's [`ApplyEvent`]s as a progress bar on a terminal's stderr,
//! as plain lines otherwise, or as `--json` lines on stdout (one object per line, nothing
//! else there); and the final summary that names every change order that did not end aborted.
//! It renders only: it decides nothing and never touches state.

use super::json_events::{self, JsonLine};
use crate::apply::engine::WaitReport;
use crate::apply::event::{ApplyEvent, Reporter};
use crate::apply::{AbortedChange, ApplyReport, FailedChange, FatalError};
use crate::plan::PlannedAction;
use crate::state::RollbackStatus;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, SystemTime};

fn timestamp() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// One JSON object per line, Terraform's machine-readable UI in spirit: every line has
/// `@level`, `@message`, `@timestamp` and `type`, then the type's own fields. The lines are
/// the typed [`JsonLine`]s of [`super::json_events`], whose schema is checked in.
pub(crate) struct JsonLines<W: Write> {
    out: W,
    /// The line being written, reused: serialised here whole, then one `write` (serde_json
    /// writes a piece per token, and each piece took the batch's lock).
    line: Vec<u8>,
}

impl<W: Write> JsonLines<W> {
    pub(crate) fn new(out: W) -> Self {
        Self {
            out,
            line: Vec::with_capacity(512),
        }
    }

    fn line(&mut self, (level, message, event): json_events::Unstamped<'_>) {
        let line = JsonLine {
            level,
            message,
            timestamp: timestamp(),
            event,
        };
        self.line.clear();
        if serde_json::to_writer(&mut self.line, &line).is_err() {
            return;
        }
        self.line.push(b'\n');
        // A closed stdout (e.g. `| head`) must not stop the run: the journal is the record.
        let _ = self.out.write_all(&self.line);
        let _ = self.out.flush();
    }

    /// The first line of the stream.
    pub(crate) fn version(&mut self) {
        self.line(json_events::version());
    }

    /// One line per action of the plan that will be carried out.
    pub(crate) fn planned_change(&mut self, action: &PlannedAction) {
        self.line(json_events::planned_change(action));
    }
}

/// A service message on one line: `SignatureDoesNotMatch` messages carry the server's whole
/// string to sign, which is shown once, on its own, where it is useful (`fatal_error`).
/// Control characters are escaped ([`safe`]).
pub(crate) fn one_line(message: &str) -> String {
    let message = match message.find("server string to sign is:") {
        Some(at) => &message[..at],
        None => message,
    };
    safe(message.lines().next().unwrap_or("").trim())
}

/// Server text (`Message`, `RequestId`, `Code`) made safe for a terminal: every control
/// character, ESC included, is shown escaped (`\u{1b}`), so a hostile or broken server cannot
/// retitle the terminal (`ESC]0;`), recolour or hide lines, or move the cursor.
pub(crate) fn safe(text: &str) -> String {
    super::plan::one_line(text)
}

pub(super) fn fatal_summary(fatal: &FatalError) -> String {
    format!(
        "the service rejected the credentials: `{}`: {}",
        safe(fatal.details.code.as_deref().unwrap_or("unknown")),
        one_line(fatal.details.message.as_deref().unwrap_or("no message"))
    )
}

/// The error `apply` ends with after a fatal answer: code, RequestId, message, and the
/// service's string to sign (to compare with ours from `-v`), indented.
pub(crate) fn fatal_error(fatal: &FatalError) -> String {
    let mut text = format!(
        "the service rejected the credentials (`{}`",
        safe(fatal.details.code.as_deref().unwrap_or("unknown"))
    );
    if let Some(request_id) = &fatal.details.request_id {
        let _ = write!(text, ", RequestId `{}`", safe(request_id));
    }
    text.push_str("), so nothing new was started");
    if let Some(message) = &fatal.details.message {
        let _ = write!(text, ": {}", one_line(message));
    }
    if let Some(server) = &fatal.server_string_to_sign {
        let _ = write!(
            text,
            "\n  the service's string to sign (compare with ours, shown by `-v`):"
        );
        for line in server.lines() {
            let _ = write!(text, "\n    {}", safe(line));
        }
    }
    text
}

pub(super) fn rollback_word(status: RollbackStatus) -> &'static str {
    match status {
        RollbackStatus::Running => "running",
        RollbackStatus::Succeeded => "succeeded",
        RollbackStatus::PartiallySucceeded => "partially succeeded",
        RollbackStatus::Failed => "failed",
        RollbackStatus::TimedOut => "timed out",
    }
}

impl<W: Write> Reporter for JsonLines<W> {
    fn on_event(&mut self, event: &ApplyEvent) {
        if let Some(line) = json_events::of_event(event) {
            self.line(line);
        }
    }
}

/// A line per change order and per warning, for logs and pipes.
pub(crate) struct PlainLines<W: Write, E: Write> {
    out: W,
    err: E,
    /// The line being written, reused: one `write` of the whole line, no string per line.
    line: String,
}

impl<W: Write, E: Write> PlainLines<W, E> {
    pub(crate) fn new(out: W, err: E) -> Self {
        Self {
            out,
            err,
            line: String::with_capacity(128),
        }
    }
}

/// The human line for an event, and whether it is a warning (stderr) rather than progress.
fn human_line(event: &ApplyEvent) -> Option<(String, bool)> {
    let line = match event {
        ApplyEvent::RunStarted {
            total,
            parallelism,
            requests_per_second,
        } => (
            format!(
                "Aborting {total} change orders ({parallelism} at a time, up to \
                 {requests_per_second} requests/s)…"
            ),
            false,
        ),
        ApplyEvent::ChangeStarted { .. } => return None,
        ApplyEvent::ChangeAborted(aborted) => {
            let mut line = String::new();
            aborted_line(&mut line, aborted);
            (line, false)
        }
        ApplyEvent::ChangeFailed(failed) => (failed_line(failed), false),
        ApplyEvent::ChangeUnknown(unknown) => (
            format!(
                "{}: outcome unknown: {}",
                unknown.change_order_id,
                safe(&unknown.message)
            ),
            false,
        ),
        ApplyEvent::Retrying {
            change_order_id,
            attempt,
            after,
            reason,
            ..
        } => (
            format!(
                "warning: {change_order_id}: {}; attempt {attempt} in {}",
                safe(reason),
                seconds(*after)
            ),
            true,
        ),
        ApplyEvent::Verifying {
            change_order_id,
            reason,
        } => (
            format!(
                "warning: {change_order_id}: outcome unknown ({}); asking \
                 GetChangeOrderInfo before anything else",
                safe(reason)
            ),
            true,
        ),
        ApplyEvent::Resending {
            change_order_id,
            status,
        } => (
            format!(
                "warning: {change_order_id}: still abortable (status {status}); sending the \
                 abort again"
            ),
            true,
        ),
        ApplyEvent::RateChanged { from, to } if to < from => (
            format!("warning: throttled by the service: slowing down to {to:.1} requests/s"),
            true,
        ),
        ApplyEvent::RateChanged { .. } => return None,
        ApplyEvent::Fatal(fatal) => (
            format!(
                "error: {}; starting nothing new, finishing the requests in flight",
                fatal_summary(fatal)
            ),
            true,
        ),
        ApplyEvent::Interrupted { in_flight } => (
            format!(
                "Interrupted by {}: starting nothing new, finishing the {in_flight} in flight, \
                 then saving (press Ctrl-C or send the signal again to exit at once; the \
                 journal holds every request sent)",
                crate::cli::signals::stop_reason()
            ),
            true,
        ),
        ApplyEvent::JournalFailed { message } => (
            format!("error: the journal could not be written: {message}; starting nothing new"),
            true,
        ),
        ApplyEvent::RollbackPolled {
            change_order_id,
            rollback_change_order_id,
            status,
            service_status,
        } => (
            format!(
                "{change_order_id}: rollback {rollback_change_order_id} {}{}",
                rollback_word(*status),
                service_status
                    // The word already names the meaning; the number is what EDAS's console shows.
                    .map(|status| format!(" (status {})", status.code()))
                    .unwrap_or_default()
            ),
            false,
        ),
        ApplyEvent::Summary { .. } => return None,
    };
    Some(line)
}

/// `ID: aborted[ (confirmed by its status)][ [RequestId …]]`, appended to `line`: the line
/// of nearly every change order, so it is written in place rather than formatted piecewise.
fn aborted_line(line: &mut String, aborted: &AbortedChange) {
    line.push_str(aborted.change_order_id.as_str());
    line.push_str(": aborted");
    if aborted.confirmed_by_status {
        line.push_str(" (confirmed by its status)");
    }
    if let Some(request_id) = &aborted.request_id {
        line.push_str(" [RequestId ");
        push_safe(line, request_id);
        line.push(']');
    }
}

/// [`safe`], appended to `out` without a string of its own.
fn push_safe(out: &mut String, text: &str) {
    for character in text.chars() {
        if character.is_control() {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
}

fn failed_line(failed: &FailedChange) -> String {
    let mut line = format!("{}: failed", failed.change_order_id);
    // A change order found finished by GetChangeOrderInfo carries that call's `200`: a success
    // code is no reason for a failure, so only error codes are shown.
    if let Some(code) = failed.code.as_deref().filter(|code| *code != "200") {
        let _ = write!(line, ": `{}`", safe(code));
    }
    let _ = write!(line, ": {}", one_line(&failed.message));
    if let Some(request_id) = &failed.request_id {
        let _ = write!(line, " [RequestId {}]", safe(request_id));
    }
    line
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

impl<W: Write, E: Write> Reporter for PlainLines<W, E> {
    fn on_event(&mut self, event: &ApplyEvent) {
        self.line.clear();
        let warning = match event {
            ApplyEvent::ChangeAborted(aborted) => {
                aborted_line(&mut self.line, aborted);
                false
            }
            other => match human_line(other) {
                Some((line, warning)) => {
                    self.line = line;
                    warning
                }
                None => return,
            },
        };
        self.line.push('\n');
        let target: &mut dyn Write = if warning {
            &mut self.err
        } else {
            &mut self.out
        };
        // A closed stdout (`| head`) must not stop the run: the journal is the record.
        let _ = target.write_all(self.line.as_bytes());
    }
}

/// A progress bar on stderr (done/total, rate, failures, ETA); warnings and failures are
/// printed above it.
pub(crate) struct ProgressReporter {
    bar: ProgressBar,
    failures: usize,
}

impl ProgressReporter {
    pub(crate) fn new(total: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} · {per_sec} · {msg} · ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message("0 failed");
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar, failures: 0 }
    }
}

impl Reporter for ProgressReporter {
    fn on_event(&mut self, event: &ApplyEvent) {
        match event {
            // Each result prints above the bar, as the runbook's transcript shows it.
            ApplyEvent::ChangeAborted(_) => {
                self.bar.inc(1);
                if let Some((line, _)) = human_line(event) {
                    self.bar.println(line);
                }
            }
            ApplyEvent::ChangeFailed(_) | ApplyEvent::ChangeUnknown(_) => {
                self.failures += 1;
                self.bar.inc(1);
                self.bar.set_message(format!("{} failed", self.failures));
                if let Some((line, _)) = human_line(event) {
                    self.bar.println(line);
                }
            }
            ApplyEvent::Summary { .. } => self.bar.finish_and_clear(),
            ApplyEvent::ChangeStarted { .. } => {}
            other => {
                if let Some((line, _)) = human_line(other) {
                    self.bar.println(line);
                }
            }
        }
    }
}

/// The final summary: counts, then every change order that did not end aborted, with its
/// code, message and RequestId.
pub(crate) fn summary(report: &ApplyReport) -> String {
    let mut text = String::new();
    let verdict = if report.interrupted {
        "Apply interrupted!"
    } else if report.all_aborted() {
        "Apply complete!"
    } else {
        "Apply finished with errors."
    };
    let _ = writeln!(
        text,
        "{verdict} Aborted: {}, failed: {}, unknown: {}, not started: {} (in {}).",
        report.aborted.len(),
        report.failed.len(),
        report.unknown.len(),
        report.not_started.len(),
        seconds(report.elapsed)
    );
    if let Some(limit) = report.halted_after_failures {
        let _ = writeln!(
            text,
            "\nCircuit breaker: {} change orders failed, reaching `apply.halt_after_failures` \
             ({limit} for this run), so no new request was started; {} change orders were not \
             started and are left for a later run (`edas-rollback plan` shows them).",
            report.failed.len(),
            report.not_started.len()
        );
    }
    if !report.failed.is_empty() {
        let _ = writeln!(text, "\nFailed:");
        for failed in &report.failed {
            let _ = writeln!(text, "  {}", failed_line(failed));
        }
    }
    if !report.unknown.is_empty() {
        let _ = writeln!(
            text,
            "\nOutcome unknown (the next plan asks GetChangeOrderInfo before sending anything):"
        );
        for unknown in &report.unknown {
            let _ = writeln!(
                text,
                "  {}: {}",
                unknown.change_order_id,
                safe(&unknown.message)
            );
        }
    }
    if !report.not_started.is_empty() {
        let _ = writeln!(
            text,
            "\n{} change orders were not started; run `apply` again to finish them.",
            report.not_started.len()
        );
    }
    text
}

/// The `--wait` summary.
pub(crate) fn wait_summary(report: &WaitReport) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Rollbacks: {} succeeded, {} partially succeeded, {} failed, {} timed out, {} not finished.",
        report.succeeded.len(),
        report.partially_succeeded.len(),
        report.failed.len(),
        report.timed_out.len(),
        report.not_finished.len()
    );
    for target in &report.partially_succeeded {
        let _ = writeln!(
            text,
            "  {}: rollback {} partially succeeded (status 7): some batches were rolled back and \
             the rest were not; check the application's instances in the EDAS console and \
             release the previous version to the rest",
            target.change_order_id, target.rollback_change_order_id
        );
    }
    for (target, why) in &report.failed {
        let _ = writeln!(
            text,
            "  {}: rollback {} failed: {why}",
            target.change_order_id, target.rollback_change_order_id
        );
    }
    for (id, why) in &report.not_followed {
        let _ = writeln!(
            text,
            "  {id}: aborted (confirmed by its status after a lost response), but its rollback \
             change order could not be found, so it was not followed: {why}"
        );
    }
    for target in &report.timed_out {
        let _ = writeln!(
            text,
            "  {}: rollback {} did not finish in time",
            target.change_order_id, target.rollback_change_order_id
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{AbortedChange, UnknownChange};
    use crate::ids::ChangeOrderId;
    use serde_json::Value;

    fn json_lines(events: &[ApplyEvent]) -> Vec<Value> {
        let mut reporter = JsonLines::new(Vec::new());
        for event in events {
            reporter.on_event(event);
        }
        String::from_utf8(reporter.out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn failed() -> FailedChange {
        FailedChange {
            change_order_id: ChangeOrderId::new("co-2"),
            code: Some("500".into()),
            message: "change order `co-2` is in status 2".into(),
            request_id: Some("req-2".into()),
            http_status: Some(200),
        }
    }

    #[test]
    fn json_lines_carry_the_design_types_and_the_request_ids() {
        let lines = json_lines(&[
            ApplyEvent::ChangeStarted {
                change_order_id: ChangeOrderId::new("co-1"),
                verify_first: false,
            },
            ApplyEvent::ChangeAborted(AbortedChange {
                change_order_id: ChangeOrderId::new("co-1"),
                request_id: Some("req-1".into()),
                rollback_change_order_id: Some("rb-1".into()),
                confirmed_by_status: false,
                attempts: 1,
            }),
            ApplyEvent::ChangeFailed(failed()),
            ApplyEvent::Summary {
                aborted: 1,
                failed: 1,
                unknown: 0,
                not_started: 0,
                elapsed: Duration::from_secs(2),
            },
        ]);
        let types: Vec<&str> = lines
            .iter()
            .map(|line| line["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "apply_start",
                "apply_complete",
                "apply_errored",
                "change_summary"
            ]
        );
        assert_eq!(lines[1]["request_id"], "req-1");
        assert_eq!(lines[1]["rollback_change_order_id"], "rb-1");
        assert_eq!(lines[2]["code"], "500");
        assert_eq!(lines[2]["request_id"], "req-2");
        assert_eq!(lines[3]["changes"]["aborted"], 1);
        assert!(lines.iter().all(|line| line["@timestamp"].is_string()));
    }

    fn has_null(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Array(items) => items.iter().any(has_null),
            Value::Object(fields) => fields.values().any(has_null),
            _ => false,
        }
    }

    /// docs/json-output.md: fields without a value are left out at every depth. The
    /// `json!` lines wrote `null` inside `diagnostic.detail` (a fatal error without a
    /// `Code`, a rollback without a service status) and `"detail": null` for a journal error.
    #[test]
    fn no_line_holds_a_null_at_any_depth() {
        let lines = json_lines(&[
            ApplyEvent::Fatal(FatalError {
                change_order_id: ChangeOrderId::new("co-1"),
                kind: crate::edas::outcome::FatalKind::AccessKey,
                details: crate::edas::outcome::ResponseDetails::default(),
                server_string_to_sign: None,
            }),
            ApplyEvent::RollbackPolled {
                change_order_id: ChangeOrderId::new("co-1"),
                rollback_change_order_id: "rb-1".into(),
                status: RollbackStatus::Running,
                service_status: None,
            },
            ApplyEvent::JournalFailed {
                message: "disk full".into(),
            },
            ApplyEvent::ChangeUnknown(UnknownChange {
                change_order_id: ChangeOrderId::new("co-2"),
                message: "HTTP 503".into(),
            }),
        ]);
        assert_eq!(lines.len(), 4);
        for line in &lines {
            assert!(!has_null(line), "{line}");
        }
        assert_eq!(
            lines[0]["diagnostic"]["detail"]["hint"],
            FatalError {
                change_order_id: ChangeOrderId::new("co-1"),
                kind: crate::edas::outcome::FatalKind::AccessKey,
                details: crate::edas::outcome::ResponseDetails::default(),
                server_string_to_sign: None,
            }
            .hint()
        );
        assert_eq!(
            lines[1]["diagnostic"]["detail"]["rollback_status"],
            "running"
        );
        assert_eq!(lines[1]["@message"], "co-1: rollback running");
        assert!(lines[2]["diagnostic"].get("detail").is_none());
        assert_eq!(lines[3]["status"], "unknown");
    }

    #[test]
    fn the_summary_names_every_change_order_that_did_not_end_aborted() {
        let report = ApplyReport {
            failed: vec![failed()],
            unknown: vec![UnknownChange {
                change_order_id: ChangeOrderId::new("co-3"),
                message: "outcome unknown: HTTP 503".into(),
            }],
            ..ApplyReport::default()
        };
        let text = summary(&report);
        assert!(text.starts_with("Apply finished with errors."));
        assert!(
            text.contains(
                "co-2: failed: `500`: change order `co-2` is in status 2 [RequestId req-2]"
            )
        );
        assert!(text.contains("co-3: outcome unknown: HTTP 503"));
    }

    #[test]
    fn a_signature_error_shows_the_servers_string_to_sign_once_and_indented() {
        let message = "Specified signature is not matched with our calculation. server string \
                       to sign is:PUT\napplication/json\n\n\nSat, 28 Nov 2026 01:24:55 GMT\n/pop";
        let fatal = FatalError {
            change_order_id: ChangeOrderId::new("co-1"),
            kind: crate::edas::outcome::FatalKind::Signature,
            details: crate::edas::outcome::ResponseDetails {
                code: Some("SignatureDoesNotMatch".into()),
                message: Some(message.into()),
                request_id: Some("req-9".into()),
                ..Default::default()
            },
            server_string_to_sign: Some("PUT\napplication/json\n\n\nDATE\n/pop".into()),
        };
        assert_eq!(
            one_line(message),
            "Specified signature is not matched with our calculation."
        );
        let text = fatal_error(&fatal);
        assert!(text.starts_with(
            "the service rejected the credentials (`SignatureDoesNotMatch`, RequestId `req-9`), \
             so nothing new was started: Specified signature is not matched with our calculation."
        ));
        assert!(text.contains("\n    PUT\n    application/json\n"));
        assert_eq!(text.matches("PUT").count(), 1);
    }

    #[test]
    fn plain_lines_put_progress_on_stdout_and_warnings_on_stderr() {
        let mut reporter = PlainLines::new(Vec::new(), Vec::new());
        reporter.on_event(&ApplyEvent::ChangeFailed(failed()));
        reporter.on_event(&ApplyEvent::RateChanged {
            from: 20.0,
            to: 9.5,
        });
        let out = String::from_utf8(reporter.out).unwrap();
        let err = String::from_utf8(reporter.err).unwrap();
        assert!(out.contains("co-2: failed"));
        assert!(err.contains("slowing down to 9.5 requests/s"));
    }
}
