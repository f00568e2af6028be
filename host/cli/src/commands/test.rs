//! `eligo test`: run the bundle's own test cases, with a diff per failure.

use std::path::PathBuf;

use super::{load, out, CommandResult, Failure, Format, RuntimeArgs};
use crate::render;

/// `eligo test` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy bundle: a directory, or a file made by `eligo pack`.
    bundle: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Fail when a declared rule is fired by no test case.
    #[arg(long)]
    require_coverage: bool,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

pub fn run(args: &Args) -> CommandResult {
    let bundle = load(&args.bundle)?;
    let name = format!("{} ({})", bundle.name(), bundle.version());
    let test_files = bundle.tests().map_or(0, <[_]>::len);
    let decider = args.runtime.decider(bundle, 1)?;
    let report = decider
        .test()
        .map_err(|error| Failure::failed(error.to_string()))?;
    let coverage_failed = args.require_coverage && !report.uncovered_rules.is_empty();
    match args.format {
        Format::Json => out!(
            "{}",
            serde_json::to_string(&report).expect("reports serialise")
        ),
        Format::Human => {
            for case in report.cases.iter().filter(|c| !c.passed) {
                eprint!("{}", render::failed_case(case));
            }
            if !report.uncovered_rules.is_empty() {
                let level = if args.require_coverage {
                    "error"
                } else {
                    "warning"
                };
                eprintln!(
                    "{level}: no test case fires: {}",
                    report.uncovered_rules.join(", ")
                );
            }
            eprintln!("{name}: {test_files} test files");
            if let Some(line) = render::operations(&report) {
                eprintln!("{line}");
            }
            // The plain closing line CI tools read.
            out!("{} passed, {} failed", report.passed, report.failed);
        }
    }
    if report.all_passed() && !coverage_failed {
        Ok(())
    } else {
        Err(Failure::reported())
    }
}
