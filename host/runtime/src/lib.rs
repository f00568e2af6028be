//! Where Eligo decisions run, for every Rust host (the `eligo` command and
//! `eligo serve`). No command line, no HTTP, no async runtime here.
//!
//! - [`wasm`]: the engine's `.wasm` artifact in wasmtime: one
//!   [`WasmEngine`](wasm::WasmEngine) per process, a bounded instance pool
//!   per loaded bundle ([`WasmRuntime`](wasm::WasmRuntime)).
//! - [`decider`]: one interface over the wasm runtime and the native core,
//!   answering with the core's wire types.
//! - [`bundle_dir`]: reading a bundle directory or a packed bundle file.
//! - [`batch`]: deciding a stream of JSON Lines on every core.
//! - [`impact`]: a population decided under two policies, the differences
//!   accumulated.
//! - [`population`]: a synthetic population for demos and benchmarks.
//! - [`sources`], [`population_csv`]: populations as JSON Lines or CSV.

pub mod batch;
pub mod bundle_dir;
pub mod decider;
pub mod impact;
pub mod population;
pub mod population_csv;
pub mod sources;
pub mod wasm;

pub use decider::{Answer, Decider, EnvelopeJson, RuntimeKind};
pub use wasm::{CallLimits, RuntimeError, Stopping, WasmEngine, WasmRuntime};
