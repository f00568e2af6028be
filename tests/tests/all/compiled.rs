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
    let reference = bundle.decide_in_rhai(request).map(|e| e.to_json());
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
