//! `eligo check`: compile and validate a bundle, report every problem.

use std::io::Write;
use std::path::PathBuf;

use eligo_core::wire::CheckReport;
use eligo_core::{api, Bundle, Diagnostic};

use super::{out, print_diagnostics, read, CommandResult, Failure, Format, ReadErrorOr};

/// `eligo check` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy bundle: a directory, or a file made by `eligo pack`.
    bundle: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(args: &Args) -> CommandResult {
    let (problems, files, bundle) = match read(&args.bundle) {
        Ok(files) => match Bundle::load(files.clone()) {
            Ok(bundle) => (bundle.warnings().to_vec(), Some(files), Some(bundle)),
            Err(problems) => (problems, Some(files), None),
        },
        Err(ReadErrorOr::Diagnostics(problems)) => (problems, None, None),
        Err(ReadErrorOr::Failure(failure)) => return Err(failure),
    };
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    match args.format {
        Format::Json => {
            let report = CheckReport {
                ok: errors == 0,
                bundle: bundle.as_ref().map(api::summary),
                errors,
                warnings,
                diagnostics: problems.clone(),
            };
            out!(
                "{}",
                serde_json::to_string(&report).expect("reports serialise")
            );
        }
        Format::Human => {
            print_diagnostics(&problems, files.as_ref())?;
            if let Some(b) = &bundle {
                writeln!(
                    std::io::stderr(),
                    "ok: {} {} ({}), entries: {}; {warnings} warning(s)",
                    b.name(),
                    b.version(),
                    b.hash(),
                    b.entries().collect::<Vec<_>>().join(", ")
                )
                .map_err(|error| Failure::Io(format!("cannot write to standard error: {error}")))?;
            }
        }
    }
    match bundle {
        Some(_) => Ok(()),
        None if args.format == Format::Json => Err(Failure::reported()),
        None => Err(failed(&args.bundle, &problems)),
    }
}

fn failed(dir: &std::path::Path, problems: &[Diagnostic]) -> Failure {
    let errors = problems.iter().filter(|p| p.is_error()).count();
    Failure::failed(format!(
        "the bundle in {} has {errors} error(s), {} warning(s)",
        dir.display(),
        problems.len() - errors
    ))
}
