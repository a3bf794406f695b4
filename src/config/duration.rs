//! Durations as people write them in configs and flags: `10s`, `500ms`, `2m`, `1h30m`.

use std::time::Duration;

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
    humantime::parse_duration(trimmed)
        .map_err(|_| format!("expected a duration like `10s`, `500ms` or `2m`, found `{trimmed}`"))
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
}
