//! Where decisions run: in the wasm artifact under wasmtime (the default,
//! the same bytes the browser runs) or in the native core (for comparison).
//! Both answer with the core's wire types: an envelope's JSON text exactly
//! as the engine wrote it, or an [`ErrorBody`]; for a population's
//! comparison, the envelope as a JSON value.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eligo_core::wire::{DecideRequest, Envelope, ErrorBody, ErrorKind, TestReport};
use eligo_core::{api, sandbox, Bundle};
use serde::Serialize;

use crate::wasm::{CallLimits, RuntimeError, WasmEngine, WasmRuntime};

/// How long one native decision may run: the wasm runtime's default
/// deadline ([`CallLimits`]), so both stop a runaway rule alike.
pub const NATIVE_DEADLINE: Duration = Duration::from_secs(5);

/// The keys of an envelope [`Decider::decide_summary`] keeps.
pub const SUMMARY_KEYS: [&str; 4] = ["status", "result", "reasons", "parameters"];

/// An envelope's parameter records cut down to their names.
fn names_only(envelope: &mut serde_json::Map<String, serde_json::Value>) {
    if let Some(serde_json::Value::Array(read)) = envelope.get_mut("parameters") {
        for used in read {
            if let Some(record) = used.as_object_mut() {
                record.retain(|key, _| key == "name");
            }
        }
    }
}

/// Which engine decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// The wasm artifact in wasmtime.
    Wasm,
    /// The core compiled into this program.
    Native,
}

/// One decision by a native copy of the bundle.
fn native_envelope<I: Serialize>(
    copies: &[Bundle],
    deadline: Duration,
    worker: usize,
    request: &DecideRequest<I>,
) -> Result<Envelope, ErrorBody> {
    // Through the input's text, as the artifact reads it: the same
    // refusals (a key named twice) in both runtimes.
    let text = serde_json::to_string(&request.input).map_err(|error| {
        ErrorBody::new(
            ErrorKind::BadRequest,
            format!("the input is not a JSON value: {error}"),
        )
    })?;
    let input = api::input_value(&text)?;
    let request = DecideRequest {
        entry: request.entry.clone(),
        input,
        as_of: request.as_of.clone(),
        mode: request.mode,
        lang: request.lang.clone(),
    };
    // The wasm runtime's deadline, natively: a backstop (every limit that
    // decides an answer is counted by the core).
    let deadline = Instant::now() + deadline;
    let bundle = &copies[worker % copies.len()];
    sandbox::with_host_stop(
        move || Instant::now() >= deadline,
        || api::decide(bundle, &request),
    )
}

/// An envelope as the engine wrote it: its canonical JSON text, the bytes
/// that are hashed, stored and compared across runtimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeJson(String);

impl EnvelopeJson {
    /// Wraps JSON text the engine answered with.
    pub(crate) fn new(text: String) -> Self {
        EnvelopeJson(text)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The typed envelope. Serialising it again gives the same text.
    pub fn parse(&self) -> Result<Envelope, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

/// One decision's answer.
pub type Answer = Result<EnvelopeJson, ErrorBody>;

/// A loaded bundle, ready to decide.
#[derive(Debug)]
pub enum Decider {
    /// One compiled bundle per worker thread (threads that share one
    /// compiled bundle contend for the reference counts inside it), and
    /// how long one decision may run.
    Native {
        copies: Vec<Bundle>,
        deadline: Duration,
    },
    /// The artifact's instances, pooled.
    Wasm(Box<WasmRuntime>),
}

impl Decider {
    /// `workers` native copies of `bundle`.
    pub fn native(bundle: Bundle, workers: usize) -> Result<Decider, RuntimeError> {
        let mut copies = Vec::with_capacity(workers.max(1));
        for _ in 1..workers.max(1) {
            copies.push(
                bundle
                    .duplicate()
                    .map_err(|problems| RuntimeError::Load(ErrorBody::bundle(problems)))?,
            );
        }
        copies.push(bundle);
        Ok(Decider::Native {
            copies,
            deadline: NATIVE_DEADLINE,
        })
    }

    /// The same decider with another deadline per native decision (the
    /// wasm runtime's is in its [`CallLimits`]).
    pub fn with_native_deadline(mut self, limit: Duration) -> Decider {
        if let Decider::Native { deadline, .. } = &mut self {
            *deadline = limit;
        }
        self
    }

    /// The bundle loaded into the shared wasm engine's instances.
    pub fn wasm(
        engine: Arc<WasmEngine>,
        bundle: &Bundle,
        limits: CallLimits,
    ) -> Result<Decider, RuntimeError> {
        WasmRuntime::new(engine, bundle.files(), limits)
            .map(|runtime| Decider::Wasm(Box::new(runtime)))
    }

    /// Prepares the decider `kind` names: for wasm, the artifact (from
    /// `artifact`, or where [`crate::wasm::read_artifact`] looks) with
    /// compiled code cached in the default cache directory.
    pub fn new(
        kind: RuntimeKind,
        bundle: Bundle,
        workers: usize,
        artifact: Option<&Path>,
    ) -> Result<Decider, RuntimeError> {
        match kind {
            RuntimeKind::Native => Decider::native(bundle, workers),
            RuntimeKind::Wasm => {
                let (_, bytes) = crate::wasm::read_artifact(artifact)?;
                let cache = crate::wasm::default_cache_dir();
                let engine = WasmEngine::new(&bytes, cache.as_deref())?;
                Decider::wasm(engine, &bundle, CallLimits::default())
            }
        }
    }

    /// Decides one request. `worker` picks the native copy; the wasm
    /// runtime pools instances itself. The input may be a JSON value or,
    /// to pass text through unparsed, a `&RawValue`.
    pub fn decide<I: Serialize>(&self, worker: usize, request: &DecideRequest<I>) -> Answer {
        match self {
            Decider::Native { copies, deadline } => {
                native_envelope(copies, *deadline, worker, request)
                    .map(|envelope| EnvelopeJson(envelope.to_json()))
            }
            Decider::Wasm(runtime) => runtime.decide(request),
        }
    }

    /// Decides one request into the envelope as a JSON value, the same
    /// value [`Decider::decide`]'s text reads as. Natively the text is
    /// never written: for a whole population (`eligo impact`) writing and
    /// reading it back cost 13 µs a decision, the value alone 8 µs.
    pub fn decide_value<I: Serialize>(
        &self,
        worker: usize,
        request: &DecideRequest<I>,
    ) -> Result<serde_json::Value, ErrorBody> {
        match self {
            Decider::Native { copies, deadline } => {
                native_envelope(copies, *deadline, worker, request)
                    .map(|envelope| serde_json::to_value(envelope).expect("envelopes serialise"))
            }
            Decider::Wasm(runtime) => {
                let text = runtime.decide(request)?;
                serde_json::from_str(text.as_str()).map_err(|error| {
                    ErrorBody::new(
                        ErrorKind::HostError,
                        format!("the artifact's envelope is not JSON: {error}"),
                    )
                })
            }
        }
    }

    /// Decides one request into [`SUMMARY_KEYS`], the parts of the
    /// envelope policy impact reads, each the same value as in
    /// [`Decider::decide_value`] except that a parameter read is only its
    /// `name`. Natively the rest (policy, engine, needs, parameter values)
    /// is never turned into a value: `decide_value` adds 8.3 µs to the
    /// benchmark household's decision, this 4.3 µs.
    pub fn decide_summary<I: Serialize>(
        &self,
        worker: usize,
        request: &DecideRequest<I>,
    ) -> Result<serde_json::Value, ErrorBody> {
        match self {
            Decider::Native { copies, deadline } => {
                native_envelope(copies, *deadline, worker, request).map(|envelope| {
                    // Built part by part: `json!` would copy the result's
                    // value through serde again (a fifth of an impact
                    // household's time, in `perf`).
                    let names = envelope
                        .parameters
                        .iter()
                        .map(|used| serde_json::json!({ "name": &*used.name }))
                        .collect();
                    let mut summary = serde_json::Map::new();
                    summary.insert(
                        "status".to_string(),
                        serde_json::to_value(envelope.status).expect("a status serialises"),
                    );
                    summary.insert("result".to_string(), envelope.result.to_value());
                    summary.insert(
                        "reasons".to_string(),
                        serde_json::to_value(&envelope.reasons).expect("reasons serialise"),
                    );
                    summary.insert("parameters".to_string(), serde_json::Value::Array(names));
                    serde_json::Value::Object(summary)
                })
            }
            Decider::Wasm(_) => self.decide_value(worker, request).map(|mut envelope| {
                if let Some(parts) = envelope.as_object_mut() {
                    parts.retain(|key, _| SUMMARY_KEYS.contains(&key.as_str()));
                    names_only(parts);
                }
                envelope
            }),
        }
    }

    /// Runs the bundle's test cases.
    pub fn test(&self) -> Result<TestReport, RuntimeError> {
        match self {
            // Deciders load bundles with their tests, so this is never refused.
            Decider::Native { copies, .. } => api::test(&copies[0]).map_err(RuntimeError::Load),
            Decider::Wasm(runtime) => serde_json::from_str(&runtime.test_json()?)
                .map_err(|e| RuntimeError::Artifact(format!("unreadable test report: {e}"))),
        }
    }

    /// `sha256:<hex>` of the artifact that decides, if it is the wasm one.
    pub fn artifact_sha256(&self) -> Option<&str> {
        match self {
            Decider::Native { .. } => None,
            Decider::Wasm(runtime) => Some(runtime.artifact_sha256()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use eligo_core::{BundleFiles, Mode};
    use serde_json::value::RawValue;

    /// A one-rule bundle: `job` halves a money field `x` and fires `OK`.
    pub(crate) fn tiny() -> Bundle {
        let files = BundleFiles::from_pairs([
            ("bundle.toml", "name = \"t\"\nversion = \"1\"\nlanguages = [\"en\"]\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n"),
            ("rules.toml", "[OK]\nentry = \"job\"\nsource = \"s\"\n"),
            ("schema/job.toml", "[fields]\nx = { type = \"money\", required = true }\n"),
            ("messages/en.toml", "[rules]\nOK = \"ok {x}\"\n"),
            ("job.rhai", "fn decide(input, ctx) { ctx.fire(\"OK\", #{ x: input.x }); #{ half: input.x / 2 } }"),
        ])
        .unwrap();
        Bundle::load(files).unwrap()
    }

    #[test]
    fn raw_input_text_decides_like_a_value_and_errors_are_typed() {
        let decider = Decider::native(tiny(), 2).unwrap();
        let raw = RawValue::from_string(" {\"x\": 1801.10}".to_string()).unwrap();
        fn request<I>(input: I) -> DecideRequest<I> {
            DecideRequest {
                entry: "job".to_string(),
                input,
                as_of: "2026-11-20T09:00:00+08:00".to_string(),
                mode: Mode::Strict,
                lang: None,
            }
        }
        let from_raw = decider.decide(1, &request(&*raw)).unwrap();
        let from_value = decider
            .decide(0, &request(serde_json::json!({ "x": 1801.10 })))
            .unwrap();
        assert_eq!(from_raw, from_value);
        assert!(
            from_raw.as_str().contains("\"half\":900.55"),
            "{from_raw:?}"
        );
        assert_eq!(from_raw.parse().unwrap().to_json(), from_raw.as_str());
        // As a value, without the text: what the text reads as, money exact.
        let value = decider.decide_value(1, &request(&*raw)).unwrap();
        let read: serde_json::Value = serde_json::from_str(from_raw.as_str()).unwrap();
        assert_eq!(value, read);
        assert_eq!(value["result"]["half"].to_string(), "900.55");
        // The summary: the same parts, nothing else.
        let summary = decider.decide_summary(1, &request(&*raw)).unwrap();
        let mut parts = read.as_object().unwrap().clone();
        parts.retain(|key, _| SUMMARY_KEYS.contains(&key.as_str()));
        names_only(&mut parts);
        assert_eq!(parts.len(), SUMMARY_KEYS.len());
        assert_eq!(summary, serde_json::Value::Object(parts));
        let error = decider
            .decide(0, &request(serde_json::json!({ "x": "a" })))
            .unwrap_err();
        let same = decider
            .decide_value(0, &request(serde_json::json!({ "x": "a" })))
            .unwrap_err();
        assert_eq!(
            (same.kind, same.to_string()),
            (error.kind, error.to_string())
        );
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        let text = error.to_string();
        assert!(
            text.starts_with("invalid input: 1 problem(s)\n  x: "),
            "{text}"
        );
        assert!(text.ends_with("[type]"), "{text}");
    }

    #[test]
    fn a_native_decision_past_its_deadline_is_stopped_where_it_was() {
        let files = BundleFiles::from_pairs([
            ("bundle.toml", "name = \"t\"\nversion = \"1\"\nlanguages = [\"en\"]\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n[limits]\nmax_operations = 10000000\n"),
            ("rules.toml", "[OK]\nentry = \"job\"\nsource = \"s\"\n"),
            ("schema/job.toml", "[fields]\nx = { type = \"integer\" }\n"),
            ("messages/en.toml", "[rules]\nOK = \"ok\"\n"),
            ("job.rhai", "fn decide(input, ctx) {\n  let i = 0;\n  while true { i += 1; }\n  ctx.fire(\"OK\", #{});\n  #{}\n}"),
        ])
        .unwrap();
        let decider = Decider::native(Bundle::load(files).unwrap(), 1)
            .unwrap()
            .with_native_deadline(Duration::from_millis(50));
        let error = decider
            .decide(
                0,
                &DecideRequest {
                    entry: "job".to_string(),
                    input: serde_json::json!({}),
                    as_of: "2026-11-20T09:00:00+08:00".to_string(),
                    mode: Mode::Partial,
                    lang: None,
                },
            )
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Stopped, "{error}");
        // `stopped`, not the operation limit's rule_error; the file is
        // known, the line is not (Rhai gives a stop no position).
        assert_eq!(error.location.expect("where").file, "job.rhai");
    }
}
