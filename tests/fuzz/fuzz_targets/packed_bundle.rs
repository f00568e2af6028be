//! A packed bundle's text: unpacked and loaded, or refused with located
//! diagnostics, never a panic.
#![no_main]

use eligo_core::{api, Bundle};
use eligo_fuzz::assert_located;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match api::unpack(text) {
        Err(problems) => assert!(!problems.is_empty()),
        Ok(files) => {
            if let Err(problems) = Bundle::load(files.clone()) {
                assert_located(&problems, &files);
            }
        }
    }
});
