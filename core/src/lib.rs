//! Eligo's pure decision engine.
//!
//! A [`Bundle`] is a policy: a manifest, Rhai rule files, effective-dated
//! parameters, an input schema per entry point, reason messages and test
//! cases. It is loaded from an in-memory map of file name → text (no file
//! system here), compiled once, and then decides any number of inputs:
//! `(bundle, input, as_of) → Envelope`, byte-for-byte deterministic.
//!
//! This crate reads no clock, no random source, no network and no files.

#![warn(missing_docs)]

pub mod api;
mod bundle;
pub mod diff;
pub mod files;
pub mod impact;
pub mod param_changes;
mod params_file;
mod rhai_engine;
mod rule_calls;
mod rule_compiler;
mod schema_file;
pub mod test_run;
mod testcases;
pub mod wire;
mod yaml;

// The decision path, in its own crate (see its documentation): re-exported
// here under the same paths as before, so `crate::<module>` reads the same
// in both crates and hosts see one `eligo_core`.
use eligo_engine::{
    compiled, context, decider, insert_all, manifest, params, path, sort, toml_file, validate,
    values,
};
pub use eligo_engine::{diagnostics, envelope, error, sandbox, strict_json};

/// An entry point's input schema: its types (from `eligo_engine`) and
/// reading one from its file.
pub mod schema {
    pub use crate::schema_file::{checked_schema, parse, to_json_schema};
    pub use eligo_engine::schema::*;
}

pub use bundle::Bundle;
pub use decider::ENGINE_VERSION;
pub use diagnostics::{Diagnostic, Severity};
pub use envelope::{DecideRequest, Envelope, Mode, Status};
pub use error::{DecideError, ErrorBody, ErrorKind};
pub use files::BundleFiles;
pub use test_run::{run_tests, TestReport};
pub use validate::FieldProblem;
