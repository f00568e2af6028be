//! The `eligo` host: reading bundles from disk, the command line, and batch
//! decisions over every core. All policy logic stays in `eligo-core`.

pub mod batch;
pub mod bundle_dir;
pub mod cli;
pub mod json_pretty;
pub mod render;
pub mod runtime;
pub mod wasm_runtime;
