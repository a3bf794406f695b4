//! Durations as people write them in configs and flags: `10s`, `500ms`, `2m`, `1h30m`, and
//! the largest each may be. A duration far past any sane value (`5124095576030431h`) used to
//! pass, and then panicked ("overflow when adding duration to instant") when a deadline was
//! computed from it; every duration is now refused above [`MAX_DURATION`] with a clear error,
//! and `request_timeout` above [`MAX_REQUEST_TIMEOUT`]. docs/CONFIG.md lists the limits.

use std::time::Duration;

/// The longest duration any flag or config key accepts (`--wait-timeout`, `--lock-timeout`,
/// ...): a day. An incident runbook that waits longer than that is stuck, not patient.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest `request_timeout`: ten minutes. A single EDAS request that has not answered
/// by then is hung; the run should verify and move on.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Parses `10s`, `500ms`, `2m`, `1h30m`. A bare number is refused: the unit is never guessed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("expected a duration like `10s`, `500ms` or `2m`, found nothing".to_string());
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected a duration with a unit like `{trimmed}s` or `{trimmed}ms`, found `{trimmed}`"
        ));
    }
    let duration = humantime::parse_duration(trimmed).map_err(|_| {
        format!("expected a duration like `10s`, `500ms` or `2m`, found `{trimmed}`")
    })?;
    at_most(trimmed, duration, MAX_DURATION)
}

/// `duration` (written as `text`), or an error when it is longer than `max`.
pub fn at_most(text: &str, duration: Duration, max: Duration) -> Result<Duration, String> {
    if duration > max {
        return Err(too_long(text, max));
    }
    Ok(duration)
}

/// The error for `text` longer than `max`, with `max` as a person writes it (`24h`, `10m`).
pub fn too_long(text: &str, max: Duration) -> String {
    let seconds = max.as_secs();
    let shown = if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    };
    format!("`{text}` is longer than the maximum of {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_forms_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn bare_numbers_and_garbage_are_refused_with_a_hint() {
        assert!(parse_duration("10").unwrap_err().contains("`10s`"));
        assert!(parse_duration("ten seconds").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_past_a_day_are_refused_naming_the_maximum() {
        assert_eq!(parse_duration("24h"), Ok(MAX_DURATION));
        let error = parse_duration("5124095576030431h").unwrap_err();
        assert!(error.contains("maximum of 24h"), "{error}");
        assert!(parse_duration("25h").unwrap_err().contains("`25h`"));
    }
}
