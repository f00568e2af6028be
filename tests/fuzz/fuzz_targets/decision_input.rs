//! A household decision's input, natively: any bytes must get an envelope
//! that round-trips or an error answer, never a panic or a hang.
#![no_main]

use eligo_core::api;
use eligo_fuzz::{assert_wire_answer, default_bundle, household_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        default_bundle();
    },
    |data: &[u8]| {
        let Some(request) = household_request(data) else {
            return;
        };
        let answer = api::decide_json(default_bundle(), &request);
        assert_wire_answer(&answer, &request);
    }
);
