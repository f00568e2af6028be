//! The wasm-bindgen API: JSON text in and out. An error answer is thrown
//! (its JSON text as the `Error`'s message), so JavaScript learns it is one
//! without reading the text. The typed wrapper (`wasm/js/index.js`,
//! `index.d.ts`) parses answers and turns errors into `EligoError`s; numbers
//! cross as JSON text so `1801.0` stays a decimal.

use eligo_core::impact::Impact;
use eligo_core::{api, Bundle, ENGINE_VERSION};
use wasm_bindgen::prelude::*;

/// A loaded bundle.
#[wasm_bindgen]
pub struct Engine {
    bundle: Bundle,
}

#[wasm_bindgen]
impl Engine {
    /// Loads a bundle from a load request (`{"files": {...}}`). A bundle
    /// with errors throws the error answer's JSON text.
    #[wasm_bindgen(constructor)]
    pub fn new(load_request: &str) -> Result<Engine, JsError> {
        api::load_json(load_request)
            .map(|bundle| Engine { bundle })
            .map_err(|answer| JsError::new(&answer))
    }

    /// Name, version, hash, languages and each entry's schema, as JSON.
    pub fn describe(&self) -> String {
        api::describe_json(&self.bundle)
    }

    /// One decision: the envelope JSON; an error answer is thrown.
    pub fn decide(&self, request: &str) -> Result<String, JsError> {
        api::decide_json(&self.bundle, request).map_err(|answer| JsError::new(&answer))
    }

    /// One decision from the request's JSON as UTF-8 bytes: the envelope's
    /// JSON as UTF-8 bytes, exactly the text [`Engine::decide`] answers; an
    /// error answer is thrown.
    ///
    /// For a host that stores, hashes or forwards the envelope rather than
    /// reading it in JavaScript: making a JavaScript string of the answer
    /// (UTF-8 to UTF-16) took 2.7 µs of a 27 µs household decision in
    /// Node, for the benchmark's 2.8 KB envelope.
    #[wasm_bindgen(js_name = decideUtf8)]
    pub fn decide_utf8(&self, request: &[u8]) -> Result<Vec<u8>, JsError> {
        crate::utf8::request_text(request)
            .and_then(|text| api::decide_json(&self.bundle, text))
            .map(String::into_bytes)
            .map_err(|answer| JsError::new(&answer))
    }

    /// The bundle's own test cases: the report JSON (an error for a bundle
    /// loaded with `tests: false`).
    pub fn test(&self) -> Result<String, JsError> {
        api::test_json(&self.bundle).map_err(|answer| JsError::new(&answer))
    }

    /// The bundle packed into one JSON file (see `eligo pack`).
    pub fn pack(&self) -> String {
        api::pack_json(&self.bundle)
    }
}

/// Checks a bundle without loading it: the check report's JSON; a
/// malformed request is thrown as an error answer.
#[wasm_bindgen]
pub fn check(load_request: &str) -> Result<String, JsError> {
    api::check_json(load_request).map_err(|answer| JsError::new(&answer))
}

/// The engine's version.
#[wasm_bindgen(js_name = engineVersion)]
pub fn engine_version() -> String {
    ENGINE_VERSION.to_string()
}

/// The JSON paths where two JSON texts (two envelopes) differ.
#[wasm_bindgen]
pub fn diff(before: &str, after: &str) -> Result<String, JsError> {
    api::diff_json(before, after).map_err(|answer| JsError::new(&answer))
}

/// An impact accumulator (see `eligo impact`): households added one by
/// one, accumulators merged in order, the report as JSON.
#[wasm_bindgen(js_name = RawImpact)]
pub struct RawImpact {
    impact: Impact,
}

#[wasm_bindgen(js_class = RawImpact)]
impl RawImpact {
    /// An empty accumulator.
    #[wasm_bindgen(constructor)]
    pub fn new() -> RawImpact {
        RawImpact {
            impact: Impact::new(),
        }
    }

    /// Adds one household: `groups` a JSON object of grouping → value,
    /// `before`/`after` envelope or error answer JSON texts.
    pub fn add(
        &mut self,
        id: &str,
        groups: &str,
        before: &str,
        after: &str,
    ) -> Result<(), JsError> {
        api::impact_add_json(&mut self.impact, id, groups, before, after)
            .map_err(|answer| JsError::new(&answer))
    }

    /// Adds everything `other` counted (its households after these).
    pub fn merge(&mut self, other: RawImpact) {
        self.impact.merge(other.impact);
    }

    /// The report's JSON.
    pub fn report(&self) -> String {
        self.impact.to_json().to_string()
    }
}

impl Default for RawImpact {
    fn default() -> Self {
        RawImpact::new()
    }
}
