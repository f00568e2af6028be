//! The typed JavaScript API (`target/wasm/index.js` + `index.d.ts`) in Node:
//! it answers exactly as the native core does (envelope bytes after a
//! parse/stringify round trip, so money stays exact), its errors carry the
//! CLI's text, packed bundles load, and the TypeScript types compile and
//! reject misuse, and its JSON reader and writer agree with their plainer
//! references.
//! Needs `cargo xtask wasm` and the npm packages that
//! `cargo xtask test` installs in tests/browser.

use std::path::PathBuf;
use std::process::Command;

use eligo_core::api;
use eligo_runtime::wasm::read_artifact;
use eligo_tests::{default_bundle, repo_root};
use serde_json::{json, Value};

const AS_OF: &str = "2026-11-20T09:00:00+08:00";

fn package_dir() -> PathBuf {
    let (path, _) = read_artifact(None).unwrap_or_else(|e| panic!("{e}"));
    path.parent().unwrap().to_path_buf()
}

fn node(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("node")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("node is installed")
}

#[test]
fn the_typed_api_answers_like_the_core_with_the_clis_error_texts() {
    let bundle = default_bundle();
    let packed = std::env::temp_dir().join(format!("eligo-js-api-{}.json", std::process::id()));
    std::fs::write(&packed, api::pack_json(&bundle) + "\n").unwrap();
    let household = repo_root().join("examples/household.json");
    let output = node(&[
        "tests/node/api.mjs".as_ref(),
        package_dir().as_os_str(),
        packed.as_os_str(),
        household.as_os_str(),
    ]);
    std::fs::remove_file(&packed).ok();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();

    let files: serde_json::Map<String, Value> = bundle
        .files()
        .iter()
        .map(|(path, text)| (path.to_string(), text.into()))
        .collect();
    let load_request = json!({ "files": files, "artifact": "sha256:from-node" }).to_string();
    let native = api::load_json(&load_request).unwrap();
    let input: Value = serde_json::from_str(&std::fs::read_to_string(&household).unwrap()).unwrap();
    let decide = |request: Value| {
        api::decide_json(&native, &request.to_string()).unwrap_or_else(|error| error)
    };

    let envelope = decide(json!({ "entry": "household", "input": input, "as_of": AS_OF }));
    assert_eq!(seen["envelope"], envelope.as_str());

    let mut alone = input.clone();
    alone["members"] = serde_json::from_str(r#"[{"age":75,"monthly_income":1200.00}]"#).unwrap();
    let partial = decide(json!({
        "entry": "household", "input": alone, "as_of": AS_OF,
        "mode": "partial", "lang": "en",
    }));
    assert_eq!(seen["partial"], partial.as_str());
    let partial: Value = serde_json::from_str(&partial).unwrap();
    assert_eq!(partial["status"], "undetermined", "{partial}");

    let mut invalid = input.clone();
    invalid["members"][0]["age"] = json!(-1);
    invalid["members"][2]["employment"] = json!("astronaut");
    let answer = decide(json!({ "entry": "household", "input": invalid, "as_of": AS_OF }));
    assert_eq!(seen["invalid"], api::error_text(&answer).unwrap().as_str());

    let mut broken = files.clone();
    let rules = broken["household.rhai"].as_str().unwrap().replace(
        "fn decide(input, ctx) {",
        "fn decide(input, ctx) { let = 1;",
    );
    broken.insert("household.rhai".into(), rules.into());
    let answer = api::load_json(&json!({ "files": broken }).to_string()).unwrap_err();
    assert_eq!(
        seen["bundleError"],
        api::error_text(&answer).unwrap().as_str()
    );

    assert_eq!(
        seen["tests"],
        eligo_core::run_tests(&native).unwrap().passed as u64
    );
}

#[test]
fn the_typescript_types_compile_and_reject_misuse() {
    package_dir();
    if let Err(report) = eligo_tests::tsc("tests/node/typed.ts") {
        panic!("tsc: {report}");
    }
}

#[test]
fn the_json_reader_and_writer_agree_with_their_references() {
    let output = node(&["tests/node/json.mjs".as_ref(), package_dir().as_os_str()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts: Value = serde_json::from_slice(&output.stdout).unwrap();
    // Both kinds of text in numbers that make the comparison mean something.
    assert_eq!(counts["texts"], 20_000, "{counts}");
    for (kind, at_least) in [
        ("values", 2_000),
        ("errors", 2_000),
        ("decimals", 200),
        ("proto_keys", 10),
    ] {
        assert!(counts[kind].as_u64().unwrap() >= at_least, "{counts}");
    }
}
