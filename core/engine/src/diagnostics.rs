//! Problems found in a bundle, located by file and a span of line:column
//! positions, so an editor can underline the range.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a diagnostic is: errors stop the bundle from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The bundle does not load.
    Error,
    /// The bundle loads, but something is likely wrong.
    Warning,
}

/// One problem in one file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Whether the bundle still loads.
    pub severity: Severity,
    /// A stable identifier for editors and CI, e.g. `rhai-syntax`.
    pub code: String,
    /// The bundle-relative file, e.g. `household.rhai`.
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column in characters; 0 when unknown.
    pub column: usize,
    /// Where the span ends (exclusive), 1-based line; 0 when there is no span.
    pub end_line: usize,
    /// Where the span ends (exclusive), 1-based column in characters.
    pub end_column: usize,
    /// What went wrong.
    pub message: String,
    /// How to fix it, when the engine can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at a position; its span is widened to the token there once
    /// the source is known ([`Diagnostic::spanned`]).
    pub fn error(
        code: &'static str,
        file: impl Into<String>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code: code.to_string(),
            file: file.into(),
            line,
            column,
            end_line: 0,
            end_column: 0,
            message: message.into(),
            help: None,
        }
    }

    /// A warning about a whole file.
    pub fn warning(
        code: &'static str,
        file: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            code: code.to_string(),
            file: file.into(),
            line: 0,
            column: 0,
            end_line: 0,
            end_column: 0,
            message: message.into(),
            help: None,
        }
    }

    /// The same diagnostic with a help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same diagnostic with an explicit span from byte offsets of `source`.
    pub fn with_byte_span(mut self, source: &str, start: usize, end: usize) -> Self {
        let (line, column) = line_column(source, start);
        let (end_line, end_column) = line_column(source, end.max(start));
        self.line = line;
        self.column = column;
        (self.end_line, self.end_column) = if (end_line, end_column) == (line, column) {
            (line, column + 1)
        } else {
            (end_line, end_column)
        };
        self
    }

    /// Gives a positioned diagnostic without a span the span of the token
    /// at its position in `source` (a word, a number, or one character), so
    /// every located problem can be underlined.
    pub fn spanned(mut self, source: &str) -> Self {
        if self.line == 0 || self.end_line != 0 {
            return self;
        }
        let column = self.column.max(1);
        let Some(text) = source.split_inclusive('\n').nth(self.line - 1) else {
            self.line = 0;
            self.column = 0;
            return self;
        };
        let text = text.trim_end_matches(['\n', '\r']);
        let rest: Vec<char> = text.chars().skip(column - 1).collect();
        let word = |c: &char| c.is_alphanumeric() || *c == '_' || *c == '.';
        let width = match rest.first() {
            Some(c) if word(c) => rest.iter().take_while(|c| word(c)).count(),
            Some(_) => 1,
            // At or past the end of the line: one column, for the caret.
            None => 1,
        };
        self.column = column;
        self.end_line = self.line;
        self.end_column = column + width;
        self
    }

    /// An error about a whole file.
    pub fn file_error(
        code: &'static str,
        file: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic::error(code, file, 0, 0, message)
    }

    /// Whether it stops the bundle from loading.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}[{}]: {}", self.code, self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The 1-based line where a TOML table `[name]` (or `[name.…]`) or a key
/// `name = …` is defined, or 0 when neither is found.
pub fn toml_definition_line(source: &str, name: &str) -> usize {
    let table = format!("[{name}]");
    let array_table = format!("[[{name}.");
    let sub_table = format!("[{name}.");
    source
        .lines()
        .position(|line| {
            let line = line.trim_start();
            line.starts_with(&table)
                || line.starts_with(&array_table)
                || line.starts_with(&sub_table)
                || line
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |index| index + 1)
}

/// Converts a parser's byte offset into a 1-based line and column.
pub fn line_column(source: &str, byte_offset: usize) -> (usize, usize) {
    let offset = byte_offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (line, column)
}

/// The byte offset of a 1-based line and character column.
pub fn byte_offset(source: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, text) in source.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            let within: usize = text
                .chars()
                .take(column.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return offset + within;
        }
        offset += text.len();
    }
    source.len()
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_definitions_are_found() {
        let source = "# x\n[a]\nb = 1\n[[c.values]]\nage = { type = \"integer\" }\n";
        assert_eq!(toml_definition_line(source, "a"), 2);
        assert_eq!(toml_definition_line(source, "c"), 4);
        assert_eq!(toml_definition_line(source, "age"), 5);
        assert_eq!(toml_definition_line(source, "nope"), 0);
    }

    #[test]
    fn offsets_and_positions_agree_with_wide_characters() {
        let source = "a = 1\n// 说明 x\nlet y";
        let offset = byte_offset(source, 2, 7);
        assert_eq!(&source[offset..offset + 1], "x");
        assert_eq!(line_column(source, offset), (2, 7));
    }
}
