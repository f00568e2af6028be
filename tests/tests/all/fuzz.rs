//! Differential random testing, bounded so it runs in every test run:
//! mutated decision inputs must get byte-identical answers from the native
//! core and from the artifact in wasmtime (never a trap, never a panic),
//! and mutated bundle files must load or be refused with diagnostics, in
//! both, never crash. Fixed seeds: a failure reproduces; each one found
//! becomes a regression case here. `ELIGO_FUZZ_INPUTS` and
//! `ELIGO_FUZZ_BUNDLES` run longer.

use std::panic::{catch_unwind, AssertUnwindSafe};

use eligo_core::{api, Bundle, BundleFiles};
use eligo_runtime::wasm::{CallLimits, WasmRuntime};
use eligo_tests::generate::{household, Rng, AS_OF};
use eligo_tests::{default_bundle_dir, files_of, load, repo_root, wasm_engine};

fn iterations(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Values that have broken parsers and engines before.
const NASTY: &[&str] = &[
    "null",
    "true",
    "-0",
    "0.0000000000000000000000000001",
    "1e400",
    "-1e-400",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "1.005",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"日本語\"",
    "[]",
    "{}",
    "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]",
    "\"2026-02-30\"",
    "\"9999-12-31\"",
    "\"0000-01-01\"",
    "\"2026-11-20T09:00:00+08:00\"",
    "\"2026-11-20T25:00:00Z\"",
    "130",
    "131",
    "-1",
    "1000.00",
    "999.99",
    "20",
    "21",
];

/// One mutation of a JSON text, at the text level (so it may stop being
/// JSON, or name a key twice).
fn mutate(rng: &mut Rng, text: &str) -> String {
    let bytes = text.as_bytes();
    let at = |rng: &mut Rng| rng.below(bytes.len() as u64 + 1) as usize;
    let char_floor = |i: usize| {
        (0..=i)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0)
    };
    match rng.below(8) {
        // Replace a scalar value after a colon with a nasty one.
        0..=2 => {
            let colons: Vec<usize> = text.match_indices(':').map(|(i, _)| i).collect();
            if colons.is_empty() {
                return text.to_string();
            }
            let start = colons[rng.below(colons.len() as u64) as usize] + 1;
            let rest = &text[start..];
            let end = rest.find([',', '}', ']']).map_or(text.len(), |e| start + e);
            let value = NASTY[rng.below(NASTY.len() as u64) as usize];
            format!("{}{value}{}", &text[..start], &text[end..])
        }
        // Name a key twice: repeat a `"key":value,` segment.
        3 => {
            let Some(start) = text.find("{\"").map(|i| i + 1) else {
                return text.to_string();
            };
            let end = text[start..].find(',').map_or(start, |e| start + e + 1);
            format!("{}{}{}", &text[..end], &text[start..end], &text[end..])
        }
        // Delete a span.
        4 => {
            let (a, b) = (char_floor(at(rng)), char_floor(at(rng)));
            let (a, b) = (a.min(b), a.max(b));
            format!("{}{}", &text[..a], &text[b..])
        }
        // Insert structure or junk.
        5 => {
            let i = char_floor(at(rng));
            let junk = [
                "{", "}", "[", "]", ",", "\"", ":", "\\", "\u{feff}", "\r", "null", "\"a\":1,",
            ];
            format!(
                "{}{}{}",
                &text[..i],
                junk[rng.below(junk.len() as u64) as usize],
                &text[i..]
            )
        }
        // Nest the whole input.
        6 => format!("{{\"id\":\"n\",\"members\":[{text}]}}"),
        // Truncate.
        _ => text[..char_floor(at(rng))].to_string(),
    }
}

#[test]
fn mutated_inputs_get_identical_answers_natively_and_in_wasmtime() {
    let files = files_of(&default_bundle_dir());
    let runtime = WasmRuntime::new(wasm_engine(), &files, CallLimits::default()).unwrap();
    let mut native = load(files);
    native.set_artifact(Some(runtime.artifact_sha256().to_string()));
    let mut rng = Rng(0xf022_0000_0000_0001);
    let seeds: Vec<String> = (0..50)
        .map(|i| household(&mut rng, i).to_string())
        .chain([std::fs::read_to_string(repo_root().join("examples/household.json")).unwrap()])
        .collect();
    let runs = iterations("ELIGO_FUZZ_INPUTS", 4_000);
    let mut refused = 0;
    for n in 0..runs {
        let mut text = seeds[n % seeds.len()].clone();
        for _ in 0..rng.below(3) {
            text = mutate(&mut rng, &text);
        }
        let mode = if rng.chance(50) { "partial" } else { "strict" };
        let request =
            format!(r#"{{"entry":"household","input":{text},"as_of":"{AS_OF}","mode":"{mode}"}}"#);
        let expected = catch_unwind(AssertUnwindSafe(|| api::decide_json(&native, &request)))
            .unwrap_or_else(|_| panic!("the native core panicked on {request}"));
        let actual = runtime.decide_json(&request);
        match (&expected, &actual) {
            (Ok(e), Ok(a)) => assert_eq!(e, a.as_str(), "{request}"),
            (Err(e), Err(a)) => {
                refused += 1;
                assert_ne!(a.kind.as_str(), "stopped", "wasm trapped on {request}: {a}");
                assert_eq!(e, &a.to_json(), "{request}");
            }
            _ => {
                panic!("the runtimes disagree on {request}:\nnative {expected:?}\nwasm {actual:?}")
            }
        }
    }
    eprintln!("{runs} mutated inputs, {refused} refused, all identical in both runtimes");
}

/// One mutation of a text file: lines dropped, doubled or cut, characters
/// that break parsers inserted.
fn mutate_file(rng: &mut Rng, text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let i = rng.below(lines.len() as u64) as usize;
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match rng.below(6) {
        0 => {
            out.remove(i);
        }
        1 => out.insert(i, lines[i].to_string()),
        2 => {
            let cut = (0..=lines[i].len() / 2)
                .rev()
                .find(|&c| lines[i].is_char_boundary(c))
                .unwrap_or(0);
            out[i] = lines[i][..cut].to_string();
        }
        3 => {
            let junk = [
                "{", "}", "(", ")", "[", "\"", "'", "=", "#{", "\t", "\r", "fn ", "let = ",
                "[[x]]", "- ", ": :", "\u{0}",
            ];
            out[i] = format!(
                "{}{}",
                lines[i],
                junk[rng.below(junk.len() as u64) as usize]
            );
        }
        4 => out.truncate(i),
        _ => return text.replace('\n', "\r"),
    }
    out.join("\n")
}

#[test]
fn mutated_bundle_files_are_refused_with_diagnostics_never_a_crash() {
    let files = files_of(&default_bundle_dir());
    let names: Vec<String> = files.iter().map(|(p, _)| p.to_string()).collect();
    let engine = wasm_engine();
    let mut rng = Rng(0xb0d1_e000_0000_0007);
    let runs = iterations("ELIGO_FUZZ_BUNDLES", 150);
    let (mut refused, mut loaded) = (0, 0);
    for _ in 0..runs {
        let name = &names[rng.below(names.len() as u64) as usize];
        let mutated = mutate_file(&mut rng, files.get(name).unwrap());
        let pairs: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| {
                (
                    p.to_string(),
                    if p == name {
                        mutated.clone()
                    } else {
                        t.to_string()
                    },
                )
            })
            .collect();
        let Ok(mutated_files) = BundleFiles::from_pairs(pairs) else {
            refused += 1;
            continue;
        };
        let native = catch_unwind(AssertUnwindSafe(|| Bundle::load(mutated_files.clone())))
            .unwrap_or_else(|_| panic!("loading panicked with {name} mutated:\n{mutated}"));
        match native {
            Err(problems) => {
                refused += 1;
                assert!(!problems.is_empty());
                for problem in &problems {
                    // Every diagnostic names a file; a position, when given, is inside it.
                    assert!(!problem.file.is_empty(), "{problem}");
                    if let Some(text) = mutated_files.get(&problem.file) {
                        assert!(problem.line <= text.split('\n').count() + 1, "{problem}");
                    }
                }
                // The artifact refuses it too, with the same kind, without trapping.
                let wasm = WasmRuntime::new(engine.clone(), &mutated_files, CallLimits::default());
                assert!(wasm.is_err(), "wasm loaded what native refused ({name})");
            }
            Ok(bundle) => {
                loaded += 1;
                let report = catch_unwind(AssertUnwindSafe(|| api::test(&bundle)))
                    .unwrap_or_else(|_| panic!("tests panicked with {name} mutated"))
                    .unwrap_or_else(|e| panic!("{e}"));
                let wasm = WasmRuntime::new(engine.clone(), &mutated_files, CallLimits::default())
                    .unwrap_or_else(|e| panic!("native loaded but wasm refused ({name}): {e}"));
                let wasm_report: eligo_core::TestReport =
                    serde_json::from_str(&wasm.test_json().unwrap()).unwrap();
                assert_eq!(report.passed, wasm_report.passed, "{name}");
            }
        }
    }
    eprintln!(
        "{runs} mutated bundles: {refused} refused with diagnostics, {loaded} loaded; no crash"
    );
}
