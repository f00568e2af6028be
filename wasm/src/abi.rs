//! C-ABI exports for a host that is not JavaScript (the wasmtime server).
//!
//! Memory protocol: the host asks for a buffer with `eligo_alloc(len)`,
//! writes the request's UTF-8 JSON into it and passes `(ptr, len)`. Every
//! call that answers returns one `u64`: the answer's pointer in the high 32
//! bits, [`ERROR_FLAG`] set when the answer is an error answer
//! (`{"error": …}`), and its length in the low 31 bits. The host reads the
//! answer and gives both buffers back with `eligo_dealloc(ptr, len)`.
//!
//! One bundle is loaded per instance (`eligo_load`); later calls use it.
//!
//! Rules run by `eligo_decide` ask the host whether their deadline has
//! passed, through the one import the host defines
//! ([`HOST_DEADLINE_IMPORT`]), every
//! [`HOST_STOP_EVERY`](eligo_core::sandbox::HOST_STOP_EVERY) operations: the
//! wasmtime host's decisions stop where the rules are, as native ones do.

use std::sync::Mutex;

use eligo_core::api::JsonAnswer;
use eligo_core::{api, sandbox, Bundle, ErrorBody, ErrorKind};

/// Set in an answer's packed `u64` when the answer is an error answer, so
/// the host never inspects the text to tell.
pub const ERROR_FLAG: u64 = 1 << 31;

/// The name wasm-bindgen gives the host's deadline import starts with this
/// (a hash follows); the wasmtime host defines it.
pub const HOST_DEADLINE_IMPORT: &str = "__wbg_eligoHostDeadlinePassed_";

#[cfg(target_family = "wasm")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// Whether the running call is past the host's deadline. Only the C ABI
    /// asks it; the JavaScript API never does, so in a browser the import
    /// exists (wasm-bindgen's glue names a global) but is never called.
    #[wasm_bindgen(js_name = eligoHostDeadlinePassed)]
    fn host_deadline_passed() -> bool;
}

/// Outside wasm (the crate's own tests) there is no host to ask.
#[cfg(not(target_family = "wasm"))]
fn host_deadline_passed() -> bool {
    false
}

/// The bundle this instance decides with.
static LOADED: Mutex<Option<Bundle>> = Mutex::new(None);

fn loaded() -> std::sync::MutexGuard<'static, Option<Bundle>> {
    LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hands an answer to the host: `ptr << 32 | flag | len`.
fn answer(answer: JsonAnswer) -> u64 {
    let (text, flag) = match answer {
        Ok(text) => (text, 0),
        Err(text) => (text, ERROR_FLAG),
    };
    let mut bytes = text.into_bytes().into_boxed_slice();
    let len = bytes.len() as u64;
    // The instance's memory is capped far below 2 GiB, so no answer reaches
    // the flag bit.
    debug_assert!(len < ERROR_FLAG);
    let ptr = bytes.as_mut_ptr() as usize as u64;
    std::mem::forget(bytes);
    (ptr << 32) | flag | len
}

/// Reads a request the host wrote at `(ptr, len)`.
///
/// # Safety
/// `ptr` must come from `eligo_alloc(len)` and hold `len` written bytes.
unsafe fn request<'a>(ptr: *const u8, len: usize) -> Result<&'a str, String> {
    crate::utf8::request_text(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A buffer of `len` bytes for the host to write into.
#[no_mangle]
pub extern "C" fn eligo_alloc(len: usize) -> *mut u8 {
    let mut buffer = vec![0u8; len].into_boxed_slice();
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// Gives back a buffer from `eligo_alloc` or an answer.
///
/// # Safety
/// `(ptr, len)` must be a buffer this module handed out and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn eligo_dealloc(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
    }
}

/// Loads the bundle of a load request; answers its description or errors.
///
/// # Safety
/// See [`request`].
#[no_mangle]
pub unsafe extern "C" fn eligo_load(ptr: *const u8, len: usize) -> u64 {
    let text = match unsafe { request(ptr, len) } {
        Ok(text) => text,
        Err(error) => return answer(Err(error)),
    };
    match api::load_json(text) {
        Ok(bundle) => {
            let description = api::describe_json(&bundle);
            *loaded() = Some(bundle);
            answer(Ok(description))
        }
        Err(error) => answer(Err(error)),
    }
}

fn with_bundle(run: impl FnOnce(&Bundle) -> JsonAnswer) -> u64 {
    match loaded().as_ref() {
        Some(bundle) => answer(run(bundle)),
        None => answer(Err(ErrorBody::new(
            ErrorKind::NoBundle,
            "no bundle is loaded: call eligo_load first",
        )
        .to_json())),
    }
}

/// Decides one decide request with the loaded bundle.
///
/// # Safety
/// See [`request`].
#[no_mangle]
pub unsafe extern "C" fn eligo_decide(ptr: *const u8, len: usize) -> u64 {
    match unsafe { request(ptr, len) } {
        // The rules ask the host's deadline at their progress points.
        Ok(text) => sandbox::with_host_stop(host_deadline_passed, || {
            with_bundle(|bundle| api::decide_json(bundle, text))
        }),
        Err(error) => answer(Err(error)),
    }
}

/// Runs the loaded bundle's own test cases.
#[no_mangle]
pub extern "C" fn eligo_test() -> u64 {
    // Not under the question: the host runs a suite in an instance it can
    // interrupt, one deadline for the whole suite.
    with_bundle(api::test_json)
}

/// Describes the loaded bundle: name, version, hash, entries and schemas.
#[no_mangle]
pub extern "C" fn eligo_describe() -> u64 {
    with_bundle(|bundle| Ok(api::describe_json(bundle)))
}

/// Checks the bundle of a load request without loading it.
///
/// # Safety
/// See [`request`].
#[no_mangle]
pub unsafe extern "C" fn eligo_check(ptr: *const u8, len: usize) -> u64 {
    match unsafe { request(ptr, len) } {
        Ok(text) => answer(api::check_json(text)),
        Err(error) => answer(Err(error)),
    }
}
