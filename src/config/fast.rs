//! The fast path of the config parse: the block-style YAML that runbooks are written in
//! (`key: value` lines, `- id: …` lists, comments, plain and simply quoted one-line scalars),
//! read line by line straight into a [`RawConfig`] with the same positions the YAML parser
//! reports. It gives up (`None`) at the first thing outside that subset (flow collections,
//! anchors, aliases, tags, block or multi-line scalars, escapes, tabs, document markers,
//! `select:`, a duplicate or unknown key, a value of another type), and then the full YAML
//! parser reads the file as before: every file it gives up on, and every file with an error
//! (see `config::parse`), gets exactly the parser's result and messages. It only ever has to
//! agree with the parser on the files it accepts, which `config::tests` checks on generated
//! files, positions included. Why it exists: the parser spends ~39,000 instructions per
//! change order (docs/BENCHMARKS.md, "Plan"), this path ~1,500.
//!
//! Safe by construction against what the parser's budget guards: it has no aliases to
//! expand, and its nesting is the config's fixed shape (three levels), never the input's.

use super::error::Position;
use super::raw::{Place, RawApply, RawChangeOrder, RawConfig, RawProvider, RawThreshold, Spanned};
use serde::Deserialize;
use std::borrow::Cow;

/// `None` means "not in the subset": parse with the full YAML parser instead.
pub(super) fn parse(text: &str) -> Option<RawConfig> {
    if !plain_characters(text) {
        return None;
    }
    let mut lines = Lines::new(text);
    let mut version = None;
    let mut provider = None;
    let mut apply = None;
    let mut state = None;
    let mut state_name = None;
    let mut change_orders = None;
    while let Some(line) = lines.peek() {
        if line.indent != 0 || is_document_marker(line.content) {
            return None;
        }
        lines.advance();
        let (key, value) = key_value(&line, 0)?;
        let slot_taken = match key {
            "version" => version.replace(integer(value?)?).is_some(),
            "provider" => {
                let map = block_map(&mut lines, 0, value)?;
                provider.replace(raw_provider(map)?).is_some()
            }
            "apply" => {
                let map = block_map(&mut lines, 0, value)?;
                apply.replace(raw_apply(map)?).is_some()
            }
            "state" => state.replace(string(value?)?).is_some(),
            "state_name" => state_name.replace(string(value?)?).is_some(),
            "change_orders" => {
                if value.is_some() {
                    return None;
                }
                change_orders.replace(sequence(&mut lines, 0)?).is_some()
            }
            _ => return None,
        };
        if slot_taken {
            return None;
        }
    }
    Some(RawConfig {
        version: version?,
        provider: provider?,
        apply,
        state,
        state_name,
        select: Vec::new(),
        change_orders: change_orders?,
    })
}

/// The top-level `state:` and `state_name:` values read from the unindented lines alone,
/// without parsing the rest (a pass over the line breaks: milliseconds for a runbook of
/// 100,000 change orders, where [`parse`] takes a hundred or more). `None` when an unindented
/// line is not a `key: value` line of this subset, when either key is given twice, has an
/// empty or null value, or is followed by an indented line (a continued or nested value). A
/// guess for starting work early (`config::state_keys_guess`): the caller confirms it
/// against the parsed config, so it may be wrong, never trusted.
pub(super) fn top_level_state_keys(text: &str) -> Option<(Option<String>, Option<String>)> {
    let mut state = None;
    let mut state_name = None;
    // The previous content line was `state:` or `state_name:`: no line may continue it.
    let mut just_read = false;
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match raw.as_bytes().first() {
            None | Some(b'#') => continue,
            Some(b' ') if just_read => {
                let content = raw.trim_start_matches(' ');
                if content.is_empty() || content.starts_with('#') {
                    continue;
                }
                return None;
            }
            Some(b'-') if raw.starts_with("---") => return None,
            // Nested lines and a sequence's items written at the margin
            // (`change_orders:` / `- id: …`).
            Some(b' ' | b'-') if !just_read => continue,
            _ => {}
        }
        just_read = false;
        if is_document_marker(raw) {
            return None;
        }
        let line = Line {
            number: index + 1,
            indent: 0,
            content: raw,
        };
        let (key, value) = key_value(&line, 0)?;
        let slot = match key {
            "state" => &mut state,
            "state_name" => &mut state_name,
            _ => continue,
        };
        if slot.replace(string(value?)?.value).is_some() {
            return None;
        }
        just_read = true;
    }
    Some((state, state_name))
}

/// False when the text holds anything the line reader does not handle the parser's way:
/// control characters (tabs included), a lone `\r`, a byte order mark, or a character
/// that YAML 1.1 treated as a line break.
fn plain_characters(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes
        .iter()
        .any(|&byte| (byte < 0x20 && byte != b'\n' && byte != b'\r') || byte == 0x7f)
    {
        return false;
    }
    // `\r\n` ends a line as `\n` does; a lone `\r` is a line break the reader does not split on.
    if !text
        .match_indices('\r')
        .all(|(at, _)| bytes.get(at + 1) == Some(&b'\n'))
    {
        return false;
    }
    text.is_ascii()
        || !text.chars().any(|c| {
            matches!(
                c,
                '\u{80}'
                    ..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            )
        })
}

fn is_document_marker(content: &str) -> bool {
    content.starts_with("---") || content.starts_with("...") || content.starts_with('%')
}

/// One line that holds something other than a comment.
#[derive(Clone, Copy)]
struct Line<'a> {
    /// From 1.
    number: usize,
    /// Leading spaces.
    indent: usize,
    /// The rest of the line, without its line break.
    content: &'a str,
}

/// The content lines of the text, blank and comment-only lines skipped.
struct Lines<'a> {
    rest: &'a str,
    number: usize,
    peeked: Option<Line<'a>>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut lines = Self {
            rest: text,
            number: 0,
            peeked: None,
        };
        lines.peeked = lines.read();
        lines
    }

    fn read(&mut self) -> Option<Line<'a>> {
        while !self.rest.is_empty() {
            let (raw, rest) = match self.rest.find('\n') {
                Some(end) => (&self.rest[..end], &self.rest[end + 1..]),
                None => (self.rest, ""),
            };
            self.rest = rest;
            self.number += 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let content = raw.trim_start_matches(' ');
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            return Some(Line {
                number: self.number,
                indent: raw.len() - content.len(),
                content,
            });
        }
        None
    }

    fn peek(&self) -> Option<Line<'a>> {
        self.peeked
    }

    fn advance(&mut self) {
        self.peeked = self.read();
    }
}

/// A scalar as written on one line.
#[derive(Clone, Debug)]
struct Scalar<'a> {
    text: Cow<'a, str>,
    plain: bool,
    at: Place,
}

/// `key: value` at the start of `content` (which begins at byte `offset` of its line, all
/// ASCII before it): the key and the value, `None` for an empty one. `None` overall when the
/// line is not a simple key line.
fn key_value<'a>(line: &Line<'a>, offset: usize) -> Option<(&'a str, Option<Scalar<'a>>)> {
    let content = line.content;
    let key_end = content
        .bytes()
        .position(|byte| !(byte.is_ascii_alphanumeric() || byte == b'_'))?;
    if key_end == 0 || content.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let key = &content[..key_end];
    let after = &content[key_end..];
    let after = after.strip_prefix(':')?;
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let value_text = after.trim_start_matches(' ');
    let column = line.indent + offset + (content.len() - value_text.len()) + 1;
    Some((key, scalar(value_text, line.number, column)?))
}

/// The value after `key: ` (or `- `): `Some(None)` when empty, `None` when outside the subset.
fn scalar(text: &str, line: usize, column: usize) -> Option<Option<Scalar<'_>>> {
    if text.is_empty() || text.starts_with('#') {
        return Some(None);
    }
    let position = Position { line, column };
    let (value, plain, source, after) = match text.as_bytes()[0] {
        b'"' => {
            let close = text[1..].find('"')? + 1;
            let inner = &text[1..close];
            if inner.contains('\\') {
                return None;
            }
            (
                Cow::Borrowed(inner),
                false,
                &text[..=close],
                &text[close + 1..],
            )
        }
        b'\'' => {
            let mut end = 1;
            let bytes = text.as_bytes();
            loop {
                let quote = text[end..].find('\'')? + end;
                if bytes.get(quote + 1) == Some(&b'\'') {
                    end = quote + 2;
                } else {
                    end = quote;
                    break;
                }
            }
            let inner = &text[1..end];
            let value = if inner.contains("''") {
                Cow::Owned(inner.replace("''", "'"))
            } else {
                Cow::Borrowed(inner)
            };
            (value, false, &text[..=end], &text[end + 1..])
        }
        b'[' | b']' | b'{' | b'}' | b',' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@'
        | b'`' | b'?' | b':' | b'#' => return None,
        b'-' if text.len() == 1 || text.as_bytes()[1] == b' ' => return None,
        _ => {
            // One pass: ` #` starts a comment; `: ` (or a final `:`) would make it a key.
            let bytes = text.as_bytes();
            let mut end = bytes.len();
            for (at, &byte) in bytes.iter().enumerate() {
                match byte {
                    b'#' if at > 0 && bytes[at - 1] == b' ' => {
                        end = at;
                        break;
                    }
                    b':' if bytes.get(at + 1).is_none_or(|next| *next == b' ') => return None,
                    _ => {}
                }
            }
            let value = text[..end].trim_end_matches(' ');
            (Cow::Borrowed(value), true, value, "")
        }
    };
    let after = after.trim_start_matches(' ');
    if !(after.is_empty() || (after.starts_with('#') && source.len() < text.len() - after.len())) {
        return None;
    }
    // A quoted value that spans lines, or a plain one continued on the next line, is caught
    // by the caller: the next content line is then indented deeper than allowed.
    let at = Place {
        position,
        span: source.chars().count(),
    };
    Some(Some(Scalar {
        text: value,
        plain,
        at,
    }))
}

/// A block mapping of scalars under a key whose value was empty: its entries, each key
/// once. `parent` is the key's indentation.
fn block_map<'a>(
    lines: &mut Lines<'a>,
    parent: usize,
    value: Option<Scalar<'a>>,
) -> Option<Vec<(&'a str, Option<Scalar<'a>>)>> {
    if value.is_some() {
        return None;
    }
    let indent = lines.peek()?.indent;
    if indent <= parent {
        return None;
    }
    map_entries(lines, indent, Vec::new())
}

/// Entries at exactly `indent` until a line at a smaller one; `entries` may already hold
/// the first (a `- key: value` line).
fn map_entries<'a>(
    lines: &mut Lines<'a>,
    indent: usize,
    mut entries: Vec<(&'a str, Option<Scalar<'a>>)>,
) -> Option<Vec<(&'a str, Option<Scalar<'a>>)>> {
    while let Some(line) = lines.peek() {
        if line.indent < indent {
            break;
        }
        if line.indent > indent || line.content.starts_with('-') {
            return None;
        }
        lines.advance();
        let (key, value) = key_value(&line, 0)?;
        if entries.iter().any(|(seen, _)| *seen == key) {
            return None;
        }
        entries.push((key, value));
    }
    Some(entries)
}

/// The block sequence of change orders under `change_orders:` (at indentation `parent`).
fn sequence(lines: &mut Lines<'_>, parent: usize) -> Option<Vec<RawChangeOrder>> {
    let indent = lines.peek()?.indent;
    if indent < parent {
        return None;
    }
    let mut change_orders = Vec::new();
    while let Some(line) = lines.peek() {
        if line.indent < indent
            || (line.indent == indent && indent == parent && !line.content.starts_with('-'))
        {
            break;
        }
        let item = line.content.strip_prefix('-')?;
        if line.indent != indent || !(item.is_empty() || item.starts_with(' ')) {
            return None;
        }
        lines.advance();
        let content = item.trim_start_matches(' ');
        let entries = if content.is_empty() || content.starts_with('#') {
            let nested = lines.peek()?.indent;
            if nested <= indent {
                return None;
            }
            map_entries(lines, nested, Vec::new())?
        } else {
            let offset = line.content.len() - content.len();
            let compact = Line {
                number: line.number,
                indent: line.indent + offset,
                content,
            };
            let first = key_value(&compact, 0)?;
            map_entries(lines, compact.indent, {
                let mut entries = Vec::with_capacity(6);
                entries.push(first);
                entries
            })?
        };
        change_orders.push(raw_change_order(entries)?);
    }
    if lines
        .peek()
        .is_some_and(|next| next.indent > parent && next.indent != indent)
    {
        return None;
    }
    Some(change_orders)
}

fn raw_change_order(entries: Vec<(&str, Option<Scalar<'_>>)>) -> Option<RawChangeOrder> {
    let mut id = None;
    let mut change_order = RawChangeOrder {
        id: Spanned {
            value: String::new(),
            at: Place {
                position: Position { line: 1, column: 1 },
                span: 0,
            },
        },
        app: None,
        reason: None,
        operation: None,
        app_id: None,
    };
    for (key, value) in entries {
        match key {
            "id" => id = Some(string(value?)?),
            "app" => change_order.app = optional_string(value)?,
            "reason" => change_order.reason = optional_string(value)?,
            "operation" => change_order.operation = optional_enum(value)?,
            "app_id" => change_order.app_id = optional_string(value)?,
            _ => return None,
        }
    }
    change_order.id = id?;
    Some(change_order)
}

fn raw_provider(entries: Vec<(&str, Option<Scalar<'_>>)>) -> Option<RawProvider> {
    let mut region = None;
    let mut provider = RawProvider {
        region: Spanned {
            value: String::new(),
            at: Place {
                position: Position { line: 1, column: 1 },
                span: 0,
            },
        },
        endpoint: None,
        profile: None,
        signature_algorithm: None,
        endpoint_type: None,
    };
    for (key, value) in entries {
        match key {
            "region" => region = Some(string(value?)?),
            "endpoint" => provider.endpoint = optional(value, string)?,
            "profile" => provider.profile = optional(value, string)?,
            "signature_algorithm" => provider.signature_algorithm = optional_enum(value)?,
            "endpoint_type" => provider.endpoint_type = optional_enum(value)?,
            _ => return None,
        }
    }
    provider.region = region?;
    Some(provider)
}

fn raw_apply(entries: Vec<(&str, Option<Scalar<'_>>)>) -> Option<RawApply> {
    let mut apply = RawApply {
        parallelism: None,
        requests_per_second: None,
        request_timeout: None,
        verify_window: None,
        max_change_orders: None,
        halt_after_failures: None,
        require_refresh: None,
    };
    for (key, value) in entries {
        match key {
            "parallelism" => apply.parallelism = optional(value, signed)?,
            "requests_per_second" => apply.requests_per_second = optional(value, signed)?,
            "request_timeout" => apply.request_timeout = optional(value, string)?,
            "verify_window" => apply.verify_window = optional(value, string)?,
            "max_change_orders" => apply.max_change_orders = optional(value, signed)?,
            "halt_after_failures" => apply.halt_after_failures = optional(value, threshold)?,
            "require_refresh" => {
                apply.require_refresh = match value {
                    None => None,
                    Some(value) if value.plain && value.text == "true" => Some(true),
                    Some(value) if value.plain && value.text == "false" => Some(false),
                    Some(_) => return None,
                }
            }
            _ => return None,
        }
    }
    Some(apply)
}

/// An optional key: empty means absent (`None`); a value goes through `convert`. The outer
/// `None` gives up.
fn optional<'a, T>(
    value: Option<Scalar<'a>>,
    convert: impl FnOnce(Scalar<'a>) -> Option<T>,
) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(value) => convert(value).map(Some),
    }
}

fn optional_string(value: Option<Scalar<'_>>) -> Option<Option<String>> {
    optional(value, |value| string(value).map(|spanned| spanned.value))
}

/// A string value; plain null-like words (`~`, `null`, …) are the parser's to judge.
fn string(value: Scalar<'_>) -> Option<Spanned<String>> {
    if value.plain && matches!(value.text.as_ref(), "~" | "null" | "Null" | "NULL") {
        return None;
    }
    Some(Spanned {
        value: value.text.into_owned(),
        at: value.at,
    })
}

/// A whole number written plainly in decimal, without a redundant leading zero.
fn signed(value: Scalar<'_>) -> Option<Spanned<i64>> {
    let text = value.text.as_ref();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !value.plain
        || digits.is_empty()
        || !digits.bytes().all(|byte| byte.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    Some(Spanned {
        value: text.parse().ok()?,
        at: value.at,
    })
}

fn integer(value: Scalar<'_>) -> Option<Spanned<u64>> {
    let signed = signed(value)?;
    Some(Spanned {
        value: u64::try_from(signed.value).ok()?,
        at: signed.at,
    })
}

fn threshold(value: Scalar<'_>) -> Option<Spanned<RawThreshold>> {
    if !value.plain {
        return None;
    }
    if let Some(count) = signed(value.clone()) {
        return Some(Spanned {
            value: RawThreshold::Count(count.value),
            at: count.at,
        });
    }
    // `10%`: digits and a percent sign are a string to YAML; anything else is the parser's.
    let text = value.text.as_ref();
    let digits = text.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(Spanned {
        value: RawThreshold::Text(text.to_string()),
        at: value.at,
    })
}

/// A unit enum variant by its serde name, written plainly.
fn optional_enum<T: for<'de> Deserialize<'de>>(value: Option<Scalar<'_>>) -> Option<Option<T>> {
    optional(value, |value| {
        if !value.plain {
            return None;
        }
        let deserializer =
            serde::de::value::StrDeserializer::<serde::de::value::Error>::new(value.text.as_ref());
        T::deserialize(deserializer).ok()
    })
}
