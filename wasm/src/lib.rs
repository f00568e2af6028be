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
