//! The errors a host can answer with: one [`ErrorKind`] for every kind, the
//! wire body of an error answer ([`ErrorBody`]), and the errors a decision
//! can end in ([`DecideError`], located by [`RuleLocation`] when a rule
//! stopped).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::diagnostics::Diagnostic;
use crate::validate::FieldProblem;

/// Every kind of error answer a host can give, serialised in snake case
/// (`bad_request`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request itself is malformed: not JSON of the expected shape, an
    /// unknown entry, a bad `as_of` or language.
    BadRequest,
    /// The input breaks the entry's schema; no rule ran.
    InvalidInput,
    /// Strict mode: the rules need fields the input does not give.
    MissingNeeded,
    /// A rule failed or hit one of the bundle's limits.
    RuleError,
    /// The bundle does not load: see `diagnostics`.
    BundleError,
    /// A decision was asked of an engine with no bundle loaded.
    NoBundle,
    /// The host stopped the call: its deadline or memory cap (a backstop
    /// behind the bundle's own limits).
    Stopped,
    /// The host itself failed (the artifact could not be run).
    HostError,
    /// A line of a batch is not JSON.
    BadJson,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::BadRequest,
        ErrorKind::InvalidInput,
        ErrorKind::MissingNeeded,
        ErrorKind::RuleError,
        ErrorKind::BundleError,
        ErrorKind::NoBundle,
        ErrorKind::Stopped,
        ErrorKind::HostError,
        ErrorKind::BadJson,
    ];

    /// The wire name, e.g. `invalid_input`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::MissingNeeded => "missing_needed",
            ErrorKind::RuleError => "rule_error",
            ErrorKind::BundleError => "bundle_error",
            ErrorKind::NoBundle => "no_bundle",
            ErrorKind::Stopped => "stopped",
            ErrorKind::HostError => "host_error",
            ErrorKind::BadJson => "bad_json",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer's body: `{"error": ErrorBody}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What kind of error.
    pub kind: ErrorKind,
    /// One line for people.
    pub message: String,
    /// Input problems, by JSON path (bad_request, invalid_input, missing_needed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<FieldProblem>,
    /// Bundle problems, by file and span (bundle_error).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// Where a rule stopped (rule_error, and stopped when known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<RuleLocation>,
}

impl ErrorBody {
    /// An error with only a kind and a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ErrorBody {
            kind,
            message: message.into(),
            problems: Vec::new(),
            diagnostics: Vec::new(),
            location: None,
        }
    }

    /// A bundle that does not load, with every diagnostic (warnings too).
    pub fn bundle(diagnostics: Vec<Diagnostic>) -> Self {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        ErrorBody {
            diagnostics,
            ..ErrorBody::new(
                ErrorKind::BundleError,
                format!("the bundle has {errors} error(s)"),
            )
        }
    }

    /// `{"error": {…}}`, compact: the error answer's JSON text.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Wrapped<'a> {
            error: &'a ErrorBody,
        }
        serde_json::to_string(&Wrapped { error: self }).expect("an error body serialises")
    }
}

/// The error as one text for people, as the CLI prints it and the
/// JavaScript API puts it in `Error.message`: the message, then one line per
/// input problem (`path: message [rule]`) or bundle diagnostic
/// (`file:line:column: message [code]`).
impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        for d in &self.diagnostics {
            write!(
                f,
                "\n  {}:{}:{}: {} [{}]",
                d.file, d.line, d.column, d.message, d.code
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorBody {}

/// An error answer as it is on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorAnswer {
    /// The error.
    pub error: ErrorBody,
}

/// Why a decision could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideError {
    /// The request itself (entry, `as_of`, language) is wrong.
    BadRequest(Vec<FieldProblem>),
    /// The input breaks the entry's schema; no rule ran.
    InvalidInput(Vec<FieldProblem>),
    /// Strict mode: the rules need fields the input does not give.
    MissingNeeded(Vec<FieldProblem>),
    /// A rule failed or hit a sandbox limit.
    Rule(RuleLocation),
    /// The host stopped the rules (its deadline, a backstop: every limit
    /// that decides an answer is counted, not timed); where they were.
    Stopped(RuleLocation),
}

/// Where and why a rule failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleLocation {
    /// The Rhai file.
    pub file: String,
    /// 1-based; 0 when unknown.
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub column: usize,
    /// What went wrong there.
    pub message: String,
}

impl std::fmt::Display for RuleLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl DecideError {
    /// The error kind hosts answer with.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DecideError::BadRequest(_) => ErrorKind::BadRequest,
            DecideError::InvalidInput(_) => ErrorKind::InvalidInput,
            DecideError::MissingNeeded(_) => ErrorKind::MissingNeeded,
            DecideError::Rule(_) => ErrorKind::RuleError,
            DecideError::Stopped(_) => ErrorKind::Stopped,
        }
    }

    /// The input problems, for the first three kinds.
    pub fn problems(&self) -> &[FieldProblem] {
        match self {
            DecideError::BadRequest(p)
            | DecideError::InvalidInput(p)
            | DecideError::MissingNeeded(p) => p,
            DecideError::Rule(_) | DecideError::Stopped(_) => &[],
        }
    }

    /// The wire form of the error.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            DecideError::BadRequest(p) => format!("bad request: {} problem(s)", p.len()),
            DecideError::InvalidInput(p) => format!("invalid input: {} problem(s)", p.len()),
            DecideError::MissingNeeded(p) => format!(
                "strict mode: the decision needs {} field(s) the input does not give",
                p.len()
            ),
            DecideError::Rule(failure) => format!("rule error: {failure}"),
            DecideError::Stopped(failure) => format!("stopped: {failure}"),
        };
        ErrorBody {
            kind: self.kind(),
            message,
            problems: self.problems().to_vec(),
            diagnostics: Vec::new(),
            location: match self {
                DecideError::Rule(failure) | DecideError::Stopped(failure) => Some(failure.clone()),
                _ => None,
            },
        }
    }
}

impl From<DecideError> for ErrorBody {
    fn from(error: DecideError) -> Self {
        error.body()
    }
}

impl std::fmt::Display for DecideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.body())
    }
}

impl std::error::Error for DecideError {}
