//! C-ABI exports for a host that is not JavaScript (the wasmtime server).
//!
//! Memory protocol: the host asks for a buffer with `eligo_alloc(len)`,
//! writes the request's UTF-8 JSON into it and passes `(ptr, len)`. Every
//! call that answers returns one `u64`: the answer's pointer in the high 32
//! bits and its length in the low 32. The host reads the answer and gives
//! both buffers back with `eligo_dealloc(ptr, len)`.
//!
//! One bundle is loaded per instance (`eligo_load`); later calls use it.

use std::sync::Mutex;

use eligo_core::{api, Bundle};

/// The bundle this instance decides with.
static LOADED: Mutex<Option<Bundle>> = Mutex::new(None);

fn loaded() -> std::sync::MutexGuard<'static, Option<Bundle>> {
    LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hands an answer to the host: `ptr << 32 | len`.
fn answer(text: String) -> u64 {
    let mut bytes = text.into_bytes().into_boxed_slice();
    let len = bytes.len() as u64;
    let ptr = bytes.as_mut_ptr() as usize as u64;
    std::mem::forget(bytes);
    (ptr << 32) | len
}

/// Reads a request the host wrote at `(ptr, len)`.
///
/// # Safety
/// `ptr` must come from `eligo_alloc(len)` and hold `len` written bytes.
unsafe fn request<'a>(ptr: *const u8, len: usize) -> Result<&'a str, String> {
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    std::str::from_utf8(bytes)
        .map_err(|e| api::error_answer("bad_request", &format!("the request is not UTF-8: {e}")))
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
        Err(error) => return answer(error),
    };
    match api::load(text) {
        Ok((bundle, description)) => {
            *loaded() = Some(bundle);
            answer(description)
        }
        Err(error) => answer(error),
    }
}

fn with_bundle(run: impl FnOnce(&Bundle) -> String) -> u64 {
    match loaded().as_ref() {
        Some(bundle) => answer(run(bundle)),
        None => answer(api::error_answer(
            "no_bundle",
            "no bundle is loaded: call eligo_load first",
        )),
    }
}

/// Decides one decide request with the loaded bundle.
///
/// # Safety
/// See [`request`].
#[no_mangle]
pub unsafe extern "C" fn eligo_decide(ptr: *const u8, len: usize) -> u64 {
    match unsafe { request(ptr, len) } {
        Ok(text) => with_bundle(|bundle| api::decide(bundle, text)),
        Err(error) => answer(error),
    }
}

/// Runs the loaded bundle's own test cases.
#[no_mangle]
pub extern "C" fn eligo_test() -> u64 {
    with_bundle(api::test)
}

/// Describes the loaded bundle: name, version, hash, entries and schemas.
#[no_mangle]
pub extern "C" fn eligo_describe() -> u64 {
    with_bundle(api::describe)
}

/// Checks the bundle of a load request without loading it.
///
/// # Safety
/// See [`request`].
#[no_mangle]
pub unsafe extern "C" fn eligo_check(ptr: *const u8, len: usize) -> u64 {
    match unsafe { request(ptr, len) } {
        Ok(text) => answer(api::check(text)),
        Err(error) => answer(error),
    }
}
