//! A decision: what is asked ([`DecideRequest`]) and the envelope it is
//! answered with ([`Envelope`]). Its errors are in [`crate::error`].
//!
//! The envelope serialises to JSON with a fixed field order and sorted map keys, so the
//! same (bundle, input, `as_of`) always gives the same bytes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::ParameterUse;
use crate::json_text::write_str;

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

/// One decision to make.
///
/// The input is a JSON value; a host that holds the input as JSON text
/// already can send it as it is with `DecideRequest<&RawValue>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest<I = Value> {
    /// The entry point, e.g. `household`.
    pub entry: String,
    /// The input, checked against the entry's schema.
    pub input: I,
    /// RFC 3339 with offset, e.g. `2026-11-20T09:00:00+08:00`.
    pub as_of: String,
    /// Strict (default) or partial.
    #[serde(default)]
    pub mode: Mode,
    /// A language the bundle has messages in; `None` means its first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
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
    pub result: RuleResult,
    /// Every rule that fired, in order.
    pub reasons: Vec<Reason>,
    /// Partial mode: the fields still to ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Need>,
    /// Every parameter the decision read, with the value in force and its source.
    pub parameters: Vec<ParameterUse>,
}

/// What the rules returned, kept as its compact JSON text (keys in order):
/// written once, straight from the rules' values, and copied into the
/// envelope's text as it is, without being parsed again (checking it
/// cost 0.4 µs of the benchmark household's 21.2).
#[derive(Debug, Clone)]
pub struct RuleResult(Box<str>);

impl RuleResult {
    /// The text of a JSON value.
    pub fn from_value(value: &Value) -> RuleResult {
        RuleResult(value.to_string().into_boxed_str())
    }

    /// Takes JSON text the caller wrote (compact, keys in order): the
    /// compiled evaluator's, or serde_json's of a Rhai result.
    pub fn from_text(text: String) -> RuleResult {
        RuleResult(text.into_boxed_str())
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// The result as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).expect("the text is JSON")
    }
}

impl Serialize for RuleResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // serde_json writes text as it is only from a `RawValue`; this is
        // the serde path (not `Envelope::to_json`), so the check is paid
        // only there.
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RuleResult {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(RuleResult(raw.into()))
    }
}

impl PartialEq for RuleResult {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Envelope {
    /// The canonical compact JSON text.
    ///
    /// Byte for byte what the derived `Serialize` writes (the cross-crate
    /// tests compare the two on thousands of envelopes), but the texts,
    /// most of the envelope, are written by [`write_str`], not serde_json
    /// (see [`crate::json_text`] for what that saves).
    pub fn to_json(&self) -> String {
        /// `key` (with its punctuation), then `value` as a JSON string.
        fn text(out: &mut Vec<u8>, key: &str, value: &str) {
            out.extend_from_slice(key.as_bytes());
            write_str(out, value);
        }
        /// `key`, then `value` as serde_json writes it.
        fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, key: &str, value: &T) {
            out.extend_from_slice(key.as_bytes());
            serde_json::to_writer(out, value).expect("an envelope always serialises");
        }
        let open = |i: usize| if i == 0 { "{" } else { ",{" };
        // Sized for a household's envelope (about 3 KB), so the text is not
        // copied as it grows.
        let mut out = Vec::with_capacity(4096);
        text(&mut out, "{\"entry\":", &self.entry);
        put(&mut out, ",\"policy\":", &self.policy);
        put(&mut out, ",\"engine\":", &self.engine);
        text(&mut out, ",\"as_of\":", &self.as_of);
        put(&mut out, ",\"mode\":", &self.mode);
        text(&mut out, ",\"lang\":", &self.lang);
        put(&mut out, ",\"status\":", &self.status);
        out.extend_from_slice(b",\"result\":");
        out.extend_from_slice(self.result.json().as_bytes());
        out.extend_from_slice(b",\"reasons\":[");
        for (i, reason) in self.reasons.iter().enumerate() {
            out.extend_from_slice(open(i).as_bytes());
            text(&mut out, "\"rule\":", &reason.rule);
            text(&mut out, ",\"text\":", &reason.text);
            text(&mut out, ",\"source\":", &reason.source);
            out.push(b'}');
        }
        out.push(b']');
        if !self.needs.is_empty() {
            put(&mut out, ",\"needs\":", &self.needs);
        }
        out.extend_from_slice(b",\"parameters\":[");
        for (i, used) in self.parameters.iter().enumerate() {
            out.extend_from_slice(open(i).as_bytes());
            text(&mut out, "\"name\":", &used.name);
            put(&mut out, ",\"value\":", &*used.value);
            text(&mut out, ",\"from\":", &used.from);
            text(&mut out, ",\"source\":", &used.source);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        // SAFETY: every piece is UTF-8: `write_str` copies whole `str`s
        // and ASCII escapes, serde_json writes only UTF-8, and the result
        // is a `str`. Checking 3 KB again cost 2 % of a decision.
        unsafe { String::from_utf8_unchecked(out) }
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
