//! What the fuzz targets share: the default bundle and the artifact, loaded
//! once per process, and the properties every answer must have.
//!
//! A property that fails panics, which libFuzzer reports as a crash and
//! saves the input that caused it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use eligo_core::wire::{Envelope, ErrorAnswer};
use eligo_core::{Bundle, BundleFiles};
use eligo_runtime::bundle_dir::read_bundle_dir;
use eligo_runtime::wasm::{read_artifact, CallLimits, WasmEngine, WasmRuntime};

/// The `as_of` every fuzzed decision is made at.
pub const AS_OF: &str = "2026-11-20T09:00:00+08:00";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The default bundle's files.
pub fn default_files() -> &'static BundleFiles {
    static FILES: OnceLock<BundleFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        read_bundle_dir(&repo_root().join("rules")).expect("the default bundle reads")
    })
}

/// The default bundle, loaded natively.
pub fn default_bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| Bundle::load(default_files().clone()).expect("the default bundle loads"))
}

/// The default bundle, loaded natively and stamped with the artifact's
/// sha256, so its envelopes match the wasm runtime's byte for byte.
pub fn stamped_bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let mut bundle = Bundle::load(default_files().clone()).expect("the default bundle loads");
        bundle.set_artifact(Some(wasm_engine().artifact_sha256().to_string()));
        bundle
    })
}

/// The artifact, compiled once (or read from the compile cache).
pub fn wasm_engine() -> &'static Arc<WasmEngine> {
    static ENGINE: OnceLock<Arc<WasmEngine>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let (_, artifact) = read_artifact(None).expect("the artifact is built (cargo xtask wasm)");
        WasmEngine::new(&artifact, Some(&repo_root().join("target/wasmtime-cache")))
            .expect("the artifact compiles")
    })
}

/// The default bundle loaded into the artifact.
pub fn wasm_runtime() -> &'static WasmRuntime {
    static RUNTIME: OnceLock<WasmRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        WasmRuntime::new(
            Arc::clone(wasm_engine()),
            default_files(),
            CallLimits {
                max_instances: 1,
                ..CallLimits::default()
            },
        )
        .expect("the default bundle loads in wasm")
    })
}

/// A decide request for the household entry with `input` as the input's
/// text (which need not be JSON: then the request is not either). The
/// first byte of the fuzzer's data picks the mode.
pub fn household_request(data: &[u8]) -> Option<String> {
    let (mode, input) = data.split_first()?;
    let mode = if mode % 2 == 0 { "partial" } else { "strict" };
    let input = std::str::from_utf8(input).ok()?;
    Some(format!(
        r#"{{"entry":"household","as_of":"{AS_OF}","mode":"{mode}","input":{input}}}"#
    ))
}

/// An answer of the core's JSON API: an envelope that reads back into the
/// same text, or an error answer in the wire shape.
pub fn assert_wire_answer(answer: &Result<String, String>, request: &str) {
    match answer {
        Ok(text) => {
            let envelope: Envelope = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("an envelope that does not read ({e}): {text}"));
            assert_eq!(
                &envelope.to_json(),
                text,
                "an envelope that does not round-trip, for {request}"
            );
        }
        Err(text) => {
            serde_json::from_str::<ErrorAnswer>(text)
                .unwrap_or_else(|e| panic!("an error answer that does not read ({e}): {text}"));
        }
    }
}

/// Every diagnostic names a file, and a line within it when it has one.
pub fn assert_located(problems: &[eligo_core::Diagnostic], files: &BundleFiles) {
    assert!(!problems.is_empty(), "refused without a diagnostic");
    for problem in problems {
        assert!(!problem.file.is_empty(), "{problem}");
        if let Some(text) = files.get(&problem.file) {
            assert!(
                problem.line <= text.split('\n').count() + 1,
                "a line past the end of {}: {problem}",
                problem.file
            );
        }
    }
}
