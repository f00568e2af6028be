//! The compiled evaluator against Rhai, the reference: the same envelope
//! bytes (or the same error) and the same operation count for every test
//! case of the default bundle and its variant, and for thousands of
//! generated households and communities in every mode and language.

use eligo_core::{sandbox, Bundle, DecideRequest, Mode};
use eligo_tests::generate::{community, household, Rng, AS_OF};
use eligo_tests::{default_bundle, files_of, load, request, variant_bundle_dir};

/// Decides `request` both ways and fails with what differs. Returns
/// whether the compiled evaluator answered without falling back.
fn agree(bundle: &Bundle, request: &DecideRequest, label: &str) -> bool {
    let fast = bundle.decide(request).map(|e| e.to_json());
    let fast_operations = sandbox::operations();
    let compiled = sandbox::last_run_compiled();
    let reference = bundle.decide_in_rhai(request).map(|envelope| {
        let text = envelope.to_json();
        let derived = serde_json::to_string(&envelope).unwrap();
        assert_eq!(text, derived, "{label}: to_json differs from Serialize");
        text
    });
    let reference_operations = sandbox::operations();
    match (&fast, &reference) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{label}: envelopes differ"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{label}: errors differ"),
        _ => panic!("{label}: compiled {fast:?}\nRhai {reference:?}"),
    }
    if fast.is_ok() {
        assert_eq!(
            fast_operations, reference_operations,
            "{label}: operation counts differ"
        );
    }
    compiled
}

/// A tiny bundle's `job` decision for `{ "n": n }`.
fn job(n: i64) -> DecideRequest {
    request(
        "job",
        &serde_json::json!({ "n": n }),
        AS_OF,
        Mode::Strict,
        None,
    )
}

fn bundle_cases_agree(bundle: &Bundle) -> (usize, usize) {
    let (mut cases, mut compiled) = (0, 0);
    for file in bundle.tests().expect("the bundle's tests") {
        for case in &file.cases {
            let label = format!("{}:{} {}", file.file, case.line, case.name);
            cases += 1;
            compiled += usize::from(agree(bundle, &case.request(), &label));
        }
    }
    (cases, compiled)
}

#[test]
fn the_default_bundle_compiles_every_entry() {
    let bundle = default_bundle();
    assert_eq!(bundle.compiled_entries(), ["community", "household"]);
}

#[test]
fn every_test_case_decides_alike_in_both_evaluators() {
    let (mut cases, mut compiled) = (0, 0);
    for bundle in [default_bundle(), load(files_of(&variant_bundle_dir()))] {
        let (c, n) = bundle_cases_agree(&bundle);
        cases += c;
        compiled += n;
    }
    assert!(cases > 80, "only {cases} cases");
    // Cases refused before the rules run (invalid input) never reach
    // either evaluator; every other case must have run compiled.
    assert!(
        compiled * 10 >= cases * 8,
        "{compiled} of {cases} ran compiled"
    );
}

#[test]
fn generated_inputs_decide_alike_in_both_evaluators() {
    let bundle = default_bundle();
    let mut rng = Rng(0x5eed_c0de_0000_0011);
    let mut compiled = 0;
    let total = 1500;
    for index in 0..total {
        let (entry, input) = if index % 5 == 4 {
            ("community", community(&mut rng, index))
        } else {
            ("household", household(&mut rng, index))
        };
        let mode = if index % 2 == 0 {
            Mode::Partial
        } else {
            Mode::Strict
        };
        let lang = if index % 3 == 0 { Some("en") } else { None };
        let request = request(entry, &input, AS_OF, mode, lang);
        compiled += usize::from(agree(&bundle, &request, &format!("{entry} {input}")));
    }
    assert!(
        compiled * 10 >= total * 9,
        "{compiled} of {total} ran compiled"
    );
}

/// Rules that end in each kind of failure the compiled evaluator hands to
/// Rhai, and one it finishes itself: both ways give the same answer, and
/// the failures carry Rhai's message and position.
#[test]
fn failures_read_the_same_from_both_evaluators() {
    use eligo_tests::tiny_bundle_files;
    let limits = "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n\
                  [limits]\nmax_operations = 400\nmax_call_depth = 8\nmax_map_size = 20\n\
                  [entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n";
    let scripts = [
        // A message placeholder the rule did not give: found after the rules ran.
        ("fn decide(input, ctx) { let args = #{ m: input.n };\n\
          #{ r: ctx.fire(\"OK\", args) } }", true),
        // A type mismatch.
        ("fn decide(input, ctx) { let x = input.n + \"a\"; #{ x: x } }", false),
        // Arithmetic overflow.
        ("fn decide(input, ctx) { #{ x: input.n * 9223372036854775807 } }", false),
        // A missing property.
        ("fn decide(input, ctx) { #{ x: input.nope } }", false),
        // Too deep.
        ("fn deep(x) { if x > 0 { deep(x - 1) } else { 0 } }\n\
          fn decide(input, ctx) { #{ x: deep(input.n) } }", false),
        // Too many operations.
        ("fn decide(input, ctx) { let a = [1, 2, 3, 4, 5, 6, 7, 8]; let t = 0;\n\
          for i in a { for j in a { for k in a { t += i * j * k; } } } #{ t: t } }", false),
        // A map grown past its limit.
        ("fn decide(input, ctx) { let m = #{}; let keys = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\"];\n\
          for k in keys { m[k] = #{ x: 1, y: 2, z: 3 }; } #{ m: m } }", false),
    ];
    for (script, compiled_when_small) in scripts {
        let bundle = load(tiny_bundle_files(script, &[("bundle.toml", limits)]));
        assert_eq!(bundle.compiled_entries(), ["job"], "{script}");
        for n in [0, 3, 20] {
            let compiled = agree(&bundle, &job(n), &format!("{script} n={n}"));
            if n == 0 && compiled_when_small {
                assert!(compiled, "{script} did not run compiled");
            }
        }
    }
}

/// Rules outside the compiled subset still decide (in Rhai), and loading
/// says what and where; the default bundle has no such warning.
#[test]
fn rules_outside_the_subset_are_named_with_their_line() {
    use eligo_tests::tiny_bundle_files;
    let script = "fn decide(input, ctx) {\n    let i = 0;\n    while i < input.n { i += 1; }\n    #{ ok: ctx.fire(\"OK\", #{ n: i }), big: ctx.fire(\"BIG\") }\n}\n";
    let bundle = load(tiny_bundle_files(script, &[]));
    assert!(bundle.compiled_entries().is_empty());
    let warning = bundle
        .warnings()
        .iter()
        .find(|w| w.code == "rules-interpreted")
        .expect("a rules-interpreted warning");
    assert_eq!(
        (warning.file.as_str(), warning.line, warning.column),
        ("job.rhai", 3, 5)
    );
    assert!(warning.message.contains("`while`"), "{}", warning.message);
    assert!(bundle.decide(&job(3)).is_ok());
    assert!(!sandbox::last_run_compiled());
    assert!(default_bundle()
        .warnings()
        .iter()
        .all(|w| w.code != "rules-interpreted"));
}
/// The call limit holds at the same depth in both evaluators: the
/// compiled one runs every depth Rhai allows and hands over the first it
/// refuses.
#[test]
fn the_call_limit_is_the_same_depth_in_both_evaluators() {
    use eligo_tests::tiny_bundle_files;
    let limits = "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n\
                  [limits]\nmax_call_depth = 8\n\
                  [entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n";
    let script = "fn deep(x) { if x > 0 { deep(x - 1) } else { 0 } }\n\
                  fn decide(input, ctx) { #{ x: deep(input.n), ok: ctx.fire(\"OK\", #{ n: 1 }), big: ctx.fire(\"BIG\") } }";
    let bundle = load(tiny_bundle_files(script, &[("bundle.toml", limits)]));
    for n in 0..12 {
        let compiled = agree(&bundle, &job(n), &format!("deep({n})"));
        let decided = bundle.decide(&job(n)).is_ok();
        // decide plus eight nested calls is the deepest Rhai allows.
        assert_eq!(decided, n <= 7, "deep({n})");
        assert_eq!(compiled, decided, "deep({n}) ran compiled: {compiled}");
    }
}

/// Literal arrays and maps cost what Rhai charges for them: one operation
/// as a call's argument (Rhai takes the whole literal at once), one per
/// item too anywhere else; nested, as operands and as method arguments.
#[test]
fn literal_arrays_and_maps_cost_the_same_operations_in_both_evaluators() {
    use eligo_tests::tiny_bundle_files;
    let script = "fn pick(a, m) { a.len() + m.y.z.len() }\n\
                  fn decide(input, ctx) {\n\
                  let a = [1, 2, [3, 4]];\n\
                  let m = #{ p: 1, q: [2, 3], r: #{ s: 4 } };\n\
                  let same = \"k\" in #{ k: 1 } && -[1, 2].len() < 0;\n\
                  let n = pick([1, 2, 3], #{ x: 1, y: #{ z: [1] } }) + a.len() + m.q.len();\n\
                  let b = [];\n\
                  b.push([input.n, 2]);\n\
                  b.push([5, 6]);\n\
                  #{ x: n + len([7, 8, 9]) + b.len(), same: same, ok: ctx.fire(\"OK\", #{ n: 1 }), big: ctx.fire(\"BIG\") }\n\
                  }";
    let bundle = load(tiny_bundle_files(script, &[]));
    let interpreted: Vec<_> = bundle
        .warnings()
        .iter()
        .filter(|w| w.code == "rules-interpreted")
        .collect();
    assert!(interpreted.is_empty(), "{interpreted:?}");
    for n in 0..3 {
        assert!(agree(&bundle, &job(n), &format!("literals({n})")));
    }
    // Literals are built when the rules compile; the items and entries
    // they place still count against the size limits, at the same point.
    let script = "fn decide(input, ctx) {\n\
                  let a = [1, [2, 3], #{ k: [4] }];\n\
                  let m = #{ p: [5, 6], q: #{ r: 7, s: [] } };\n\
                  #{ a: a, m: m, ok: ctx.fire(\"OK\", #{ n: 1 }), big: ctx.fire(\"BIG\") }\n\
                  }";
    let tight_items = (4..=24).map(|items| (items, 100));
    let tight_entries = (5..=24).map(|entries| (100, entries));
    let mut outcomes = std::collections::BTreeSet::new();
    for (items, entries) in tight_items.chain(tight_entries) {
        let limits = format!(
            "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n\
             [limits]\nmax_array_size = {items}\nmax_map_size = {entries}\n\
             [entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n"
        );
        let bundle = load(tiny_bundle_files(script, &[("bundle.toml", &limits)]));
        let label = format!("literals under {items} items, {entries} entries");
        // The compiled evaluator's count of sizes is an upper bound: it
        // may hand a decision over to Rhai early, never answer one that
        // Rhai refuses (`agree` fails on that).
        let compiled = agree(&bundle, &job(1), &label);
        let decided = bundle.decide(&job(1)).is_ok();
        assert!(decided || !compiled, "{label}");
        if items.min(entries) == 24 {
            assert!(compiled, "{label}");
        }
        outcomes.insert(decided);
    }
    // Both ways happen: the limits are met and broken.
    assert_eq!(outcomes.len(), 2);
}
