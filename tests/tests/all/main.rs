//! Every cross-crate test, as one test binary: each extra binary would link
//! wasmtime again, minutes on two cores.

mod bundle_cases;
mod compiled;
mod engine;
mod fuzz;
mod generated;
mod hostile;
mod js_api;
mod parity;
mod wire_types;
