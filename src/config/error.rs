//! Config errors and their one rendering: a headline naming the file, line and column, the
//! offending source line with a caret under the value, and what was expected. Syntax errors
//! from the YAML parser and checks of meaning are rendered the same way, so a person reads
//! one format. Pure: the source text is given, never read.

use std::cell::OnceCell;
use std::fmt;
use std::path::{Path, PathBuf};

/// Source lines longer than this are cropped around the caret so a minified or generated
/// file cannot flood the terminal.
const MAX_SHOWN_LINE_CHARS: usize = 120;

/// A value quoted in backticks in a headline or label is cropped to this many characters: the
/// source line below already shows it (cropped), and a megabyte-long id must not be echoed
/// in full.
const MAX_QUOTED_VALUE_CHARS: usize = 60;

/// How many errors are rendered in full; a file where every one of 100,000 ids is wrong
/// should not print 100,000 snippets. All of them stay in [`ConfigErrors::errors`].
pub const MAX_RENDERED_ERRORS: usize = 200;

/// The config text with an index of where each line starts, built on the first error so a
/// valid file pays nothing and a file with many errors finds each line in O(1).
pub struct SourceText<'a> {
    text: &'a str,
    line_starts: OnceCell<Vec<usize>>,
}

impl<'a> SourceText<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            line_starts: OnceCell::new(),
        }
    }

    /// Line `line` (from 1) without its line break; empty past the end. Lines end where
    /// YAML's do (`\n`, `\r\n`, or a lone `\r`), so the line the parser names is the one shown.
    pub fn line(&self, line: usize) -> &'a str {
        let starts = self.line_starts.get_or_init(|| {
            let bytes = self.text.as_bytes();
            std::iter::once(0)
                .chain(bytes.iter().enumerate().filter_map(|(index, byte)| {
                    let ends_line =
                        *byte == b'\n' || (*byte == b'\r' && bytes.get(index + 1) != Some(&b'\n'));
                    ends_line.then_some(index + 1)
                }))
                .collect()
        });
        let Some(&start) = line.checked_sub(1).and_then(|index| starts.get(index)) else {
            return "";
        };
        let rest = self.text.get(start..).unwrap_or_default();
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        &rest[..end]
    }
}

/// A point in the config text. `line` and `column` count from 1; the column counts
/// characters (not bytes), as editors do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A mark under one source line: `^^^` for the error itself, `---` for a related place (the
/// first declaration of a duplicate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub position: Position,
    /// How many characters to underline (at least one is drawn).
    pub width: usize,
    pub label: String,
    /// The source line, as written, without its line break.
    pub source_line: String,
    pub primary: bool,
}

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Lowercase, values in backticks, e.g. "invalid change order id `a_b`".
    pub message: String,
    /// Where the problem is; `None` only when the parser could not tell.
    pub position: Option<Position>,
    /// The marks to draw, in line order; the primary one is at `position`.
    pub marks: Vec<Mark>,
}

impl ConfigError {
    /// An error at `position` with `expected` written under the caret.
    pub fn at(
        source: &SourceText<'_>,
        position: Position,
        width: usize,
        message: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            message: crop_quoted_values(message.into()),
            position: Some(position),
            marks: vec![Mark {
                position,
                width,
                label: crop_quoted_values(expected.into()),
                source_line: source.line(position.line).to_string(),
                primary: true,
            }],
        }
    }

    /// Adds a secondary mark, e.g. "first declared here".
    pub fn with_related(
        mut self,
        source: &SourceText<'_>,
        position: Position,
        width: usize,
        label: impl Into<String>,
    ) -> Self {
        self.marks.push(Mark {
            position,
            width,
            label: crop_quoted_values(label.into()),
            source_line: source.line(position.line).to_string(),
            primary: false,
        });
        self.marks.sort_by_key(|mark| mark.position);
        self
    }

    /// An error the parser could not place.
    pub fn unplaced(message: impl Into<String>) -> Self {
        Self {
            message: crop_quoted_values(message.into()),
            position: None,
            marks: Vec::new(),
        }
    }

    fn render(&self, path: &Path, out: &mut String) -> fmt::Result {
        use std::fmt::Write as _;
        match self.position {
            Some(position) => writeln!(
                out,
                "{} in {}:{}:{}",
                self.message,
                path.display(),
                position.line,
                position.column
            )?,
            None => writeln!(out, "{} in {}", self.message, path.display())?,
        }
        let Some(last) = self.marks.last() else {
            return Ok(());
        };
        let gutter = last.position.line.to_string().len();
        writeln!(out, "{:gutter$} |", "")?;
        let mut previous_line = None;
        for mark in &self.marks {
            if let Some(previous) = previous_line
                && mark.position.line > previous + 1
            {
                writeln!(out, "{:gutter$} ...", "")?;
            }
            previous_line = Some(mark.position.line);
            let (shown, caret_offset, after_caret) =
                shown_line(&mark.source_line, mark.position.column);
            writeln!(
                out,
                "{:>gutter$} | {}",
                mark.position.line,
                shown.trim_end()
            )?;
            let underline = if mark.primary { "^" } else { "-" };
            let label = if mark.label.is_empty() {
                String::new()
            } else {
                format!(" {}", mark.label)
            };
            writeln!(
                out,
                "{:gutter$} | {:caret_offset$}{}{}",
                "",
                "",
                // A cropped line is underlined only as far as it is shown.
                underline.repeat(mark.width.min(after_caret).max(1)),
                label
            )?;
        }
        Ok(())
    }
}

/// Every problem found in one config file. Its `Display` renders all of them; the CLI's
/// error printer puts `error: ` before the first, so the others carry their own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub path: PathBuf,
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub fn new(path: &Path, errors: Vec<ConfigError>) -> Self {
        Self {
            path: path.to_path_buf(),
            errors,
        }
    }

    /// The full report as a person sees it, `error: ` included on every error.
    pub fn report(&self) -> String {
        format!("error: {self}")
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        for (index, error) in self.errors.iter().take(MAX_RENDERED_ERRORS).enumerate() {
            if index > 0 {
                text.push_str("\nerror: ");
            }
            error.render(&self.path, &mut text)?;
        }
        let count = self.errors.len();
        if count > MAX_RENDERED_ERRORS {
            text.push_str(&format!(
                "\nerror: {count} errors in {}; the first {MAX_RENDERED_ERRORS} are shown",
                self.path.display()
            ));
        } else if count > 1 {
            text.push_str(&format!(
                "\nerror: {count} errors in {}",
                self.path.display()
            ));
        } else if count == 0 {
            text.push_str(&format!("invalid config {}", self.path.display()));
        }
        // The printer adds the final line break.
        out.write_str(text.trim_end())
    }
}

/// The line as it is printed (tabs widened, control characters made visible, long lines
/// cropped around the column), how many printed characters precede the column, and how many
/// source characters are shown from the column on.
fn shown_line(line: &str, column: usize) -> (String, usize, usize) {
    let characters: Vec<char> = line.chars().collect();
    let column_index = column.saturating_sub(1).min(characters.len());
    let (start, prefix) =
        if characters.len() > MAX_SHOWN_LINE_CHARS && column_index > MAX_SHOWN_LINE_CHARS / 2 {
            (column_index - MAX_SHOWN_LINE_CHARS / 2, "…")
        } else {
            (0, "")
        };
    let end = (start + MAX_SHOWN_LINE_CHARS).min(characters.len());
    let suffix = if end < characters.len() { "…" } else { "" };
    let mut shown = String::from(prefix);
    let mut caret_offset = prefix.chars().count();
    for (index, character) in characters[start..end].iter().enumerate() {
        let printed = printable(*character);
        if start + index < column_index {
            caret_offset += printed.chars().count();
        }
        shown.push_str(&printed);
    }
    shown.push_str(suffix);
    (shown, caret_offset, end.saturating_sub(column_index))
}

/// `text` with every value between backticks longer than [`MAX_QUOTED_VALUE_CHARS`] cut to
/// that length and marked with `…`. A value holding a backtick upsets the pairing, so any
/// stretch longer than the longest fixed wording is cut too.
fn crop_quoted_values(text: String) -> String {
    const MAX_UNQUOTED_CHARS: usize = 200;
    if text.len() <= MAX_QUOTED_VALUE_CHARS {
        return text;
    }
    let mut cropped = String::with_capacity(text.len().min(1024));
    for (index, part) in text.split('`').enumerate() {
        if index > 0 {
            cropped.push('`');
        }
        let limit = if index % 2 == 1 {
            MAX_QUOTED_VALUE_CHARS
        } else {
            MAX_UNQUOTED_CHARS
        };
        if part.chars().count() > limit {
            cropped.extend(part.chars().take(limit));
            cropped.push('…');
        } else {
            cropped.push_str(part);
        }
    }
    cropped
}

fn printable(character: char) -> String {
    match character {
        '\t' => "    ".to_string(),
        character if character.is_control() => "\u{fffd}".to_string(),
        character => character.to_string(),
    }
}
