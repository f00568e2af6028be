//! The decision envelope and the errors a decision can end in.
//!
//! Both serialise to JSON with a fixed field order and sorted map keys, so the
//! same (bundle, input, `as_of`) always gives the same bytes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::ParameterUse;
use crate::validate::FieldProblem;
use crate::wire::{ErrorBody, ErrorKind};

/// Strict: a field the decision needs and the input lacks is an error.
/// Partial: the decision is `undetermined` and `needs` lists what to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Authoritative: every field the decision needs must be given.
    #[default]
    Strict,
    /// For forms: what cannot be decided yet is `undetermined`.
    Partial,
}

/// Whether everything could be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every result field is decided.
    Decided,
    /// Partial mode: some results wait for the fields under `needs`.
    Undetermined,
}

/// An explained, reproducible decision.
///
/// Serialising one that was deserialised from the engine's answer gives the
/// same bytes back: fields in this order, maps with sorted keys, numbers
/// with their exact text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The entry point that decided, e.g. `household`.
    pub entry: String,
    /// The bundle that decided.
    pub policy: PolicyInfo,
    /// The engine that decided.
    pub engine: EngineInfo,
    /// The moment decided for, as given.
    pub as_of: String,
    /// Strict or partial.
    pub mode: Mode,
    /// The language of reasons and questions.
    pub lang: String,
    /// Decided, or undetermined (partial mode).
    pub status: Status,
    /// What the rules returned.
    pub result: Value,
    /// Every rule that fired, in order.
    pub reasons: Vec<Reason>,
    /// Partial mode: the fields still to ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Need>,
    /// Every parameter the decision read, with the value in force and its source.
    pub parameters: Vec<ParameterUse>,
}

impl Envelope {
    /// The canonical compact JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serialises")
    }
}

/// The bundle a decision came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInfo {
    /// From `bundle.toml`.
    pub name: String,
    /// From `bundle.toml`.
    pub version: String,
    /// `sha256:<hex>` over the bundle's files.
    pub hash: String,
}

/// The engine a decision came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineInfo {
    /// The core's version.
    pub version: String,
    /// sha256 of the wasm artifact, when the decision ran in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
}

/// Why: a rule that fired, in words, with the clause it implements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// The rule's ID in `rules.toml`.
    pub rule: String,
    /// The reason in the decision's language.
    pub text: String,
    /// The policy clause, e.g. `000 §1.3.2`.
    pub source: String,
}

/// An input field the decision still needs, and the question to ask for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Need {
    /// Path in the input, e.g. `members[0].age`.
    pub path: String,
    /// The rules waiting for it.
    pub rules: Vec<String>,
    /// The question to ask, in the decision's language.
    pub question: String,
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
