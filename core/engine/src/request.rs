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
    /// JSON, or the error answer's. The input is read by [`input_value`], so a
    /// key named twice is refused here exactly as in every other host.
    pub fn decide_json(&self, request: &str) -> Result<String, String> {
        let bad_request = |message: String| {
            let problem = FieldProblem::new("$", "type", message);
            DecideError::BadRequest(vec![problem]).body().to_json()
        };
        let request: DecideRequest<Box<serde_json::value::RawValue>> =
            serde_json::from_str(request).map_err(|error| bad_request(error.to_string()))?;
        let input = input_value(request.input.get()).map_err(|body| body.to_json())?;
        let request = DecideRequest {
            entry: request.entry,
            input,
            as_of: request.as_of,
            mode: request.mode,
            lang: request.lang,
        };
        self.decide(&request)
            .map(|envelope| envelope.to_json())
            .map_err(|error| ErrorBody::from(error).to_json())
    }
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
