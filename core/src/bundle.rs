//! Loading a bundle (compile once) and deciding with it (evaluate many).
//!
//! Layout of a bundle's files:
//!
//! ```text
//! bundle.toml            name, version, languages, limits, entry points
//! rules.toml             every rule ID with its entry and source clause
//! <entry>.rhai           the rules of an entry (named in bundle.toml)
//! schema/<entry>.toml    the entry's input schema
//! params/*.toml          effective-dated parameters
//! messages/<lang>.toml   reason texts and questions, per language
//! tests/*.yaml           the bundle's own test cases
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Scope, AST};

use crate::compiled::{Input, Program};
use crate::context::{RuleContext, Shared};
use crate::diagnostics::{toml_definition_line, Diagnostic, Severity};
use crate::envelope::{
    DecideRequest, EngineInfo, Envelope, Mode, Need, PolicyInfo, Reason, RuleResult, Status,
};
use crate::error::{DecideError, RuleLocation};
use crate::files::{is_directly_in, BundleFiles};
use crate::manifest::{EntryManifest, Manifest, Messages, RuleDecl, MANIFEST_FILE, RULES_FILE};
use crate::params::ParamStore;
use crate::rule_calls::{self, FireCalls, NativeFunctions};
use crate::sandbox::{build_engine, Locator};
use crate::schema::{Kind, Schema};
use crate::testcases::{parse_test_file, TestFile};
use crate::toml_file::parse_toml;
use crate::validate::{checked_schema, FieldProblem};
use crate::values::{dynamic_to_json, Timestamp};

/// The engine's version, reported in every envelope.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A loaded, compiled policy bundle. Cheap to share across threads.
pub struct Bundle {
    manifest: Manifest,
    hash: String,
    files: BundleFiles,
    shared: Arc<Shared>,
    engine: Engine,
    entries: BTreeMap<String, CompiledEntry>,
    messages: BTreeMap<String, Messages>,
    /// `None` when loaded without its tests ([`Bundle::load_without_tests`]).
    tests: Option<Vec<TestFile>>,
    warnings: Vec<Diagnostic>,
    artifact: Option<String>,
    /// Used only after a limit error, to find where it happened; built
    /// then, not at load (a second engine: 4% of loading a bundle).
    locator: OnceLock<Mutex<Locator>>,
}

struct CompiledEntry {
    manifest: EntryManifest,
    ast: AST,
    /// The same rules for the compiled evaluator, when they fit its subset.
    program: Option<Program>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl Bundle {
    /// Loads and compiles a bundle. On failure, every problem found is
    /// returned (errors first, then warnings).
    pub fn load(files: BundleFiles) -> Result<Bundle, Vec<Diagnostic>> {
        Bundle::load_with(files, true)
    }

    /// Loads a bundle for deciding only: its test files are hashed and
    /// size-checked with the rest but not parsed, and [`Bundle::tests`] is
    /// `None`. Parsing the default bundle's tests is two thirds of loading
    /// it (4.2 ms with them, 1.4 ms without, natively), which a web form
    /// that only decides pays on every first visit.
    pub fn load_without_tests(files: BundleFiles) -> Result<Bundle, Vec<Diagnostic>> {
        Bundle::load_with(files, false)
    }

    fn load_with(files: BundleFiles, tests: bool) -> Result<Bundle, Vec<Diagnostic>> {
        let mut loader = Loader {
            files: &files,
            problems: Vec::new(),
            fires: FireCalls::new(),
            tests,
        };
        let loaded = loader.load();
        let mut problems: Vec<Diagnostic> = loader
            .problems
            .into_iter()
            .map(|problem| match files.get(&problem.file) {
                Some(source) => problem.spanned(source),
                None => problem,
            })
            .collect();
        crate::sort::sort_by(&mut problems, |a, b| {
            (a.severity, &a.file, a.line, a.column).cmp(&(b.severity, &b.file, b.line, b.column))
        });
        match loaded {
            Some(parts) if !problems.iter().any(Diagnostic::is_error) => Ok(Bundle {
                hash: files.hash(),
                files,
                warnings: problems,
                artifact: None,
                ..parts
            }),
            _ => Err(problems),
        }
    }

    /// A second, independent compilation of the same bundle, for another
    /// thread: threads that share one compiled bundle contend for the
    /// reference counts inside it.
    pub fn duplicate(&self) -> Result<Bundle, Vec<Diagnostic>> {
        let mut copy = Bundle::load_with(self.files.clone(), self.tests.is_some())?;
        copy.artifact = self.artifact.clone();
        Ok(copy)
    }

    /// All problems (errors and warnings) a bundle has, without keeping it.
    pub fn check(files: BundleFiles) -> Vec<Diagnostic> {
        match Bundle::load(files) {
            Ok(bundle) => bundle.warnings,
            Err(problems) => problems,
        }
    }

    /// The bundle's name (`bundle.toml`).
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The bundle's version (`bundle.toml`).
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// `sha256:<hex>` of the bundle's canonical content.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub(crate) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The files it was loaded from.
    pub fn files(&self) -> &BundleFiles {
        &self.files
    }

    /// What loading found that does not stop the bundle from deciding.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Its test files, parsed; `None` when it was loaded without them.
    pub fn tests(&self) -> Option<&[TestFile]> {
        self.tests.as_deref()
    }

    /// Every rule ID it declares (`rules.toml`), with its entry and clause.
    pub fn rules(&self) -> &BTreeMap<String, RuleDecl> {
        &self.shared.rules
    }

    pub(crate) fn params(&self) -> &ParamStore {
        &self.shared.params
    }

    /// Entry names, sorted.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The input schema of an entry point.
    pub fn schema(&self, entry: &str) -> Option<&Schema> {
        self.shared.schemas.get(entry)
    }

    /// Records the sha256 of the wasm artifact the bundle runs in, so every
    /// envelope names it.
    pub fn set_artifact(&mut self, artifact: Option<String>) {
        self.artifact = artifact;
    }

    /// The entries whose rules the compiled evaluator runs (the others run
    /// in Rhai only).
    pub fn compiled_entries(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.program.is_some())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Decides one input. Pure: the result depends only on the bundle, the
    /// input and `as_of`.
    pub fn decide(&self, request: &DecideRequest) -> Result<Envelope, DecideError> {
        self.decide_with(request, true)
    }

    /// Decides as [`Bundle::decide`] does, with every rule run in Rhai, the
    /// reference the compiled evaluator must agree with (parity tests and
    /// benchmarks compare the two).
    pub fn decide_in_rhai(&self, request: &DecideRequest) -> Result<Envelope, DecideError> {
        self.decide_with(request, false)
    }

    fn decide_with(&self, request: &DecideRequest, fast: bool) -> Result<Envelope, DecideError> {
        let (entry, as_of, lang) = self.check_request(request)?;
        let schema = &self.shared.schemas[request.entry.as_str()];
        let ctx = RuleContext::new(Arc::clone(&self.shared), &request.entry, as_of);
        let result = match &entry.program {
            Some(program) if fast => {
                let input = Input::validate(&schema.root, &request.input)
                    .map_err(DecideError::InvalidInput)?;
                self.run_compiled(entry, program, &input, &ctx)
            }
            _ => {
                // Validated once, by the same code as the compiled runs,
                // then handed to Rhai as its values.
                let input = Input::validate(&schema.root, &request.input)
                    .map_err(DecideError::InvalidInput)?
                    .to_rhai(&ctx);
                self.run(&self.engine, entry, input, &ctx)
            }
        };
        let result = result.map_err(|error| match error {
            DecideError::Rule(failure) if failure.line == 0 => self
                .locate(entry, request, as_of)
                .unwrap_or(DecideError::Rule(failure)),
            other => other,
        })?;

        let mut state = ctx.state();
        if request.mode == Mode::Strict && !state.needs.is_empty() {
            let problems = state
                .needs
                .iter()
                .map(|needed| {
                    FieldProblem::new(
                        &needed.path,
                        "needed",
                        format!(
                            "is needed to decide {} (strict mode)",
                            needed.rules.join(", ")
                        ),
                    )
                })
                .collect();
            return Err(DecideError::MissingNeeded(problems));
        }
        let messages = &self.messages[lang];
        let reasons = std::mem::take(&mut state.fired)
            .into_iter()
            .map(|fired| {
                let template = &messages.rules[&fired.rule];
                let source = self.shared.rules[&fired.rule].source.clone();
                Ok(Reason {
                    text: template.render(&fired.args).map_err(|missing| {
                        DecideError::Rule(RuleLocation {
                            file: entry.manifest.rules.clone(),
                            line: fired.at.0,
                            column: fired.at.1,
                            message: format!(
                                "message `{}` in messages/{lang}.toml uses {{{missing}}}, which \
                                 ctx.fire(\"{}\", #{{...}}) did not give",
                                fired.rule, fired.rule
                            ),
                        })
                    })?,
                    rule: fired.rule,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let needs: Vec<Need> = state
            .needs
            .iter()
            .map(|needed| Need {
                path: needed.path.clone(),
                rules: needed.rules.clone(),
                question: messages
                    .questions
                    .get(&request.entry)
                    .and_then(|q| q.get(&needed.path))
                    .cloned()
                    .unwrap_or_else(|| needed.path.clone()),
            })
            .collect();
        Ok(Envelope {
            entry: request.entry.clone(),
            policy: PolicyInfo {
                name: self.manifest.name.clone(),
                version: self.manifest.version.clone(),
                hash: self.hash.clone(),
            },
            engine: EngineInfo {
                version: ENGINE_VERSION.to_string(),
                artifact: self.artifact.clone(),
            },
            as_of: as_of.to_string(),
            mode: request.mode,
            lang: lang.to_string(),
            status: if needs.is_empty() {
                Status::Decided
            } else {
                Status::Undetermined
            },
            result,
            reasons,
            needs,
            parameters: std::mem::take(&mut state.params_used)
                .into_values()
                .collect(),
        })
    }

    fn check_request<'r>(
        &'r self,
        request: &DecideRequest,
    ) -> Result<(&'r CompiledEntry, Timestamp, &'r str), DecideError> {
        let mut problems = Vec::new();
        let entry = self.entries.get(&request.entry);
        if entry.is_none() {
            let known: Vec<&str> = self.entries().collect();
            problems.push(FieldProblem::new(
                "entry",
                "enum",
                format!(
                    "unknown entry `{}`; this bundle has: {}",
                    request.entry,
                    known.join(", ")
                ),
            ));
        }
        let as_of = Timestamp::parse(&request.as_of);
        if as_of.is_none() {
            problems.push(FieldProblem::new(
                "as_of",
                "format",
                format!(
                    "`{}` is not an RFC 3339 timestamp with offset, e.g. 2026-11-20T09:00:00+08:00",
                    request.as_of
                ),
            ));
        }
        let lang = request
            .lang
            .as_deref()
            .unwrap_or(&self.manifest.languages[0]);
        let lang = self.manifest.languages.iter().find(|known| *known == lang);
        if lang.is_none() {
            problems.push(FieldProblem::new(
                "lang",
                "enum",
                format!(
                    "`{}` is not a language of this bundle: {}",
                    request.lang.as_deref().unwrap_or_default(),
                    self.manifest.languages.join(", ")
                ),
            ));
        }
        match (entry, as_of, lang) {
            (Some(entry), Some(as_of), Some(lang)) => Ok((entry, as_of, lang.as_str())),
            _ => Err(DecideError::BadRequest(problems)),
        }
    }

    /// Re-runs a decision that failed without a position in the locator
    /// engine and returns the failure with the position it found.
    fn locate(
        &self,
        entry: &CompiledEntry,
        request: &DecideRequest,
        as_of: Timestamp,
    ) -> Option<DecideError> {
        let schema = &self.shared.schemas[request.entry.as_str()];
        let ctx = RuleContext::new(Arc::clone(&self.shared), &request.entry, as_of);
        let input = Input::validate(&schema.root, &request.input)
            .ok()?
            .to_rhai(&ctx);
        let locator = self
            .locator
            .get_or_init(|| Mutex::new(Locator::new(&self.manifest.limits)))
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        locator.reset();
        let Err(DecideError::Rule(mut failure)) = self.run(&locator.engine, entry, input, &ctx)
        else {
            return None;
        };
        let (source, position) = locator.last()?;
        if !source.is_empty() {
            failure.file = source;
        }
        failure.line = position.line().unwrap_or(0);
        failure.column = position.position().unwrap_or(0);
        Some(DecideError::Rule(failure))
    }

    /// Runs the rules in the compiled evaluator, and in Rhai when the run
    /// falls back (see [`crate::compiled`]).
    fn run_compiled(
        &self,
        entry: &CompiledEntry,
        program: &Program,
        input: &Input,
        ctx: &RuleContext,
    ) -> Result<RuleResult, DecideError> {
        if let Ok(returned) = program.run(input, ctx) {
            crate::sandbox::set_last_run_compiled(true);
            return match returned {
                Ok(json) => Ok(RuleResult::from_text(json)),
                Err(returned) => self.result(entry, returned),
            };
        }
        ctx.clear();
        self.run(&self.engine, entry, input.to_rhai(ctx), ctx)
    }

    fn run(
        &self,
        engine: &Engine,
        entry: &CompiledEntry,
        input: Map,
        ctx: &RuleContext,
    ) -> Result<RuleResult, DecideError> {
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        crate::sandbox::reset_operations();
        crate::sandbox::set_last_run_compiled(false);
        let returned: Dynamic = engine
            .call_fn_with_options(
                options,
                &mut Scope::new(),
                &entry.ast,
                &entry.manifest.function,
                (Dynamic::from_map(input), Dynamic::from(ctx.clone())),
            )
            .map_err(|error| {
                let failure = rule_failure(&error, &entry.manifest.rules);
                if failure.message == crate::sandbox::HOST_STOPPED {
                    DecideError::Stopped(failure)
                } else {
                    DecideError::Rule(failure)
                }
            })?;
        self.result(entry, returned)
    }

    /// What the entry function returned, as the envelope's `result`.
    fn result(&self, entry: &CompiledEntry, returned: Dynamic) -> Result<RuleResult, DecideError> {
        if !returned.is_map() {
            return Err(self.bundle_failure(
                entry,
                format!(
                    "`{}` must return an object map (#{{...}}), not {}",
                    entry.manifest.function,
                    returned.type_name()
                ),
            ));
        }
        dynamic_to_json(&returned, "result")
            .map(|json| RuleResult::from_value(&json))
            .map_err(|e| self.bundle_failure(entry, e.to_string()))
    }

    /// A failure of the entry function as a whole (what it returned), at
    /// its definition.
    fn bundle_failure(&self, entry: &CompiledEntry, message: String) -> DecideError {
        let signature = format!("fn {}(", entry.manifest.function);
        let (line, column) = self
            .files
            .get(&entry.manifest.rules)
            .and_then(|text| {
                text.lines().enumerate().find_map(|(index, line)| {
                    line.find(&signature)
                        .map(|at| (index + 1, line[..at].chars().count() + 1))
                })
            })
            .unwrap_or((0, 0));
        DecideError::Rule(RuleLocation {
            file: entry.manifest.rules.clone(),
            line,
            column,
            message,
        })
    }
}

/// Locates a Rhai error: the innermost position, the file of the innermost
/// function that has one, and the message without Rhai's position suffix.
fn rule_failure(error: &EvalAltResult, default_file: &str) -> RuleLocation {
    let mut file = default_file.to_string();
    let mut position = error.position();
    let mut current = error;
    while let EvalAltResult::ErrorInFunctionCall(_, source, inner, _) = current {
        if !source.is_empty() {
            file = source.clone();
        }
        if !inner.position().is_none() {
            position = inner.position();
        }
        current = inner;
    }
    let mut message = match current {
        EvalAltResult::ErrorTerminated(token, _)
            if token.clone().into_immutable_string().ok().as_deref()
                == Some(crate::sandbox::HOST_STOPPED) =>
        {
            crate::sandbox::HOST_STOPPED.to_string()
        }
        EvalAltResult::ErrorTerminated(..) => crate::sandbox::OPERATIONS_EXCEEDED.to_string(),
        other => other.to_string(),
    };
    if let Some(index) = message.rfind(" (line ") {
        if message.ends_with(')') {
            message.truncate(index);
        }
    }
    RuleLocation {
        file,
        line: position.line().unwrap_or(0),
        column: position.position().unwrap_or(0),
        message,
    }
}

/// Builds a bundle's parts, collecting every problem on the way.
struct Loader<'a> {
    files: &'a BundleFiles,
    problems: Vec<Diagnostic>,
    /// The literal `ctx.fire` calls of every rule file compiled so far.
    fires: FireCalls,
    /// Whether to parse the test files.
    tests: bool,
}

impl Loader<'_> {
    fn toml<T: serde::de::DeserializeOwned>(&mut self, file: &str) -> Option<T> {
        let Some(text) = self.files.get(file) else {
            self.problems.push(Diagnostic::file_error(
                "missing-file",
                file,
                "file not found in the bundle",
            ));
            return None;
        };
        parse_toml(file, text)
            .map_err(|p| self.problems.push(p))
            .ok()
    }

    fn load(&mut self) -> Option<Bundle> {
        let total = self.files.total_bytes();
        if total > crate::files::MAX_BUNDLE_BYTES {
            self.problems.push(Diagnostic::file_error(
                "bundle-size",
                MANIFEST_FILE,
                format!(
                    "the bundle's files hold {total} bytes together; a bundle may hold at most {} (4 MiB)",
                    crate::files::MAX_BUNDLE_BYTES
                ),
            ));
            return None;
        }
        let manifest: Manifest = self.toml(MANIFEST_FILE)?;
        self.check_manifest(&manifest);
        let rules: BTreeMap<String, RuleDecl> = self.toml(RULES_FILE).unwrap_or_default();
        for (id, decl) in &rules {
            if !manifest.entries.contains_key(&decl.entry) {
                self.problems.push(Diagnostic::file_error(
                    "rule-entry",
                    RULES_FILE,
                    format!("rule `{id}` names unknown entry `{}`", decl.entry),
                ));
            }
        }
        let (params, param_problems) = ParamStore::load(self.files.in_folder("params", &["toml"]));
        self.problems.extend(param_problems);

        let engine = build_engine(&manifest.limits);
        let natives = NativeFunctions::of(&engine);
        let mut schemas = BTreeMap::new();
        let mut entries = BTreeMap::new();
        for (name, entry) in &manifest.entries {
            if let Some(text) = self.require(&entry.schema) {
                match checked_schema(&entry.schema, text) {
                    Ok(schema) => {
                        schemas.insert(name.clone(), schema);
                    }
                    Err(problem) => self.problems.push(problem),
                }
            }
            if let Some(ast) = self.compile(&engine, entry) {
                rule_calls::check(
                    &ast,
                    &entry.rules,
                    &natives,
                    &mut self.problems,
                    &mut self.fires,
                );
                self.scan_rule_ids(name, entry, &rules);
                entries.insert(
                    name.clone(),
                    CompiledEntry {
                        program: schemas.get(name).and_then(|schema| {
                            self.compile_fast(&ast, entry, &manifest, schema, &params)
                        }),
                        manifest: entry.clone(),
                        ast,
                    },
                );
            }
        }
        let messages = self.load_messages(&manifest, &rules, &schemas);
        let tests = self.tests.then(|| self.load_tests(&manifest));
        self.warn_unknown_files(&manifest);
        Some(Bundle {
            manifest,
            hash: String::new(),
            files: BundleFiles::new(),
            shared: Arc::new(Shared {
                params,
                rules,
                schemas,
            }),
            engine,
            entries,
            messages,
            tests,
            warnings: Vec::new(),
            artifact: None,
            locator: OnceLock::new(),
        })
    }

    fn require(&mut self, file: &str) -> Option<&str> {
        let text = self.files.get(file);
        if text.is_none() {
            self.problems.push(Diagnostic::file_error(
                "missing-file",
                file,
                "file not found in the bundle",
            ));
        }
        text
    }

    fn check_manifest(&mut self, manifest: &Manifest) {
        let mut error = |message: String| {
            self.problems
                .push(Diagnostic::file_error("manifest", MANIFEST_FILE, message));
        };
        if manifest.languages.is_empty() {
            error("`languages` must list at least one language".to_string());
        }
        if manifest.entries.is_empty() {
            error("`entries` must define at least one entry point".to_string());
        }
        let text = self.files.get(MANIFEST_FILE).unwrap_or_default();
        for (name, value, ceiling) in manifest.limits.out_of_range() {
            let line = match toml_definition_line(text, name) {
                0 => toml_definition_line(text, "limits"),
                line => line,
            };
            self.problems.push(Diagnostic::error(
                "manifest-limit",
                MANIFEST_FILE,
                line,
                usize::from(line > 0),
                format!(
                    "limits.{name} = {value}: must be from 1 to {ceiling} (0 would mean no limit)"
                ),
            ));
        }
    }

    fn compile(&mut self, engine: &Engine, entry: &EntryManifest) -> Option<AST> {
        let file = entry.rules.clone();
        let text = self.require(&file)?.to_string();
        let mut ast = match engine.compile(&text) {
            Ok(ast) => ast,
            Err(error) => {
                let position = error.position();
                let mut message = error.0.to_string();
                if message.is_empty() {
                    message = error.to_string();
                }
                self.problems.push(Diagnostic::error(
                    "rhai-syntax",
                    &file,
                    position.line().unwrap_or(0),
                    position.position().unwrap_or(0),
                    message,
                ));
                return None;
            }
        };
        ast.set_source(file.as_str());
        let has_function = ast
            .iter_functions()
            .any(|f| f.name == entry.function && f.params.len() == 2);
        if !has_function {
            self.problems.push(Diagnostic::file_error(
                "rhai-entry",
                &file,
                format!("no function `{}(input, ctx)` defined", entry.function),
            ));
            return None;
        }
        Some(ast)
    }

    /// The entry's rules for the compiled evaluator; when they use
    /// something it does not cover, a warning says what and where (they run
    /// in the interpreter, four times slower).
    fn compile_fast(
        &mut self,
        ast: &AST,
        entry: &EntryManifest,
        manifest: &Manifest,
        schema: &Schema,
        params: &ParamStore,
    ) -> Option<Program> {
        let compiled =
            Program::compile(ast, &entry.function, &manifest.limits, &schema.root, params);
        let has_errors = self.problems.iter().any(|p| p.severity == Severity::Error);
        match compiled {
            Ok(program) => Some(program),
            // A bundle with errors does not load: only they matter.
            Err(_) if has_errors => None,
            Err((position, what)) => {
                let mut warning = Diagnostic::warning(
                    "rules-interpreted",
                    &entry.rules,
                    format!(
                        "{what} is outside what the rule compiler covers, so `{}` decides in \
                         the interpreter, about four times as slowly",
                        entry.function
                    ),
                )
                .with_help(
                    "see \"Writing rules that decide fast\" in the README for what compiles",
                );
                warning.line = position.line().unwrap_or(0);
                warning.column = position.position().unwrap_or(0);
                self.problems.push(warning);
                None
            }
        }
    }

    /// Checks rule IDs written as literals in `ctx.fire("…")` and
    /// `ctx.need(…, "…")` against rules.toml, and warns about declared rules
    /// the entry's file never mentions.
    fn scan_rule_ids(
        &mut self,
        entry_name: &str,
        entry: &EntryManifest,
        rules: &BTreeMap<String, RuleDecl>,
    ) {
        let Some(text) = self.files.get(&entry.rules) else {
            return;
        };
        let mut mentioned = std::collections::BTreeSet::new();
        for (line_index, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for (start, _) in code.match_indices('"') {
                let rest = &code[start + 1..];
                let Some(end) = rest.find('"') else { continue };
                let literal = &rest[..end];
                let preceded_by_call = code[..start].trim_end().ends_with("fire(")
                    || (code[..start].contains(".need(")
                        && code[..start].trim_end().ends_with(','));
                if !preceded_by_call {
                    continue;
                }
                mentioned.insert(literal.to_string());
                let problem = match rules.get(literal) {
                    None => Some(format!("rule ID `{literal}` is not declared in rules.toml")),
                    Some(decl) if decl.entry != entry_name => Some(format!(
                        "rule `{literal}` is declared for entry `{}`, not `{entry_name}`",
                        decl.entry
                    )),
                    Some(_) => None,
                };
                if let Some(message) = problem {
                    let column = code[..start].chars().count() + 1;
                    self.problems.push(Diagnostic::error(
                        "rule-id",
                        &entry.rules,
                        line_index + 1,
                        column,
                        message,
                    ));
                }
            }
        }
        for (id, decl) in rules {
            if decl.entry == entry_name && !mentioned.contains(id) {
                self.problems.push(Diagnostic::warning(
                    "rule-unused",
                    &entry.rules,
                    format!("rule `{id}` is declared in rules.toml but never fired here"),
                ));
            }
        }
    }

    fn load_messages(
        &mut self,
        manifest: &Manifest,
        rules: &BTreeMap<String, RuleDecl>,
        schemas: &BTreeMap<String, Schema>,
    ) -> BTreeMap<String, Messages> {
        let mut all = BTreeMap::new();
        for lang in &manifest.languages {
            let file = format!("messages/{lang}.toml");
            let Some(messages) = self.toml::<Messages>(&file) else {
                continue;
            };
            for id in rules.keys() {
                if !messages.rules.contains_key(id) {
                    self.problems.push(Diagnostic::file_error(
                        "message-missing",
                        &file,
                        format!("no message for rule `{id}`"),
                    ));
                }
            }
            rule_calls::check_placeholders(
                &file,
                self.files.get(&file).unwrap_or_default(),
                &messages.rules,
                &self.fires,
                &mut self.problems,
            );
            for id in messages.rules.keys() {
                if !rules.contains_key(id) {
                    self.problems.push(Diagnostic::file_error(
                        "message-unknown",
                        &file,
                        format!("message for undeclared rule `{id}`"),
                    ));
                }
            }
            // A schema that failed to load was reported already.
            let field_known = |entry: &str, path: &str| match schemas.get(entry) {
                Some(schema) => schema.field_at(path).is_some(),
                None => manifest.entries.contains_key(entry),
            };
            let mut unknown = Vec::new();
            for (entry, questions) in &messages.questions {
                for path in questions.keys() {
                    if !field_known(entry, path) {
                        unknown.push(format!("question for unknown field `{entry}.{path}`"));
                    }
                }
            }
            for (what, table) in [("label", &messages.labels), ("help text", &messages.help)] {
                for (entry, paths) in table {
                    for path in paths.keys() {
                        // Result keys are not in the input schema; the entry must exist.
                        let known = if path.starts_with("result.") {
                            manifest.entries.contains_key(entry)
                        } else {
                            field_known(entry, path)
                        };
                        if !known {
                            unknown.push(format!("{what} for unknown field `{entry}.{path}`"));
                        }
                    }
                }
            }
            for (entry, paths) in &messages.values {
                for (path, names) in paths {
                    if path.starts_with("result.") {
                        if !manifest.entries.contains_key(entry) {
                            unknown.push(format!("value names for unknown entry `{entry}`"));
                        }
                        continue;
                    }
                    let field = schemas.get(entry).and_then(|schema| schema.field_at(path));
                    let mut kind = field.map(|f| &f.kind);
                    while let Some(Kind::Array { items, .. }) = kind {
                        kind = Some(items);
                    }
                    match (field, kind) {
                        (_, Some(Kind::Enum { values, .. })) => {
                            for value in names.keys() {
                                if !values.contains(value) {
                                    unknown.push(format!(
                                        "name for `{value}`, which is not a value of `{entry}.{path}` ({})",
                                        values.join(", ")
                                    ));
                                }
                            }
                        }
                        (Some(_), _) => unknown.push(format!(
                            "value names for `{entry}.{path}`, which is not an enum"
                        )),
                        (None, _) if schemas.contains_key(entry) => {
                            unknown.push(format!("value names for unknown field `{entry}.{path}`"));
                        }
                        (None, _) => {}
                    }
                }
            }
            for message in unknown {
                self.problems
                    .push(Diagnostic::file_error("message-unknown", &file, message));
            }
            all.insert(lang.clone(), messages);
        }
        all
    }

    fn load_tests(&mut self, manifest: &Manifest) -> Vec<TestFile> {
        let mut tests = Vec::new();
        for (file, text) in self.files.in_folder("tests", &["yaml", "yml"]) {
            match parse_test_file(file, text) {
                Ok(test_file) => {
                    for case in &test_file.cases {
                        let expects_bad_request = case
                            .expect
                            .error
                            .as_ref()
                            .is_some_and(|e| e.kind == "bad_request");
                        if !manifest.entries.contains_key(&case.entry) && !expects_bad_request {
                            self.problems.push(Diagnostic::error(
                                "test-entry",
                                file,
                                case.line,
                                1,
                                format!(
                                    "case `{}` names unknown entry `{}`",
                                    case.name, case.entry
                                ),
                            ));
                        }
                    }
                    tests.push(test_file);
                }
                Err(problem) => self.problems.push(problem),
            }
        }
        tests
    }

    fn warn_unknown_files(&mut self, manifest: &Manifest) {
        let mut known: Vec<String> = vec![MANIFEST_FILE.to_string(), RULES_FILE.to_string()];
        for entry in manifest.entries.values() {
            known.push(entry.rules.clone());
            known.push(entry.schema.clone());
        }
        for lang in &manifest.languages {
            known.push(format!("messages/{lang}.toml"));
        }
        for (path, _) in self.files.iter() {
            if !known.iter().any(|k| k == path)
                && !is_directly_in(path, "params", &["toml"])
                && !is_directly_in(path, "tests", &["yaml", "yml"])
            {
                self.problems.push(Diagnostic::warning(
                    "file-unused",
                    path,
                    "not part of the bundle layout; it is hashed but never read",
                ));
            }
        }
    }
}
