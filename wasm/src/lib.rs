//! The engine as one `.wasm` file, for both hosts.
//!
//! - [`js`]: the wasm-bindgen API browsers and Node use.
//! - [`abi`]: plain C-ABI exports (bytes in, JSON bytes out) that the
//!   wasmtime host calls; they never reach a JavaScript import.
//!
//! Both only marshal: every request goes to `eligo_core::api`, so the same
//! request gives the same answer bytes whichever side asks.

pub mod abi;
pub mod js;

#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
