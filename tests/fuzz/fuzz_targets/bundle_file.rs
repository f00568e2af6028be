//! One file of the default bundle replaced by the fuzzer's bytes (the
//! first byte picks which: rules, parameters, schema, manifest, messages,
//! tests). The bundle loads, or is refused with located diagnostics; a
//! bundle that loads decides the example household and runs its tests
//! without a panic.
#![no_main]

use eligo_core::{api, Bundle, BundleFiles};
use eligo_fuzz::{assert_located, assert_wire_answer, default_files, repo_root, AS_OF};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((pick, content)) = data.split_first() else {
        return;
    };
    let files = default_files();
    let names: Vec<&str> = files.iter().map(|(path, _)| path).collect();
    let name = names[*pick as usize % names.len()];
    let pairs = files.iter().map(|(path, text)| {
        let bytes = if path == name {
            content
        } else {
            text.as_bytes()
        };
        (path.to_string(), bytes.to_vec())
    });
    let mutated = match BundleFiles::from_pairs(pairs) {
        Ok(mutated) => mutated,
        Err(problems) => return assert_located(&problems, files),
    };
    match Bundle::load(mutated.clone()) {
        Err(problems) => assert_located(&problems, &mutated),
        Ok(bundle) => {
            let input = std::fs::read_to_string(repo_root().join("examples/household.json"))
                .expect("the example household");
            for entry in bundle.entries() {
                let request = format!(
                    r#"{{"entry":"{entry}","as_of":"{AS_OF}","mode":"partial","input":{input}}}"#
                );
                assert_wire_answer(&api::decide_json(&bundle, &request), &request);
            }
            let _ = api::test_json(&bundle);
        }
    }
});
