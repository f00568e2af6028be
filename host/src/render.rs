//! Diagnostics and test failures as text for people: file, line, column and a
//! code frame pointing at the problem.

use eligo_core::diagnostics::byte_offset;
use eligo_core::testcases::CaseOutcome;
use eligo_core::{BundleFiles, Diagnostic, Severity};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource, Report,
};

/// Renders one diagnostic, with a code frame when it has a position.
pub fn diagnostic(problem: &Diagnostic, files: Option<&BundleFiles>, color: bool) -> String {
    let severity = match problem.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
    };
    let mut report = MietteDiagnostic::new(problem.message.clone())
        .with_code(problem.code)
        .with_severity(severity);
    let source = files.and_then(|f| f.get(&problem.file));
    let mut with_source = None;
    if let (Some(text), true) = (source, problem.line > 0) {
        let offset = byte_offset(text, problem.line, problem.column.max(1));
        let width = text[offset..].chars().next().map_or(0, char::len_utf8);
        report = report.with_label(LabeledSpan::at(offset..offset + width, "here"));
        with_source = Some(NamedSource::new(&problem.file, text.to_string()));
    } else {
        report = report.with_help(format!("in {}", problem.file));
    }
    let report = match with_source {
        Some(named) => Report::new(report).with_source_code(named),
        None => Report::new(report),
    };
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(2);
    if handler.render_report(&mut out, report.as_ref()).is_err() {
        out = problem.to_string();
    }
    out
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
    if !outcome.diff.is_empty() {
        for line in outcome.diff.lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
