//! The wire contract: every request and answer that passes between a host
//! and the engine, as serde types.
//!
//! Rust hosts use these types directly (see [`crate::api`]); hosts across
//! the wasm boundary exchange their JSON text, produced and read only here.
//! The TypeScript declarations in `wasm/js/index.d.ts` carry the same names,
//! and a test checks every type's JSON against them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::context::ParameterUse;
pub use crate::diagnostics::{Diagnostic, Severity};
pub use crate::envelope::{
    DecideRequest, EngineInfo, Envelope, Mode, Need, PolicyInfo, Reason, Status,
};
pub use crate::error::{DecideError, ErrorAnswer, ErrorBody, ErrorKind, RuleLocation};
pub use crate::schema::Schema;
pub use crate::test_run::{CaseOutcome, Mismatch, TestReport};
pub use crate::validate::FieldProblem;

/// The `format` of a packed bundle.
pub const PACKED_FORMAT: &str = "eligo-bundle/1";

/// A bundle packed into one JSON file (`eligo pack`): its files, and the
/// name, version and hash they must match when loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedBundle {
    /// Always [`PACKED_FORMAT`].
    pub format: String,
    /// The bundle's name, as in its `bundle.toml`.
    pub name: String,
    /// The bundle's version, as in its `bundle.toml`.
    pub version: String,
    /// `sha256:<hex>` over the files; a load refuses files that differ.
    pub hash: String,
    /// Every file by bundle-relative path.
    pub files: BTreeMap<String, String>,
}

/// Where a bundle to load comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSource {
    /// Files by bundle-relative path, as read from a directory.
    Files(BTreeMap<String, String>),
    /// A packed bundle, checked against its name, version and hash.
    Packed(PackedBundle),
}

/// A load (or check) request: a bundle, and the artifact it runs in.
///
/// On the wire: `{"files": {…}, "artifact"?}`, or a packed bundle's fields
/// with an optional `artifact` beside them. A request with any of the
/// packed fields is a packed bundle, and must have all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawLoad", into = "RawLoad")]
pub struct LoadRequest {
    /// The bundle.
    pub bundle: BundleSource,
    /// `sha256:<hex>` of the wasm artifact the bundle runs in, so every
    /// envelope names it.
    pub artifact: Option<String>,
    /// Parse the test files (the default). `false` loads the bundle for
    /// deciding only, faster; its tests then cannot be run. `check` reads
    /// them whatever this says.
    pub tests: bool,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    files: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact: Option<String>,
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    tests: bool,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_yes(value: &bool) -> bool {
    *value
}

impl TryFrom<RawLoad> for LoadRequest {
    type Error = String;

    fn try_from(raw: RawLoad) -> Result<Self, String> {
        let bundle = match (raw.format, raw.name, raw.version, raw.hash) {
            (None, None, None, None) => BundleSource::Files(raw.files),
            (Some(format), Some(name), Some(version), Some(hash)) => {
                BundleSource::Packed(PackedBundle {
                    format,
                    name,
                    version,
                    hash,
                    files: raw.files,
                })
            }
            _ => {
                return Err(
                    "a packed bundle needs all of `format`, `name`, `version` and `hash`".into(),
                )
            }
        };
        Ok(LoadRequest {
            bundle,
            artifact: raw.artifact,
            tests: raw.tests,
        })
    }
}

impl From<LoadRequest> for RawLoad {
    fn from(request: LoadRequest) -> Self {
        match request.bundle {
            BundleSource::Files(files) => RawLoad {
                format: None,
                name: None,
                version: None,
                hash: None,
                files,
                artifact: request.artifact,
                tests: request.tests,
            },
            BundleSource::Packed(packed) => RawLoad {
                format: Some(packed.format),
                name: Some(packed.name),
                version: Some(packed.version),
                hash: Some(packed.hash),
                files: packed.files,
                artifact: request.artifact,
                tests: request.tests,
            },
        }
    }
}

/// What a bundle is: name, version, hash, languages and entries.
#[derive(Debug, Clone, Serialize)]
pub struct BundleInfo {
    /// From `bundle.toml`.
    pub name: String,
    /// From `bundle.toml`.
    pub version: String,
    /// `sha256:<hex>` over the bundle's files.
    pub hash: String,
    /// Languages of its messages; the first is the default.
    pub languages: Vec<String>,
    /// Its entry points, sorted by name.
    pub entries: Vec<EntryInfo>,
    /// Its parameters, by name, each with its history.
    pub parameters: Vec<ParameterInfo>,
}

/// One entry point and its input schema.
#[derive(Debug, Clone, Serialize)]
pub struct EntryInfo {
    /// e.g. `household`.
    pub name: String,
    /// From `bundle.toml`.
    pub description: String,
    /// What its input must look like.
    pub schema: Schema,
    /// The same as JSON Schema (draft 2020-12).
    pub json_schema: Value,
}

/// One effective-dated parameter with its whole history.
#[derive(Debug, Clone, Serialize)]
pub struct ParameterInfo {
    /// e.g. `relief.standard`.
    pub name: String,
    /// integer, decimal, money, bool, string or calendar.
    #[serde(rename = "type")]
    pub kind: crate::params::ParamType,
    /// e.g. `yuan/month`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// What it is, for people.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Every value, oldest first.
    pub values: Vec<ParameterValueInfo>,
}

/// One value of a parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ParameterValueInfo {
    /// The date it takes effect.
    pub from: String,
    /// The value (numbers exact, as written in the bundle).
    pub value: Value,
    /// The policy clause it comes from.
    pub source: String,
}

/// A loaded bundle in a few words: for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSummary {
    /// From `bundle.toml`.
    pub name: String,
    /// From `bundle.toml`.
    pub version: String,
    /// `sha256:<hex>` over the bundle's files.
    pub hash: String,
    /// Entry point names, sorted.
    pub entries: Vec<String>,
}

/// What `check` finds: every diagnostic, errors first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    /// No errors (warnings allowed).
    pub ok: bool,
    /// The bundle, when it loads.
    pub bundle: Option<BundleSummary>,
    /// How many diagnostics are errors.
    pub errors: usize,
    /// How many are warnings.
    pub warnings: usize,
    /// Every diagnostic, with its span.
    pub diagnostics: Vec<Diagnostic>,
}
