//! The same `.wasm` artifact decides exactly like the native core wherever
//! it runs: same answer bytes for the bundle's cases, for bad inputs, and
//! for thousands of generated households and communities. Every place it
//! runs is one [`Implementation`]; a new host is one more impl. Needs the
//! artifact: `cargo xtask wasm` (the README's test command builds it first).

use eligo_core::wire::ErrorKind;
use eligo_core::{api, Bundle};
use eligo_runtime::wasm::{read_artifact, CallLimits, WasmRuntime};
use eligo_tests::parity::{
    answer_from_two_threads, assert_parity, case_requests, generated_requests, Implementation,
};
use eligo_tests::{default_bundle_dir, files_of, load, variant_bundle_dir, wasm_engine};
use serde_json::json;

fn runtime(files: &eligo_core::BundleFiles, limits: CallLimits) -> WasmRuntime {
    WasmRuntime::new(wasm_engine(), files, limits).unwrap_or_else(|e| panic!("{e}"))
}

/// The native bundle, told the artifact's hash so both sides report it.
fn both(dir: &std::path::Path) -> (Bundle, WasmRuntime) {
    let files = files_of(dir);
    let runtime = runtime(&files, CallLimits::default());
    let mut native = load(files);
    native.set_artifact(Some(runtime.artifact_sha256().to_string()));
    (native, runtime)
}

/// The artifact in wasmtime, called from two threads at once.
struct Wasmtime<'a>(&'a WasmRuntime);

impl Implementation for Wasmtime<'_> {
    fn name(&self) -> String {
        "wasmtime".into()
    }
    fn answer_all(&self, requests: &[String]) -> Vec<String> {
        answer_from_two_threads(requests, |r| match self.0.decide_json(r) {
            Ok(envelope) => envelope.into_string(),
            Err(error) => error.to_json(),
        })
    }
}

/// A JavaScript driver (`node <script> <pkg dir> <load request file>`,
/// requests on stdin, answers on stdout): Node through the wasm-bindgen
/// glue, or headless Chromium through the typed API.
struct JavaScript {
    script: &'static str,
    load_request: String,
}

impl Implementation for JavaScript {
    fn name(&self) -> String {
        self.script.into()
    }
    fn answer_all(&self, requests: &[String]) -> Vec<String> {
        let (path, _) = read_artifact(None).unwrap_or_else(|e| panic!("{e}"));
        let pkg = path.parent().unwrap().to_path_buf();
        let load_file = std::env::temp_dir().join(format!(
            "eligo-js-load-{}-{}.json",
            std::process::id(),
            self.script.replace('/', "_")
        ));
        std::fs::write(&load_file, &self.load_request).unwrap();
        let mut child = std::process::Command::new("node")
            .arg(eligo_tests::repo_root().join(self.script))
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
        assert!(output.status.success(), "{} failed", self.script);
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn assert_same(native: &Bundle, runtime: &WasmRuntime, request: &str) {
    assert_parity(native, &Wasmtime(runtime), &[request.to_string()]);
}

#[test]
fn bundle_cases_decide_identically_in_wasmtime() {
    for dir in [default_bundle_dir(), variant_bundle_dir()] {
        let (native, runtime) = both(&dir);
        let requests = case_requests(&native);
        assert!(requests.len() > 5);
        assert_parity(&native, &Wasmtime(&runtime), &requests);
        assert_eq!(
            api::test_json(&native).unwrap(),
            runtime.test_json().unwrap()
        );
        assert_eq!(
            api::describe_json(&native),
            runtime.describe_json().unwrap()
        );
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
    let envelope = runtime.decide_json(request).unwrap().parse().unwrap();
    assert_eq!(
        envelope.engine.artifact.as_deref(),
        Some(runtime.artifact_sha256())
    );
    assert!(runtime.artifact_sha256().starts_with("sha256:"));
}

#[test]
fn runaway_rules_stop_with_clear_errors_and_the_host_keeps_working() {
    let files = eligo_tests::tiny_bundle_files(eligo_tests::HOSTILE_RULES, &[]);
    let runtime = runtime(&files, CallLimits::default());
    let native = load(files);
    for (n, message) in [
        (1, "Too many operations"),
        (2, "Stack overflow"),
        (3, "Length of string"),
        (4, "Size of array"),
        (11, "nested deeper than 64"),
        (12, "Too many operations"),
    ] {
        let error = runtime.decide_json(&job_request(n)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::RuleError, "case {n}: {error}");
        assert!(error.message.contains(message), "case {n}: {error}");
        assert_eq!(error.location.as_ref().unwrap().file, "job.rhai");
        // The same error, at the same place, as the native core.
        let mut native_copy = native.duplicate().unwrap();
        native_copy.set_artifact(Some(runtime.artifact_sha256().to_string()));
        assert_same(&native_copy, &runtime, &job_request(n));
        // And the next call on the same host succeeds.
        assert!(runtime
            .decide_json(&job_request(0))
            .unwrap()
            .as_str()
            .contains("\"ok\":\"OK\""));
    }
}

/// A bundle whose rule loops `input.n` times, with the operation limit
/// lifted to the engine's ceiling so that only a deadline stops a long loop.
fn slow_bundle() -> eligo_core::BundleFiles {
    let limits = "[limits]\nmax_operations = 10000000\n";
    let manifest = format!(
        "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n{limits}[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n"
    );
    let slow = "fn decide(input, ctx) { let t = 0; for i in 0..input.n { t += i * i % 7; } #{ ok: ctx.fire(\"OK\", #{ n: t }) } }";
    eligo_tests::tiny_bundle_files(slow, &[("bundle.toml", &manifest)])
}

#[test]
fn the_host_deadline_stops_what_the_rules_limit_would_not() {
    // The loop would run for seconds; 50 ms of deadline stop it. Deciding
    // instances are polled: the rules stop where they are, and the answer
    // is the native runtime's, word for word: a stop carries the rule file
    // but no line or column (Rhai gives it none), so where the clock caught
    // the loop does not show.
    let files = slow_bundle();
    // One instance at most: the next call is answered by the same one.
    let tight = CallLimits {
        deadline_ticks: 5,
        max_instances: 1,
        ..CallLimits::default()
    };
    let runtime = runtime(&files, tight);
    let error = runtime.decide_json(&job_request(1_000_000)).unwrap_err();
    let native = eligo_runtime::Decider::native(load(files), 1)
        .unwrap()
        .with_native_deadline(std::time::Duration::from_millis(50));
    let request: eligo_core::wire::DecideRequest<serde_json::Value> =
        serde_json::from_str(&job_request(1_000_000)).unwrap();
    let native_error = native.decide(0, &request).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Stopped, "{error}");
    assert_eq!(error.to_json(), native_error.to_json());
    assert_eq!(
        error.location.as_ref().map(|at| at.file.as_str()),
        Some("job.rhai")
    );
    assert!(runtime
        .decide_json(&job_request(3))
        .unwrap()
        .as_str()
        .contains("\"ok\":\"OK\""));
}

#[test]
fn a_test_suite_past_its_deadline_is_one_stopped_error() {
    // Three cases of a loop that takes seconds: the suite shares one
    // deadline, and past it the whole run is stopped, rather than the cases
    // left being reported as failing rules.
    let mut files = slow_bundle();
    let cases: String = (1..=3)
        .map(|i| format!("  - name: long {i}\n    input: {{ n: 1000000 }}\n    expect: {{ status: decided }}\n"))
        .collect();
    let suite = format!("entry: job\nas_of: \"2026-11-20T09:00:00+08:00\"\ncases:\n{cases}");
    files = eligo_core::BundleFiles::from_pairs(
        files
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .chain([("tests/slow.yaml".to_string(), suite)]),
    )
    .unwrap();
    let tight = CallLimits {
        deadline_ticks: 5,
        ..CallLimits::default()
    };
    let error = runtime(&files, tight).test_json().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ran longer than the host's deadline of 50 ms"),
        "{error}"
    );
}

#[test]
fn an_interrupted_instance_is_stopped_wherever_it_is() {
    // The C-ABI session's instance has the epoch checks compiled in and
    // asks no deadline question: the epoch alone traps the same loop.
    use eligo_runtime::wasm::{AbiCall, AbiSession};
    let files = slow_bundle();
    let tight = CallLimits {
        deadline_ticks: 5,
        ..CallLimits::default()
    };
    let mut session = AbiSession::new(&wasm_engine(), tight).unwrap();
    let load = eligo_core::wire::LoadRequest {
        bundle: eligo_core::wire::BundleSource::Files(
            files
                .iter()
                .map(|(path, text)| (path.to_string(), text.to_string()))
                .collect(),
        ),
        artifact: None,
        tests: false,
    };
    let loaded = session
        .call(AbiCall::Load(&serde_json::to_vec(&load).unwrap()))
        .unwrap();
    assert!(!loaded.is_error, "{}", loaded.text);
    let error = session
        .call(AbiCall::Decide(job_request(1_000_000).as_bytes()))
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("ran longer than the host's deadline of 50 ms"),
        "{message}"
    );
}

#[test]
fn many_threads_share_a_bounded_pool_of_instances() {
    let (native, _) = both(&default_bundle_dir());
    let limits = CallLimits {
        max_instances: 2,
        ..CallLimits::default()
    };
    let runtime = runtime(native.files(), limits);
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

#[test]
fn generated_inputs_decide_identically_in_wasmtime() {
    let (native, runtime) = both(&default_bundle_dir());
    assert_parity(
        &native,
        &Wasmtime(&runtime),
        &generated_requests(8_000, 2_500),
    );
}

/// The generated requests and the bundle's cases through a JavaScript driver.
fn assert_js_parity(script: &'static str) {
    let (native, runtime) = both(&default_bundle_dir());
    let load_request = eligo_core::wire::LoadRequest {
        bundle: eligo_core::wire::BundleSource::Files(
            native
                .files()
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        ),
        artifact: Some(runtime.artifact_sha256().to_string()),
        tests: true,
    };
    drop(runtime);
    let mut requests = generated_requests(8_000, 2_500);
    requests.extend(case_requests(&native));
    let driver = JavaScript {
        script,
        load_request: serde_json::to_string(&load_request).unwrap(),
    };
    assert_parity(&native, &driver, &requests);
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
