//! What every Eligo decision runs: a bundle's types (manifest, parameters,
//! schemas, messages) and the TOML reader for them, input validation, the
//! compiled program and the Rhai fallback, and the decision envelope.
//!
//! `eligo_core` loads bundles into a [`decider::Decider`] and re-exports
//! what hosts use; hosts depend on `eligo_core` alone, and the modules
//! marked hidden here are for `eligo_core`. The two are separate
//! crates so that the wasm artifact compiles this one, the decision path,
//! for speed, and the loader, test runner and impact tools for size (see
//! the workspace's `[profile.wasm.package.eligo-core]`).
//!
//! This crate reads no clock, no random source, no network and no files.

#![warn(missing_docs)]

#[doc(hidden)]
pub mod compiled;
#[doc(hidden)]
pub mod context;
#[doc(hidden)]
pub mod decider;
pub mod diagnostics;
pub mod envelope;
pub mod error;
#[doc(hidden)]
pub mod insert_all;
#[doc(hidden)]
pub mod json_text;
#[doc(hidden)]
pub mod manifest;
#[doc(hidden)]
pub mod params;
#[doc(hidden)]
pub mod path;
pub mod request;
pub mod sandbox;
pub mod schema;
#[doc(hidden)]
pub mod sort;
pub mod strict_json;
#[doc(hidden)]
pub mod toml_file;
#[doc(hidden)]
pub mod validate;
#[doc(hidden)]
pub mod values;
