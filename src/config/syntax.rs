//! YAML syntax and type errors from the parser, turned into a [`ConfigError`] so they render
//! like every other config error: a short headline, and what was expected under the caret.

use super::check::position_of;
use super::error::{ConfigError, SourceText};
use serde_saphyr::{Error, MessageFormatter, UserMessageFormatter};

pub(super) fn from_parser(text: &str, error: &Error) -> ConfigError {
    let source = SourceText::new(text);
    let bare = error.without_snippet();
    let parser_message = sanitize(&UserMessageFormatter.format_message(bare));
    let Some(location) = bare.location() else {
        return ConfigError::unplaced(format!("invalid YAML: {parser_message}"));
    };
    let position = position_of(&location);
    let token = token_at(source.line(position.line), position.column);
    let (headline, expected) = describe(bare, &parser_message, &token, text);
    ConfigError::at(
        &source,
        position,
        token.chars().count().max(1),
        headline,
        expected,
    )
}

/// The headline and the "expected …" label for one parser error.
fn describe(error: &Error, parser_message: &str, token: &str, text: &str) -> (String, String) {
    match error {
        Error::InvalidScalar { ty, .. } => {
            let expected = match *ty {
                "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => {
                    "expected a whole number"
                }
                "bool" => "expected `true` or `false`",
                "f32" | "f64" => "expected a number",
                _ => "expected a value of another type",
            };
            (format!("invalid value `{token}`"), expected.to_string())
        }
        Error::Unexpected { expected, .. } => {
            let expected = match *expected {
                "sequence start" => {
                    "expected a list: `[]`, or lines starting with `- `".to_string()
                }
                "mapping start" => "expected a mapping of `key: value` lines".to_string(),
                "string scalar" => "expected a string".to_string(),
                other => format!("expected {other}"),
            };
            let headline = match token.chars().next() {
                None => "missing value".to_string(),
                Some('[') => "unexpected list".to_string(),
                Some('{') => "unexpected mapping".to_string(),
                Some('-') if token == "-" => "unexpected list".to_string(),
                Some(_) => format!("unexpected value `{token}`"),
            };
            (headline, expected)
        }
        Error::NullIntoString { .. } => {
            ("missing value".to_string(), "expected a string".to_string())
        }
        Error::Eof { .. } if !has_content(text) => (
            "empty config".to_string(),
            "expected `version: 1`, `provider:` and `change_orders:`".to_string(),
        ),
        Error::Message { msg, .. } => describe_serde_message(msg, parser_message),
        _ => describe_serde_message(parser_message, parser_message),
    }
}

/// Messages serde's derived code produces (unknown and missing fields), reworded to speak of
/// keys; anything else is a syntax error the parser describes best itself.
fn describe_serde_message(message: &str, parser_message: &str) -> (String, String) {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((key, allowed)) = rest.split_once('`')
    {
        let allowed = allowed.trim_start_matches(", ");
        let expected = if let Some(list) = allowed.strip_prefix("expected one of ") {
            format!("expected one of {}", quote_list(list))
        } else if let Some(single) = allowed.strip_prefix("expected ") {
            format!("expected {}", quote_list(single))
        } else {
            "expected no keys here".to_string()
        };
        return (format!("unknown key `{key}`"), expected);
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((key, _)) = rest.split_once('`')
    {
        return (
            format!("missing key `{key}`"),
            format!("expected a `{key}:` key in this mapping"),
        );
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return (
            format!("wrong type: found {found}"),
            format!("expected {expected}"),
        );
    }
    if let Some(rest) = parser_message.strip_prefix("duplicate mapping key ") {
        let key = rest.trim_end_matches(" is not allowed here");
        return (
            format!("duplicate key {key}"),
            "expected each key once in a mapping".to_string(),
        );
    }
    ("invalid YAML".to_string(), parser_message.to_string())
}

/// `a, b, c` → `` `a`, `b`, `c` `` (serde lists field names bare).
fn quote_list(list: &str) -> String {
    list.split(", ")
        .map(|name| format!("`{}`", name.trim_matches('`')))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The word at `column` (from 1) of `line`: up to the next `:`, space, comma, bracket or
/// comment, so the caret underlines a key or a plain value.
fn token_at(line: &str, column: usize) -> String {
    line.chars()
        .skip(column.saturating_sub(1))
        .take_while(|c| !matches!(c, ':' | ' ' | '\t' | ',' | ']' | '}' | '#'))
        .collect()
}

/// True when the text holds anything but whitespace and comments.
fn has_content(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#') && line != "---" && line != "..."
    })
}

/// Parser messages may quote input; control characters in them are made visible.
fn sanitize(message: &str) -> String {
    message
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_debug().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
