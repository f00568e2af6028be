//! `eligo population`: a synthetic population of households (JSON Lines,
//! or CSV one row per member) for demos and benchmarks of `eligo impact`.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use eligo_runtime::population_csv::CsvWriter;

use super::impact::PopulationFormat;
use super::{load, CommandResult, Failure};

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
    /// JSON Lines, or CSV with one row per member (columns from the
    /// `household` schema of --policy), as registry extracts come.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: PopulationFormat,
    /// The bundle whose `household` schema names the CSV columns.
    #[arg(long, value_name = "BUNDLE", required_if_eq("format", "csv"))]
    policy: Option<PathBuf>,
}

/// Writes each JSON line it is given as CSV rows.
struct CsvLines<W: Write> {
    rows: csv::Writer<W>,
    layout: CsvWriter,
    line: Vec<u8>,
}

impl<W: Write> Write for CsvLines<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &byte in buf {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            let household: serde_json::Value = serde_json::from_slice(&self.line)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            for row in self.layout.rows(&household) {
                self.rows.write_record(&row).map_err(io::Error::other)?;
            }
            self.line.clear();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.rows.flush()
    }
}

pub fn run(args: &Args) -> CommandResult {
    let layout = match (&args.format, &args.policy) {
        (PopulationFormat::Csv, Some(policy)) => {
            let bundle = load(policy)?;
            let schema = bundle.schema("household").ok_or_else(|| {
                Failure::Usage(format!("{} has no `household` entry", policy.display()))
            })?;
            Some(CsvWriter::new(schema))
        }
        _ => None,
    };
    let out: Box<dyn Write> =
        match &args.output {
            Some(path) => Box::new(std::fs::File::create(path).map_err(|error| {
                Failure::Io(format!("cannot write {}: {error}", path.display()))
            })?),
            None => Box::new(io::stdout().lock()),
        };
    let mut out = BufWriter::new(out);
    let written = match layout {
        None => eligo_runtime::population::write(args.households, args.seed, &mut out),
        Some(layout) => {
            let mut rows = csv::Writer::from_writer(&mut out);
            rows.write_record(layout.header())
                .map_err(io::Error::other)
                .map_err(|error| Failure::Io(format!("cannot write the population: {error}")))?;
            let mut lines = CsvLines {
                rows,
                layout,
                line: Vec::new(),
            };
            eligo_runtime::population::write(args.households, args.seed, &mut lines)
                .and_then(|()| lines.flush())
        }
    }
    .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::Io(format!("cannot write the population: {error}"))),
    }
}
