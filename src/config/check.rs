//! Checks of meaning: a [`RawConfig`] that parsed as YAML becomes a [`DesiredState`], or
//! every problem in it is reported at once (a person fixing a config wants the whole list,
//! not one error per run). Pure: given the path and text for messages, never reads files.

use super::defaults::DEFAULTS;
use super::error::{ConfigError, ConfigErrors, Position, SourceText};
use super::raw::{Place, RawApply, RawConfig, RawProvider, RawSelector, RawThreshold, Spanned};
use super::{
    ApplySettings, ChangeOrderSpec, DesiredState, FailureThreshold, Provider, SUPPORTED_VERSION,
};
use crate::config::duration::{MAX_DURATION, MAX_REQUEST_TIMEOUT, at_most, too_long};

use crate::ids::ChangeOrderId;
use serde_saphyr::Location;
use std::borrow::Cow;
use std::collections::HashMap;

/// The most requests in flight at once (`parallelism`, `--parallelism`): each holds a
/// connection, and EDAS's rate limit is reached long before. docs/CONFIG.md.
pub const MAX_PARALLELISM: u32 = 1000;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Collects errors against one source text.
struct Checker<'a> {
    source: SourceText<'a>,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    /// True when the value at `spanned` is written in quotes. The parser reads `'4'` into a
    /// number field, but the schema (and so every editor) calls it a string; refusing it keeps
    /// the two in agreement.
    fn is_quoted<T>(&self, spanned: &Spanned<T>) -> bool {
        let position = spanned.at.position;
        matches!(
            self.source
                .line(position.line)
                .chars()
                .nth(position.column - 1),
            Some('"' | '\'')
        )
    }

    fn refuse_quoted_number<T>(&mut self, spanned: &Spanned<T>, name: &str, shown: &str) -> bool {
        if !self.is_quoted(spanned) {
            return false;
        }
        self.fail(
            spanned,
            shown,
            format!("quoted {name} `{shown}`"),
            &format!("expected a number without quotes, like `{name}: {shown}`"),
        );
        true
    }

    fn fail<T>(&mut self, spanned: &Spanned<T>, shown: &str, message: String, expected: &str) {
        let position = spanned.at.position;
        let width = width_of(&spanned.at, shown);
        self.errors.push(ConfigError::at(
            &self.source,
            position,
            width,
            message,
            expected,
        ));
    }
}

pub(super) fn check(path: &Path, text: &str, raw: RawConfig) -> Result<DesiredState, ConfigErrors> {
    let mut checker = Checker {
        source: SourceText::new(text),
        errors: Vec::new(),
    };

    let version_shown = raw.version.value.to_string();
    if checker.refuse_quoted_number(&raw.version, "version", &version_shown) {
        // Already reported.
    } else if raw.version.value != u64::from(SUPPORTED_VERSION) {
        let shown = raw.version.value.to_string();
        checker.fail(
            &raw.version,
            &shown,
            format!("unsupported config version `{shown}`"),
            &format!(
                "expected `version: {SUPPORTED_VERSION}`, the only version this edas-rollback reads"
            ),
        );
    }
    let provider = check_provider(&mut checker, raw.provider);
    let apply = raw
        .apply
        .map(|apply| check_apply(&mut checker, apply))
        .unwrap_or_default();
    let state_name = raw.state_name.map(|name| name.value);
    let state = raw.state.and_then(|state| {
        if state.value.trim().is_empty() {
            checker.fail(
                &state,
                &state.value,
                "empty state path".to_string(),
                "expected a file path, or no `state:` key for the default beside the config",
            );
            None
        } else {
            Some(PathBuf::from(state.value))
        }
    });

    // By comparison key, borrowed from the config where it is already lowercase (UUIDs
    // usually are): the index of the first declaration of each id. Two passes, so 100,000
    // ids cost no copy of each (CPU and peak memory of `plan`, docs/BENCHMARKS.md).
    let declared = &raw.change_orders;
    let mut first_declared: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(declared.len());
    let mut kept = vec![false; declared.len()];
    for (index, change_order) in declared.iter().enumerate() {
        let id = &change_order.id;
        if !ChangeOrderId::is_well_formed(&id.value) {
            checker.fail(
                id,
                &id.value,
                format!("invalid change order id `{}`", id.value),
                "expected letters and digits joined by single `-` ([A-Za-z0-9]+(-[A-Za-z0-9]+)*)",
            );
            continue;
        }
        // Ids compare without regard to case, as UUIDs do (`ChangeOrderId::comparison_key`).
        let key = if id.value.bytes().any(|byte| byte.is_ascii_uppercase()) {
            Cow::Owned(ChangeOrderId::comparison_key(&id.value))
        } else {
            Cow::Borrowed(id.value.as_str())
        };
        match first_declared.entry(key) {
            Entry::Occupied(first) => {
                let first_id = &declared[*first.get()].id;
                let case_only = first_id.value != id.value;
                let first_width = width_of(&first_id.at, &first_id.value);
                let first = first_id.at.position;
                let second = id.at.position;
                let width = width_of(&id.at, &id.value);
                checker.errors.push(
                    ConfigError::at(
                        &checker.source,
                        second,
                        width,
                        format!(
                            "`{}` is declared twice: line {} and line {}{}",
                            id.value,
                            first.line,
                            second.line,
                            if case_only {
                                " (ids that differ only in case are the same change order)"
                            } else {
                                ""
                            }
                        ),
                        "expected each change order id once; remove one of them",
                    )
                    .with_related(
                        &checker.source,
                        first,
                        first_width,
                        "first declared here",
                    ),
                );
            }
            Entry::Vacant(vacant) => {
                vacant.insert(index);
                kept[index] = true;
            }
        }
    }
    drop(first_declared);
    let change_orders: Vec<ChangeOrderSpec> = raw
        .change_orders
        .into_iter()
        .zip(kept)
        .filter(|(_, kept)| *kept)
        .map(|(change_order, _)| ChangeOrderSpec {
            id: ChangeOrderId::new(change_order.id.value),
            app: change_order.app,
            reason: change_order.reason,
            operation: change_order.operation.unwrap_or(DEFAULTS.operation),
            app_id: change_order.app_id,
            selected_by: None,
        })
        .collect();

    let selectors = raw
        .select
        .into_iter()
        .filter_map(|selector| check_selector(&mut checker, selector))
        .collect();

    if checker.errors.is_empty() {
        Ok(DesiredState {
            selectors,
            version: SUPPORTED_VERSION,
            provider,
            apply,
            state,
            state_name,
            change_orders,
        })
    } else {
        // Errors are collected field by field; a person reads them top to bottom.
        checker.errors.sort_by_key(|error| error.position);
        Err(ConfigErrors::new(path, checker.errors))
    }
}

fn check_provider(checker: &mut Checker<'_>, raw: RawProvider) -> Provider {
    let region = raw.region;
    if !is_region(&region.value) {
        checker.fail(
            &region,
            &region.value,
            format!("invalid region `{}`", region.value),
            "expected lowercase letters, digits and `-` only ([a-z0-9-]+), like `cn-hangzhou`",
        );
    }
    let endpoint = raw.endpoint.and_then(|endpoint| match normalize_endpoint(&endpoint.value) {
        Some(normalized) => Some(normalized),
        None => {
            checker.fail(
                &endpoint,
                &endpoint.value,
                format!("invalid endpoint `{}`", endpoint.value),
                "expected an http(s) URL with scheme, host and optional port only, like `https://edas.cn-hangzhou.aliyuncs.com`",
            );
            None
        }
    });
    let profile = raw.profile.and_then(|profile| {
        if profile.value.trim().is_empty() {
            checker.fail(
                &profile,
                &profile.value,
                "empty profile".to_string(),
                "expected an aliyun CLI profile name, or no `profile:` key",
            );
            None
        } else {
            Some(profile.value)
        }
    });
    Provider {
        region: region.value,
        endpoint,
        profile,
        signature_algorithm: raw
            .signature_algorithm
            .unwrap_or(DEFAULTS.signature_algorithm),
        endpoint_type: raw.endpoint_type.unwrap_or(DEFAULTS.endpoint_type),
    }
}

fn check_apply(checker: &mut Checker<'_>, raw: RawApply) -> ApplySettings {
    let mut positive = |name: &str, value: Option<Spanned<i64>>, max: u32| {
        let value = value?;
        if checker.refuse_quoted_number(&value, name, &value.value.to_string()) {
            return None;
        }
        match u32::try_from(value.value) {
            Ok(positive) if positive > 0 && positive <= max => Some(positive),
            _ => {
                let shown = value.value.to_string();
                checker.fail(
                    &value,
                    &shown,
                    format!("invalid {name} `{shown}`"),
                    &format!("expected a whole number from 1 to {max}"),
                );
                None
            }
        }
    };
    // Each request in flight holds a connection (a file descriptor); the service's rate
    // limit is reached long before this many.
    let parallelism = positive("parallelism", raw.parallelism, MAX_PARALLELISM);
    let requests_per_second = positive("requests_per_second", raw.requests_per_second, u32::MAX);
    let max_change_orders = positive("max_change_orders", raw.max_change_orders, u32::MAX);
    let request_timeout =
        raw.request_timeout.and_then(|timeout| {
            match parse_config_duration_at_most(&timeout.value, MAX_REQUEST_TIMEOUT) {
                Ok(duration) => Some(duration),
                Err(expected) => {
                    checker.fail(
                        &timeout,
                        &timeout.value,
                        format!("invalid request_timeout `{}`", timeout.value),
                        &expected,
                    );
                    None
                }
            }
        });
    // A window is a few seconds; minutes would only delay a resend the run needs.
    const MAX_VERIFY_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);
    let verify_window = raw.verify_window.and_then(|window| {
        match parse_config_duration_at_most(&window.value, MAX_VERIFY_WINDOW) {
            Ok(duration) => Some(duration),
            Err(expected) => {
                checker.fail(
                    &window,
                    &window.value,
                    format!("invalid verify_window `{}`", window.value),
                    &expected,
                );
                None
            }
        }
    });
    let halt_after_failures = raw
        .halt_after_failures
        .and_then(|threshold| check_threshold(checker, &threshold));
    ApplySettings {
        parallelism,
        requests_per_second,
        request_timeout,
        verify_window,
        max_change_orders,
        halt_after_failures,
        require_refresh: raw.require_refresh.unwrap_or(DEFAULTS.require_refresh),
    }
}

/// One `select:` entry: a well-formed application id, known status names, a duration.
fn check_selector(
    checker: &mut Checker<'_>,
    spanned: Spanned<RawSelector>,
) -> Option<crate::plan::select::SelectorSpec> {
    use crate::plan::select::{STATUS_NAMES, status_by_name};
    let raw = spanned.value;
    let mut valid = true;
    // Where errors about the selector as a whole point: its application, however given.
    let anchor: Spanned<String> = match (&raw.app_id, &raw.app_name) {
        (Some(app_id), _) => app_id.clone(),
        (None, Some(app_name)) => app_name.clone(),
        (None, None) => Spanned {
            value: String::new(),
            at: spanned.at,
        },
    };
    match (&raw.app_id, &raw.app_name) {
        (Some(app_id), _) if !ChangeOrderId::is_well_formed(&app_id.value) => {
            checker.fail(
                app_id,
                &app_id.value,
                format!("invalid app_id `{}`", app_id.value),
                "expected an EDAS application id: letters and digits joined by single `-`",
            );
            valid = false;
        }
        (Some(_), Some(app_name)) => {
            checker.fail(
                app_name,
                &app_name.value,
                "a selector has both `app_id` and `app_name`".to_string(),
                "expected one of them: `app_id` or `app_name`",
            );
            valid = false;
        }
        (None, None) => {
            checker.fail(
                &anchor,
                "",
                "a selector names no application".to_string(),
                "expected `app_id: <application id>` or `app_name: <application name>`",
            );
            valid = false;
        }
        (None, Some(app_name)) if app_name.value.trim().is_empty() => {
            checker.fail(
                app_name,
                &app_name.value,
                "empty `app_name`".to_string(),
                "expected the EDAS application's name",
            );
            valid = false;
        }
        _ => {}
    }
    let statuses = raw.statuses.map(|names| {
        names
            .iter()
            .filter_map(|name| {
                let status = status_by_name(&name.value);
                if status.is_none() {
                    checker.fail(
                        name,
                        &name.value,
                        format!("unknown selector status `{}`", name.value),
                        &format!(
                            "expected one of {} (only abortable statuses can be selected)",
                            STATUS_NAMES.map(|name| format!("`{name}`")).join(", ")
                        ),
                    );
                    valid = false;
                }
                status
            })
            .collect::<Vec<_>>()
    });
    if statuses.as_ref().is_some_and(Vec::is_empty) && valid {
        checker.fail(
            &anchor,
            &anchor.value,
            "empty `statuses` would select nothing".to_string(),
            "expected at least one status, or no `statuses:` for every abortable one",
        );
        valid = false;
    }
    let created_within =
        raw.created_within
            .and_then(|window| match parse_config_duration(&window.value) {
                Ok(duration) => Some(duration),
                Err(expected) => {
                    checker.fail(
                        &window,
                        &window.value,
                        format!("invalid created_within `{}`", window.value),
                        &expected,
                    );
                    valid = false;
                    None
                }
            });
    valid.then(|| crate::plan::select::SelectorSpec {
        app_id: raw.app_id.map(|app_id| app_id.value).unwrap_or_default(),
        app_name: raw.app_name.map(|app_name| app_name.value),
        app: raw.app,
        statuses,
        created_within,
        operation: raw.operation.unwrap_or(DEFAULTS.operation),
    })
}

/// `apply.halt_after_failures`: a whole number from 1, or `N%` with N from 1 to 100.
fn check_threshold(
    checker: &mut Checker<'_>,
    threshold: &Spanned<RawThreshold>,
) -> Option<FailureThreshold> {
    const EXPECTED: &str = "expected a whole number of failed change orders from 1, or a percentage from 1% to 100% (like `10` or `10%`)";
    let (shown, parsed) = match &threshold.value {
        RawThreshold::Count(count) => (
            count.to_string(),
            u32::try_from(*count)
                .ok()
                .filter(|count| *count > 0)
                .map(FailureThreshold::Count),
        ),
        RawThreshold::Text(text) => (
            text.clone(),
            text.strip_suffix('%')
                .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|digits| digits.parse::<u32>().ok())
                .filter(|percent| (1..=100).contains(percent))
                .map(FailureThreshold::Percent),
        ),
    };
    if parsed.is_none() {
        checker.fail(
            threshold,
            &shown,
            format!("invalid halt_after_failures `{shown}`"),
            EXPECTED,
        );
    }
    parsed
}

/// True when `region` matches `[a-z0-9-]+`.
pub fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A config duration: digits and a unit (`ms`, `s`, `m`, `h`), repeated, with no spaces
/// (`10s`, `500ms`, `1m30s`), and more than zero. Stricter than the flag parser so the schema
/// pattern describes exactly what the loader accepts.
pub fn parse_config_duration(text: &str) -> Result<Duration, String> {
    parse_config_duration_at_most(text, MAX_DURATION)
}

/// [`parse_config_duration`] with a smaller maximum than [`MAX_DURATION`].
fn parse_config_duration_at_most(text: &str, max: Duration) -> Result<Duration, String> {
    const EXPECTED: &str =
        "expected a duration like `10s`, `500ms`, `2m` or `1m30s` (units: ms, s, m, h)";
    if !matches_duration_grammar(text) {
        return Err(EXPECTED.to_string());
    }
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => {
            Err("expected a duration greater than zero".to_string())
        }
        Ok(duration) => at_most(text, duration, max),
        // Digits beyond what a duration can hold (`99999999999999999999h`).
        Err(_) => Err(too_long(text, max)),
    }
}

/// `([0-9]+(ms|s|m|h))+`, the schema's `DURATION_PATTERN`.
fn matches_duration_grammar(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut index = 0;
    if bytes.is_empty() {
        return false;
    }
    while index < bytes.len() {
        let digits_start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        if index == digits_start {
            return false;
        }
        let rest = &text[index..];
        let unit = if rest.starts_with("ms") {
            2
        } else if rest.starts_with('s') || rest.starts_with('m') || rest.starts_with('h') {
            1
        } else {
            return false;
        };
        index += unit;
    }
    true
}

/// `http(s)://host[:port]` with an optional trailing `/`, returned without it; `None` when
/// anything else is there (a path would change what is signed, so it is refused).
pub fn normalize_endpoint(endpoint: &str) -> Option<String> {
    let authority = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))?;
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let uri: http::Uri = endpoint.parse().ok()?;
    let authority = uri.authority()?;
    let host = authority.host();
    if host.is_empty() {
        return None;
    }
    // `http` keeps a port it cannot read as part of the authority; refuse it here.
    let after_host = authority.as_str().get(host.len()..).unwrap_or_default();
    if let Some(port) = after_host.strip_prefix(':') {
        port.parse::<u16>().ok()?;
    } else if !after_host.is_empty() {
        return None;
    }
    Some(endpoint.strip_suffix('/').unwrap_or(endpoint).to_string())
}

pub(super) fn position_of(location: &Location) -> Position {
    Position {
        line: usize::try_from(location.line())
            .unwrap_or(usize::MAX)
            .max(1),
        column: usize::try_from(location.column())
            .unwrap_or(usize::MAX)
            .max(1),
    }
}

/// How many characters to underline: the value's span when the parser knows it and it stays
/// on one line, else the value as shown.
fn width_of(place: &Place, shown: &str) -> usize {
    let span = place.span;
    let shown_width = shown.chars().count();
    if span > 0 && span >= shown_width && span <= shown_width + 2 {
        span
    } else {
        shown_width.max(1)
    }
}
