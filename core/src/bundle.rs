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
use std::sync::{Arc, OnceLock};

use rhai::{Engine, AST};

use crate::compiled::Program;
use crate::context::Shared;
use crate::decider::{CompiledEntry, Decider};
use crate::diagnostics::{toml_definition_line, Diagnostic, Severity};
use crate::envelope::{DecideRequest, Envelope};
use crate::error::DecideError;
use crate::files::{is_directly_in, BundleFiles};
use crate::manifest::{EntryManifest, Manifest, Messages, RuleDecl, MANIFEST_FILE, RULES_FILE};
use crate::params::ParamStore;
use crate::rhai_engine::build_engine;
use crate::rule_calls::{self, FireCalls, NativeFunctions};
use crate::schema::{Kind, Schema};
use crate::schema_file::checked_schema;
use crate::testcases::{parse_test_file, TestFile};
use crate::toml_file::parse_toml;

/// A loaded, compiled policy bundle. Cheap to share across threads.
pub struct Bundle {
    decider: Decider,
    files: BundleFiles,
    /// `None` when loaded without its tests ([`Bundle::load_without_tests`]).
    tests: Option<Vec<TestFile>>,
    warnings: Vec<Diagnostic>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("name", &self.decider.manifest.name)
            .field("version", &self.decider.manifest.version)
            .field("hash", &self.decider.hash)
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
            Some((mut decider, tests)) if !problems.iter().any(Diagnostic::is_error) => {
                decider.hash = files.hash();
                Ok(Bundle {
                    decider,
                    files,
                    tests,
                    warnings: problems,
                })
            }
            _ => Err(problems),
        }
    }

    /// A second, independent compilation of the same bundle, for another
    /// thread: threads that share one compiled bundle contend for the
    /// reference counts inside it.
    pub fn duplicate(&self) -> Result<Bundle, Vec<Diagnostic>> {
        let mut copy = Bundle::load_with(self.files.clone(), self.tests.is_some())?;
        copy.decider.artifact = self.decider.artifact.clone();
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
        &self.decider.manifest.name
    }

    /// The bundle's version (`bundle.toml`).
    pub fn version(&self) -> &str {
        &self.decider.manifest.version
    }

    /// `sha256:<hex>` of the bundle's canonical content.
    pub fn hash(&self) -> &str {
        &self.decider.hash
    }

    /// What decides: the compiled rules and what they read.
    pub(crate) fn decider(&self) -> &Decider {
        &self.decider
    }

    pub(crate) fn manifest(&self) -> &Manifest {
        &self.decider.manifest
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
        &self.decider.shared.rules
    }

    pub(crate) fn params(&self) -> &ParamStore {
        &self.decider.shared.params
    }

    /// Entry names, sorted.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.decider.entries.keys().map(String::as_str)
    }

    /// The input schema of an entry point.
    pub fn schema(&self, entry: &str) -> Option<&Schema> {
        self.decider.shared.schemas.get(entry)
    }

    /// Records the sha256 of the wasm artifact the bundle runs in, so every
    /// envelope names it.
    pub fn set_artifact(&mut self, artifact: Option<String>) {
        self.decider.artifact = artifact;
    }

    /// The entries whose rules the compiled evaluator runs (the others run
    /// in Rhai only).
    pub fn compiled_entries(&self) -> Vec<&str> {
        self.decider
            .entries
            .iter()
            .filter(|(_, entry)| entry.program.is_some())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Decides one input. Pure: the result depends only on the bundle, the
    /// input and `as_of`.
    pub fn decide(&self, request: &DecideRequest) -> Result<Envelope, DecideError> {
        self.decider.decide(request)
    }

    /// Decides as [`Bundle::decide`] does, with every rule run in Rhai, the
    /// reference the compiled evaluator must agree with (parity tests and
    /// benchmarks compare the two).
    pub fn decide_in_rhai(&self, request: &DecideRequest) -> Result<Envelope, DecideError> {
        self.decider.decide_in_rhai(request)
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

    fn load(&mut self) -> Option<(Decider, Option<Vec<TestFile>>)> {
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
        let (params, param_problems) =
            crate::params_file::load(self.files.in_folder("params", &["toml"]));
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
                        defined_at: self.definition_of(entry),
                        manifest: entry.clone(),
                        ast,
                    },
                );
            }
        }
        let messages = self.load_messages(&manifest, &rules, &schemas);
        let tests = self.tests.then(|| self.load_tests(&manifest));
        self.warn_unknown_files(&manifest);
        let decider = Decider {
            manifest,
            hash: String::new(),
            shared: Arc::new(Shared {
                params,
                rules,
                schemas,
            }),
            engine,
            entries,
            messages,
            artifact: None,
            locator: OnceLock::new(),
            build_engine,
        };
        Some((decider, tests))
    }

    /// Where an entry's function is defined: the line and column of
    /// `fn <name>(` in its rule file, (0, 0) when not found.
    fn definition_of(&self, entry: &EntryManifest) -> (usize, usize) {
        let signature = format!("fn {}(", entry.function);
        self.files
            .get(&entry.rules)
            .and_then(|text| {
                text.lines().enumerate().find_map(|(index, line)| {
                    line.find(&signature)
                        .map(|at| (index + 1, line[..at].chars().count() + 1))
                })
            })
            .unwrap_or((0, 0))
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
        let compiled = crate::rule_compiler::compile(
            ast,
            &entry.function,
            &manifest.limits,
            &schema.root,
            params,
        );
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
