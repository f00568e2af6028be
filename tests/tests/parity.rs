//! The same `.wasm` artifact run by wasmtime decides exactly like the native
//! core: same envelope bytes for the bundle's cases, for bad inputs, and for
//! thousands of generated households and communities. Needs the artifact:
//! `cargo xtask wasm` (the README's test command builds it first).

use eligo_core::{api, Bundle};
use eligo_host::wasm_runtime::{read_artifact, CallLimits, RuntimeError, WasmRuntime};
use eligo_tests::{default_bundle_dir, files_of, load, variant_bundle_dir};
use serde_json::json;

/// Compiled modules, shared by the tests (and kept between runs).
fn cache() -> std::path::PathBuf {
    eligo_tests::repo_root().join("target/wasmtime-cache")
}

/// The native bundle, told the artifact's hash so both sides report it.
fn both(dir: &std::path::Path) -> (Bundle, WasmRuntime) {
    let (_, artifact) = read_artifact(None).unwrap_or_else(|e| panic!("{e}"));
    let files = files_of(dir);
    let runtime = WasmRuntime::new(&artifact, &files, Some(&cache()), CallLimits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut native = load(files);
    native.set_artifact(Some(runtime.artifact_sha256().to_string()));
    (native, runtime)
}

fn assert_same(native: &Bundle, runtime: &WasmRuntime, request: &str) {
    let wasm = runtime
        .decide(request)
        .unwrap_or_else(|e| panic!("{request}: {e}"));
    assert_eq!(api::decide(native, request), wasm, "request: {request}");
}

#[test]
fn bundle_cases_decide_identically_in_wasmtime() {
    for dir in [default_bundle_dir(), variant_bundle_dir()] {
        let (native, runtime) = both(&dir);
        let mut compared = 0;
        for file in native.tests() {
            for case in &file.cases {
                let request = json!({
                    "entry": case.entry, "input": case.input, "as_of": case.as_of,
                    "mode": case.mode, "lang": case.lang,
                })
                .to_string();
                assert_same(&native, &runtime, &request);
                compared += 1;
            }
        }
        assert!(compared > 5);
        assert_eq!(api::test(&native), runtime.test().unwrap());
        assert_eq!(api::describe(&native), runtime.describe().unwrap());
    }
}

/// A decide request for the tiny bundle's `job` entry.
fn job_request(n: i64) -> String {
    json!({ "entry": "job", "input": { "n": n }, "as_of": "2026-11-20T09:00:00+08:00" }).to_string()
}

#[test]
fn envelopes_from_the_host_name_the_artifact() {
    let (_, runtime) = both(&default_bundle_dir());
    let request = r#"{"entry":"household","input":{"id":"h","district":"urban","members":[{"age":40,"monthly_income":0}]},"as_of":"2026-11-20T09:00:00+08:00"}"#;
    let envelope: serde_json::Value =
        serde_json::from_str(&runtime.decide(request).unwrap()).unwrap();
    assert_eq!(envelope["engine"]["artifact"], runtime.artifact_sha256());
    assert!(runtime.artifact_sha256().starts_with("sha256:"));
}

#[test]
fn runaway_rules_stop_with_clear_errors_and_the_host_keeps_working() {
    let (_, artifact) = read_artifact(None).unwrap_or_else(|e| panic!("{e}"));
    let files = eligo_tests::tiny_bundle_files(eligo_tests::HOSTILE_RULES, &[]);
    let runtime =
        WasmRuntime::new(&artifact, &files, Some(&cache()), CallLimits::default()).unwrap();
    let native = load(files);
    for (n, message) in [
        (1, "Too many operations"),
        (2, "Stack overflow"),
        (3, "Length of string"),
        (4, "Size of array"),
    ] {
        let answer = runtime
            .decide(&job_request(n))
            .unwrap_or_else(|e| panic!("case {n}: {e}"));
        assert!(
            answer.contains("rule_error") && answer.contains(message),
            "case {n}: {answer}"
        );
        assert!(
            answer.contains("\"file\":\"job.rhai\""),
            "case {n}: {answer}"
        );
        // The same error, at the same place, as the native core.
        let mut native_copy = native.duplicate().unwrap();
        native_copy.set_artifact(Some(runtime.artifact_sha256().to_string()));
        assert_eq!(api::decide(&native_copy, &job_request(n)), answer);
        // And the next call on the same host succeeds.
        assert!(runtime
            .decide(&job_request(0))
            .unwrap()
            .contains("\"ok\":\"OK\""));
    }
}

#[test]
fn the_host_deadline_stops_what_the_rules_limit_would_not() {
    let (_, artifact) = read_artifact(None).unwrap_or_else(|e| panic!("{e}"));
    // Lift the operation limit to the engine's ceiling: the loop would run
    // for many seconds; the host's deadline stops it.
    let limits = "[limits]\nmax_operations = 10000000\n";
    let manifest = format!(
        "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n{limits}[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n"
    );
    let slow = "fn decide(input, ctx) { let t = 0; for i in 0..input.n { t += i * i % 7; } #{ ok: ctx.fire(\"OK\", #{ n: t }) } }";
    let files = eligo_tests::tiny_bundle_files(slow, &[("bundle.toml", &manifest)]);
    // One instance at most: the call after the trap can only be answered if
    // the trapped instance gave its slot back.
    let tight = CallLimits {
        deadline_ticks: 5,
        max_instances: 1,
        ..CallLimits::default()
    };
    let runtime = WasmRuntime::new(&artifact, &files, Some(&cache()), tight).unwrap();
    match runtime.decide(&job_request(1_000_000)) {
        Err(RuntimeError::Trap(message)) => assert!(message.contains("deadline"), "{message}"),
        other => panic!("expected the deadline to stop it, got {other:?}"),
    }
    assert!(runtime
        .decide(&job_request(3))
        .unwrap()
        .contains("\"ok\":\"OK\""));
}

#[test]
fn many_threads_share_a_bounded_pool_of_instances() {
    let (native, _) = both(&default_bundle_dir());
    let (_, artifact) = read_artifact(None).unwrap_or_else(|e| panic!("{e}"));
    let limits = CallLimits {
        max_instances: 2,
        ..CallLimits::default()
    };
    let runtime = WasmRuntime::new(&artifact, native.files(), Some(&cache()), limits).unwrap();
    let mut native = native;
    native.set_artifact(Some(runtime.artifact_sha256().to_string()));
    let requests = generated_requests(160, 40);
    std::thread::scope(|scope| {
        for part in requests.chunks(25) {
            let (native, runtime) = (&native, &runtime);
            scope.spawn(move || {
                for request in part {
                    assert_same(native, runtime, request);
                }
            });
        }
    });
    // Eight threads called at once; never more than two instances existed.
    let peak = runtime.peak_instances();
    assert!((1..=2).contains(&peak), "{peak} instances at once");
}

/// Decide requests for every generated household and community.
fn generated_requests(households: usize, communities: usize) -> Vec<String> {
    use eligo_tests::generate::{community, household, Rng, AS_OF};
    let mut rng = Rng(0x9a41_7e57_0000_0003);
    let mut requests = Vec::with_capacity(households + communities);
    for i in 0..households {
        let mode = if i % 3 == 0 { "partial" } else { "strict" };
        let lang = if i % 2 == 0 { "en" } else { "zh-CN" };
        let input = household(&mut rng, i);
        requests.push(json!({ "entry": "household", "input": input, "as_of": AS_OF, "mode": mode, "lang": lang }).to_string());
    }
    for i in 0..communities {
        let input = community(&mut rng, i);
        requests.push(json!({ "entry": "community", "input": input, "as_of": AS_OF }).to_string());
    }
    // Bad inputs too: every error list must match.
    requests.push(json!({ "entry": "household", "input": { "id": "", "members": [{ "age": 131, "monthly_income": 1.005 }] }, "as_of": AS_OF }).to_string());
    requests.push(json!({ "entry": "household", "input": {}, "as_of": "yesterday" }).to_string());
    requests.push("{not json".to_string());
    requests
}

#[test]
fn generated_inputs_decide_identically_in_wasmtime() {
    let (native, runtime) = both(&default_bundle_dir());
    let requests = generated_requests(8_000, 2_500);
    std::thread::scope(|scope| {
        for part in requests.chunks(requests.len() / 2 + 1) {
            let (native, runtime) = (&native, &runtime);
            scope.spawn(move || {
                for request in part {
                    assert_same(native, runtime, request);
                }
            });
        }
    });
}

/// Answers from a JavaScript driver (`node <script> <pkg dir> <load request
/// file>`, requests on stdin, answers on stdout), for the same requests the
/// native core answers, and asserts they are byte-identical.
fn assert_js_parity(script: &str) {
    let (path, _) = read_artifact(None).unwrap_or_else(|e| panic!("{e}"));
    let pkg = path.parent().unwrap().to_path_buf();
    let (native, runtime) = both(&default_bundle_dir());
    let sha = runtime.artifact_sha256().to_string();
    drop(runtime);
    let files: serde_json::Map<String, serde_json::Value> = native
        .files()
        .iter()
        .map(|(p, t)| (p.to_string(), t.into()))
        .collect();
    let load_file = std::env::temp_dir().join(format!(
        "eligo-js-load-{}-{}.json",
        std::process::id(),
        script.replace('/', "_")
    ));
    std::fs::write(
        &load_file,
        json!({ "files": files, "artifact": sha }).to_string(),
    )
    .unwrap();

    let mut requests = generated_requests(8_000, 2_500);
    for file in native.tests() {
        for case in &file.cases {
            requests.push(
                json!({ "entry": case.entry, "input": case.input, "as_of": case.as_of, "mode": case.mode, "lang": case.lang })
                    .to_string(),
            );
        }
    }
    let script_path = eligo_tests::repo_root().join(script);
    let mut child = std::process::Command::new("node")
        .arg(&script_path)
        .arg(&pkg)
        .arg(&load_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node is installed");
    let mut stdin = child.stdin.take().unwrap();
    let input = requests.join("\n") + "\n";
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    std::fs::remove_file(&load_file).ok();
    assert!(output.status.success(), "{script} failed");
    let answers: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(
        answers.len(),
        requests.len(),
        "{script}: one answer per request"
    );
    for (request, answer) in requests.iter().zip(answers) {
        assert_eq!(
            api::decide(&native, request),
            answer,
            "{script}, request: {request}"
        );
    }
}

#[test]
fn generated_inputs_decide_identically_in_node() {
    assert_js_parity("tests/node/decide.mjs");
}

/// Through the typed API (`index.js`, its default artifact URL fetched) in
/// Debian's chromium, driven by playwright-core: `cargo xtask test` installs both.
#[test]
fn generated_inputs_decide_identically_in_chromium() {
    assert_js_parity("tests/browser/decide.mjs");
}
