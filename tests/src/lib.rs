//! Helpers shared by the cross-crate tests: where the bundles are, loading
//! them, and building small bundles in memory.

pub mod generate;
pub mod parity;

use std::path::PathBuf;

use eligo_core::{Bundle, BundleFiles};
use eligo_runtime::bundle_dir::read_bundle_dir;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository exists")
}

/// The process's one wasm engine over the built artifact (`cargo xtask
/// wasm`), as a server has; compiled code is cached in
/// `target/wasmtime-cache` between runs.
pub fn wasm_engine() -> std::sync::Arc<eligo_runtime::WasmEngine> {
    static ENGINE: std::sync::OnceLock<std::sync::Arc<eligo_runtime::WasmEngine>> =
        std::sync::OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let (_, artifact) =
                eligo_runtime::wasm::read_artifact(None).unwrap_or_else(|e| panic!("{e}"));
            let cache = repo_root().join("target/wasmtime-cache");
            eligo_runtime::WasmEngine::new(&artifact, Some(&cache))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .clone()
}

/// The default policy bundle's directory.
pub fn default_bundle_dir() -> PathBuf {
    repo_root().join("rules")
}

/// The 002 §4.1 variant's directory.
pub fn variant_bundle_dir() -> PathBuf {
    repo_root().join("rules/variants/quarterly")
}

/// The files of a bundle directory, or a panic naming what went wrong.
pub fn files_of(dir: &std::path::Path) -> BundleFiles {
    read_bundle_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
}

/// Loads a bundle, panicking with its diagnostics if it has errors.
pub fn load(files: BundleFiles) -> Bundle {
    Bundle::load(files).unwrap_or_else(|problems| {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        panic!("bundle has errors:\n{}", text.join("\n"))
    })
}

/// The default bundle, loaded.
pub fn default_bundle() -> Bundle {
    load(files_of(&default_bundle_dir()))
}

/// Rules that run away in four ways (by `n`: 1 loops, 2 recurses, 3 grows a
/// string, 4 grows an array) and otherwise fire `OK`.
pub const HOSTILE_RULES: &str = r#"
fn deep(x) { deep(x + 1) }
fn decide(input, ctx) {
    if input.n == 1 { let i = 0; loop { i += 1; } }
    if input.n == 2 { deep(0); }
    if input.n == 3 { let s = "xxxxxxxxxx"; loop { s += s; } }
    if input.n == 4 { let a = []; loop { a.push(1); } }
    if input.n == 11 { let a = []; for i in 0..999 { a = [a]; } let b = []; for i in 0..999 { b = [b]; } if a == b { throw "equal"; } }
    if input.n == 12 { let a = [5, 3, 9, 1]; for i in 0..200 { a.push(i); } a.sort(|x, y| { let b = [3, 2, 1]; b.sort(|p, q| { let c = []; for j in 0..500 { c.push(j); } p - q }); x - y }); }
    #{ ok: ctx.fire("OK", #{ n: input.n }) }
}
"#;

/// A decide request.
pub fn request(
    entry: &str,
    input: &serde_json::Value,
    as_of: &str,
    mode: eligo_core::Mode,
    lang: Option<&str>,
) -> eligo_core::DecideRequest {
    eligo_core::DecideRequest {
        entry: entry.to_string(),
        input: input.clone(),
        as_of: as_of.to_string(),
        mode,
        lang: lang.map(str::to_string),
    }
}

/// Decides `{ "n": n }` with a tiny bundle's `job` entry (strict mode).
pub fn decide_job(bundle: &Bundle, n: i64) -> Result<serde_json::Value, eligo_core::DecideError> {
    bundle
        .decide(&request(
            "job",
            &serde_json::json!({ "n": n }),
            "2026-11-20T09:00:00+08:00",
            eligo_core::Mode::Strict,
            None,
        ))
        .map(|envelope| envelope.result.to_value())
}

/// A one-entry bundle (`job`) around the given Rhai source: input
/// `{ n: integer }`, rules `OK` and `BIG`, and whatever `extra` files add.
pub fn tiny_bundle_files(rhai: &str, extra: &[(&str, &str)]) -> BundleFiles {
    let mut files = vec![
        (
            "bundle.toml",
            "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n",
        ),
        (
            "rules.toml",
            "[OK]\nentry = \"job\"\nsource = \"test §1\"\n[BIG]\nentry = \"job\"\nsource = \"test §2\"\n",
        ),
        (
            "schema/job.toml",
            "[fields]\nn = { type = \"integer\", required = true, min = 0, max = 1000000 }\nask = { type = \"bool\" }\n",
        ),
        ("messages/en.toml", "[rules]\nOK = \"fine: {n}\"\nBIG = \"big\"\n"),
        ("job.rhai", rhai),
    ];
    for (path, text) in extra {
        files.retain(|(existing, _)| existing != path);
        files.push((path, text));
    }
    BundleFiles::from_pairs(files).expect("valid file map")
}

/// Runs the pinned TypeScript compiler (`tests/browser`, installed by
/// `cargo xtask test`) with `--strict --noEmit` on `file` (relative to the
/// repository root): `Err` holds tsc's report.
pub fn tsc(file: &str) -> Result<(), String> {
    let root = repo_root();
    let tsc = root.join("tests/browser/node_modules/typescript/bin/tsc");
    assert!(
        tsc.exists(),
        "typescript is missing: `npm ci` in tests/browser (cargo xtask test does it)"
    );
    let output = std::process::Command::new("node")
        .arg(&tsc)
        .args([
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "es2022",
            "--moduleResolution",
            "bundler",
            "--lib",
            "es2022,dom,esnext.disposable",
        ])
        .arg(file)
        .current_dir(&root)
        .output()
        .expect("node is installed");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
