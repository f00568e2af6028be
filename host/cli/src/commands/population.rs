//! `eligo population`: a synthetic population of households (JSON Lines)
//! for demos and benchmarks of `eligo impact`.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::{CommandResult, Failure};

/// `eligo population` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Distributions (per household): district urban 55%, suburban 25%, \
rural 20%; size 1-6 (22/30/26/12/6/4%); incomes around a district median (urban 3,200, \
suburban 2,400, rural 1,500 yuan a month); 6% of working-age adults unemployed; dibao 12% \
of households under 1,000 yuan per head; chronic illness 12% (35% at 60+); cases on 30% of \
households. The same seed gives the same bytes."
)]
pub struct Args {
    /// How many households.
    #[arg(long, default_value_t = 10_000)]
    households: u64,
    /// The random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: &Args) -> CommandResult {
    let written = match &args.output {
        Some(path) => std::fs::File::create(path).and_then(|file| {
            eligo_runtime::population::write(args.households, args.seed, &mut BufWriter::new(file))
        }),
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            eligo_runtime::population::write(args.households, args.seed, &mut out)
                .and_then(|()| out.flush())
        }
    };
    match written {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::Io(format!("cannot write the population: {error}"))),
    }
}
