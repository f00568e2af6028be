//! A decide request's JSON text in, the envelope's (or the error answer's)
//! JSON text out: the decision path of every host across the wasm boundary.
//!
//! Here rather than in `eligo_core::api` with the other `_json` functions:
//! reading the request is part of every decision's time, so it is compiled
//! with the rest of the decision path (see the crate's documentation).

use crate::decider::Decider;
use crate::envelope::DecideRequest;
use crate::error::{DecideError, ErrorBody};
use crate::validate::FieldProblem;

impl Decider {
    /// [`Decider::decide`] from a decide request's JSON text: the envelope's canonical
    /// JSON, or the error answer's. The input is read as [`input_value`] reads it, so a
    /// key named twice is refused here exactly as in every other host.
    pub fn decide_json(&self, request: &str) -> Result<String, String> {
        let request = match read_in_one_pass(request) {
            Some(request) => request,
            None => read_in_two_passes(request)?,
        };
        self.decide(&request)
            .map(|envelope| envelope.to_json())
            .map_err(|error| ErrorBody::from(error).to_json())
    }
}

/// The request and its input in one pass of the parser, when that reading
/// is clean: the request (and so its input) within [`MAX_INPUT_BYTES`], no
/// error, no key named twice. Then it is the value [`read_in_two_passes`]
/// would give; anything else is left to that reading, which answers it.
/// Reading the input's text apart first (as a `RawValue`) cost the
/// artifact 409,000 operators for the benchmark household against 396,000
/// (wasmtime fuel); through wasmtime 25.4–27.4 µs against 24.4–26.2 µs in
/// four alternating runs. The artifact is 1.3 KB gzip larger.
fn read_in_one_pass(request: &str) -> Option<DecideRequest> {
    if request.len() > MAX_INPUT_BYTES {
        return None;
    }
    let request: DecideRequest<OnePass> = serde_json::from_str(request).ok()?;
    let OnePass { value, named_twice } = request.input;
    (!named_twice).then_some(DecideRequest {
        entry: request.entry,
        input: value,
        as_of: request.as_of,
        mode: request.mode,
        lang: request.lang,
    })
}

/// An input read within the request's own parse.
struct OnePass {
    value: serde_json::Value,
    named_twice: bool,
}

impl<'de> serde::Deserialize<'de> for OnePass {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<OnePass, D::Error> {
        let (value, named_twice) = crate::strict_json::read_value(deserializer)?;
        Ok(OnePass { value, named_twice })
    }
}

/// The request with its input as text, then the input's text read by
/// [`input_value`]: every error answer, with its wording, comes from here.
fn read_in_two_passes(request: &str) -> Result<DecideRequest, String> {
    let bad_request = |message: String| {
        let problem = FieldProblem::new("$", "type", message);
        DecideError::BadRequest(vec![problem]).body().to_json()
    };
    let request: DecideRequest<Box<serde_json::value::RawValue>> =
        serde_json::from_str(request).map_err(|error| bad_request(error.to_string()))?;
    let input = input_value(request.input.get()).map_err(|body| body.to_json())?;
    Ok(DecideRequest {
        entry: request.entry,
        input,
        as_of: request.as_of,
        mode: request.mode,
        lang: request.lang,
    })
}

/// The largest input text a decision reads, in bytes. A household of the
/// schema's 20 members with 100 cases is about 15 KB; the cap is far above
/// any real input and far below what would exhaust the wasm instance's
/// memory (a 30 MB input did), so every runtime refuses the same texts the
/// same way instead of one running out of memory.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// The answer to an input over [`MAX_INPUT_BYTES`]: also for hosts that
/// stop reading at the cap.
pub fn input_too_large() -> ErrorBody {
    DecideError::InvalidInput(vec![FieldProblem::new(
        "$",
        "max_bytes",
        format!("the input is larger than {MAX_INPUT_BYTES} bytes"),
    )])
    .body()
}

/// An input's JSON text as a value: refused (invalid input, with the path)
/// when an object names a key twice, since an audited decision must rest
/// on one reading of its input.
pub fn input_value(text: &str) -> Result<serde_json::Value, ErrorBody> {
    use crate::strict_json::{parse, StrictJsonError};
    if text.len() > MAX_INPUT_BYTES {
        return Err(input_too_large());
    }
    parse(text).map_err(|error| match error {
        StrictJsonError::DuplicateKey(path) => duplicate_key(&path),
        StrictJsonError::Syntax(error) => {
            DecideError::BadRequest(vec![FieldProblem::new("$", "type", error.to_string())]).body()
        }
    })
}

/// The answer to an input that names a key twice at `path` (relative to
/// the input, as every input problem is): also for hosts that read the
/// request themselves, so they refuse it exactly as the engine does.
pub fn duplicate_key(path: &str) -> ErrorBody {
    DecideError::InvalidInput(vec![FieldProblem::new(
        path,
        "duplicate_key",
        "the key appears twice in one object; give each field once",
    )])
    .body()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one pass answers only what the two passes read the same way,
    /// and leaves every error to them.
    #[test]
    fn one_pass_reads_what_two_passes_read_and_leaves_the_rest() {
        let at = r#""as_of":"2026-11-20T09:00:00+08:00""#;
        let clean = [
            format!(
                r#"{{"entry":"household","input":{{"id":"h","n":1801.10,"m":[{{"a":1}}]}},{at}}}"#
            ),
            format!(
                r#"{{{at},"lang":"en","mode":"partial","input":[1,"\u00e9",null],"entry":"x"}}"#
            ),
        ];
        for text in &clean {
            let one = read_in_one_pass(text).expect("a clean request");
            assert_eq!(Ok(&one), read_in_two_passes(text).as_ref(), "{text}");
        }
        let deep = format!(
            r#"{{"entry":"e","input":{}1{},{at}}}"#,
            "[".repeat(127),
            "]".repeat(127)
        );
        let refused = [
            format!(r#"{{"entry":"e","input":{{"a":1,"a":2}},{at}}}"#),
            format!(r#"{{"entry":"e","input":{{"b":[{{"a":1,"\u0061":2}}]}},{at}}}"#),
            format!(r#"{{"entry":"e","entry":"f","input":{{}},{at}}}"#),
            format!(r#"{{"entry":"e","input":{{}},{at},"extra":1}}"#),
            format!(r#"{{"entry":"e","input":{{}},{at}"#),
            format!(
                r#"{{"entry":"e","input":"{}",{at}}}"#,
                "x".repeat(MAX_INPUT_BYTES)
            ),
        ];
        for text in &refused {
            assert!(
                read_in_one_pass(text).is_none(),
                "{}",
                &text[..80.min(text.len())]
            );
            assert!(read_in_two_passes(text).is_err());
        }
        // Nested as deep as the parser allows the input alone: the one
        // pass, a level deeper, leaves it to the two passes, which read it.
        assert!(read_in_one_pass(&deep).is_none());
        assert!(read_in_two_passes(&deep).is_ok());
    }
}
