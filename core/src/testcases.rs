//! The bundle's own test cases (`tests/*.yaml`), parsed at load time; they
//! are run by [`crate::test_run`].
//!
//! ```yaml
//! entry: household                      # default for the file's cases
//! as_of: "2026-11-20T09:00:00+08:00"    # default for the file's cases
//! cases:
//!   - name: dibao household gets relief
//!     input: { id: h1, district: urban, on_dibao: true, members: [{ age: 40, monthly_income: 0 }] }
//!     expect:
//!       status: decided
//!       rules: [TR-1, VF-KEY]              # every rule fired, in order
//!       result:                            # a subset of the result
//!         programs: { temporary_relief: { eligible: true, monthly_amount: 600.00 } }
//!   - name: an age out of range is refused
//!     input: { ... }
//!     expect:
//!       error: { kind: invalid_input, problems: [{ path: "members[0].age", rule: max }] }
//! ```
//!
//! `result` matches when every key it gives has an equal value in the actual
//! result (objects recursively; arrays element by element, same length;
//! numbers by value, so `600` equals `600.00`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diagnostics::Diagnostic;
use crate::envelope::{DecideRequest, Mode, Status};
use crate::yaml;

/// One test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub file: String,
    pub cases: Vec<TestCase>,
}

/// One case: a request and what must come out of it.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    /// The line of the case's `name:` in its file, for messages.
    pub line: usize,
    pub entry: String,
    pub as_of: String,
    pub mode: Mode,
    pub lang: Option<String>,
    pub input: Value,
    pub expect: Expect,
}

impl TestCase {
    /// The decision the case asks for.
    pub fn request(&self) -> DecideRequest {
        DecideRequest {
            entry: self.entry.clone(),
            input: self.input.clone(),
            as_of: self.as_of.clone(),
            mode: self.mode,
            lang: self.lang.clone(),
        }
    }
}

/// What a case expects. Only what is given is checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<Status>,
    pub rules: Option<Vec<String>>,
    pub needs: Option<Vec<String>>,
    /// Taken out of the case's value as it is ([`take`]), not through serde.
    #[serde(skip_deserializing)]
    pub result: Option<Value>,
    pub error: Option<ExpectError>,
}

/// An expected error: its kind and, if given, exactly these problems.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectError {
    pub kind: String,
    pub problems: Option<Vec<ExpectProblem>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectProblem {
    pub path: String,
    pub rule: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    entry: Option<String>,
    as_of: Option<String>,
    /// Taken out of the file's value as it is ([`take`]), not through serde.
    #[serde(skip_deserializing)]
    cases: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    entry: Option<String>,
    as_of: Option<String>,
    #[serde(default)]
    mode: Mode,
    lang: Option<String>,
    /// Taken out of the case's value as it is ([`take`]), not through serde.
    #[serde(skip_deserializing)]
    input: Value,
    expect: Expect,
}

/// Takes `key` out of an object, to be used as the value it is.
///
/// The values a case carries (its cases, input and expected result) are
/// moved out before serde reads the rest: serde_json reading a `Value` from
/// a `Value` passes every number through its float checks
/// (`Number::deserialize_any`), and that alone linked float parsing, with
/// its tables, into the wasm artifact (measured: 21.7 KB, 7.5 KB gzipped).
fn take(value: &mut Value, key: &str) -> Option<Value> {
    value.as_object_mut()?.remove(key)
}

/// What serde's "invalid type" message calls `value`.
fn unexpected(value: &Value) -> serde::de::Unexpected<'_> {
    use serde::de::Unexpected;
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(flag) => Unexpected::Bool(*flag),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(text) => Unexpected::Str(text),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// serde's message for a field that is not there, for the fields [`take`]
/// reads.
fn missing_field(field: &'static str) -> serde_json::Error {
    serde::de::Error::missing_field(field)
}

/// How deep a test file's values may nest, in block indentation levels
/// and flow brackets together. Reading a case into its request, matching a
/// result and dropping a value all recurse on depth, so deeper files are
/// refused before they are read (the parser's own limit, 256 flow levels,
/// does not count block levels). The default bundle's cases nest 7.
pub const MAX_YAML_NESTING: usize = 64;

/// The line and column where `text` first nests deeper than
/// [`MAX_YAML_NESTING`]: open flow brackets (outside quotes and comments)
/// plus block levels (indentations still open, and `- ` items on a line).
fn check_nesting(text: &str) -> Result<(), (usize, usize)> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    for (index, line) in text.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if flow == 0 {
            while indents.last().is_some_and(|&open| open >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let mut items = 0;
        let mut rest = content;
        while let Some(after) = rest.strip_prefix("- ") {
            items += 1;
            rest = after.trim_start_matches(' ');
        }
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (column, c) in line.char_indices() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '#' if previous == ' ' => break,
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            previous = c;
            if indents.len() + items + flow > MAX_YAML_NESTING {
                return Err((index + 1, column + 1));
            }
        }
        // A quote left open at the end of the line: only the parser knows
        // where it ends; nesting is counted again from the next line.
        if indents.len() + items + flow > MAX_YAML_NESTING {
            return Err((index + 1, 1));
        }
    }
    Ok(())
}

/// Parses one test file: its YAML (numbers keep their text), then its
/// cases, each problem placed at its line and column.
pub fn parse_test_file(file: &str, text: &str) -> Result<TestFile, Diagnostic> {
    check_nesting(text).map_err(|(line, column)| {
        Diagnostic::error(
            "test-yaml",
            file,
            line,
            column,
            format!(
                "nested more than {MAX_YAML_NESTING} levels deep (a test case needs a handful)"
            ),
        )
    })?;
    let (value, places) = yaml::read(text).map_err(|error| {
        Diagnostic::error("test-yaml", file, error.line, error.column, error.message)
    })?;
    // Read level by level so that a problem is placed at the key it names
    // or, failing that, at the case it is in.
    let located = |pointer: &str, error: serde_json::Error| {
        let message = error.to_string();
        let key = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(key, _)| key);
        let place = key
            .and_then(|key| {
                places.iter().find(|place| {
                    place
                        .pointer
                        .strip_prefix(pointer)
                        .is_some_and(|rest| rest.starts_with('/'))
                        && place.pointer.rsplit('/').next() == Some(key)
                })
            })
            .or_else(|| places.iter().find(|place| place.pointer == pointer));
        let (line, column) = place.map_or((1, 1), |place| (place.line, place.column));
        Diagnostic::error("test-yaml", file, line, column, message)
    };
    let mut value = value;
    let cases_value = take(&mut value, "cases");
    let mut raw = RawFile::deserialize(value).map_err(|error| located("", error))?;
    raw.cases = match cases_value {
        Some(Value::Array(cases)) => cases,
        Some(other) => {
            let error = serde::de::Error::invalid_type(unexpected(&other), &"a sequence");
            return Err(located("/cases", error));
        }
        None => return Err(located("", missing_field("cases"))),
    };
    let mut cases = Vec::with_capacity(raw.cases.len());
    let mut names = BTreeSet::new();
    for (index, mut case) in std::mem::take(&mut raw.cases).into_iter().enumerate() {
        let pointer = format!("/cases/{index}");
        let input = take(&mut case, "input");
        let result = case
            .get_mut("expect")
            .and_then(|expect| take(expect, "result"));
        let mut case = RawCase::deserialize(case).map_err(|error| located(&pointer, error))?;
        case.input = input.ok_or_else(|| located(&pointer, missing_field("input")))?;
        case.expect.result = result;
        let line = places
            .iter()
            .find(|place| place.pointer == format!("{pointer}/name"))
            .map_or(0, |place| place.line);
        let missing = |what: &str| {
            Diagnostic::error(
                "test-case",
                file,
                line,
                1,
                format!(
                    "case `{}` has no {what} (give it on the case or at the top of the file)",
                    case.name
                ),
            )
        };
        if !names.insert(case.name.clone()) {
            return Err(Diagnostic::error(
                "test-case",
                file,
                line,
                1,
                format!("two cases are named `{}`", case.name),
            ));
        }
        let entry = case
            .entry
            .or_else(|| raw.entry.clone())
            .ok_or_else(|| missing("entry"))?;
        let as_of = case
            .as_of
            .or_else(|| raw.as_of.clone())
            .ok_or_else(|| missing("as_of"))?;
        let expect = case.expect;
        if expect.error.is_some()
            && (expect.result.is_some() || expect.status.is_some() || expect.rules.is_some())
        {
            return Err(Diagnostic::error(
                "test-case",
                file,
                line,
                1,
                format!("case `{}` expects both an error and a decision", case.name),
            ));
        }
        cases.push(TestCase {
            name: case.name,
            line,
            entry,
            as_of,
            mode: case.mode,
            lang: case.lang,
            input: case.input,
            expect,
        });
    }
    Ok(TestFile {
        file: file.to_string(),
        cases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deep nesting is refused at once, where it happens, in flow and in
    /// block style; ordinary files and brackets inside quotes pass.
    #[test]
    fn deeply_nested_yaml_is_refused_before_parsing() {
        let flow = format!(
            "cases:\n  - name: x\n    input: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let error = parse_test_file("tests/deep.yaml", &flow).unwrap_err();
        assert_eq!(
            (error.line, error.column),
            (3, 12 + MAX_YAML_NESTING - 3),
            "{error:?}"
        );
        assert!(
            error.message.contains("nested more than 64 levels"),
            "{error:?}"
        );
        let block: String = (0..5_000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i * 2)))
            .collect();
        let error = parse_test_file("tests/deep.yaml", &block).unwrap_err();
        assert_eq!(error.line, MAX_YAML_NESTING + 1, "{error:?}");
        let items = format!("cases:\n{}x\n", "- ".repeat(200));
        assert_eq!(parse_test_file("t.yaml", &items).unwrap_err().line, 2);
        assert!(check_nesting(
            "a: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['  # [[[[\n"
        )
        .is_ok());
    }

    #[test]
    fn yaml_cases_parse_with_file_defaults_and_lines() {
        let text = "entry: household\nas_of: \"2026-11-20T09:00:00+08:00\"\ncases:\n  - name: one\n    input: {a: 1.10}\n    expect: {status: decided}\n  - name: two\n    mode: partial\n    input: {}\n    expect:\n      error: {kind: invalid_input}\n";
        let file = parse_test_file("tests/x.yaml", text).unwrap();
        assert_eq!(file.cases.len(), 2);
        assert_eq!(file.cases[0].line, 4);
        assert_eq!(file.cases[1].line, 7);
        assert_eq!(file.cases[1].mode, Mode::Partial);
        // The number's text is kept: money in a case never passes through
        // binary floating point.
        assert_eq!(file.cases[0].input["a"].to_string(), "1.10");
    }

    #[test]
    fn the_values_a_case_carries_are_kept_as_written() {
        let text = "entry: e\nas_of: x\ncases:\n  - name: a\n    input: {m: 1.50, n: [1, -2]}\n    expect: {status: decided, result: {amount: 600.00}}\n";
        let file = parse_test_file("tests/x.yaml", text).unwrap();
        assert_eq!(file.cases[0].input.to_string(), r#"{"m":1.50,"n":[1,-2]}"#);
        let result = file.cases[0].expect.result.as_ref().unwrap();
        assert_eq!(result.to_string(), r#"{"amount":600.00}"#);
        assert_eq!(file.cases[0].expect.status, Some(Status::Decided));

        // Each is required or shaped as before it was taken out.
        let no_input = "entry: e\nas_of: x\ncases:\n  - name: a\n    expect: {}\n";
        let error = parse_test_file("tests/x.yaml", no_input).unwrap_err();
        assert!(error.message.contains("missing field `input`"), "{error}");
        assert_eq!((error.line, error.column), (4, 5), "{error}");
        let error = parse_test_file("tests/x.yaml", "entry: e\ncases: 7\n").unwrap_err();
        assert!(error.message.contains("expected a sequence"), "{error}");
        assert_eq!(error.line, 2, "{error}");
        let error = parse_test_file("tests/x.yaml", "entry: e\n").unwrap_err();
        assert!(error.message.contains("missing field `cases`"), "{error}");
    }

    #[test]
    fn yaml_errors_are_located() {
        let error =
            parse_test_file("tests/x.yaml", "cases:\n  - name: a\n    input: [\n").unwrap_err();
        assert_eq!(error.file, "tests/x.yaml");
        assert!(error.line >= 3, "{error}");
        let error = parse_test_file(
            "tests/x.yaml",
            "cases:\n  - name: a\n    input: {}\n    expect: {}\n",
        )
        .unwrap_err();
        assert!(error.message.contains("no entry"), "{error}");
        // A field the format does not have is placed at its key, in the
        // case it is in; a wrong type at the case.
        let text = "entry: e\nas_of: x\ncases:\n  - name: a\n    input: {}\n    expect: {}\n  - name: b\n    input: {}\n    expect:\n      stauts: decided\n";
        let error = parse_test_file("tests/x.yaml", text).unwrap_err();
        assert_eq!((error.line, error.column), (10, 7), "{error}");
        assert!(error.message.contains("unknown field `stauts`"), "{error}");
        let error = parse_test_file("tests/x.yaml", "cases:\n  - name: a\n  - 7\n").unwrap_err();
        assert_eq!((error.line, error.column), (2, 5), "{error}");
        let error = parse_test_file("tests/x.yaml", "case: []\n").unwrap_err();
        assert_eq!((error.line, error.column), (1, 1), "{error}");
    }
}
