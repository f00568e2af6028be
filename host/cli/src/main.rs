//! `eligo`: check, test and run policy bundles from the command line, and
//! serve decisions over HTTP (`eligo serve`).
//!
//! Each command lives in its own module under `commands/` and returns a
//! `Result`; `main` turns it into the documented exit code, once.

mod commands;
mod json_pretty;
mod render;
mod report_html;

use std::process::ExitCode;

use clap::Parser;

use commands::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::from(commands::exit::OK),
        Err(failure) => {
            if let Some(message) = failure.message() {
                commands::print_error(message);
            }
            ExitCode::from(failure.code())
        }
    }
}
