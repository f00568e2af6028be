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
mod compiled;
mod context;
pub mod diagnostics;
pub mod diff;
pub mod envelope;
pub mod error;
pub mod files;
pub mod impact;
mod insert_all;
mod json_text;
mod manifest;
pub mod param_changes;
mod params;
mod path;
mod rule_calls;
pub mod sandbox;
pub mod schema;
mod sort;
pub mod strict_json;
pub mod test_run;
mod testcases;
mod toml_file;
mod validate;
mod values;
pub mod wire;
mod yaml;

pub use bundle::{Bundle, ENGINE_VERSION};
pub use diagnostics::{Diagnostic, Severity};
pub use envelope::{DecideRequest, Envelope, Mode, Status};
pub use error::{DecideError, ErrorBody, ErrorKind};
pub use files::BundleFiles;
pub use test_run::{run_tests, TestReport};
pub use validate::FieldProblem;
