//! The `eligo` command line: argument definitions and one function per
//! command. Commands print for people on stderr and for programs on stdout.

use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use eligo_core::{Bundle, Diagnostic, Mode};

use crate::batch::{self, BatchOptions};
use crate::bundle_dir::{read_bundle, ReadError};
use crate::json_pretty;
use crate::render;
use crate::runtime::{decide_request, error_text, Decider, RuntimeKind};

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
}

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  the bundle has errors, a test failed, or the decision could not be made
     (invalid input, a needed field missing in strict mode, a rule error)
  2  the command line is wrong
  3  a file or stream could not be read or written";

/// Writes a line to stdout. A reader that went away (`eligo … | head`)
/// ends the program quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        write_stdout(&format!($($arg)*))
    };
}

fn write_stdout(text: &str) {
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
            eprintln!("error: cannot write to standard output: {error}");
            std::process::exit(i32::from(exit::IO));
        }
    }
}

/// Eligo: explained, reproducible eligibility decisions from policy bundles.
#[derive(Debug, Parser)]
#[command(name = "eligo", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people, with code frames.
    Human,
    /// JSON for editors and CI.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    #[value(name = "zh-CN")]
    ZhCn,
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
    pub policy: PathBuf,
    /// The entry point, e.g. household or community.
    #[arg(long)]
    pub entry: String,
    /// The moment the decision is made for, RFC 3339 with offset.
    #[arg(long, value_name = "RFC3339")]
    pub as_of: String,
    /// Partial mode: missing fields the decision needs make it
    /// `undetermined` and are listed under `needs` (strict otherwise).
    #[arg(long)]
    pub partial: bool,
    /// Language of reasons and questions (default: the bundle's first).
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Where decisions run.
#[derive(Debug, clap::Args)]
pub struct RuntimeArgs {
    /// `wasm`: the eligo_bg.wasm artifact in wasmtime, the same bytes the
    /// browser runs (default); `native`: the core built into this program.
    #[arg(long, value_enum, default_value = "wasm")]
    pub runtime: RuntimeKind,
    /// The wasm artifact (default: $ELIGO_WASM, next to this program, or
    /// target/wasm/ as built by `cargo xtask wasm`).
    #[arg(long, value_name = "FILE")]
    pub artifact: Option<PathBuf>,
}

impl RuntimeArgs {
    /// The decider these arguments ask for, or why not (already printed).
    fn decider(&self, bundle: Bundle, workers: usize) -> Result<Decider, u8> {
        Decider::new(self.runtime, bundle, workers, self.artifact.as_deref()).map_err(|message| {
            eprintln!("error: {message}");
            exit::FAILED
        })
    }
}

impl DecideArgs {
    fn mode(&self) -> Mode {
        if self.partial {
            Mode::Partial
        } else {
            Mode::Strict
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile and validate a bundle; report every problem with its location.
    Check {
        /// The policy bundle: a directory, or a file made by `eligo pack`.
        bundle: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Run the bundle's own test cases and show a diff for each failure.
    Test {
        /// The policy bundle: a directory, or a file made by `eligo pack`.
        bundle: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Fail when a declared rule is fired by no test case.
        #[arg(long)]
        require_coverage: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Decide one input and print the decision envelope.
    Eval {
        #[command(flatten)]
        decide: DecideArgs,
        /// Print the canonical one-line JSON instead of indented JSON.
        #[arg(long)]
        compact: bool,
        /// The input JSON file, or - for standard input.
        input: PathBuf,
    },
    /// Pack a bundle (its `extends` followed) into one JSON file that the
    /// browser and the server load as it is; a bundle with errors is refused.
    /// The file names the bundle's hash, and loading it checks that hash.
    Pack {
        /// The policy bundle: a directory, or a file made by `eligo pack`.
        bundle: PathBuf,
        /// Where to write it (default: standard output). The file is
        /// replaced whole or not at all.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Decide JSON Lines from stdin; one envelope (or error object) per line
    /// on stdout, in input order, using every core.
    Batch {
        #[command(flatten)]
        decide: DecideArgs,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// Runs a parsed command line and returns the exit code.
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Check { bundle, format } => check(&bundle, format),
        Command::Test {
            bundle,
            format,
            require_coverage,
            runtime,
        } => test(&bundle, format, require_coverage, &runtime),
        Command::Eval {
            decide,
            compact,
            input,
        } => eval(&decide, compact, &input),
        Command::Batch { decide, threads } => batch_command(&decide, threads),
        Command::Pack { bundle, output } => pack(&bundle, output.as_deref()),
    }
}

fn pack(dir: &Path, output: Option<&Path>) -> u8 {
    let bundle = match load(dir) {
        Ok(bundle) => bundle,
        Err(code) => return code,
    };
    let packed = eligo_core::api::pack(&bundle) + "\n";
    let Some(output) = output else {
        out!("{}", packed.trim_end());
        return exit::OK;
    };
    // Written beside the target and renamed over it, so a reader never sees
    // half a bundle.
    let partial = output.with_extension("partial");
    let written =
        std::fs::write(&partial, &packed).and_then(|()| std::fs::rename(&partial, output));
    match written {
        Ok(()) => {
            eprintln!(
                "packed {} {} ({}) into {}: {} files, {} bytes",
                bundle.name(),
                bundle.version(),
                bundle.hash(),
                output.display(),
                bundle.files().len(),
                packed.len()
            );
            exit::OK
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            eprintln!("error: cannot write {}: {error}", output.display());
            exit::IO
        }
    }
}

fn color() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Reads and compiles a bundle, printing why when it cannot.
fn load(dir: &Path) -> Result<Bundle, u8> {
    let files = match read_bundle(dir) {
        Ok(files) => files,
        Err(ReadError::Io { path, error }) => {
            eprintln!("error: cannot read {}: {error}", path.display());
            return Err(exit::IO);
        }
        Err(error) => {
            eprintln!("error: {error}");
            return Err(exit::FAILED);
        }
    };
    match Bundle::load(files.clone()) {
        Ok(bundle) => Ok(bundle),
        Err(problems) => {
            print_diagnostics(&problems, Some(&files));
            let errors = problems.iter().filter(|p| p.is_error()).count();
            eprintln!(
                "error: the bundle in {} has {errors} error(s)",
                dir.display()
            );
            Err(exit::FAILED)
        }
    }
}

fn print_diagnostics(problems: &[Diagnostic], files: Option<&eligo_core::BundleFiles>) {
    let color = color();
    for problem in problems {
        eprint!("{}", render::diagnostic(problem, files, color));
    }
}

fn check(dir: &Path, format: Format) -> u8 {
    let files = match read_bundle(dir) {
        Ok(files) => files,
        Err(ReadError::Io { path, error }) => {
            eprintln!("error: cannot read {}: {error}", path.display());
            return exit::IO;
        }
        Err(ReadError::Bundle(problems)) => {
            return report_check(dir, format, &problems, None, None);
        }
        Err(error) => {
            eprintln!("error: {error}");
            return exit::FAILED;
        }
    };
    match Bundle::load(files.clone()) {
        Ok(bundle) => report_check(dir, format, bundle.warnings(), Some(&files), Some(&bundle)),
        Err(problems) => report_check(dir, format, &problems, Some(&files), None),
    }
}

fn report_check(
    dir: &Path,
    format: Format,
    problems: &[Diagnostic],
    files: Option<&eligo_core::BundleFiles>,
    bundle: Option<&Bundle>,
) -> u8 {
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    match format {
        Format::Json => {
            let report = serde_json::json!({
                "ok": errors == 0,
                "bundle": bundle.map(|b| serde_json::json!({
                    "name": b.name(),
                    "version": b.version(),
                    "hash": b.hash(),
                    "entries": b.entries().collect::<Vec<_>>(),
                })),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": problems,
            });
            out!("{report}");
        }
        Format::Human => {
            print_diagnostics(problems, files);
            match bundle {
                Some(b) => eprintln!(
                    "ok: {} {} ({}), entries: {}; {warnings} warning(s)",
                    b.name(),
                    b.version(),
                    b.hash(),
                    b.entries().collect::<Vec<_>>().join(", ")
                ),
                None => eprintln!(
                    "error: the bundle in {} has {errors} error(s), {warnings} warning(s)",
                    dir.display()
                ),
            }
        }
    }
    if errors == 0 {
        exit::OK
    } else {
        exit::FAILED
    }
}

fn test(dir: &Path, format: Format, require_coverage: bool, runtime: &RuntimeArgs) -> u8 {
    let bundle = match load(dir) {
        Ok(bundle) => bundle,
        Err(code) => return code,
    };
    let name = format!("{} ({})", bundle.name(), bundle.version());
    let test_files = bundle.tests().len();
    let decider = match runtime.decider(bundle, 1) {
        Ok(decider) => decider,
        Err(code) => return code,
    };
    let report = match decider.test() {
        Ok(report) => report,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::FAILED;
        }
    };
    let coverage_failed = require_coverage && !report.uncovered_rules.is_empty();
    match format {
        Format::Json => out!(
            "{}",
            serde_json::to_string(&report).expect("reports serialise")
        ),
        Format::Human => {
            for case in report.cases.iter().filter(|c| !c.passed) {
                eprint!("{}", render::failed_case(case));
            }
            if !report.uncovered_rules.is_empty() {
                let level = if require_coverage { "error" } else { "warning" };
                eprintln!(
                    "{level}: no test case fires: {}",
                    report.uncovered_rules.join(", ")
                );
            }
            eprintln!("{name}: {test_files} test files");
            // The plain closing line CI tools read.
            out!("{} passed, {} failed", report.passed, report.failed);
        }
    }
    if report.all_passed() && !coverage_failed {
        exit::OK
    } else {
        exit::FAILED
    }
}

fn read_input(path: &Path) -> Result<String, u8> {
    let result = if path.as_os_str() == "-" {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        fs::read_to_string(path)
    };
    result.map_err(|error| {
        eprintln!("error: cannot read {}: {error}", path.display());
        exit::IO
    })
}

fn eval(args: &DecideArgs, compact: bool, input_path: &Path) -> u8 {
    let bundle = match load(&args.policy) {
        Ok(bundle) => bundle,
        Err(code) => return code,
    };
    let text = match read_input(input_path) {
        Ok(text) => text,
        Err(code) => return code,
    };
    if let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
        eprintln!("error: {} is not JSON: {error}", input_path.display());
        return exit::FAILED;
    }
    let decider = match args.runtime.decider(bundle, 1) {
        Ok(decider) => decider,
        Err(code) => return code,
    };
    let lang = args.lang.map(Lang::code);
    let request = decide_request(&args.entry, &args.as_of, args.mode(), lang, &text);
    let answer = decider.decide(0, &request);
    if let Some(message) = error_text(&answer) {
        out!("{answer}");
        eprintln!("error: {message}");
        return exit::FAILED;
    }
    if compact {
        out!("{answer}");
    } else {
        out!("{}", json_pretty::indent(&answer));
    }
    exit::OK
}

fn batch_command(args: &DecideArgs, threads: Option<usize>) -> u8 {
    let bundle = match load(&args.policy) {
        Ok(bundle) => bundle,
        Err(code) => return code,
    };
    let options = BatchOptions {
        entry: &args.entry,
        as_of: &args.as_of,
        mode: args.mode(),
        lang: args.lang.map(Lang::code),
    };
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
    {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("error: cannot start worker threads: {error}");
            return exit::FAILED;
        }
    };
    let workers = pool.current_num_threads();
    let decider = match args.runtime.decider(bundle, workers) {
        Ok(decider) => decider,
        Err(code) => return code,
    };
    // A wrong entry, as_of or language would fail every line: say it once.
    let probe = decider.decide(
        0,
        &decide_request(
            options.entry,
            options.as_of,
            options.mode,
            options.lang,
            "null",
        ),
    );
    if probe.starts_with("{\"error\":{\"kind\":\"bad_request\"") {
        eprintln!("error: {}", error_text(&probe).unwrap_or(probe));
        return exit::FAILED;
    }
    let stdin = io::stdin().lock();
    let stdout = io::BufWriter::new(io::stdout().lock());
    match batch::run(&decider, &options, &pool, stdin, stdout) {
        Ok(summary) => {
            eprintln!("{} line(s), {} error(s)", summary.lines, summary.errors);
            exit::OK
        }
        // The reader went away (`eligo batch … | head`): nothing left to do.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(error) => {
            eprintln!("error: batch I/O failed: {error}");
            exit::IO
        }
    }
}
