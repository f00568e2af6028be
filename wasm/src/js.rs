//! The wasm-bindgen API: JSON text in and out. An error answer is thrown
//! (its JSON text as the `Error`'s message), so JavaScript learns it is one
//! without reading the text. The typed wrapper (`wasm/js/index.js`,
//! `index.d.ts`) parses answers and turns errors into `EligoError`s; numbers
//! cross as JSON text so `1801.0` stays a decimal.

use eligo_core::impact::Impact;
use eligo_core::{api, Bundle, ENGINE_VERSION};
use wasm_bindgen::prelude::*;

/// Added to the length [`Engine::decide_utf8_kept`] answers when the kept
/// answer is an error answer.
pub const ANSWER_IS_ERROR: u32 = 1 << 31;

/// A loaded bundle.
#[wasm_bindgen]
pub struct Engine {
    bundle: Bundle,
    /// The last answer of [`Engine::decide_utf8_kept`].
    kept: Vec<u8>,
}

#[wasm_bindgen]
impl Engine {
    /// Loads a bundle from a load request (`{"files": {...}}`). A bundle
    /// with errors throws the error answer's JSON text.
    #[wasm_bindgen(constructor)]
    pub fn new(load_request: &str) -> Result<Engine, JsError> {
        api::load_json(load_request)
            .map(|bundle| Engine {
                bundle,
                kept: Vec::new(),
            })
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

    /// One decision from the request's JSON as UTF-8 bytes, its answer
    /// (the envelope's JSON, exactly the text [`Engine::decide`] answers,
    /// or an error answer) kept in the engine until its next call: the
    /// answer's length in bytes, [`ANSWER_IS_ERROR`] added for an error
    /// answer; [`Engine::kept_answer_ptr`] says where it lies.
    ///
    /// The typed API copies it out as `decideUtf8` and `decideUtf8Into`
    /// (`wasm/js/index.js`), for a host that stores, hashes or forwards
    /// envelopes rather than reading them in JavaScript: making a string of
    /// the benchmark's 2.8 KB envelope (UTF-8 to UTF-16) took Node 2.7 µs of
    /// a 27 µs decision, a fresh `Uint8Array` of it 0.8 µs, copying it into
    /// the caller's buffer 0.05 µs.
    #[wasm_bindgen(js_name = decideUtf8Kept)]
    pub fn decide_utf8_kept(&mut self, request: &[u8]) -> u32 {
        let (answer, flag) = match crate::utf8::request_text(request)
            .and_then(|text| api::decide_json(&self.bundle, text))
        {
            Ok(envelope) => (envelope, 0),
            Err(error) => (error, ANSWER_IS_ERROR),
        };
        self.kept = answer.into_bytes();
        // The instance's memory is capped far below 2 GiB.
        self.kept.len() as u32 | flag
    }

    /// Where the answer [`Engine::decide_utf8_kept`] kept lies in the
    /// instance's memory.
    #[wasm_bindgen(js_name = keptAnswerPtr)]
    pub fn kept_answer_ptr(&self) -> u32 {
        self.kept.as_ptr() as usize as u32
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
