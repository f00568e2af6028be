//! The command line's definition, what the commands share, and dispatch.
//! Commands print for people on stderr and for programs on stdout, and
//! return a [`Failure`] that `main` maps to an exit code.

mod batch;
mod check;
mod eval;
mod impact;
mod pack;
mod population;
#[cfg(feature = "server")]
mod receipt;
#[cfg(feature = "server")]
mod replay;
#[cfg(feature = "server")]
mod serve;
mod test;
#[cfg(feature = "server")]
mod token;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use eligo_core::{Bundle, Diagnostic, Mode};
use eligo_runtime::bundle_dir::{read_bundle, ReadError};
use eligo_runtime::{Decider, RuntimeKind};

use crate::render;

/// Exit codes, as documented in `eligo --help`.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The bundle has errors, a test failed, or a decision could not be made.
    pub const FAILED: u8 = 1;
    /// The command line was wrong (clap's own code for usage errors).
    pub const USAGE: u8 = 2;
    /// A file or stream could not be read or written.
    pub const IO: u8 = 3;
    /// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  the bundle has errors, a test failed, or the decision could not be made
     (invalid input, a needed field missing in strict mode, a rule error)
  2  the command line is wrong (also a bad --entry, --as-of or --lang)
  3  a file or stream could not be read or written
  130  stopped by Ctrl-C (`eligo impact` first writes the report of the
     households done)";

/// Why a command did not succeed: the exit code, and a message for
/// stderr unless the command already said everything.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: the bundle, a test or a decision failed.
    Failed(Option<String>),
    /// Exit 2: the command line is wrong.
    Usage(String),
    /// Exit 3: a file or stream could not be read or written.
    Io(String),
    /// Exit 130: stopped by Ctrl-C.
    Interrupted(String),
}

impl Failure {
    /// Exit 1 with a message.
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure::Failed(Some(message.into()))
    }

    /// Exit 1, everything already printed.
    pub fn reported() -> Failure {
        Failure::Failed(None)
    }

    /// The documented exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Failed(_) => exit::FAILED,
            Failure::Usage(_) => exit::USAGE,
            Failure::Io(_) => exit::IO,
            Failure::Interrupted(_) => exit::INTERRUPTED,
        }
    }

    /// What to print on stderr, if anything.
    pub fn message(&self) -> Option<&str> {
        match self {
            Failure::Failed(message) => message.as_deref(),
            Failure::Usage(message) | Failure::Io(message) | Failure::Interrupted(message) => {
                Some(message)
            }
        }
    }
}

/// What a command returns.
pub type CommandResult = Result<(), Failure>;

/// `error: …` on stderr; a closed or full stderr is not worth a panic.
pub fn print_error(message: &str) {
    let _ = writeln!(io::stderr(), "error: {message}");
}

/// Writes a line to stdout. A reader that went away (`eligo … | head`)
/// ends the program quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::commands::write_stdout(&format!($($arg)*))
    };
}
pub(crate) use out;

pub(crate) fn write_stdout(text: &str) {
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
            std::process::exit(i32::from(exit::OK))
        }
        Err(error) => {
            print_error(&format!("cannot write to standard output: {error}"));
            std::process::exit(i32::from(exit::IO));
        }
    }
}

/// Eligo: explained, reproducible eligibility decisions from policy bundles.
#[derive(Debug, Parser)]
#[command(name = "eligo", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people, with code frames.
    Human,
    /// JSON for editors and CI.
    Json,
}

/// A language of the default bundles' messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Simplified Chinese.
    #[value(name = "zh-CN")]
    ZhCn,
    /// English.
    #[value(name = "en")]
    En,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// What every deciding command needs.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// The policy bundle: a directory, or a file made by `eligo pack`.
    #[arg(long, value_name = "BUNDLE")]
    policy: PathBuf,
    /// The entry point, e.g. household or community.
    #[arg(long)]
    entry: String,
    /// The moment the decision is made for, RFC 3339 with offset.
    #[arg(long, value_name = "RFC3339")]
    as_of: String,
    /// Partial mode: missing fields the decision needs make it
    /// `undetermined` and are listed under `needs` (strict otherwise).
    #[arg(long)]
    partial: bool,
    /// Language of reasons and questions (default: the bundle's first).
    #[arg(long, value_enum)]
    lang: Option<Lang>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

impl DecideArgs {
    fn mode(&self) -> Mode {
        if self.partial {
            Mode::Partial
        } else {
            Mode::Strict
        }
    }

    fn lang(&self) -> Option<&'static str> {
        self.lang.map(Lang::code)
    }
}

/// Which engine decides (the runtime's own type knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RuntimeChoice {
    /// The eligo_bg.wasm artifact in wasmtime.
    Wasm,
    /// The core built into this program.
    Native,
}

/// Where decisions run.
#[derive(Debug, clap::Args)]
pub struct RuntimeArgs {
    /// `wasm`: the eligo_bg.wasm artifact in wasmtime, the same bytes the
    /// browser runs (default); `native`: the core built into this program.
    #[arg(long, value_enum, default_value = "wasm")]
    runtime: RuntimeChoice,
    /// The wasm artifact (default: $ELIGO_WASM, next to this program, or
    /// target/wasm/ as built by `cargo xtask wasm`).
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
}

impl RuntimeArgs {
    /// The decider these arguments ask for.
    fn decider(&self, bundle: Bundle, workers: usize) -> Result<Decider, Failure> {
        let kind = match self.runtime {
            RuntimeChoice::Wasm => RuntimeKind::Wasm,
            RuntimeChoice::Native => RuntimeKind::Native,
        };
        Decider::new(kind, bundle, workers, self.artifact.as_deref())
            .map_err(|error| Failure::failed(error.to_string()))
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile and validate a bundle; report every problem with its location.
    Check(check::Args),
    /// Run the bundle's own test cases and show a diff for each failure.
    Test(test::Args),
    /// Decide one input and print the decision envelope.
    Eval(eval::Args),
    /// Pack a bundle (its `extends` followed) into one JSON file that the
    /// browser and the server load as it is; a bundle with errors is refused.
    /// The file names the bundle's hash, and loading it checks that hash.
    Pack(pack::Args),
    /// Decide JSON Lines from stdin; one envelope (or error object) per line
    /// on stdout, in input order, using every core.
    Batch(batch::Args),
    /// What a draft policy (or the same policy at another date) does to a
    /// population: eligibility gained and lost per program, money before and
    /// after, the visit workload, escalations, by any grouping, with example
    /// households; a self-contained HTML page or JSON.
    Impact(Box<impact::Args>),
    /// Write a synthetic population of households (JSON Lines) with
    /// documented distributions; the same seed gives the same bytes.
    Population(population::Args),
    /// Serve decisions over HTTP: authoritative decisions with an audit log
    /// and signed receipts, previews, verification, and the web page.
    #[cfg(feature = "server")]
    Serve(Box<serve::Args>),
    /// Signed receipts of the server's decisions.
    #[cfg(feature = "server")]
    #[command(subcommand)]
    Receipt(receipt::Args),
    /// A new API token for `eligo serve`: prints the secret, then the
    /// `--token` value (roles and the secret's sha256) the server keeps.
    #[cfg(feature = "server")]
    Token(token::Args),
    /// Re-decide a stored decision with the exact bundle and artifact it
    /// was decided with (both kept in the audit log) and check the answer
    /// is byte-for-byte the stored one (exit 1 if not).
    #[cfg(feature = "server")]
    Replay(replay::Args),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> CommandResult {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Pack(args) => pack::run(&args),
        Command::Batch(args) => batch::run(&args),
        Command::Impact(args) => impact::run(&args),
        Command::Population(args) => population::run(&args),
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::run(*args),
        #[cfg(feature = "server")]
        Command::Receipt(args) => receipt::run(&args),
        #[cfg(feature = "server")]
        Command::Token(args) => token::run(&args),
        #[cfg(feature = "server")]
        Command::Replay(args) => replay::run(&args),
    }
}

fn color() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Reads a bundle's files, or why not.
fn read(dir: &Path) -> Result<eligo_core::BundleFiles, ReadErrorOr> {
    read_bundle(dir).map_err(|error| match error {
        ReadError::Io { path, error } => ReadErrorOr::Failure(Failure::Io(format!(
            "cannot read {}: {error}",
            path.display()
        ))),
        ReadError::Bundle(problems) => ReadErrorOr::Diagnostics(problems),
        other => ReadErrorOr::Failure(Failure::failed(other.to_string())),
    })
}

/// Why a bundle could not be read: diagnostics to report, or a failure.
enum ReadErrorOr {
    Diagnostics(Vec<Diagnostic>),
    Failure(Failure),
}

/// Reads and compiles a bundle, printing its diagnostics when it cannot.
fn load(dir: &Path) -> Result<Bundle, Failure> {
    let files = match read(dir) {
        Ok(files) => files,
        Err(ReadErrorOr::Failure(failure)) => return Err(failure),
        Err(ReadErrorOr::Diagnostics(problems)) => {
            print_diagnostics(&problems, None)?;
            return Err(Failure::failed(format!(
                "{} is not a bundle that loads",
                dir.display()
            )));
        }
    };
    Bundle::load(files.clone()).or_else(|problems| {
        print_diagnostics(&problems, Some(&files))?;
        let errors = problems.iter().filter(|p| p.is_error()).count();
        Err(Failure::failed(format!(
            "the bundle in {} has {errors} error(s)",
            dir.display()
        )))
    })
}

/// Writes the diagnostics to stderr. Diagnostics that cannot be written
/// (a full disk, a closed pipe) are an I/O failure, exit 3: the user would
/// otherwise see exit 1 and no reason.
fn print_diagnostics(
    problems: &[Diagnostic],
    files: Option<&eligo_core::BundleFiles>,
) -> Result<(), Failure> {
    let color = color();
    let mut stderr = io::stderr().lock();
    for problem in problems {
        write!(stderr, "{}", render::diagnostic(problem, files, color))
            .and_then(|()| stderr.flush())
            .map_err(|error| {
                Failure::Io(format!(
                    "cannot write diagnostics to standard error: {error}"
                ))
            })?;
    }
    Ok(())
}
