//! The decision envelope and the errors a decision can end in.
//!
//! Both serialise to JSON with a fixed field order and sorted map keys, so the
//! same (bundle, input, `as_of`) always gives the same bytes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::ParamUse;
use crate::validate::FieldError;

/// Strict: a field the decision needs and the input lacks is an error.
/// Partial: the decision is `undetermined` and `needs` lists what to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Strict,
    Partial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Decided,
    Undetermined,
}

/// An explained, reproducible decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    pub entry: String,
    pub policy: PolicyInfo,
    pub engine: EngineInfo,
    pub as_of: String,
    pub mode: Mode,
    pub lang: String,
    pub status: Status,
    pub result: Value,
    pub reasons: Vec<Reason>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Need>,
    /// Every parameter the decision read, with the value in force and its source.
    pub parameters: Vec<ParamUse>,
}

impl Envelope {
    /// The canonical compact JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serialises")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    pub name: String,
    pub version: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    pub version: String,
    /// sha256 of the wasm artifact, when the decision ran in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
}

/// Why: a rule that fired, in words, with the clause it implements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub rule: String,
    pub text: String,
    pub source: String,
}

/// An input field the decision still needs, and the question to ask for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Need {
    pub path: String,
    pub rules: Vec<String>,
    pub question: String,
}

/// Why a decision could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideError {
    /// The request itself (entry, `as_of`, language) is wrong.
    BadRequest(Vec<FieldError>),
    /// The input breaks the entry's schema; no rule ran.
    InvalidInput(Vec<FieldError>),
    /// Strict mode: the rules need fields the input does not give.
    MissingNeeded(Vec<FieldError>),
    /// A rule failed or hit a sandbox limit.
    Rule(RuleFailure),
}

/// Where and why a rule failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleFailure {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for RuleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// The JSON form of a [`DecideError`].
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<RuleFailure>,
}

impl DecideError {
    pub fn kind(&self) -> &'static str {
        match self {
            DecideError::BadRequest(_) => "bad_request",
            DecideError::InvalidInput(_) => "invalid_input",
            DecideError::MissingNeeded(_) => "missing_needed",
            DecideError::Rule(_) => "rule_error",
        }
    }

    pub fn problems(&self) -> &[FieldError] {
        match self {
            DecideError::BadRequest(p)
            | DecideError::InvalidInput(p)
            | DecideError::MissingNeeded(p) => p,
            DecideError::Rule(_) => &[],
        }
    }

    pub fn body(&self) -> ErrorBody {
        let message = match self {
            DecideError::BadRequest(p) => format!("bad request: {} problem(s)", p.len()),
            DecideError::InvalidInput(p) => format!("invalid input: {} problem(s)", p.len()),
            DecideError::MissingNeeded(p) => format!(
                "strict mode: the decision needs {} field(s) the input does not give",
                p.len()
            ),
            DecideError::Rule(failure) => format!("rule error: {failure}"),
        };
        ErrorBody {
            kind: self.kind(),
            message,
            problems: self.problems().to_vec(),
            location: match self {
                DecideError::Rule(failure) => Some(failure.clone()),
                _ => None,
            },
        }
    }

    /// `{"error": {...}}`, compact.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": self.body() }).to_string()
    }
}

impl std::fmt::Display for DecideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = self.body();
        write!(f, "{}", body.message)?;
        for problem in &body.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecideError {}
