//! A compiled policy, ready to decide: `(decider, input, as_of) → Envelope`.
//!
//! `eligo_core`'s loader builds a [`Decider`] from a bundle's files; this
//! module is what every decision runs. It lives in its own crate so the
//! wasm artifact can compile it for speed and the loader for size.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Scope, AST};

use crate::compiled::{Input, Program};
use crate::context::{RuleContext, Shared};
use crate::envelope::{
    DecideRequest, EngineInfo, Envelope, Mode, Need, PolicyInfo, Reason, RuleResult, Status,
};
use crate::error::{DecideError, RuleLocation};
use crate::manifest::{EntryManifest, Limits, Manifest, Messages};
use crate::sandbox::Locator;
use crate::validate::FieldProblem;
use crate::values::{dynamic_to_json, Timestamp};

/// The engine's version, reported in every envelope.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A loaded bundle's compiled rules and everything a decision reads.
pub struct Decider {
    /// `bundle.toml`.
    pub manifest: Manifest,
    /// `sha256:<hex>` of the bundle's canonical content.
    pub hash: String,
    /// Parameters, rule declarations and schemas, shared with rule contexts.
    pub shared: Arc<Shared>,
    /// The sandboxed Rhai engine the rules run in when not compiled.
    pub engine: Engine,
    /// Entry name → its compiled rules.
    pub entries: BTreeMap<String, CompiledEntry>,
    /// Language → reason texts and questions.
    pub messages: BTreeMap<String, Messages>,
    /// The sha256 of the wasm artifact the bundle runs in, if any.
    pub artifact: Option<String>,
    /// Used only after a limit error, to find where it happened; built
    /// then, not at load (a second engine: 4% of loading a bundle).
    pub locator: OnceLock<Mutex<Locator>>,
    /// Builds an engine like [`Decider::engine`], for the locator.
    pub build_engine: fn(&Limits) -> Engine,
}

/// One entry point's rules, compiled.
pub struct CompiledEntry {
    /// Its part of `bundle.toml`.
    pub manifest: EntryManifest,
    /// The rule file, parsed by Rhai.
    pub ast: AST,
    /// The same rules for the compiled evaluator, when they fit its subset.
    pub program: Option<Program>,
    /// The line and column of the entry function's definition (0, 0 when
    /// not found): where a failure of what it returns is reported.
    pub defined_at: (usize, usize),
}

impl Decider {
    /// Decides one input. Pure: the result depends only on the bundle, the
    /// input and `as_of`.
    pub fn decide(&self, request: &DecideRequest) -> Result<Envelope, DecideError> {
        self.decide_with(request, true)
    }

    /// Decides as [`Decider::decide`] does, with every rule run in Rhai, the
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
            let known: Vec<&str> = self.entries.keys().map(String::as_str).collect();
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
            .get_or_init(|| {
                let engine = (self.build_engine)(&self.manifest.limits);
                Mutex::new(Locator::new(engine))
            })
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
        let (line, column) = entry.defined_at;
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
