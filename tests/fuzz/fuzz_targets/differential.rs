//! The same household decision natively and in the wasm artifact under
//! wasmtime: byte-identical answers, and never a trap.
#![no_main]

use eligo_core::api;
use eligo_fuzz::{household_request, stamped_bundle, wasm_runtime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // Compiling the artifact takes seconds: before the first input's clock.
    init: {
        stamped_bundle();
        wasm_runtime();
    },
    |data: &[u8]| {
        let Some(request) = household_request(data) else {
            return;
        };
        let native = api::decide_json(stamped_bundle(), &request);
        let wasm = wasm_runtime().decide_json(&request);
        match (&native, &wasm) {
            (Ok(native), Ok(wasm)) => assert_eq!(native, wasm.as_str(), "{request}"),
            (Err(native), Err(wasm)) => {
                assert_ne!(
                    wasm.kind.as_str(),
                    "stopped",
                    "wasm trapped on {request}: {wasm}"
                );
                assert_eq!(native, &wasm.to_json(), "{request}");
            }
            _ => panic!("the runtimes disagree on {request}:\nnative {native:?}\nwasm {wasm:?}"),
        }
    }
);
