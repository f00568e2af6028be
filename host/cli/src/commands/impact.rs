//! `eligo impact`: what a draft policy (or the same policy at another date)
//! does to a population, before it ships: eligibility flips per program,
//! money before and after, the visit workload, escalations, rules fired,
//! errors, by any grouping, with example households.

use std::io::{self, BufReader, IsTerminal};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use eligo_core::param_changes::ParamChanges;
use eligo_core::wire::{DecideRequest, ErrorKind};
use eligo_core::Mode;
use eligo_runtime::impact::{self, ImpactOptions, Side};
use eligo_runtime::population_csv::CsvPopulation;
use eligo_runtime::sources::{JsonLines, Population};

use super::{load, out, CommandResult, Failure, Lang, RuntimeArgs};
use crate::report_html;

/// The report's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML page (opens offline).
    Html,
    /// The same numbers as JSON.
    Json,
}

/// How a population file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PopulationFormat {
    /// One JSON input per line.
    Jsonl,
    /// One row per member, the household's columns repeated.
    Csv,
}

/// `eligo impact` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy in force: a bundle directory or packed file.
    #[arg(long, value_name = "BUNDLE", required_unless_present = "audit")]
    base: Option<PathBuf>,
    /// The draft (default: the base, compared at two dates).
    #[arg(long, value_name = "BUNDLE")]
    draft: Option<PathBuf>,
    /// The households: JSON Lines of inputs, or CSV with one row per member
    /// and the household's columns repeated (columns named after the
    /// entry's schema: `id`, `district`, `members.age`, …), or - for
    /// standard input.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "audit",
        conflicts_with = "audit"
    )]
    population: Option<PathBuf>,
    /// Instead of --base and --population: the decisions stored in this
    /// server data directory's audit log (or --database-url), each compared
    /// with what --draft decides for its input at its own as_of.
    #[arg(long, value_name = "DATA_DIR", conflicts_with_all = ["base", "as_of", "base_as_of", "draft_as_of"], requires = "draft")]
    audit: Option<PathBuf>,
    /// The PostgreSQL audit log (with --audit).
    #[arg(long, env = "ELIGO_DATABASE_URL", requires = "audit")]
    database_url: Option<String>,
    /// Stored decisions received at or after this moment (RFC 3339, with --audit).
    #[arg(long, value_name = "RFC3339", requires = "audit")]
    since: Option<String>,
    /// Stored decisions received before this moment (RFC 3339, with --audit).
    #[arg(long, value_name = "RFC3339", requires = "audit")]
    until: Option<String>,
    /// The population's format (default: csv for a `.csv` file, else jsonl).
    #[arg(long, value_enum)]
    population_format: Option<PopulationFormat>,
    /// The entry point.
    #[arg(long, default_value = "household")]
    entry: String,
    /// When both decide (RFC 3339 with offset).
    #[arg(long, value_name = "RFC3339", required_unless_present_any = ["base_as_of", "audit"], conflicts_with_all = ["base_as_of", "draft_as_of"])]
    as_of: Option<String>,
    /// When the base decides (with --draft-as-of: what changes between two dates).
    #[arg(long, value_name = "RFC3339", requires = "draft_as_of")]
    base_as_of: Option<String>,
    /// When the draft decides.
    #[arg(long, value_name = "RFC3339", requires = "base_as_of")]
    draft_as_of: Option<String>,
    /// Break the numbers down by these, comma-separated: input fields
    /// (`district`) or result fields of the base decision (`class`, `size`).
    #[arg(long, value_delimiter = ',', value_name = "FIELD,…")]
    by: Vec<String>,
    /// Partial mode (missing fields make a decision undetermined).
    #[arg(long)]
    partial: bool,
    /// Language of the example reasons.
    #[arg(long, value_enum)]
    lang: Option<Lang>,
    /// The report's form (default: html when -o ends in .html, else json).
    #[arg(long, value_enum)]
    format: Option<ReportFormat>,
    /// Write the report here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Decide every household under the draft, even when the draft differs
    /// only in parameters the household's base decision did not read (by
    /// default such a household keeps its base decision: it cannot change).
    #[arg(long)]
    decide_all: bool,
    /// Worker threads (default: one per core; at most 256).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

pub fn run(args: &Args) -> CommandResult {
    stop_on_ctrl_c();
    let Some(draft_path) = args.draft.as_ref().or(args.base.as_ref()) else {
        return Err(Failure::Usage(
            "give --base (and --draft), or --audit and --draft".into(),
        ));
    };
    let draft_bundle = load(draft_path)?;
    // With --audit the base decisions are the stored ones: no base bundle.
    let base_bundle = args.base.as_ref().map(|path| load(path)).transpose()?;
    let (base_as_of, draft_as_of) = match (&args.as_of, &args.base_as_of, &args.draft_as_of) {
        (Some(t), _, _) => (t.clone(), t.clone()),
        (None, Some(b), Some(d)) => (b.clone(), d.clone()),
        // Each stored decision has its own as_of; this one only checks the
        // entry and the language below.
        _ if args.audit.is_some() => (AUDIT_PROBE_AS_OF.to_string(), AUDIT_PROBE_AS_OF.to_string()),
        _ => {
            return Err(Failure::Usage(
                "give --as-of, or --base-as-of and --draft-as-of".into(),
            ))
        }
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.map_or(0, usize::from))
        .build()
        .map_err(|error| Failure::failed(format!("cannot start worker threads: {error}")))?;
    let workers = pool.current_num_threads();
    let draft_hash = draft_bundle.hash().to_string();
    let base_hash = base_bundle.as_ref().map(|b| b.hash().to_string());
    let param_changes = match &base_bundle {
        Some(base) if !args.decide_all => {
            ParamChanges::between(base, &draft_bundle, &base_as_of, &draft_as_of)
        }
        _ => None,
    };
    let schema = base_bundle
        .as_ref()
        .unwrap_or(&draft_bundle)
        .schema(&args.entry)
        .cloned();
    let base = base_bundle
        .map(|bundle| args.runtime.decider(bundle, workers))
        .transpose()?;
    let draft = args.runtime.decider(draft_bundle, workers)?;
    let base = base.as_ref().unwrap_or(&draft);
    let mode = if args.partial {
        Mode::Partial
    } else {
        Mode::Strict
    };
    let lang = args.lang.map(Lang::code);
    // A wrong entry, date or language would fail every line: say it once.
    for (decider, as_of) in [(base, &base_as_of), (&draft, &draft_as_of)] {
        let probe = DecideRequest {
            entry: args.entry.clone(),
            input: serde_json::Value::Null,
            as_of: as_of.clone(),
            mode,
            lang: lang.map(str::to_string),
        };
        if let Err(error) = decider.decide(0, &probe) {
            if error.kind == ErrorKind::BadRequest {
                return Err(Failure::Usage(error.to_string()));
            }
        }
    }
    let options = ImpactOptions {
        entry: &args.entry,
        mode,
        lang,
        by: &args.by,
        param_changes: param_changes.as_ref(),
    };
    let read = Arc::new(AtomicU64::new(0));
    let Opened {
        mut population,
        size,
        source,
    } = open_population(args, schema.as_ref(), &read)?;
    let bar = progress_bar(size);
    let started = std::time::Instant::now();
    let result = impact::run(
        Side {
            decider: base,
            as_of: &base_as_of,
        },
        Side {
            decider: &draft,
            as_of: &draft_as_of,
        },
        &options,
        &pool,
        population.as_mut(),
        &|done| {
            let seconds = started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{done} households  {:.0}/s", done as f64 / seconds));
            match size {
                Some(_) => bar.set_position(read.load(Ordering::Relaxed)),
                None => bar.set_position(done as u64),
            }
        },
        &STOP,
    )
    .map_err(|error| Failure::Io(format!("cannot read {source}: {error}")))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} household(s) in {:.1} s ({:.0}/s), {} changed ({} kept their base decision: \
         they read no changed parameter); {} bad line(s){}",
        result.impact.households,
        seconds,
        result.lines as f64 / seconds.max(1e-9),
        result.impact.changed,
        result.reused,
        result.bad_count,
        if result.bad_count > result.bad_lines.len() {
            " (first ones below)"
        } else {
            ""
        }
    );
    for bad in &result.bad_lines {
        eprintln!("  line {}: {}", bad.line, bad.message);
    }
    let format = args
        .format
        .unwrap_or(match args.output.as_ref().and_then(|p| p.extension()) {
            Some(extension) if extension == "html" => ReportFormat::Html,
            _ => ReportFormat::Json,
        });
    let mut report = result.impact.to_json();
    report["base"] = match (&args.base, &args.audit) {
        (Some(path), _) => {
            serde_json::json!({ "bundle": path.display().to_string(), "hash": base_hash, "as_of": base_as_of })
        }
        (None, audit) => serde_json::json!({
            "audit": audit.as_ref().map(|p| p.display().to_string()),
            "since": args.since,
            "until": args.until,
        }),
    };
    let draft_as_of = if args.audit.is_some() {
        "(each stored decision's own)".to_string()
    } else {
        draft_as_of
    };
    report["draft"] = serde_json::json!({ "bundle": draft_path.display().to_string(), "hash": draft_hash, "as_of": draft_as_of });
    report["entry"] = args.entry.clone().into();
    report["lines"] = result.lines.into();
    report["bad_lines"] = result.bad_count.into();
    if result.stopped {
        report["stopped"] = true.into();
    }
    let text = match format {
        ReportFormat::Json => serde_json::to_string_pretty(&report).expect("a report serialises"),
        ReportFormat::Html => report_html::render(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|error| Failure::Io(format!("cannot write {}: {error}", path.display())))?,
        None => out!("{text}"),
    }
    if result.stopped {
        return Err(Failure::Interrupted(format!(
            "stopped by Ctrl-C after {} line(s); the report covers those only",
            result.lines
        )));
    }
    Ok(())
}

/// The moment the entry and language are checked at when every stored
/// decision brings its own.
const AUDIT_PROBE_AS_OF: &str = "2000-01-01T00:00:00+00:00";

/// The households to compare, how many bytes they are (for the progress
/// bar, when known), and what to call them in messages.
struct Opened {
    population: Box<dyn Population>,
    size: Option<u64>,
    source: String,
}

fn open_population(
    args: &Args,
    schema: Option<&eligo_core::schema::Schema>,
    read: &Arc<AtomicU64>,
) -> Result<Opened, Failure> {
    if let Some(audit) = &args.audit {
        return open_audit(args, audit);
    }
    let Some(path) = &args.population else {
        return Err(Failure::Usage("give --population or --audit".into()));
    };
    let source = path.display().to_string();
    let (reader, size): (Box<dyn io::Read>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let file = std::fs::File::open(path)
            .map_err(|error| Failure::Io(format!("cannot read {source}: {error}")))?;
        let size = file.metadata().ok().map(|meta| meta.len());
        let counted = CountingReader {
            inner: file,
            read: Arc::clone(read),
        };
        (Box::new(counted), size)
    };
    let format = args.population_format.unwrap_or(match path.extension() {
        Some(extension) if extension.eq_ignore_ascii_case("csv") => PopulationFormat::Csv,
        _ => PopulationFormat::Jsonl,
    });
    let reader = BufReader::with_capacity(1 << 20, reader);
    let population: Box<dyn Population> = match format {
        PopulationFormat::Jsonl => Box::new(JsonLines::new(reader)),
        PopulationFormat::Csv => {
            let schema = schema.ok_or_else(|| {
                Failure::Usage(format!("the base bundle has no entry `{}`", args.entry))
            })?;
            Box::new(
                CsvPopulation::new(schema, reader)
                    .map_err(|message| Failure::failed(format!("{source}: {message}")))?,
            )
        }
    };
    Ok(Opened {
        population,
        size,
        source,
    })
}

#[cfg(feature = "server")]
fn open_audit(args: &Args, audit: &std::path::Path) -> Result<Opened, Failure> {
    use eligo_server::audit_population::{AuditPopulation, AuditRange};
    let range = AuditRange {
        entry: args.entry.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
    };
    let population = AuditPopulation::open(audit, args.database_url.as_deref(), range)
        .map_err(|error| Failure::failed(error.to_string()))?;
    Ok(Opened {
        population: Box::new(population),
        size: None,
        source: format!("the audit log in {}", audit.display()),
    })
}

#[cfg(not(feature = "server"))]
fn open_audit(_: &Args, _: &std::path::Path) -> Result<Opened, Failure> {
    Err(Failure::Usage(
        "--audit needs the `server` feature of eligo".into(),
    ))
}

/// Set by Ctrl-C: the run ends after the chunk in progress and the report
/// of the households done is still written.
static STOP: AtomicBool = AtomicBool::new(false);

/// The first Ctrl-C stops the run cleanly; a second one ends the program
/// at once.
fn stop_on_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(super::exit::INTERRUPTED));
        }
        eprintln!("\nstopping after the households in progress (Ctrl-C again to quit now)");
    });
    if let Err(error) = installed {
        eprintln!("warning: Ctrl-C will end the run without a report: {error}");
    }
}

/// Counts the bytes read from the population file, for the progress bar's
/// percentage and time left.
struct CountingReader<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: io::Read> io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// On a terminal only: for a file, a bar over its bytes with the
/// households done, the rate and the time left; for standard input (whose
/// length is unknown), a spinner with the households done and the rate.
fn progress_bar(size: Option<u64>) -> indicatif::ProgressBar {
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = match size {
        Some(size) => (
            indicatif::ProgressBar::new(size),
            "{bar:30} {percent:>3}%  {msg}  {elapsed} elapsed, {eta} left",
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            "{spinner} {msg}  {elapsed}",
        ),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
