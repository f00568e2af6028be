//! Diagnostics and test results as text for people: file, line, column and a
//! code frame underlining the problem's span; failed cases as diffs.

use ariadne::{Config, IndexType, Label, Report, ReportKind, Source};
use eligo_core::diagnostics::byte_offset;
use eligo_core::test_run::{CaseOutcome, TestReport};
use eligo_core::{BundleFiles, Diagnostic, Severity};

/// Renders one diagnostic, with a code frame when it has a position.
pub fn diagnostic(problem: &Diagnostic, files: Option<&BundleFiles>, color: bool) -> String {
    let source = files.and_then(|f| f.get(&problem.file));
    let (Some(text), true) = (source, problem.line > 0) else {
        // No position: the one-line form says all there is.
        return format!("{problem}\n");
    };
    let kind = match problem.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    if text.trim().is_empty() {
        return format!("{problem}\n");
    }
    // The diagnostic's span, clamped to the text: a position at the very
    // end of a file (a missing closing brace) is underlined on its last
    // character rather than past it.
    let mut start = byte_offset(text, problem.line, problem.column.max(1)).min(text.len());
    let mut end = if problem.end_line > 0 {
        byte_offset(text, problem.end_line, problem.end_column.max(1)).min(text.len())
    } else {
        start
    };
    if start >= text.len() {
        start = text
            .char_indices()
            .next_back()
            .map_or(0, |(index, _)| index);
    }
    if end <= start {
        end = start + text[start..].chars().next().map_or(0, char::len_utf8);
    }
    let offset = start;
    let width = end - start;
    let span = (problem.file.as_str(), offset..offset + width);
    let mut report = Report::build(kind, span.clone())
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Byte),
        )
        .with_code(&problem.code)
        .with_message(&problem.message)
        .with_label(Label::new(span).with_message("here"));
    if let Some(help) = &problem.help {
        report.set_help(help);
    }
    let report = report.finish();
    let mut out = Vec::new();
    match report.write((problem.file.as_str(), Source::from(text)), &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => format!("{problem}\n"),
    }
}

/// Renders a failed test case: where it is, what differed, and a diff.
pub fn failed_case(outcome: &CaseOutcome) -> String {
    let mut out = format!("FAIL {}:{} {}\n", outcome.file, outcome.line, outcome.name);
    for mismatch in &outcome.mismatches {
        out.push_str(&format!(
            "  at {}\n    expected: {}\n    actual:   {}\n",
            mismatch.path, mismatch.expected, mismatch.actual
        ));
    }
    if let (Some(expected), Some(actual)) = (&outcome.expected, &outcome.actual) {
        for line in unified_diff(expected, actual).lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// What the cases' decisions cost, in the operations the bundle's
/// `max_operations` limits: counted, not timed, so the same on every
/// machine and runtime, and a rule change's cost shows before it ships.
/// `None` when no case ran its rules.
pub fn operations(report: &TestReport) -> Option<String> {
    let mut ran: Vec<&CaseOutcome> = report.cases.iter().filter(|c| c.operations > 0).collect();
    ran.sort_by_key(|c| c.operations);
    let most = *ran.last()?;
    let median = ran[ran.len() / 2].operations;
    Some(format!(
        "operations per decision: median {median}, most {} ({}:{} {}), {:.1}% of max_operations = {}",
        most.operations,
        most.file,
        most.line,
        most.name,
        most.operations as f64 * 100.0 / report.max_operations as f64,
        report.max_operations
    ))
}

/// The parts of the outcome a case asked about, as a unified diff of their
/// pretty-printed JSON.
fn unified_diff(expected: &serde_json::Value, actual: &serde_json::Value) -> String {
    let expected = serde_json::to_string_pretty(expected).expect("serialises") + "\n";
    let actual = serde_json::to_string_pretty(actual).expect("serialises") + "\n";
    similar::TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}
