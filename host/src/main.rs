//! `eligo`: check, test and run policy bundles from the command line.

use std::process::ExitCode;

use clap::Parser;
use eligo_host::cli::{run, Cli};

fn main() -> ExitCode {
    ExitCode::from(run(Cli::parse()))
}
