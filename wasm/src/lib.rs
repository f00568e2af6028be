//! The engine as one `.wasm` file, for both hosts.
//!
//! - [`js`]: the wasm-bindgen API browsers and Node use.
//! - [`abi`]: plain C-ABI exports (bytes in, JSON bytes out) that the
//!   wasmtime host calls; the only import they reach is the host's
//!   deadline question, which the wasmtime host defines.
//! - [`mem`]: `memcmp` and `bcmp` a word at a time in the artifact.
//! - [`utf8`]: a request's bytes checked as text, ASCII 16 bytes a step.
//! - [`allocator`]: the artifact's allocator, size-class lists over Talc.
//!
//! Both only marshal: every request goes to `eligo_core::api`, so the same
//! request gives the same answer bytes whichever side asks.

pub mod abi;
pub mod allocator;
pub mod js;
pub mod mem;
pub mod utf8;

// Talc instead of the default dlmalloc: the same size in the artifact, and a
// few percent faster through wasmtime for the engine's many small
// allocations (household decision, A/B after wasm-opt: 142–150 µs against
// 150–162 µs). Small blocks come from size-class lists in front of it
// ([`allocator`]).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: allocator::SizeClasses<talc::wasm::WasmDynamicTalc> =
    allocator::SizeClasses::new(talc::wasm::new_wasm_dynamic_allocator());
