//! The artifact's C ABI driven with any sequence of calls and any request
//! bytes (not UTF-8, not JSON, decide before load, load twice): every call
//! answers UTF-8 JSON whose error flag says whether it is an error answer,
//! and the instance never traps.
//!
//! The data is a sequence of calls: one byte picks the export, four bytes
//! give the request's length (little-endian), then the request's bytes.
#![no_main]

use eligo_fuzz::wasm_engine;
use eligo_runtime::wasm::{AbiCall, AbiSession, CallLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // Compiling the artifact takes seconds: before the first input's clock.
    init: {
        wasm_engine();
    },
    |data: &[u8]| {
        let mut session =
            AbiSession::new(wasm_engine(), CallLimits::default()).expect("a fresh instance");
        let mut rest = data;
        while let Some((&pick, after)) = rest.split_first() {
            let (len, after) = match after {
                [a, b, c, d, after @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, after),
                _ => (after.len(), &[][..]),
            };
            let (request, after) = after.split_at(len.min(after.len()));
            rest = after;
            let call = match pick % 5 {
                0 => AbiCall::Load(request),
                1 => AbiCall::Decide(request),
                2 => AbiCall::Check(request),
                3 => AbiCall::Test,
                _ => AbiCall::Describe,
            };
            let answer = session
                .call(call)
                .unwrap_or_else(|e| panic!("the instance trapped on {call:?}: {e}"));
            let value: serde_json::Value = serde_json::from_str(&answer.text)
                .unwrap_or_else(|e| panic!("an answer that is not JSON ({e}): {}", answer.text));
            assert_eq!(
                answer.is_error,
                value.get("error").is_some(),
                "the error flag disagrees with the answer {}",
                answer.text
            );
        }
    }
);
