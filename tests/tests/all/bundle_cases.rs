//! The default bundle's own test cases: all pass, every rule is covered, and
//! every case's envelope (or error) is pinned by a snapshot.

use eligo_core::test_run::actual_of;
use eligo_core::{run_tests, Bundle};
use eligo_tests::{default_bundle, default_bundle_dir, files_of, load, variant_bundle_dir};

fn assert_cases_pass(bundle: &Bundle) {
    let report = run_tests(bundle).unwrap_or_else(|e| panic!("{e}"));
    let failures: Vec<String> = report
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "{}:{} {}\n{:#?}\n{:?}",
                c.file, c.line, c.name, c.mismatches, c.actual
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
    assert!(report.passed > 0);
}

#[test]
fn default_bundle_cases_pass_and_cover_every_rule() {
    let bundle = default_bundle();
    assert_cases_pass(&bundle);
    let report = run_tests(&bundle).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.uncovered_rules.is_empty(),
        "rules no case fires: {:?}",
        report.uncovered_rules
    );
    assert_eq!(
        bundle.rules().len(),
        24,
        "every rule of DEFAULT-POLICY.md is declared"
    );
}

#[test]
fn variant_bundle_cases_pass() {
    assert_cases_pass(&load(files_of(&variant_bundle_dir())));
}

/// One snapshot per test file: every case's envelope, in file order.
fn snapshot_bundle(bundle: &Bundle, label: &str) {
    for test_file in bundle.tests().expect("loaded with its tests") {
        let mut text = String::new();
        for case in &test_file.cases {
            let outcome = bundle.decide(&case.request());
            let mut actual = actual_of(&outcome);
            // The hash changes with any edit to the bundle; it is tested on
            // its own, so snapshots stay about decisions.
            if let Some(policy) = actual.get_mut("policy") {
                policy["hash"] = serde_json::Value::from("(bundle hash)");
            }
            text.push_str(&format!("## {}\n", case.name));
            text.push_str(&serde_json::to_string_pretty(&actual).expect("serialises"));
            text.push_str("\n\n");
        }
        let stem = test_file
            .file
            .trim_start_matches("tests/")
            .trim_end_matches(".yaml")
            .to_string();
        insta::assert_snapshot!(format!("{label}__{stem}"), text);
    }
}

#[test]
fn default_bundle_envelopes_match_snapshots() {
    snapshot_bundle(&default_bundle(), "default");
}

#[test]
fn variant_bundle_envelopes_match_snapshots() {
    snapshot_bundle(&load(files_of(&variant_bundle_dir())), "quarterly");
}

#[test]
fn the_variant_differs_from_the_default_only_in_data() {
    let base = files_of(&default_bundle_dir());
    let variant = files_of(&variant_bundle_dir());
    let differing: Vec<&str> = variant
        .iter()
        .filter(|(path, text)| base.get(path) != Some(*text))
        .map(|(path, _)| path)
        .collect();
    assert!(
        differing
            .iter()
            .all(|p| p.ends_with(".toml") || p.starts_with("tests/")),
        "only data files may differ: {differing:?}"
    );
    assert!(differing.contains(&"params/visits.toml"));
    for (path, text) in base.iter().filter(|(p, _)| p.ends_with(".rhai")) {
        assert_eq!(variant.get(path), Some(text), "{path} must be shared");
    }
}

/// Loaded for deciding only (`tests: false`): the same hash and the same
/// answer bytes for every case, and running its tests is refused, not
/// reported as nothing failing.
#[test]
fn a_bundle_loaded_without_its_tests_decides_alike_and_refuses_to_test() {
    use eligo_core::api;
    use eligo_core::wire::{BundleSource, ErrorKind, LoadRequest};
    let full = default_bundle();
    let request = |tests| LoadRequest {
        bundle: BundleSource::Packed(api::pack(&full)),
        artifact: None,
        tests,
    };
    let lean = api::load(request(false)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lean.hash(), full.hash());
    assert!(lean.tests().is_none());
    let requests = eligo_tests::parity::case_requests(&full);
    assert!(requests.len() > 50, "{} cases", requests.len());
    for request in &requests {
        assert_eq!(
            api::decide_json(&lean, request),
            api::decide_json(&full, request)
        );
    }
    let refused = api::test(&lean).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::BadRequest);
    assert!(refused.message.contains("without its tests"), "{refused}");
    // Its copies for other threads are made the same way.
    assert!(lean.duplicate().unwrap().tests().is_none());
    // The default stays: a request without the field parses its tests.
    let text = serde_json::to_string(&request(true)).unwrap();
    assert!(!text.contains("\"tests\""));
    assert!(api::load_json(&text).unwrap().tests().is_some());
}
