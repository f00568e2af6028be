//! Hostile bundles, all in one place: rules that run away, bombs of
//! memory, sort tricks, files that are too big or too deep, bundles that
//! reach outside their directory, tampered packs. Every case must end with
//! the answer it is given below, the same bytes natively and in the wasm
//! artifact, with a counted limit (not the host's deadline) deciding it;
//! the one exception is the case that tests the native deadline itself.
//! The whole suite runs in seconds; it prints how long.

use std::path::Path;
use std::time::Instant;

use eligo_core::api;
use eligo_core::wire::ErrorKind;
use eligo_runtime::bundle_dir::{read_bundle, read_bundle_dir};
use eligo_runtime::wasm::{AbiCall, AbiSession, CallLimits};
use eligo_runtime::Decider;
use eligo_tests::{load, tiny_bundle_files, wasm_engine};

/// A load request's JSON for these files.
fn load_request(files: &Files, artifact: &str) -> String {
    let files: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(path, text)| (path.clone(), serde_json::Value::String(text.clone())))
        .collect();
    serde_json::json!({ "files": files, "artifact": artifact }).to_string()
}

/// Loads `request` natively and in a fresh wasm instance, then decides
/// `{ "n": n }` with the `job` entry in both: the answers (or the load
/// refusals) must be the same bytes. Returns the one answer.
fn both_answer(request: &str, n: i64) -> Result<String, String> {
    let mut session = AbiSession::new(&wasm_engine(), CallLimits::default()).unwrap();
    let wasm_load = session
        .call(AbiCall::Load(request.as_bytes()))
        .unwrap_or_else(|e| panic!("the wasm instance trapped loading: {e}"));
    let native = match api::load_json(request) {
        Ok(bundle) => bundle,
        Err(native_error) => {
            assert!(wasm_load.is_error, "wasm loaded what native refused");
            assert_eq!(native_error, wasm_load.text, "the refusals differ");
            return Err(native_error);
        }
    };
    assert!(!wasm_load.is_error, "wasm refused: {}", wasm_load.text);
    let decide = format!(
        r#"{{"entry":"job","input":{{"n":{n}}},"as_of":"2026-11-20T09:00:00+08:00","mode":"strict"}}"#
    );
    let native_answer = api::decide_json(&native, &decide);
    let wasm_answer = session
        .call(AbiCall::Decide(decide.as_bytes()))
        .unwrap_or_else(|e| panic!("the wasm instance trapped deciding: {e}"));
    let wasm_answer = if wasm_answer.is_error {
        Err(wasm_answer.text)
    } else {
        Ok(wasm_answer.text)
    };
    assert_eq!(native_answer, wasm_answer, "the runtimes disagree");
    native_answer
}

/// A bundle's files as (path, text) pairs, unchecked.
type Files = Vec<(String, String)>;

/// The tiny bundle's files with `extra` added or replaced, unchecked (the
/// engine is to judge them).
fn tiny(rules: &str, extra: &[(&str, &str)]) -> Files {
    let mut files: Files = tiny_bundle_files(rules, &[])
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .filter(|(p, _)| !extra.iter().any(|(e, _)| e == p))
        .collect();
    files.extend(extra.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    files
}

/// The error answer's kind and message.
fn error_of(answer: Result<String, String>) -> (String, String) {
    let text = answer.expect_err("an error answer");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let error = &value["error"];
    let mut message = error["message"].as_str().unwrap_or_default().to_string();
    for diagnostic in error["diagnostics"].as_array().into_iter().flatten() {
        message.push('\n');
        message.push_str(&diagnostic.to_string());
    }
    (error["kind"].as_str().unwrap().to_string(), message)
}

const RUNAWAY_RULES: &[(&str, &str, &str)] = &[
    (
        "endless loop",
        "fn decide(input, ctx) { loop { } }",
        "Too many operations",
    ),
    (
        "endless recursion",
        "fn f(x) { f(x + 1) }\nfn decide(input, ctx) { f(0) }",
        "Stack overflow",
    ),
    (
        "recursion through a function pointer",
        "fn decide(input, ctx) { let f = Fn(\"decide\"); f.call(input, ctx) }",
        "Stack overflow",
    ),
    (
        "string doubling",
        "fn decide(input, ctx) { let s = \"xx\"; loop { s += s; } }",
        "Length of string",
    ),
    (
        "array bomb",
        "fn decide(input, ctx) { let a = []; loop { a.push([1, 2, 3]); } }",
        "Size of array",
    ),
    (
        "map bomb",
        "fn decide(input, ctx) { let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; } }",
        "Size of object map",
    ),
    (
        "pad bomb",
        "fn decide(input, ctx) { let a = []; a.pad(100000000, 0); #{} }",
        "Size of array",
    ),
    (
        "deeply nested values compared",
        "fn decide(input, ctx) { let a = []; let b = []; for i in 0..500 { a = [a]; b = [b]; } #{ same: a == b } }",
        "nested deeper than 64",
    ),
    (
        "nested sorts",
        "fn decide(input, ctx) { let a = []; for i in 0..300 { a.push(i); } a.sort(|x, y| { let b = []; for j in 0..300 { b.push(j); } b.sort(|p, q| q - p); y - x }); #{} }",
        "Too many operations",
    ),
    (
        "a sort comparator that throws",
        "fn decide(input, ctx) { let a = [3, 1, 2]; a.sort(|x, y| { throw \"comparator broke\"; }); #{ a: a } }",
        "comparator broke",
    ),
    (
        "integer overflow",
        "fn decide(input, ctx) { let x = 9223372036854775807; #{ x: x + input.n + 1 } }",
        "overflow",
    ),
    (
        "division by zero",
        "fn decide(input, ctx) { #{ x: 1 / input.n } }",
        "Division by zero",
    ),
    (
        "a result nested too deep",
        "fn decide(input, ctx) { let m = #{}; for i in 0..200 { m = #{ m: m }; } m }",
        "nested more than 32 levels deep",
    ),
];

/// Bundles that load but whose rules run away: each stops with a located
/// rule error from a counted limit, the same in both runtimes.
fn runaway_rules() {
    for (name, rules, message) in RUNAWAY_RULES {
        let answer = both_answer(&load_request(&tiny(rules, &[]), "sha256:x"), 0);
        let (kind, text) = error_of(answer);
        assert_eq!(kind, "rule_error", "{name}: {text}");
        assert!(text.contains(message), "{name}: {text}");
    }
}

/// Bundles refused when they load, with the same diagnostics from both.
fn refused_bundles() {
    let deep_expression = format!(
        "fn decide(input, ctx) {{ #{{ x: {}1{} }} }}",
        "(".repeat(300),
        ")".repeat(300)
    );
    let zero_limit = "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n[limits]\nmax_operations = 0\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n";
    let deep_yaml = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let alias_bomb = (1..40).fold("a0: &a0 [x]\n".to_string(), |text, n| {
        format!("{text}a{n}: &a{n} [*a{m}, *a{m}]\n", m = n - 1)
    });
    let huge_file = "# padding\n".repeat((1 << 20) / 10 + 1);
    let filler = "# padding\n".repeat((1 << 20) / 10 - 1);
    let ok = "fn decide(input, ctx) { #{ ok: ctx.fire(\"OK\", #{ n: input.n }) } }";
    let cases: Vec<(&str, Files, &str)> = vec![
        (
            "an expression nested 300 deep",
            tiny(&deep_expression, &[]),
            "rhai-syntax",
        ),
        (
            "a call to a function that does not exist",
            tiny("fn decide(input, ctx) { #{ x: no_such_function(1) } }", &[]),
            "rhai-undefined-function",
        ),
        (
            "a message placeholder no call gives",
            tiny(
                ok,
                &[(
                    "messages/en.toml",
                    "[rules]\nOK = \"{n} {missing}\"\nBIG = \"big\"\n",
                )],
            ),
            "message-placeholder",
        ),
        (
            "an operation limit of 0 (no limit, to Rhai)",
            tiny(ok, &[("bundle.toml", zero_limit)]),
            "manifest-limit",
        ),
        (
            "a test file nested 100 deep",
            tiny(ok, &[("tests/deep.yaml", &deep_yaml)]),
            "nested more than 64 levels deep",
        ),
        (
            "an alias bomb in a test file (each alias doubling the one before)",
            tiny(ok, &[("tests/bomb.yaml", &alias_bomb)]),
            "aliases (`*name`) are not read",
        ),
        (
            "a test case given one key twice",
            tiny(
                ok,
                &[(
                    "tests/twice.yaml",
                    "cases:\n  - name: a\n    name: b\n    input: {}\n    expect: {}\n",
                )],
            ),
            "the key `name` is given twice",
        ),
        (
            "a file over 1 MiB",
            tiny(ok, &[("params/huge.toml", &huge_file)]),
            "file-size",
        ),
        (
            "files over 4 MiB together",
            tiny(
                ok,
                &[
                    ("params/a.toml", &filler),
                    ("params/b.toml", &filler),
                    ("params/c.toml", &filler),
                    ("params/d.toml", &filler),
                    ("params/e.toml", &filler),
                ],
            ),
            "bundle-size",
        ),
        (
            "two names for one file",
            tiny(ok, &[("messages\\en.toml", "[rules]\n")]),
            "names the same file",
        ),
        (
            "a NUL in a file name",
            tiny(ok, &[("params/a\u{0}.toml", "")]),
            "may not contain",
        ),
        (
            "a path out of the bundle",
            tiny(ok, &[("../outside.toml", "")]),
            "stay inside the bundle",
        ),
    ];
    for (name, files, expected) in cases {
        let (kind, text) = error_of(both_answer(&load_request(&files, "sha256:x"), 0));
        assert_eq!(kind, "bundle_error", "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
    }
}

/// A bundle at the size limits, four files of 1 MiB of parameters, loads
/// in the wasm instance's memory as it loads natively: the limits are set
/// so that the core, not the host's memory cap, decides.
fn bundle_at_the_size_limits() {
    let mut params = String::new();
    let mut files = tiny(
        "fn decide(input, ctx) { #{ ok: ctx.fire(\"OK\", #{ n: input.n }), p: ctx.param(\"p0_0\") } }",
        &[],
    );
    for file in 0..4 {
        params.clear();
        let mut n = 0;
        while params.len() < (1 << 20) - 1000 {
            params.push_str(&format!(
                "[p{file}_{n}]\ntype = \"integer\"\nvalues = [{{ from = \"2023-09-01\", value = {n}, source = \"s\" }}]\n"
            ));
            n += 1;
        }
        files.push((format!("params/p{file}.toml"), params.clone()));
    }
    let answer = both_answer(&load_request(&files, "sha256:x"), 3).unwrap();
    assert!(answer.contains("\"p\":0"), "{answer}");
}

/// Packed bundles that were tampered with are refused in both runtimes.
fn tampered_packs() {
    let bundle = load(tiny_bundle_files(
        "fn decide(input, ctx) { #{ ok: ctx.fire(\"OK\", #{ n: input.n }) } }",
        &[],
    ));
    let packed: serde_json::Value = serde_json::from_str(&api::pack_json(&bundle)).unwrap();
    let edit = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut value = packed.clone();
        change(&mut value);
        value.to_string()
    };
    // A pack without its hash is not a pack at all (the request is
    // malformed); one whose hash does not fit its files is a bad bundle.
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "a file changed",
            edit(&|v| v["files"]["job.rhai"] = "fn decide(input, ctx) { #{} }".into()),
            "bundle_error",
            "packed-hash",
        ),
        (
            "the hash removed",
            edit(&|v| {
                v.as_object_mut().unwrap().remove("hash");
            }),
            "bad_request",
            "needs all of `format`, `name`, `version` and `hash`",
        ),
        (
            "the hash null",
            edit(&|v| v["hash"] = serde_json::Value::Null),
            "bad_request",
            "hash",
        ),
        (
            "the name changed",
            edit(&|v| v["name"] = "other".into()),
            "bundle_error",
            "name",
        ),
        (
            "a file added",
            edit(&|v| v["files"]["params/extra.toml"] = "".into()),
            "bundle_error",
            "packed-hash",
        ),
    ];
    for (name, request, expected_kind, expected) in cases {
        let (kind, text) = error_of(both_answer(&request, 0));
        assert_eq!(kind, expected_kind, "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
    }
    // Untouched, it loads and decides in both.
    let answer = both_answer(&packed.to_string(), 7).unwrap();
    assert!(answer.contains("\"ok\":\"OK\""), "{answer}");
}

/// Bundle directories that reach outside themselves are refused before a
/// byte outside is read.
#[cfg(unix)]
fn escaping_directories() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let write_bundle = |dir: &Path, extends: Option<&str>| {
        std::fs::create_dir_all(dir.join("params")).unwrap();
        let extends = extends.map_or(String::new(), |e| format!("extends = \"{e}\"\n"));
        std::fs::write(
            dir.join("bundle.toml"),
            format!("{extends}name = \"t\"\nversion = \"1\"\nlanguages = [\"en\"]\n"),
        )
        .unwrap();
    };
    let refused = |dir: &Path| match read_bundle_dir(dir) {
        Ok(_) => panic!("{} was read", dir.display()),
        Err(error) => error.to_string(),
    };

    let linked = tmp.path().join("linked");
    write_bundle(&linked, None);
    symlink("/etc/passwd", linked.join("params/passwd.toml")).unwrap();
    assert!(refused(&linked).contains("link"), "{}", refused(&linked));

    let linked_dir = tmp.path().join("linked_dir");
    write_bundle(&linked_dir, None);
    symlink("/etc", linked_dir.join("tests")).unwrap();
    assert!(refused(&linked_dir).contains("link"));

    let to_etc = tmp.path().join("to_etc");
    write_bundle(&to_etc, Some("/etc"));
    assert!(refused(&to_etc).contains("extends"), "{}", refused(&to_etc));

    let not_a_bundle = tmp.path().join("not_a_bundle");
    std::fs::create_dir_all(tmp.path().join("plain")).unwrap();
    write_bundle(&not_a_bundle, Some("../plain"));
    assert!(
        refused(&not_a_bundle).contains("bundle.toml"),
        "{}",
        refused(&not_a_bundle)
    );

    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_bundle(&a, Some("../b"));
    write_bundle(&b, Some("../a"));
    assert!(refused(&a).contains("extends"), "{}", refused(&a));

    // A 200 MB parameter file (sparse: it costs no disk) is refused after
    // reading one byte past the limit, not 200 MB.
    let big = tmp.path().join("big");
    write_bundle(&big, None);
    let file = std::fs::File::create(big.join("params/huge.toml")).unwrap();
    file.set_len(200 << 20).unwrap();
    let text = refused(&big);
    assert!(text.contains("1 MiB"), "{text}");

    // And a 200 MB packed bundle file likewise.
    let packed = tmp.path().join("huge.json");
    std::fs::File::create(&packed)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let text = read_bundle(&packed).unwrap_err().to_string();
    assert!(
        text.contains("bundle-size") || text.contains("over"),
        "{text}"
    );
}

/// A rule that only the host's deadline can stop (the operation limit at
/// its ceiling, each operation slow) is stopped natively too: `stopped`,
/// with where the rules were.
fn native_deadline() {
    // Ten million operations take seconds at any speed Rhai has; the
    // deadline, 200 ms, comes first.
    let manifest = "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n[limits]\nmax_operations = 10000000\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n";
    let slow = "fn decide(input, ctx) {\n  let i = 0;\n  loop { i += 1; }\n}";
    let bundle = load(tiny_bundle_files(slow, &[("bundle.toml", manifest)]));
    let decider = Decider::native(bundle, 1)
        .unwrap()
        .with_native_deadline(std::time::Duration::from_millis(200));
    let error = decider
        .decide(
            0,
            &eligo_tests::request(
                "job",
                &serde_json::json!({ "n": 1 }),
                "2026-11-20T09:00:00+08:00",
                eligo_core::Mode::Strict,
                None,
            ),
        )
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Stopped, "{error}");
    assert_eq!(error.location.map(|l| l.file).as_deref(), Some("job.rhai"));
}

#[test]
fn every_hostile_bundle_ends_with_its_answer_the_same_in_both_runtimes() {
    let started = Instant::now();
    wasm_engine();
    runaway_rules();
    refused_bundles();
    bundle_at_the_size_limits();
    tampered_packs();
    #[cfg(unix)]
    escaping_directories();
    native_deadline();
    eprintln!(
        "hostile bundles: {} runaway rules, 10 refused bundles, 1 at the size limits, 5 tampered packs, 7 escaping directories, 1 deadline: {:.1} s",
        RUNAWAY_RULES.len(),
        started.elapsed().as_secs_f64()
    );
}
