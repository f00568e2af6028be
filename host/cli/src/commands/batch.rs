//! `eligo batch`: decide JSON Lines from stdin on every core, in order.

use std::io;

use eligo_core::wire::{DecideRequest, ErrorKind};
use eligo_runtime::batch::{self, BatchOptions};

use super::{load, CommandResult, DecideArgs, Failure};

/// Most worker threads: more than this only costs memory (each native
/// worker compiles its own copy of the bundle).
const MAX_THREADS: usize = 256;

/// `eligo batch` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    decide: DecideArgs,
    /// Worker threads (default: one per core; at most 256).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS as i64))]
    threads: Option<u16>,
}

pub fn run(args: &Args) -> CommandResult {
    let decide = &args.decide;
    let bundle = load(&decide.policy)?;
    let options = BatchOptions {
        entry: &decide.entry,
        as_of: &decide.as_of,
        mode: decide.mode(),
        lang: decide.lang(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.map_or(0, usize::from))
        .build()
        .map_err(|error| Failure::failed(format!("cannot start worker threads: {error}")))?;
    let workers = pool.current_num_threads();
    let decider = decide.runtime.decider(bundle, workers)?;
    // A wrong entry, as_of or language would fail every line: say it once.
    let probe = DecideRequest {
        entry: options.entry.to_string(),
        input: serde_json::Value::Null,
        as_of: options.as_of.to_string(),
        mode: options.mode,
        lang: options.lang.map(str::to_string),
    };
    if let Err(error) = decider.decide(0, &probe) {
        if error.kind == ErrorKind::BadRequest {
            return Err(Failure::Usage(error.to_string()));
        }
    }
    let stdin = io::stdin().lock();
    let stdout = io::BufWriter::new(io::stdout().lock());
    match batch::run(&decider, &options, &pool, stdin, stdout) {
        Ok(summary) => {
            eprintln!("{} line(s), {} error(s)", summary.lines, summary.errors);
            Ok(())
        }
        // The reader went away (`eligo batch … | head`): nothing left to do.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::Io(format!("batch I/O failed: {error}"))),
    }
}
