//! Where decisions run: in the wasm artifact under wasmtime (the default,
//! the same bytes the browser runs) or in the native core (for comparison).
//! Both take and give the same JSON text, through `eligo_core::api`.

use std::path::Path;

use eligo_core::testcases::TestReport;
use eligo_core::{api, Bundle, BundleFiles};

use crate::wasm_runtime::{
    default_cache_dir, read_artifact, CallLimits, RuntimeError, WasmRuntime,
};

/// Which engine decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    /// The wasm artifact in wasmtime.
    Wasm,
    /// The core compiled into this program.
    Native,
}

/// A loaded bundle, ready to decide JSON requests.
pub enum Decider {
    /// One compiled bundle per worker thread.
    Native(Vec<Bundle>),
    Wasm(Box<WasmRuntime>),
}

impl Decider {
    /// Prepares `workers` native copies, or the wasm runtime (whose
    /// instance pool grows to however many threads use it).
    pub fn new(
        kind: RuntimeKind,
        bundle: Bundle,
        workers: usize,
        artifact: Option<&Path>,
    ) -> Result<Decider, String> {
        match kind {
            RuntimeKind::Native => {
                let mut copies = Vec::with_capacity(workers.max(1));
                for _ in 1..workers.max(1) {
                    copies.push(bundle.duplicate().map_err(|problems| {
                        format!("{} problem(s) reloading the bundle", problems.len())
                    })?);
                }
                copies.push(bundle);
                Ok(Decider::Native(copies))
            }
            RuntimeKind::Wasm => {
                let (_, bytes) = read_artifact(artifact).map_err(|e| e.to_string())?;
                let files: &BundleFiles = bundle.files();
                let cache = default_cache_dir();
                let runtime =
                    WasmRuntime::new(&bytes, files, cache.as_deref(), CallLimits::default())
                        .map_err(|e| e.to_string())?;
                Ok(Decider::Wasm(Box::new(runtime)))
            }
        }
    }

    /// Decides one request: the envelope or `{"error": …}` JSON. `worker`
    /// picks the native copy; the wasm runtime pools instances itself.
    pub fn decide(&self, worker: usize, request: &str) -> String {
        match self {
            Decider::Native(copies) => api::decide(&copies[worker % copies.len()], request),
            Decider::Wasm(runtime) => runtime
                .decide(request)
                .unwrap_or_else(|error| host_error(&error)),
        }
    }

    /// Runs the bundle's test cases.
    pub fn test(&self) -> Result<TestReport, String> {
        let json = match self {
            Decider::Native(copies) => api::test(&copies[0]),
            Decider::Wasm(runtime) => runtime.test().map_err(|e| e.to_string())?,
        };
        serde_json::from_str(&json).map_err(|e| format!("unreadable test report: {e}"))
    }
}

/// A failure of the host itself (a trap, the deadline) as an error answer.
fn host_error(error: &RuntimeError) -> String {
    let kind = match error {
        RuntimeError::Trap(_) => "stopped",
        RuntimeError::Artifact(_) | RuntimeError::Load(_) => "host_error",
    };
    api::error_answer(kind, &error.to_string())
}

/// A decide request around an input that is already JSON text, without
/// parsing and re-printing it.
pub fn decide_request(
    entry: &str,
    as_of: &str,
    mode: eligo_core::Mode,
    lang: Option<&str>,
    input_json: &str,
) -> String {
    let head = serde_json::json!({ "entry": entry, "as_of": as_of, "mode": mode, "lang": lang })
        .to_string();
    format!(
        "{},\"input\":{}}}",
        &head[..head.len() - 1],
        input_json.trim()
    )
}

pub use eligo_core::api::error_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_wrap_input_text_verbatim() {
        let request = decide_request(
            "household",
            "2026-11-20T09:00:00+08:00",
            eligo_core::Mode::Partial,
            None,
            " {\"x\": 1.10}\n",
        );
        let value: serde_json::Value = serde_json::from_str(&request).unwrap();
        assert_eq!(value["mode"], "partial");
        assert!(request.ends_with("\"input\":{\"x\": 1.10}}"), "{request}");
    }

    #[test]
    fn error_answers_read_as_text() {
        let answer = r#"{"error":{"kind":"invalid_input","message":"invalid input: 1 problem(s)","problems":[{"path":"a","rule":"max","message":"too big"}]}}"#;
        assert_eq!(
            error_text(answer).unwrap(),
            "invalid input: 1 problem(s)\n  a: too big [max]"
        );
        assert!(error_text("{\"entry\":1}").is_none());
    }
}
