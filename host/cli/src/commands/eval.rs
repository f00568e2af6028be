//! `eligo eval`: decide one input and print the envelope.
//!
//! Whatever the outcome, stdout gets one JSON document: the envelope, or
//! the error answer (a bundle that does not load, input that is not JSON,
//! an input the engine refuses). stderr says the same for people.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use eligo_core::wire::{DecideRequest, ErrorBody, ErrorKind};

use super::{load, out, CommandResult, DecideArgs, Failure};
use crate::json_pretty;

/// `eligo eval` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    decide: DecideArgs,
    /// Print the canonical one-line JSON instead of indented JSON.
    #[arg(long)]
    compact: bool,
    /// The input JSON file, or - for standard input.
    input: PathBuf,
}

/// The input file's text, or `None` when it is longer than the engine
/// reads (reading stops there: `/dev/zero` is not read until memory ends).
fn read_input(path: &Path) -> Result<Option<String>, Failure> {
    let cap = eligo_core::api::MAX_INPUT_BYTES as u64 + 1;
    let mut text = String::new();
    let result = if path.as_os_str() == "-" {
        io::stdin().take(cap).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|file| file.take(cap).read_to_string(&mut text))
    };
    result.map_err(|error| Failure::Io(format!("cannot read {}: {error}", path.display())))?;
    Ok(((text.len() as u64) < cap).then_some(text))
}

/// Prints an error answer on stdout; the failure carries the text for stderr.
fn refuse(error: &ErrorBody) -> Failure {
    out!("{}", error.to_json());
    let message = error.to_string();
    match error.kind {
        // Only --entry, --as-of or --lang can make eval's request bad.
        ErrorKind::BadRequest => Failure::Usage(message),
        _ => Failure::failed(message),
    }
}

pub fn run(args: &Args) -> CommandResult {
    let decide = &args.decide;
    let bundle = load(&decide.policy).inspect_err(|failure| {
        if let Failure::Failed(Some(message)) = failure {
            out!(
                "{}",
                ErrorBody::new(ErrorKind::BundleError, message.clone()).to_json()
            );
        }
    })?;
    let Some(text) = read_input(&args.input)? else {
        return Err(refuse(&eligo_core::api::input_too_large()));
    };
    // The text as it is: the engine reads it (and refuses a key named twice).
    let input: &serde_json::value::RawValue = serde_json::from_str(&text).map_err(|error| {
        refuse(&ErrorBody::new(
            ErrorKind::BadJson,
            format!("{} is not JSON: {error}", args.input.display()),
        ))
    })?;
    let decider = decide.runtime.decider(bundle, 1)?;
    let request = DecideRequest {
        entry: decide.entry.clone(),
        input,
        as_of: decide.as_of.clone(),
        mode: decide.mode(),
        lang: decide.lang().map(str::to_string),
    };
    let envelope = decider
        .decide(0, &request)
        .map_err(|error| refuse(&error))?;
    if args.compact {
        out!("{}", envelope.as_str());
    } else {
        out!("{}", json_pretty::indent(envelope.as_str()));
    }
    Ok(())
}
