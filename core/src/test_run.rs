//! Running a bundle's test cases ([`crate::testcases`]) against it, and
//! comparing what each case expects with what came out.
//!
//! `result` matches when every key it gives has an equal value in the actual
//! result (objects recursively; arrays element by element, same length;
//! numbers by value, so `600` equals `600.00`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bundle::Bundle;
use crate::envelope::Envelope;
use crate::error::{DecideError, ErrorBody, ErrorKind};
use crate::insert_all::InsertAll;
use crate::testcases::{ExpectProblem, TestCase};
use crate::values::decimal_from_number;

/// One difference between what a case expects and what came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// Where: a path into the answer (`result.programs…`), or `(outcome)`
    /// when a decision came where an error was expected, or the reverse.
    pub path: String,
    /// What the case expects there: JSON, or words for an outcome.
    pub expected: String,
    /// What came out there: JSON, `(absent)`, or words for an outcome.
    pub actual: String,
}

/// The outcome of one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseOutcome {
    /// The test file.
    pub file: String,
    /// The case's name.
    pub name: String,
    /// The line of its `name:` (1-based; 0 when unknown).
    pub line: usize,
    /// Whether everything it expects came out.
    pub passed: bool,
    /// What did not, each at its path.
    pub mismatches: Vec<Mismatch>,
    /// What a failed case asked for, beside the same parts of what came
    /// out (numbers that are equal take the expected spelling), for a diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// The same parts of what came out (failed cases only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<Value>,
    /// The operations its rules counted: what the bundle's
    /// `max_operations` limits, the same in every runtime (0 when the input
    /// was refused before the rules ran).
    pub operations: u64,
    /// Rule IDs that fired in this case.
    #[serde(skip)]
    pub fired: Vec<String>,
}

/// The outcome of a bundle's tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestReport {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Every case, in file and case order.
    pub cases: Vec<CaseOutcome>,
    /// The bundle's limit on a decision's operations, beside which each
    /// case's `operations` reads.
    pub max_operations: u64,
    /// Declared rules that no case makes fire.
    pub uncovered_rules: Vec<String>,
}

impl TestReport {
    /// No case failed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

/// What a case produced: the JSON compared against its expectation.
pub fn actual_of(outcome: &Result<Envelope, DecideError>) -> Value {
    match outcome {
        Ok(envelope) => serde_json::to_value(envelope).expect("envelopes serialise"),
        Err(error) => serde_json::json!({ "error": error.body() }),
    }
}

/// Runs one case.
pub fn run_case(bundle: &Bundle, file: &str, case: &TestCase) -> CaseOutcome {
    crate::sandbox::reset_operations();
    let outcome = bundle.decide(&case.request());
    let operations = crate::sandbox::operations();
    let mut views = Views::default();
    let mut fired = Vec::new();
    match (&outcome, &case.expect.error) {
        (Ok(envelope), None) => {
            fired = envelope.reasons.iter().map(|r| r.rule.clone()).collect();
            let actual = actual_of(&outcome);
            if let Some(status) = case.expect.status {
                let expected = serde_json::to_value(status).expect("status serialises");
                views.subset("status", expected, &actual["status"]);
            }
            if let Some(rules) = &case.expect.rules {
                views.exact(
                    "rules",
                    Value::from(rules.clone()),
                    Value::from(fired.clone()),
                );
            }
            if let Some(needs) = &case.expect.needs {
                let actual_needs: Vec<String> =
                    envelope.needs.iter().map(|n| n.path.clone()).collect();
                views.exact(
                    "needs",
                    Value::from(needs.clone()),
                    Value::from(actual_needs),
                );
            }
            if let Some(result) = &case.expect.result {
                views.subset("result", result.clone(), &actual["result"]);
            }
        }
        (Err(error), Some(expected_error)) => {
            views.exact(
                "error.kind",
                Value::from(expected_error.kind.clone()),
                Value::from(error.kind().as_str()),
            );
            if let Some(problems) = &expected_error.problems {
                let mut wanted = problems.clone();
                let mut got: Vec<ExpectProblem> = error
                    .problems()
                    .iter()
                    .map(|p| ExpectProblem {
                        path: p.path.clone(),
                        rule: p.rule.clone(),
                    })
                    .collect();
                crate::sort::sort(&mut wanted);
                crate::sort::sort(&mut got);
                views.exact(
                    "error.problems",
                    serde_json::to_value(wanted).expect("serialises"),
                    serde_json::to_value(got).expect("serialises"),
                );
            }
        }
        (Err(error), None) => views.mismatches.push(Mismatch {
            path: "(outcome)".to_string(),
            expected: "a decision".to_string(),
            actual: error.to_string(),
        }),
        (Ok(envelope), Some(expected_error)) => {
            fired = envelope.reasons.iter().map(|r| r.rule.clone()).collect();
            views.mismatches.push(Mismatch {
                path: "(outcome)".to_string(),
                expected: format!("an error of kind {}", expected_error.kind),
                actual: format!("a decision ({})", envelope.to_json()),
            });
        }
    }
    let (expected, actual) = if views.mismatches.is_empty() || views.expected.is_empty() {
        (None, None)
    } else {
        (
            Some(Value::Object(views.expected)),
            Some(Value::Object(views.actual)),
        )
    };
    let mismatches = views.mismatches;
    CaseOutcome {
        file: file.to_string(),
        name: case.name.clone(),
        line: case.line,
        passed: mismatches.is_empty(),
        mismatches,
        expected,
        actual,
        operations,
        fired,
    }
}

/// What a case asked about, side by side with what came out.
#[derive(Default)]
struct Views {
    expected: serde_json::Map<String, Value>,
    actual: serde_json::Map<String, Value>,
    mismatches: Vec<Mismatch>,
}

impl Views {
    /// `actual` must contain `expected` (see [`subset_match`]).
    fn subset(&mut self, key: &str, expected: Value, actual: &Value) {
        subset_match(&expected, actual, key, &mut self.mismatches);
        self.actual
            .insert(key.to_string(), project(&expected, actual));
        self.expected.insert(key.to_string(), expected);
    }

    /// `actual` must equal `expected`.
    fn exact(&mut self, key: &str, expected: Value, actual: Value) {
        if expected != actual {
            self.mismatches.push(Mismatch {
                path: key.to_string(),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        self.expected.insert(key.to_string(), expected);
        self.actual.insert(key.to_string(), actual);
    }
}

/// Runs every case of the bundle; refused (bad request) for a bundle
/// loaded without its tests, rather than reporting that none failed.
pub fn run_tests(bundle: &Bundle) -> Result<TestReport, ErrorBody> {
    let tests = bundle.tests().ok_or_else(|| {
        ErrorBody::new(
            ErrorKind::BadRequest,
            "the bundle was loaded without its tests (`tests: false`); load it with them to run them",
        )
    })?;
    let mut cases = Vec::new();
    for test_file in tests {
        for case in &test_file.cases {
            cases.push(run_case(bundle, &test_file.file, case));
        }
    }
    let fired: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.fired.iter().map(String::as_str))
        .insert_all();
    let uncovered_rules = bundle
        .rules()
        .keys()
        .filter(|id| !fired.contains(id.as_str()))
        .cloned()
        .collect();
    let passed = cases.iter().filter(|c| c.passed).count();
    Ok(TestReport {
        passed,
        failed: cases.len() - passed,
        cases,
        max_operations: bundle.manifest().limits.max_operations,
        uncovered_rules,
    })
}

fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (decimal_from_number(a), decimal_from_number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Records every way `actual` fails to contain `expected`.
pub fn subset_match(expected: &Value, actual: &Value, path: &str, out: &mut Vec<Mismatch>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let child = format!("{path}.{key}");
                match got.get(key) {
                    Some(actual_value) => subset_match(value, actual_value, &child, out),
                    None => out.push(Mismatch {
                        path: child,
                        expected: value.to_string(),
                        actual: "(absent)".to_string(),
                    }),
                }
            }
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            for (index, (w, g)) in want.iter().zip(got).enumerate() {
                subset_match(w, g, &format!("{path}[{index}]"), out);
            }
        }
        (Value::Number(a), Value::Number(b)) if numbers_equal(a, b) => {}
        _ if expected == actual => {}
        _ => out.push(Mismatch {
            path: path.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }),
    }
}

/// `actual` cut down to the shape of `expected`, so a diff shows only what
/// the case asked about. Equal numbers take the expected spelling.
fn project(expected: &Value, actual: &Value) -> Value {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => Value::Object(
            want.iter()
                .filter_map(|(key, w)| got.get(key).map(|g| (key.clone(), project(w, g))))
                .insert_all(),
        ),
        (Value::Array(want), Value::Array(got)) => Value::Array(
            got.iter()
                .enumerate()
                .map(|(i, g)| want.get(i).map_or_else(|| g.clone(), |w| project(w, g)))
                .collect(),
        ),
        (Value::Number(a), Value::Number(b)) if numbers_equal(a, b) => expected.clone(),
        _ => actual.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_matching_compares_numbers_by_value() {
        let mut out = Vec::new();
        let actual: Value =
            serde_json::from_str(r#"{"a": 600.00, "b": [1, 2], "c": "x"}"#).unwrap();
        subset_match(&json!({"a": 600}), &actual, "result", &mut out);
        assert!(out.is_empty(), "{out:?}");
        subset_match(
            &json!({"b": [1], "c": "y", "d": 1}),
            &actual,
            "result",
            &mut out,
        );
        let paths: Vec<_> = out.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["result.b", "result.c", "result.d"]);
    }
}
